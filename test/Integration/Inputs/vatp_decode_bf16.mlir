// vatp_scores for one decode step on a bf16 cache: q [B, 4, 1, 64] against
// k, v [B, 4, S, 64]; scores = p * |v|_1 (one row).
func.func @main(%q: tensor<?x4x1x64xbf16>, %k: tensor<?x4x?x64xbf16>,
                %v: tensor<?x4x?x64xbf16>)
    -> (tensor<?x4x1x64xbf16>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x1x64xbf16>
  %s = tensor.dim %k, %c2 : tensor<?x4x?x64xbf16>
  %o0 = tensor.empty(%b) : tensor<?x4x1x64xbf16>
  %s0 = tensor.empty(%b, %s) : tensor<?x4x?xf32>
  %o, %sc = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x1x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>)
      outs(%o0, %s0 : tensor<?x4x1x64xbf16>, tensor<?x4x?xf32>) column_scores value_norm
      -> tensor<?x4x1x64xbf16>, tensor<?x4x?xf32>
  return %o, %sc : tensor<?x4x1x64xbf16>, tensor<?x4x?xf32>
}
