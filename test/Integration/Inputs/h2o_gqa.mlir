// h2o_scores with 8 query heads on 2 KV heads: scores per KV head, summed
// over the 4 query heads of its group.
func.func @main(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                %v: tensor<?x2x?x64xf32>)
    -> (tensor<?x8x?x64xf32>, tensor<?x2x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x2x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %s0 = tensor.empty(%b, %lk) : tensor<?x2x?xf32>
  %o, %s = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      outs(%o0, %s0 : tensor<?x8x?x64xf32>, tensor<?x2x?xf32>) column_scores score_decay(0.95)
      -> tensor<?x8x?x64xf32>, tensor<?x2x?xf32>
  return %o, %s : tensor<?x8x?x64xf32>, tensor<?x2x?xf32>
}
