// RUN: attn-opt %s -split-input-file -attn-lower-quantize-kv | FileCheck %s

// q8_0's scales: one per 32 channels. A reduction generic over [scale dims,
// block dims] (the block's extents from an unread tensor.empty of its
// shape) takes max |x| with the input at scale index * 32 + offset; the
// scale is that / 127 rounded to f16; the codes divide by the rounded scale
// (0 where it is 0), saturate to +-127 and round to nearest even (the
// 1.5 * 2^23 add and subtract).
// CHECK-LABEL: func.func @q8_0
// CHECK: %[[BLK:.*]] = tensor.empty() : tensor<1x1x32xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill
// CHECK: %[[AMAX:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[BLK]] : tensor<1x1x32xf32>) outs(%[[ZERO]] : tensor<?x8x2xf32>)
// CHECK: %[[C:.*]] = linalg.index 2
// CHECK: %[[O:.*]] = arith.muli %[[C]], %c32
// CHECK: %[[D:.*]] = arith.addi %[[O]],
// CHECK: tensor.extract %arg0[%{{.*}}, %{{.*}}, %[[D]]]
// CHECK: arith.maxnumf
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[AMAX]] : tensor<?x8x2xf32>) outs(%arg2 : tensor<?x8x2xf16>)
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: %[[Q:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x8x64xf32>) outs(%arg1 : tensor<?x8x64xi8>)
// CHECK: %[[CH:.*]] = linalg.index 2
// CHECK: %[[BI:.*]] = arith.divui %[[CH]], %c32
// CHECK: tensor.extract %[[S]][%{{.*}}, %{{.*}}, %[[BI]]] : tensor<?x8x2xf16>
// CHECK: arith.cmpf oeq
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: %[[M:.*]] = arith.constant 0x4B400000 : f32
// CHECK: arith.addf %{{.*}}, %[[M]]
// CHECK: arith.subf %{{.*}}, %[[M]]
// CHECK: arith.fptosi %{{.*}} : f32 to i8
// CHECK: return %[[Q]], %[[S]]
func.func @q8_0(%x: tensor<?x8x64xf32>, %q0: tensor<?x8x64xi8>, %s0: tensor<?x8x2xf16>) -> (tensor<?x8x64xi8>, tensor<?x8x2xf16>) {
  %q, %s = attn.quantize_kv ins(%x : tensor<?x8x64xf32>) outs(%q0, %s0 : tensor<?x8x64xi8>, tensor<?x8x2xf16>) -> tensor<?x8x64xi8>, tensor<?x8x2xf16>
  return %q, %s : tensor<?x8x64xi8>, tensor<?x8x2xf16>
}

// -----

// Per token and head: the block is one whole row ([1, 1, 64]).
// CHECK-LABEL: func.func @per_token
// CHECK: tensor.empty() : tensor<1x1x64xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x4x1xf32>)
func.func @per_token(%x: tensor<?x4x64xbf16>, %q0: tensor<?x4x64xi8>, %s0: tensor<?x4x1xf32>) -> (tensor<?x4x64xi8>, tensor<?x4x1xf32>) {
  %q, %s = attn.quantize_kv ins(%x : tensor<?x4x64xbf16>) outs(%q0, %s0 : tensor<?x4x64xi8>, tensor<?x4x1xf32>) -> tensor<?x4x64xi8>, tensor<?x4x1xf32>
  return %q, %s : tensor<?x4x64xi8>, tensor<?x4x1xf32>
}

// -----

// A given per-tensor scale (fp8 e4m3): no reduction; the codes generic
// encodes with integer arithmetic: subnormal codes from x * 2^9 rounded,
// normal ones from the f32 bits rounded to 3 mantissa bits (to nearest
// even) and rebiased by (127 - 7) << 3, the sign moved to bit 7.
// CHECK-LABEL: func.func @fp8_given
// CHECK-NOT: reduction
// CHECK: linalg.generic {{.*}} ins(%arg0 : tensor<?x4x64xf32>) outs(%arg2 : tensor<?x4x64xf8E4M3FN>)
// CHECK: tensor.extract %arg1[%c0{{.*}}, %c0{{.*}}, %c0{{.*}}] : tensor<1x1x1xf32>
// CHECK: arith.minimumf %{{.*}}, %{{.*}} : f32
// CHECK: arith.constant 5.120000e+02 : f32
// CHECK: arith.constant 524287 : i32
// CHECK: arith.constant 960 : i32
// CHECK: arith.constant 1.562500e-02 : f32
// CHECK: arith.select
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: arith.bitcast %{{.*}} : i8 to f8E4M3FN
func.func @fp8_given(%x: tensor<?x4x64xf32>, %s: tensor<1x1x1xf32>, %q0: tensor<?x4x64xf8E4M3FN>) -> tensor<?x4x64xf8E4M3FN> {
  %q = attn.quantize_kv ins(%x : tensor<?x4x64xf32>) scale(%s : tensor<1x1x1xf32>) outs(%q0 : tensor<?x4x64xf8E4M3FN>) -> tensor<?x4x64xf8E4M3FN>
  return %q : tensor<?x4x64xf8E4M3FN>
}
