// Attention entropy as a side output (Entropy-Guided Attention, entropy
// collapse monitoring): causal attention that also returns, for every
// query row, H = -sum_j p_j log p_j of its attention distribution. The
// probabilities are never materialized (see attn-expand-side-outputs).
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64], entropy [B, 4, L].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %e0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %e = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %e0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) row_entropy
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o, %e : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}
