// Block-sparse attention with a caller-provided selection (random blocks,
// -1, out-of-range and repeated entries), GQA 4:2, 32-key blocks, a score
// region that reads the row (a soft cap growing with i), the LSE, and an
// epilogue: the key-block-major form with its row remapping and merge.
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>,
                %sel: tensor<?x4x?x3xi32>) -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %l0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %lse = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      blocks(%sel : tensor<?x4x?x3xi32>) block_size(32)
      outs(%o0, %l0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>)
      score {
      ^bb0(%s: f32, %bi: index, %h: index, %i: index, %j: index):
        %ii = arith.index_cast %i : index to i32
        %fi = arith.sitofp %ii : i32 to f32
        %c = arith.constant 1.0 : f32
        %r = arith.constant 0.01 : f32
        %cap = math.fma %fi, %r, %c : f32
        %x = arith.divf %s, %cap : f32
        %t = math.tanh %x : f32
        %y = arith.mulf %t, %cap : f32
        attn.yield %y : f32
      }
      epilogue {
      ^bb0(%x: f32, %bi: index, %h: index, %i: index, %d: index):
        %two = arith.constant 2.0 : f32
        %y = arith.mulf %x, %two : f32
        attn.yield %y : f32
      } -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o, %lse : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}
