// VATP (value-aware token pruning): H2O's accumulated attention times
// the key's value norm, scores[b,h,j] = sum_i p[b,h,i,j] * |v[b,h,j,:]|_1
// (tokens with tiny values matter little however much attention they get). The
// probabilities are never materialized (see attn-expand-side-outputs).
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64], scores [B, 4, L].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %s0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %s = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores value_norm
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}
