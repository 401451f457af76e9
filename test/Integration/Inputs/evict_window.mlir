// attn.evict with no budget: StreamingLLM's window (4 sinks + 8 recent).
// scores [B, 4, S], k, v [B, 4, S, 64] -> indices [B, 4, 12], k', v'.
func.func @main(%s: tensor<?x4x?xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x12xi32>, tensor<?x4x12x64xf32>, tensor<?x4x12x64xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %k, %c0 : tensor<?x4x?x64xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x12xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x12x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x12x64xf32>
  %i, %k1, %v1 = attn.evict budget(0) sink(4) recent(8)
      scores(%s : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x12xi32>, tensor<?x4x12x64xf32>, tensor<?x4x12x64xf32>)
      -> tensor<?x4x12xi32>, tensor<?x4x12x64xf32>, tensor<?x4x12x64xf32>
  return %i, %k1, %v1 : tensor<?x4x12xi32>, tensor<?x4x12x64xf32>, tensor<?x4x12x64xf32>
}
