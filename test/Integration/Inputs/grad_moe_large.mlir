// A MoE layer whose expert inputs are x scaled by 30 (pre-activations of
// a few hundred, many below -88): the dense backward runs every expert on
// every token, so the SwiGLU's sigmoid must have finite derivatives there
// (exp(-a) = inf would give 0 * inf) even for experts a token skips.
#id = affine_map<(t, d) -> (t, d)>
func.func @main(%x: tensor<?x32xf32>, %wr: tensor<32x4xf32>,
                %w1: tensor<4x32x32xf32>, %w3: tensor<4x32x32xf32>,
                %w2: tensor<4x32x32xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x32xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %w, %i = attn.route top(2) scoring(softmax) renormalize
      ins(%x, %wr : tensor<?x32xf32>, tensor<32x4xf32>)
      outs(%w0, %i0 : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  %e = tensor.empty(%t) : tensor<?x32xf32>
  %xs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 30.0 : f32
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<?x32xf32>
  %y0 = tensor.empty(%t) : tensor<?x32xf32>
  %y = attn.experts swish
      ins(%xs, %w, %i, %w1, %w3, %w2 : tensor<?x32xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
          tensor<4x32x32xf32>, tensor<4x32x32xf32>, tensor<4x32x32xf32>)
      outs(%y0 : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
