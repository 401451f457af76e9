// Router edge cases: bf16 logits, temperature 0.5, only experts 0 and 3
// kept (so the third slot is never filled: index -1, weight 0), softmax
// over the kept experts, renormalized, and selected weights below 0.3
// skipped. logits [T, 8] bf16 -> weights, indices [T, 3].
func.func @main(%logits: tensor<?x8xbf16>) -> (tensor<?x3xf32>, tensor<?x3xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %logits, %c0 : tensor<?x8xbf16>
  %w0 = tensor.empty(%t) : tensor<?x3xf32>
  %i0 = tensor.empty(%t) : tensor<?x3xi32>
  %w, %i = attn.route top(3) scoring(softmax) renormalize
      ins(%logits : tensor<?x8xbf16>)
      outs(%w0, %i0 : tensor<?x3xf32>, tensor<?x3xi32>)
      {temperature = 0.5 : f32, skip_threshold = 0.3 : f32,
       keep = array<i1: true, false, false, true, false, false, false, false>}
      -> tensor<?x3xf32>, tensor<?x3xi32>
  return %w, %i : tensor<?x3xf32>, tensor<?x3xi32>
}
