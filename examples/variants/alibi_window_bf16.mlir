// ALiBi with a 256-key sliding window, bf16 q/k/v and an f32 output: the
// window makes tiles skippable (ALiBi alone never does).
func.func @main(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x8x?x64xbf16>,
                %v: tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xbf16>
  %init = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x?x64xbf16>, tensor<?x8x?x64xbf16>, tensor<?x8x?x64xbf16>)
      outs(%init : tensor<?x8x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %c1 = arith.constant 1 : index
        %h1 = arith.addi %h, %c1 : index
        %h1i = arith.index_cast %h1 : index to i32
        %h1f = arith.sitofp %h1i : i32 to f32
        %neg = arith.negf %h1f : f32
        %slope = math.exp2 %neg : f32
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i32
        %df = arith.sitofp %di : i32 to f32
        %bias = arith.mulf %slope, %df : f32
        %r = arith.subf %s, %bias : f32
        attn.yield %r : f32
      }
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %w = arith.constant 256 : index
        %jw = arith.addi %j, %w : index
        %vis = arith.cmpi slt, %i, %jw : index
        attn.yield %vis : i1
      } -> tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}
