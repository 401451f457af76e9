// RUN: attn-opt %s -split-input-file -attn-export-functions -verify-diagnostics -o /dev/null

// expected-error @+1 {{exported functions take and return ranked tensors of f32, f16, bf16, f64, i1, i8, i32 or i64; got 'f32'}}
func.func @scalar_arg(%a: f32) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  return %e : tensor<4xf32>
}
