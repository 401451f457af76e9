// Gated attention (G1, head-wise): y = SDPA(q, k, v) * sigmoid(g), one gate
// per (batch, head, token) broadcast over the head dim. attn.gate says it in
// one line; attn-fuse-elementwise folds it into the attention's epilogue.
// q, k, v [B, 4, L, 64], g [B, 4, L] -> y [B, 4, L, 64].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %g: tensor<?x4x?xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %y0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %y = attn.gate sigmoid ins(%o, %g : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>)
      outs(%y0 : tensor<?x4x?x64xf32>) dims([0, 1, 2]) -> tensor<?x4x?x64xf32>
  return %y : tensor<?x4x?x64xf32>
}
