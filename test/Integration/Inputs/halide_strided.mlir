// A strided insertion: the one tensor construct of the examples' kind that
// the halide backend refuses (see codegen/halide/README.md).
func.func @main(%x: tensor<4xf32>, %y: tensor<8xf32>) -> tensor<8xf32> {
  %r = tensor.insert_slice %x into %y[0] [4] [2] : tensor<4xf32> into tensor<8xf32>
  return %r : tensor<8xf32>
}
