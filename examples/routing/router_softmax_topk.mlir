// Mixtral-style router: softmax over 8 experts, top-2, weights renormalized
// to sum 1. logits [T, 8] -> weights [T, 2] f32, indices [T, 2] i32.
func.func @main(%logits: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %logits, %c0 : tensor<?x8xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %w, %i = attn.route top(2) scoring(softmax) renormalize
      ins(%logits : tensor<?x8xf32>)
      outs(%w0, %i0 : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %i : tensor<?x2xf32>, tensor<?x2xi32>
}
