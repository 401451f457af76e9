// The block-sparse attention of blocks_gqa_lse.mlir on bf16 queries, keys
// and values (f32 output and LSE): the gathered query tile keeps bf16.
func.func @main(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %v: tensor<?x2x?x64xbf16>,
                %sel: tensor<?x4x?x3xi32>) -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xbf16>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %l0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %lse = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>)
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
