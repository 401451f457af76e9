// A sigmoid router on bf16 logits with a shared projection: pruned
// experts, renormalization, capacity and probability sums.
func.func @main(%x: tensor<?x10xbf16>, %wr: tensor<10x8xbf16>)
    -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x10xbf16>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %n0 = tensor.empty() : tensor<8xi32>
  %p0 = tensor.empty() : tensor<8xf32>
  %w, %i, %n, %p = attn.route top(2) scoring(sigmoid) renormalize
      ins(%x, %wr : tensor<?x10xbf16>, tensor<10x8xbf16>)
      outs(%w0, %i0, %n0, %p0 : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>)
      {keep = array<i1: true, false, true, true, true, true, true, true>, capacity_factor = 1.0 : f32}
      -> tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>
  return %w, %i, %n, %p : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<8xf32>
}
