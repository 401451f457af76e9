// Gated linear attention (GLA): a data-dependent decay per key channel.
//   S_t = diag(alpha_t) S_{t-1} + k_t^T v_t,   o_t = q_t S_t
// q, k, v, log_alpha [B, 4, L, 64] (log_alpha = log(alpha) <= 0) -> o.
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %log_alpha: tensor<?x4x?x64xf32>)
    -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.scan decay(channel)
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      decays(%log_alpha : tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
