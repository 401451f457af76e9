// RUN: attn-opt %s -split-input-file | FileCheck %s
// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s

// Quantized caches: 8-bit keys/values with scales whose shape gives the
// granularity, attn.quantize_kv (computed and given scales), append_kv of
// 8-bit rows.

// CHECK-LABEL: func.func @paged_int8_per_token
// CHECK: attn.attention causal ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8x1x64xf16>, tensor<?x16x2x64xi8>, tensor<?x16x2x64xi8>) kv_lens(%{{.*}} : tensor<?xi32>) pages(%{{.*}} : tensor<?x?xi32>) key_scale(%{{.*}} : tensor<?x16x2x1xf32>) value_scale(%{{.*}} : tensor<?x16x2x1xf32>) outs(
func.func @paged_int8_per_token(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xi8>, %v: tensor<?x16x2x64xi8>,
    %lens: tensor<?xi32>, %t: tensor<?x?xi32>, %ks: tensor<?x16x2x1xf32>, %vs: tensor<?x16x2x1xf32>,
    %o: tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16> {
  %r = attn.attention causal ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xi8>, tensor<?x16x2x64xi8>)
      kv_lens(%lens : tensor<?xi32>) pages(%t : tensor<?x?xi32>)
      key_scale(%ks : tensor<?x16x2x1xf32>) value_scale(%vs : tensor<?x16x2x1xf32>)
      outs(%o : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
  return %r : tensor<?x8x1x64xf16>
}

// -----

// fp8 keys per tensor (vLLM's k_scale), q8_0 values (f16 scales per 32
// channels), on dense keys.
// CHECK-LABEL: func.func @dense_fp8_q8_0
// CHECK: key_scale(%{{.*}} : tensor<1x1x1x1xf32>) value_scale(%{{.*}} : tensor<?x2x?x2xf16>)
func.func @dense_fp8_q8_0(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xf8E4M3FN>, %v: tensor<?x2x?x64xi8>,
    %ks: tensor<1x1x1x1xf32>, %vs: tensor<?x2x?x2xf16>, %o: tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xbf16> {
  %r = attn.attention ins(%q, %k, %v : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xf8E4M3FN>, tensor<?x2x?x64xi8>)
      key_scale(%ks : tensor<1x1x1x1xf32>) value_scale(%vs : tensor<?x2x?x2xf16>)
      outs(%o : tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xbf16>
  return %r : tensor<?x8x?x64xbf16>
}

// -----

// Only the keys quantized (e5m2 per channel).
// CHECK-LABEL: func.func @keys_only
// CHECK: key_scale(%{{.*}} : tensor<1x2x1x64xbf16>) outs(
func.func @keys_only(%q: tensor<1x4x3x64xf32>, %k: tensor<1x2x5x64xf8E5M2>, %v: tensor<1x2x5x64xf32>,
    %ks: tensor<1x2x1x64xbf16>, %o: tensor<1x4x3x64xf32>) -> tensor<1x4x3x64xf32> {
  %r = attn.attention ins(%q, %k, %v : tensor<1x4x3x64xf32>, tensor<1x2x5x64xf8E5M2>, tensor<1x2x5x64xf32>)
      key_scale(%ks : tensor<1x2x1x64xbf16>) outs(%o : tensor<1x4x3x64xf32>) -> tensor<1x4x3x64xf32>
  return %r : tensor<1x4x3x64xf32>
}

// -----

// CHECK-LABEL: func.func @quantize
// CHECK: attn.quantize_kv ins(%{{.*}} : tensor<?x8x128xf32>) outs(%{{.*}}, %{{.*}} : tensor<?x8x128xi8>, tensor<?x8x4xf16>) -> tensor<?x8x128xi8>, tensor<?x8x4xf16>
// CHECK: attn.quantize_kv ins(%{{.*}} : tensor<?x8x128xf32>) scale(%{{.*}} : tensor<1x1x1xf32>) outs(%{{.*}} : tensor<?x8x128xf8E4M3FN>) -> tensor<?x8x128xf8E4M3FN>
func.func @quantize(%x: tensor<?x8x128xf32>, %q0: tensor<?x8x128xi8>, %s0: tensor<?x8x4xf16>,
    %s: tensor<1x1x1xf32>, %f0: tensor<?x8x128xf8E4M3FN>)
    -> (tensor<?x8x128xi8>, tensor<?x8x4xf16>, tensor<?x8x128xf8E4M3FN>) {
  %q, %sc = attn.quantize_kv ins(%x : tensor<?x8x128xf32>) outs(%q0, %s0 : tensor<?x8x128xi8>, tensor<?x8x4xf16>)
      -> tensor<?x8x128xi8>, tensor<?x8x4xf16>
  %f = attn.quantize_kv ins(%x : tensor<?x8x128xf32>) scale(%s : tensor<1x1x1xf32>)
      outs(%f0 : tensor<?x8x128xf8E4M3FN>) -> tensor<?x8x128xf8E4M3FN>
  return %q, %sc, %f : tensor<?x8x128xi8>, tensor<?x8x4xf16>, tensor<?x8x128xf8E4M3FN>
}

// -----

// 8-bit rows into 8-bit pools, as they are.
// CHECK-LABEL: func.func @append_codes
// CHECK: attn.append_kv ins(%{{.*}}, %{{.*}} : tensor<?x2x64xf8E4M3FN>, tensor<?x2x64xi8>)
func.func @append_codes(%k: tensor<?x2x64xf8E4M3FN>, %v: tensor<?x2x64xi8>, %s: tensor<?xi32>,
    %kp: tensor<?x16x2x64xf8E4M3FN>, %vp: tensor<?x16x2x64xi8>)
    -> (tensor<?x16x2x64xf8E4M3FN>, tensor<?x16x2x64xi8>) {
  %a, %b = attn.append_kv ins(%k, %v : tensor<?x2x64xf8E4M3FN>, tensor<?x2x64xi8>) slots(%s : tensor<?xi32>)
      outs(%kp, %vp : tensor<?x16x2x64xf8E4M3FN>, tensor<?x16x2x64xi8>)
      -> tensor<?x16x2x64xf8E4M3FN>, tensor<?x16x2x64xi8>
  return %a, %b : tensor<?x16x2x64xf8E4M3FN>, tensor<?x16x2x64xi8>
}
