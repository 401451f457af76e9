// One decoding step of GLA: the state comes in and goes out.
// q, k, log_alpha [B, 4, 1, 64], v [B, 4, 1, 64], state [B, 4, 64, 64]
//   -> o [B, 4, 1, 64], new state [B, 4, 64, 64].
func.func @main(%q: tensor<?x4x1x64xf32>, %k: tensor<?x4x1x64xf32>,
                %v: tensor<?x4x1x64xf32>, %log_alpha: tensor<?x4x1x64xf32>,
                %state: tensor<?x4x64x64xf32>)
    -> (tensor<?x4x1x64xf32>, tensor<?x4x64x64xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x1x64xf32>
  %o0 = tensor.empty(%b) : tensor<?x4x1x64xf32>
  %s0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %o, %s = attn.scan decay(channel)
      ins(%q, %k, %v : tensor<?x4x1x64xf32>, tensor<?x4x1x64xf32>, tensor<?x4x1x64xf32>)
      decays(%log_alpha : tensor<?x4x1x64xf32>)
      state(%state : tensor<?x4x64x64xf32>)
      outs(%o0, %s0 : tensor<?x4x1x64xf32>, tensor<?x4x64x64xf32>)
      -> tensor<?x4x1x64xf32>, tensor<?x4x64x64xf32>
  return %o, %s : tensor<?x4x1x64xf32>, tensor<?x4x64x64xf32>
}
