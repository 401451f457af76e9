func.func @main(%x: tensor<?x4xf32>, %t: tensor<i32>) -> tensor<?x4xf32> {
  %e = tensor.extract %t[] : tensor<i32>
  %i = arith.index_cast %e : i32 to index
  %n = tensor.dim %x, %i : tensor<?x4xf32>
  %init = tensor.empty(%n) : tensor<?x4xf32>
  %y = linalg.copy ins(%x : tensor<?x4xf32>) outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
