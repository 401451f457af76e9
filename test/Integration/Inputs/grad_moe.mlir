// A small MoE layer for the gradient tests (the shape of
// examples/routing/moe_swiglu.mlir at model and hidden dims of 32, with
// 4 experts and a capacity that drops pairs): gradients of x, the router
// weights and the three expert matrices.
func.func @main(%x: tensor<?x32xf32>, %wr: tensor<32x4xf32>,
                %w1: tensor<4x32x32xf32>, %w3: tensor<4x32x32xf32>,
                %w2: tensor<4x32x32xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x32xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %w, %i = attn.route top(2) scoring(softmax) renormalize
      ins(%x, %wr : tensor<?x32xf32>, tensor<32x4xf32>)
      outs(%w0, %i0 : tensor<?x2xf32>, tensor<?x2xi32>)
      {capacity_factor = 1.0 : f32} -> tensor<?x2xf32>, tensor<?x2xi32>
  %y0 = tensor.empty(%t) : tensor<?x32xf32>
  %y = attn.experts swish
      ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x32xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
          tensor<4x32x32xf32>, tensor<4x32x32xf32>, tensor<4x32x32xf32>)
      outs(%y0 : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
