// Catalogue: dense_to_sparse_temperature_gating (routing, P2).
// Nguyen et al., "Is Temperature Sample Efficient for Softmax Gaussian
// Mixture of Experts?" (ICML 2024).
//
// The activation dense-to-sparse gate: an activation between the router's
// affine map and the tempered softmax,
//   G(x) = softmax(tanh(x W + b) / tau),
// with tau a run-time value (annealed from dense to sparse during training).
// All 8 experts are kept (a dense gate), sorted by weight, and weights below
// 0.01 are dropped (index -1, weight 0), the sparsification a small tau
// produces. The router kernel computes x W itself; the score region applies
// the bias, the activation and the temperature.
// x [T, 64], w [64, 8], b [8], tau [1] -> weights [T, 8], indices [T, 8] i32.
func.func @main(%x: tensor<?x64xf32>, %w: tensor<64x8xf32>, %bias: tensor<8xf32>,
                %tau: tensor<1xf32>) -> (tensor<?x8xf32>, tensor<?x8xi32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %one = arith.constant 1.0 : f32
  %tv = tensor.extract %tau[%c0] : tensor<1xf32>
  %inv = arith.divf %one, %tv : f32
  %w0 = tensor.empty(%t) : tensor<?x8xf32>
  %i0 = tensor.empty(%t) : tensor<?x8xi32>
  %g, %i = attn.route top(8) scoring(softmax)
      ins(%x, %w : tensor<?x64xf32>, tensor<64x8xf32>)
      outs(%w0, %i0 : tensor<?x8xf32>, tensor<?x8xi32>)
      score {
      ^bb0(%z: f32, %row: index, %e: index):
        %be = tensor.extract %bias[%e] : tensor<8xf32>
        %a = arith.addf %z, %be : f32
        %act = math.tanh %a : f32
        %r = arith.mulf %act, %inv : f32
        attn.yield %r : f32
      } {skip_threshold = 0.01 : f32} -> tensor<?x8xf32>, tensor<?x8xi32>
  return %g, %i : tensor<?x8xf32>, tensor<?x8xi32>
}
