// RUN: attn-opt %s --attn-generate-backward=combined=true --verify-diagnostics

// @f_grad is a name the pass would take.
// expected-error @+1 {{cannot generate @main_grad: it already exists}}
func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  return %x : tensor<2x8xf32>
}

func.func private @main_grad(%x: tensor<2x8xf32>) -> tensor<2x8xf32>
