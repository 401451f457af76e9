// DeepSeek-V3 routing: sigmoid scores s; selection on s + bias (the
// auxiliary-loss-free balancing bias): 8 groups of 8 experts, the best 4
// groups by the sum of their two best biased scores, then the top 6 experts
// inside them; weights are the unbiased s of the chosen, renormalized to sum
// 1 and scaled by 2.5. logits [T, 64], bias [64] -> weights, indices [T, 6].
func.func @main(%logits: tensor<?x64xf32>, %bias: tensor<64xf32>)
    -> (tensor<?x6xf32>, tensor<?x6xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %logits, %c0 : tensor<?x64xf32>
  %w0 = tensor.empty(%t) : tensor<?x6xf32>
  %i0 = tensor.empty(%t) : tensor<?x6xi32>
  %w, %i = attn.route top(6) scoring(sigmoid) renormalize
      ins(%logits : tensor<?x64xf32>) bias(%bias : tensor<64xf32>)
      outs(%w0, %i0 : tensor<?x6xf32>, tensor<?x6xi32>)
      {groups = array<i64: 8, 4>, routed_scale = 2.5 : f32}
      -> tensor<?x6xf32>, tensor<?x6xi32>
  return %w, %i : tensor<?x6xf32>, tensor<?x6xi32>
}
