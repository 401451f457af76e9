// Switch-style top-1 routing with a capacity of ceil(T / 8) tokens per
// expert (capacity_factor 1.0 x T x k / E): tokens beyond an expert's
// capacity are dropped in token order (index -1, weight 0).
// logits [T, 8] -> weights, indices [T, 1].
func.func @main(%logits: tensor<?x8xf32>) -> (tensor<?x1xf32>, tensor<?x1xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %logits, %c0 : tensor<?x8xf32>
  %w0 = tensor.empty(%t) : tensor<?x1xf32>
  %i0 = tensor.empty(%t) : tensor<?x1xi32>
  %w, %i = attn.route top(1) scoring(softmax)
      ins(%logits : tensor<?x8xf32>)
      outs(%w0, %i0 : tensor<?x1xf32>, tensor<?x1xi32>)
      {capacity_factor = 1.0 : f32} -> tensor<?x1xf32>, tensor<?x1xi32>
  return %w, %i : tensor<?x1xf32>, tensor<?x1xi32>
}
