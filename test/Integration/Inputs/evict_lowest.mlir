// attn.evict keeping the lowest caller scores, no sinks:
// scores [B, 2, S], k, v [B, 2, S, 16] -> indices [B, 2, 12], k', v'.
func.func @main(%s: tensor<?x2x?xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>)
    -> (tensor<?x2x12xi32>, tensor<?x2x12x16xf32>, tensor<?x2x12x16xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %k, %c0 : tensor<?x2x?x16xf32>
  %i0 = tensor.empty(%b) : tensor<?x2x12xi32>
  %k0 = tensor.empty(%b) : tensor<?x2x12x16xf32>
  %v0 = tensor.empty(%b) : tensor<?x2x12x16xf32>
  %i, %k1, %v1 = attn.evict budget(9) recent(3) lowest
      scores(%s : tensor<?x2x?xf32>)
      ins(%k, %v : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%i0, %k0, %v0 : tensor<?x2x12xi32>, tensor<?x2x12x16xf32>, tensor<?x2x12x16xf32>)
      -> tensor<?x2x12xi32>, tensor<?x2x12x16xf32>, tensor<?x2x12x16xf32>
  return %i, %k1, %v1 : tensor<?x2x12xi32>, tensor<?x2x12x16xf32>, tensor<?x2x12x16xf32>
}
