// Prefix and suffix sums along the middle dim (the suffix sum is the
// prefix sum's adjoint).
func.func @main(%x: tensor<2x?x3xf32>) -> (tensor<2x?x3xf32>, tensor<2x?x3xf32>) {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %x, %c1 : tensor<2x?x3xf32>
  %i0 = tensor.empty(%n) : tensor<2x?x3xf32>
  %i1 = tensor.empty(%n) : tensor<2x?x3xf32>
  %p = attn.cumsum dim(1) ins(%x : tensor<2x?x3xf32>) outs(%i0 : tensor<2x?x3xf32>) -> tensor<2x?x3xf32>
  %s = attn.cumsum reverse dim(1) ins(%x : tensor<2x?x3xf32>) outs(%i1 : tensor<2x?x3xf32>) -> tensor<2x?x3xf32>
  return %p, %s : tensor<2x?x3xf32>, tensor<2x?x3xf32>
}
