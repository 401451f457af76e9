// Top-2 softmax routing with the load-balancing statistics in the same
// kernel: tokens per expert [8] i32 and the summed router probabilities [8]
// f32 (the Switch auxiliary loss is E * sum_e (counts_e / (T k)) (prob_e / T)).
func.func @main(%logits: tensor<?x8xf32>)
    -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %logits, %c0 : tensor<?x8xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %n0 = tensor.empty() : tensor<8xi32>
  %p0 = tensor.empty() : tensor<8xf32>
  %w, %i, %n, %p = attn.route top(2) scoring(softmax)
      ins(%logits : tensor<?x8xf32>)
      outs(%w0, %i0, %n0, %p0 : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>)
      -> tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>
  return %w, %i, %n, %p : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>
}
