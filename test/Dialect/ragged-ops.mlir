// RUN: attn-opt %s | attn-opt | FileCheck %s

// qo_indptr(...) and plan(...) round-trip: a ragged batch of tokens
// [T, heads, 1, D] over paged pools or dense keys with lengths, on tensors
// and memrefs.

// CHECK-LABEL: func.func @ragged_paged_plan
// CHECK: attn.attention causal ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>) kv_lens(%{{.*}} : tensor<?xi32>) pages(%{{.*}} : tensor<?x?xi32>) qo_indptr(%{{.*}} : tensor<?xi32>) plan(%{{.*}} : tensor<2x?xi32>) outs(
func.func @ragged_paged_plan(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xf16>, %v: tensor<?x16x2x64xf16>,
                             %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %indptr: tensor<?xi32>,
                             %plan: tensor<2x?xi32>, %o: tensor<?x8x1x64xf16>, %l: tensor<?x8x1xf32>)
    -> (tensor<?x8x1x64xf16>, tensor<?x8x1xf32>) {
  %r:2 = attn.attention causal ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      qo_indptr(%indptr : tensor<?xi32>) plan(%plan : tensor<2x?xi32>)
      outs(%o, %l : tensor<?x8x1x64xf16>, tensor<?x8x1xf32>) -> tensor<?x8x1x64xf16>, tensor<?x8x1xf32>
  return %r#0, %r#1 : tensor<?x8x1x64xf16>, tensor<?x8x1xf32>
}

// Static shapes: 7 tokens of 3 requests (the pointer has 4 entries), dense
// keys of the 3 requests.
// CHECK-LABEL: func.func @ragged_dense_static
// CHECK: kv_lens(%{{.*}} : tensor<3xi32>) qo_indptr(%{{.*}} : tensor<4xi32>) outs(
func.func @ragged_dense_static(%q: tensor<7x4x1x16xf32>, %k: tensor<3x2x9x16xf32>, %lens: tensor<3xi32>,
                               %indptr: tensor<4xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<3x2x9x16xf32>, tensor<3x2x9x16xf32>)
      kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi32>)
      outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// CHECK-LABEL: func.func @ragged_memref
// CHECK: attn.attention causal ins({{.*}}) kv_lens(%{{.*}} : memref<?xi32>) pages(%{{.*}} : memref<?x?xi32>) page_layout(hnd) qo_indptr(%{{.*}} : memref<?xi32>) outs(
func.func @ragged_memref(%q: memref<?x4x1x32xbf16>, %k: memref<?x2x16x32xbf16>, %lens: memref<?xi32>,
                         %table: memref<?x?xi32>, %indptr: memref<?xi32>, %o: memref<?x4x1x32xbf16>) {
  attn.attention causal ins(%q, %k, %k : memref<?x4x1x32xbf16>, memref<?x2x16x32xbf16>, memref<?x2x16x32xbf16>)
      kv_lens(%lens : memref<?xi32>) pages(%table : memref<?x?xi32>) page_layout(hnd)
      qo_indptr(%indptr : memref<?xi32>) outs(%o : memref<?x4x1x32xbf16>)
  return
}
