// A wide router: logits x W computed in the kernel for 144 experts (a group
// of 8 vectors, one more vector, no scalar tail), top-4 of a softmax.
// x [T, 48], W [48, 144] -> weights, indices [T, 4].
func.func @main(%x: tensor<?x48xf32>, %w: tensor<48x144xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x48xf32>
  %w0 = tensor.empty(%t) : tensor<?x4xf32>
  %i0 = tensor.empty(%t) : tensor<?x4xi32>
  %r, %i = attn.route top(4) ins(%x, %w : tensor<?x48xf32>, tensor<48x144xf32>)
      outs(%w0, %i0 : tensor<?x4xf32>, tensor<?x4xi32>) -> tensor<?x4xf32>, tensor<?x4xi32>
  return %r, %i : tensor<?x4xf32>, tensor<?x4xi32>
}
