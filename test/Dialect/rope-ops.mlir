// RUN: attn-opt %s | FileCheck %s
// RUN: attn-opt %s | attn-opt | FileCheck %s

// #attn.rope prints only the parameters that differ from their defaults;
// attention's rope and attn.rope round-trip.

// CHECK-LABEL: func.func @attention_rope
// CHECK: attn.attention causal rope <theta = 5.000000e+05, scaling = llama3, factor = 8.000000e+00, original_context = 8192> ins(
func.func @attention_rope(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %o: tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xbf16> {
  %r = attn.attention causal rope <theta = 500000.0, scaling = llama3, factor = 8.0, original_context = 8192> ins(%q, %k, %k : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>) outs(%o : tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xbf16>
  return %r : tensor<?x8x?x64xbf16>
}

// CHECK-LABEL: func.func @defaults
// CHECK: attn.attention rope <> ins(
func.func @defaults(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  %r = attn.attention rope <> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// CHECK-LABEL: func.func @paged_rope
// CHECK: attn.attention causal rope <style = gptj, dims = 32> ins({{.*}}) kv_lens({{.*}}) pages({{.*}}) page_layout(hnd) outs(
func.func @paged_rope(%q: tensor<?x8x1x64xf16>, %kp: tensor<?x2x16x64xf16>, %lens: tensor<?xi32>, %t: tensor<?x?xi32>, %o: tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16> {
  %r = attn.attention causal rope <style = gptj, dims = 32> ins(%q, %kp, %kp : tensor<?x8x1x64xf16>, tensor<?x2x16x64xf16>, tensor<?x2x16x64xf16>) kv_lens(%lens : tensor<?xi32>) pages(%t : tensor<?x?xi32>) page_layout(hnd) outs(%o : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
  return %r : tensor<?x8x1x64xf16>
}

// CHECK-LABEL: func.func @rope_op
// CHECK: attn.rope <scaling = yarn, factor = 4.000000e+00, original_context = 4096, beta_fast = 1.600000e+01, attention_factor = 1.200000e+00> inverse ins(%{{.*}} : tensor<?x4x?x128xf32>) positions(%{{.*}} : tensor<?x?xi64>) outs(%{{.*}} : tensor<?x4x?x128xf32>) -> tensor<?x4x?x128xf32>
func.func @rope_op(%x: tensor<?x4x?x128xf32>, %p: tensor<?x?xi64>, %o: tensor<?x4x?x128xf32>) -> tensor<?x4x?x128xf32> {
  %r = attn.rope <attention_factor = 1.2, scaling = yarn, factor = 4.0, original_context = 4096, beta_fast = 16.0> inverse ins(%x : tensor<?x4x?x128xf32>) positions(%p : tensor<?x?xi64>) outs(%o : tensor<?x4x?x128xf32>) -> tensor<?x4x?x128xf32>
  return %r : tensor<?x4x?x128xf32>
}
