// L2-norm KV-cache eviction (Devoto et al. 2024): keys with a low L2 norm
// draw the most attention, so keep the 4 first positions (sinks) and the 96
// others whose keys have the lowest ||k||_2, per batch and KV head.
// k, v [B, 4, S, 64] -> indices [B, 4, 100] i32 (sorted; -1 pads when
// S < 100), k', v' [B, 4, 100, 64].
func.func @main(%k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %k, %c0 : tensor<?x4x?x64xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x100xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x100x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x100x64xf32>
  %i, %k1, %v1 = attn.evict budget(96) sink(4) key_norm lowest
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>)
      -> tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
  return %i, %k1, %v1 : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
}
