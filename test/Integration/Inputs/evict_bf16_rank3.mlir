// attn.evict on bf16 scores, keys and values with one leading dim (heads),
// no batch: scores [4, S], k, v [4, S, 32] -> indices [4, 17], k', v'.
func.func @main(%s: tensor<4x?xbf16>, %k: tensor<4x?x32xbf16>, %v: tensor<4x?x32xbf16>)
    -> (tensor<4x17xi32>, tensor<4x17x32xbf16>, tensor<4x17x32xbf16>) {
  %i0 = tensor.empty() : tensor<4x17xi32>
  %k0 = tensor.empty() : tensor<4x17x32xbf16>
  %v0 = tensor.empty() : tensor<4x17x32xbf16>
  %i, %k1, %v1 = attn.evict budget(10) sink(2) recent(5)
      scores(%s : tensor<4x?xbf16>)
      ins(%k, %v : tensor<4x?x32xbf16>, tensor<4x?x32xbf16>)
      outs(%i0, %k0, %v0 : tensor<4x17xi32>, tensor<4x17x32xbf16>, tensor<4x17x32xbf16>)
      -> tensor<4x17xi32>, tensor<4x17x32xbf16>, tensor<4x17x32xbf16>
  return %i, %k1, %v1 : tensor<4x17xi32>, tensor<4x17x32xbf16>, tensor<4x17x32xbf16>
}
