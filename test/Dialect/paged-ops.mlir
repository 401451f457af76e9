// RUN: attn-opt %s | attn-opt | FileCheck %s

// kv_lens and pages(...) round-trip, in both pool layouts and on memrefs.

// CHECK-LABEL: func.func @paged_nhd
// CHECK: attn.attention causal ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>) kv_lens(%{{.*}} : tensor<?xi32>) pages(%{{.*}} : tensor<?x?xi32>) outs(
// CHECK-NOT: page_layout
func.func @paged_nhd(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xf16>, %v: tensor<?x16x2x64xf16>,
                     %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %o: tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16> {
  %r = attn.attention causal ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%o : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
  return %r : tensor<?x8x1x64xf16>
}

// CHECK-LABEL: func.func @paged_hnd_lse
// CHECK: kv_lens(%{{.*}} : tensor<3xi32>) pages(%{{.*}} : tensor<3x4xi32>) page_layout(hnd) outs(
func.func @paged_hnd_lse(%q: tensor<3x4x2x32xbf16>, %k: tensor<10x2x1x32xbf16>, %v: tensor<10x2x1x32xbf16>,
                         %lens: tensor<3xi32>, %table: tensor<3x4xi32>, %o: tensor<3x4x2x32xbf16>,
                         %l: tensor<3x4x2xf32>) -> (tensor<3x4x2x32xbf16>, tensor<3x4x2xf32>) {
  %r:2 = attn.attention ins(%q, %k, %v : tensor<3x4x2x32xbf16>, tensor<10x2x1x32xbf16>, tensor<10x2x1x32xbf16>)
      kv_lens(%lens : tensor<3xi32>) pages(%table : tensor<3x4xi32>) page_layout(hnd)
      outs(%o, %l : tensor<3x4x2x32xbf16>, tensor<3x4x2xf32>) -> tensor<3x4x2x32xbf16>, tensor<3x4x2xf32>
  return %r#0, %r#1 : tensor<3x4x2x32xbf16>, tensor<3x4x2xf32>
}

// CHECK-LABEL: func.func @dense_lens_memref
// CHECK: attn.attention causal ins({{.*}}) kv_lens(%{{.*}} : memref<?xi32>) outs(
// CHECK-SAME: sink
func.func @dense_lens_memref(%q: memref<?x4x?x16xf32>, %k: memref<?x2x?x16xf32>, %v: memref<?x2x?x16xf32>,
                             %lens: memref<?xi32>, %o: memref<?x4x?x16xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x16xf32>, memref<?x2x?x16xf32>, memref<?x2x?x16xf32>)
      kv_lens(%lens : memref<?xi32>) outs(%o : memref<?x4x?x16xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 0.5 : f32
        attn.yield %c : f32
      }
  return
}

// CHECK-LABEL: func.func @append
// CHECK: attn.append_kv ins(%{{.*}}, %{{.*}} : tensor<?x2x64xf32>, tensor<?x2x64xf32>) slots(%{{.*}} : tensor<?xi32>) outs(%{{.*}}, %{{.*}} : tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>) -> tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>
func.func @append(%k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %s: tensor<?xi32>,
                  %kp: tensor<?x16x2x64xf16>, %vp: tensor<?x16x2x64xf16>) -> (tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>) {
  %a, %b = attn.append_kv ins(%k, %v : tensor<?x2x64xf32>, tensor<?x2x64xf32>) slots(%s : tensor<?xi32>)
      outs(%kp, %vp : tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>) -> tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>
  return %a, %b : tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>
}

// CHECK-LABEL: func.func @append_hnd_memref
// CHECK: attn.append_kv ins({{.*}}) slots({{.*}}) page_layout(hnd) outs(
func.func @append_hnd_memref(%k: memref<?x2x8xbf16>, %s: memref<?xi32>, %kp: memref<?x2x4x8xbf16>) {
  attn.append_kv ins(%k, %k : memref<?x2x8xbf16>, memref<?x2x8xbf16>) slots(%s : memref<?xi32>) page_layout(hnd)
      outs(%kp, %kp : memref<?x2x4x8xbf16>, memref<?x2x4x8xbf16>)
  return
}
