// Experts past the last full vector: 21 experts (one vector and a scalar
// tail of 5), logits from bf16 x and W, top-3 of the logits then softmax.
func.func @main(%x: tensor<?x24xbf16>, %w: tensor<24x21xbf16>) -> (tensor<?x3xf32>, tensor<?x3xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x24xbf16>
  %w0 = tensor.empty(%t) : tensor<?x3xf32>
  %i0 = tensor.empty(%t) : tensor<?x3xi32>
  %r, %i = attn.route top(3) scoring(topk_softmax) ins(%x, %w : tensor<?x24xbf16>, tensor<24x21xbf16>)
      outs(%w0, %i0 : tensor<?x3xf32>, tensor<?x3xi32>) -> tensor<?x3xf32>, tensor<?x3xi32>
  return %r, %i : tensor<?x3xf32>, tensor<?x3xi32>
}
