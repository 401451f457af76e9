// attn.gate's sigmoid and swish on gates scaled to +-200 (most below -88,
// where e^{-g} overflows): the gradient must be finite and match finite
// differences. The forward's sigmoid is written with e^{-|g|}, which the
// gate's adjoint differentiates (the naive 1/(1+e^{-g}) gave 0 * inf).
#id = affine_map<(t, d) -> (t, d)>
func.func @main(%x: tensor<?x8xf32>, %g: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %big = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
  ^bb0(%a: f32, %unused: f32):
    %c = arith.constant 200.0 : f32
    %r = arith.mulf %a, %c : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %y0 = tensor.empty(%n) : tensor<?x8xf32>
  %s = attn.gate sigmoid ins(%x, %big : tensor<?x8xf32>, tensor<?x8xf32>) outs(%y0 : tensor<?x8xf32>) dims([0, 1]) -> tensor<?x8xf32>
  %y1 = tensor.empty(%n) : tensor<?x8xf32>
  %w = attn.gate swish ins(%x, %big : tensor<?x8xf32>, tensor<?x8xf32>) outs(%y1 : tensor<?x8xf32>) dims([0, 1]) -> tensor<?x8xf32>
  return %s, %w : tensor<?x8xf32>, tensor<?x8xf32>
}
