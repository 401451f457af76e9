#id = affine_map<(d0, d1) -> (d0, d1)>
#sum = affine_map<(d0, d1) -> (d0 + d1)>
func.func @main(%x: tensor<4x4xf32>) -> tensor<7xf32> {
  %init = tensor.empty() : tensor<7xf32>
  %y = linalg.generic {indexing_maps = [#id, #sum], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x4xf32>) outs(%init : tensor<7xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<7xf32>
  return %y : tensor<7xf32>
}
