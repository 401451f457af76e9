// Block-sparse sigmoid attention (bias -4): rows do not merge by LSE, so
// the query-tile form runs (per-tile counts, masked partial tiles).
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>,
                %sel: tensor<?x4x?x3xi32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal normalizer(sigmoid)
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      blocks(%sel : tensor<?x4x?x3xi32>) block_size(32)
      outs(%o0 : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %bi: index, %h: index, %i: index, %j: index):
        %c = arith.constant -4.0 : f32
        %y = arith.addf %s, %c : f32
        attn.yield %y : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
