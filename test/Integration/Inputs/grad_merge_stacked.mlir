// Gradients through a stacked attn.merge: a run-time number of partials
// along the leading dim, the merged LSE a second result (the row maximum
// is a stabilizer and passes no gradient).
func.func @main(%p: tensor<?x?x2x8xf32>, %l: tensor<?x?x2xf32>)
    -> (tensor<?x2x8xf32>, tensor<?x2xf32>) {
  %c1 = arith.constant 1 : index
  %r = tensor.dim %p, %c1 : tensor<?x?x2x8xf32>
  %oi = tensor.empty(%r) : tensor<?x2x8xf32>
  %li = tensor.empty(%r) : tensor<?x2xf32>
  %m:2 = attn.merge stacked ins(%p : tensor<?x?x2x8xf32>)
      lse(%l : tensor<?x?x2xf32>)
      outs(%oi, %li : tensor<?x2x8xf32>, tensor<?x2xf32>)
      -> tensor<?x2x8xf32>, tensor<?x2xf32>
  return %m#0, %m#1 : tensor<?x2x8xf32>, tensor<?x2xf32>
}
