// Gradients through attn.merge: two attentions over disjoint key blocks
// (one full, one causal), merged by their LSE, with the merged LSE as a
// second result (its gradient reaches both attentions' LSEs).
func.func @main(%q: tensor<?x2x?x8xf32>, %k1: tensor<?x2x?x8xf32>,
                %v1: tensor<?x2x?x8xf32>, %k2: tensor<?x2x?x8xf32>,
                %v2: tensor<?x2x?x8xf32>)
    -> (tensor<?x2x?x8xf32>, tensor<?x2x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x?x8xf32>
  %l = tensor.dim %q, %c2 : tensor<?x2x?x8xf32>
  %oi = tensor.empty(%b, %l) : tensor<?x2x?x8xf32>
  %li = tensor.empty(%b, %l) : tensor<?x2x?xf32>
  %p1:2 = attn.attention
      ins(%q, %k1, %v1 : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
      outs(%oi, %li : tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
      -> tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
  %p2:2 = attn.attention causal
      ins(%q, %k2, %v2 : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
      outs(%oi, %li : tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
      -> tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
  %m:2 = attn.merge ins(%p1#0, %p2#0 : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
      lse(%p1#1, %p2#1 : tensor<?x2x?xf32>, tensor<?x2x?xf32>)
      outs(%oi, %li : tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
      -> tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
  return %m#0, %m#1 : tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
}
