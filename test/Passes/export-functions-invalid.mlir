// RUN: attn-opt %s -split-input-file -attn-export-functions -verify-diagnostics -o /dev/null

// expected-error @+1 {{exported functions take and return ranked tensors of f32, f16, bf16, f64, i1, i8, i32 or i64; got 'f32'}}
func.func @scalar_arg(%a: f32) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  return %e : tensor<4xf32>
}

// -----

func.func @region_reads_past_a_static_bias(%q: tensor<1x2x8x16xf32>, %bias: tensor<2x4x8xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %o = attn.attention
      ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{'tensor.extract' op reads dim 1 (size 4) at the query index, which goes up to 7}}
        %t = tensor.extract %bias[%h, %i, %j] : tensor<2x4x8xf32>
        %r = arith.addf %s, %t : f32
        attn.yield %r : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
