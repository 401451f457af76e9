// RUN: attn-opt %s -split-input-file -attn-materialize-kv-quant | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-materialize-kv-quant=keep-fused | FileCheck %s --check-prefix=KEEP

// The portable form: each quantized operand becomes a generic that
// dequantizes it into the query's element type (a paged pool stays a pool),
// the scale read at the element's group; the attention loses its scales.
// int8 per token: sitofp times the scale at (page, row, head, 0).
// CHECK-LABEL: func.func @paged
// CHECK: %[[K:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<?x16x2x64xi8>) outs(%{{.*}} : tensor<?x16x2x64xf16>)
// CHECK: %[[P:.*]] = linalg.index 0
// CHECK: %[[R:.*]] = linalg.index 1
// CHECK: %[[G:.*]] = linalg.index 2
// CHECK: %[[S:.*]] = tensor.extract %arg5[%[[P]], %[[R]], %[[G]], %c0{{.*}}] : tensor<?x16x2x1xf32>
// CHECK: %[[X:.*]] = arith.sitofp %{{.*}} : i8 to f32
// CHECK: %[[Y:.*]] = arith.mulf %[[X]], %[[S]] : f32
// CHECK: arith.truncf %[[Y]] : f32 to f16
// fp8 e5m2 per tensor: the code's bits shifted into an f32, times 2^112.
// CHECK: %[[V:.*]] = linalg.generic {{.*}} ins(%arg2 : tensor<?x16x2x64xf8E5M2>) outs(%{{.*}} : tensor<?x16x2x64xf16>)
// CHECK: arith.bitcast %{{.*}} : f8E5M2 to i8
// CHECK: arith.constant 21 : i32
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.constant 5.19229686E+33 : f32
// CHECK: attn.attention ins(%arg0, %[[K]], %[[V]] : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>) kv_lens(%arg3 : tensor<?xi32>) pages(%arg4 : tensor<?x?xi32>) outs(
// KEEP-LABEL: func.func @paged
// KEEP-NOT: linalg.generic
// KEEP: key_scale(%arg5 : tensor<?x16x2x1xf32>) value_scale(%arg6 : tensor<1x1x1x1xf32>)
func.func @paged(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xi8>, %v: tensor<?x16x2x64xf8E5M2>,
    %lens: tensor<?xi32>, %t: tensor<?x?xi32>, %ks: tensor<?x16x2x1xf32>, %vs: tensor<1x1x1x1xf32>,
    %o: tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16> {
  %r = attn.attention ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xi8>, tensor<?x16x2x64xf8E5M2>)
      kv_lens(%lens : tensor<?xi32>) pages(%t : tensor<?x?xi32>)
      key_scale(%ks : tensor<?x16x2x1xf32>) value_scale(%vs : tensor<1x1x1x1xf32>)
      outs(%o : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
  return %r : tensor<?x8x1x64xf16>
}

// -----

// Per channel, bf16 scales: the scale at (0, head, 0, channel), extended.
// CHECK-LABEL: func.func @per_channel
// CHECK: %[[G:.*]] = linalg.index 1
// CHECK: %[[D:.*]] = linalg.index 3
// CHECK: tensor.extract %arg3[%c0{{.*}}, %[[G]], %c0{{.*}}, %[[D]]] : tensor<1x2x1x32xbf16>
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: attn.attention causal ins(%arg0, %{{.*}}, %arg2 : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32>) outs(
func.func @per_channel(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xi8>, %v: tensor<1x2x8x32xf32>,
    %ks: tensor<1x2x1x32xbf16>, %o: tensor<1x4x8x32xf32>) -> tensor<1x4x8x32xf32> {
  %r = attn.attention causal ins(%q, %k, %v : tensor<1x4x8x32xf32>, tensor<1x2x8x32xi8>, tensor<1x2x8x32xf32>)
      key_scale(%ks : tensor<1x2x1x32xbf16>) outs(%o : tensor<1x4x8x32xf32>) -> tensor<1x4x8x32xf32>
  return %r : tensor<1x4x8x32xf32>
}
