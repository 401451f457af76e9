// A score region with sin, cos and tan of the positions (a rotary-style
// bias): s + sin(0.01 i) cos(0.02 j) + tan(0.001 (i - j)), causal.
func.func @main(%q: tensor<?x2x?x32xf32>, %k: tensor<?x2x?x32xf32>,
                %v: tensor<?x2x?x32xf32>) -> tensor<?x2x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x?x32xf32>
  %l = tensor.dim %q, %c2 : tensor<?x2x?x32xf32>
  %init = tensor.empty(%b, %l) : tensor<?x2x?x32xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>)
      outs(%init : tensor<?x2x?x32xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %ii = arith.index_cast %i : index to i32
        %ji = arith.index_cast %j : index to i32
        %fi = arith.sitofp %ii : i32 to f32
        %fj = arith.sitofp %ji : i32 to f32
        %a = arith.constant 0.01 : f32
        %c = arith.constant 0.02 : f32
        %t = arith.constant 0.001 : f32
        %xi = arith.mulf %fi, %a : f32
        %xj = arith.mulf %fj, %c : f32
        %si = math.sin %xi : f32
        %cj = math.cos %xj : f32
        %p = arith.mulf %si, %cj : f32
        %d = arith.subf %fi, %fj : f32
        %xd = arith.mulf %d, %t : f32
        %td = math.tan %xd : f32
        %r0 = arith.addf %s, %p : f32
        %r = arith.addf %r0, %td : f32
        attn.yield %r : f32
      } -> tensor<?x2x?x32xf32>
  return %o : tensor<?x2x?x32xf32>
}
