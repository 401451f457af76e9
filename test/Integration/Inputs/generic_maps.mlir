// linalg.generic indexing maps beyond projected permutations, for the
// reference interpreter (test/Integration/reference-generic.test).
#first = affine_map<(i, j) -> (0, j)>
#shifted = affine_map<(i, j) -> (1, (j + 1) mod 4)>
#out = affine_map<(i, j) -> (i, j)>
// out[i, j] = x[0, j] + x[1, (j + 1) mod 4]
func.func @consts(%x: tensor<2x4xf32>) -> tensor<3x4xf32> {
  %o0 = tensor.empty() : tensor<3x4xf32>
  %o = linalg.generic {indexing_maps = [#first, #shifted, #out],
      iterator_types = ["parallel", "parallel"]}
      ins(%x, %x : tensor<2x4xf32>, tensor<2x4xf32>) outs(%o0 : tensor<3x4xf32>) {
  ^bb0(%a: f32, %b: f32, %unused: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<3x4xf32>
  return %o : tensor<3x4xf32>
}

#next = affine_map<(i) -> (i + 1)>
#id = affine_map<(i) -> (i)>
// Reads x[i + 1] for every i of the output: one past the end.
func.func @past_end(%x: tensor<?xf32>, %y: tensor<?xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?xf32>
  %o0 = tensor.empty(%n) : tensor<?xf32>
  %o = linalg.generic {indexing_maps = [#next, #id, #id],
      iterator_types = ["parallel"]}
      ins(%x, %y : tensor<?xf32>, tensor<?xf32>) outs(%o0 : tensor<?xf32>) {
  ^bb0(%a: f32, %b: f32, %unused: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %o : tensor<?xf32>
}
