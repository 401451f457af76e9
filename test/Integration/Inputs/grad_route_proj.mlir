// A projecting router for the gradient tests: logits x W with a leading
// batch dim (W per batch), temperature, a score region that reads the
// token index, a pruned expert, top-k softmax, skipping and probability
// sums. Gradients flow to x and W through the weights and the sums.
func.func @main(%x: tensor<?x?x12xf32>, %wr: tensor<?x12x6xf32>)
    -> (tensor<?x?x3xf32>, tensor<?x?x3xi32>, tensor<6xi32>, tensor<6xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x12xf32>
  %t = tensor.dim %x, %c1 : tensor<?x?x12xf32>
  %w0 = tensor.empty(%b, %t) : tensor<?x?x3xf32>
  %i0 = tensor.empty(%b, %t) : tensor<?x?x3xi32>
  %n0 = tensor.empty() : tensor<6xi32>
  %p0 = tensor.empty() : tensor<6xf32>
  %w, %i, %n, %p = attn.route top(3) scoring(topk_softmax)
      ins(%x, %wr : tensor<?x?x12xf32>, tensor<?x12x6xf32>)
      outs(%w0, %i0, %n0, %p0 : tensor<?x?x3xf32>, tensor<?x?x3xi32>, tensor<6xi32>, tensor<6xf32>)
      score {
      ^bb0(%z: f32, %tok: index, %e: index):
        %ti = arith.index_cast %tok : index to i32
        %tf = arith.sitofp %ti : i32 to f32
        %c = arith.constant 0.25 : f32
        %s = arith.mulf %tf, %c : f32
        %y = arith.subf %z, %s : f32
        %th = math.tanh %y : f32
        %c3 = arith.constant 3.0 : f32
        %r = arith.mulf %th, %c3 : f32
        attn.yield %r : f32
      }
      {temperature = 2.0 : f32, keep = array<i1: true, true, false, true, true, true>,
       skip_threshold = 0.2 : f32, routed_scale = 1.5 : f32}
      -> tensor<?x?x3xf32>, tensor<?x?x3xi32>, tensor<6xi32>, tensor<6xf32>
  return %w, %i, %n, %p : tensor<?x?x3xf32>, tensor<?x?x3xi32>, tensor<6xi32>, tensor<6xf32>
}
