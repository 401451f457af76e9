// RUN: attn-opt %s --attn-generate-backward --canonicalize | FileCheck %s

// A block selection (MoBA, SeerAttention) is a mask of the backward: key j
// is visible to row i iff j / block_size is one of the row's selected
// blocks; the selection itself (integers) gets no gradient.
// CHECK-DAG: #[[IDX:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3)>
// CHECK-DAG: #[[KEPT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-DAG: #[[ALL:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-LABEL: func.func @blocks_backward(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<?x4x?x16xf32>, %{{[^:]*}}: tensor<?x4x?x16xf32>, %{{[^:]*}}: tensor<?x4x?x16xf32>, %[[SEL:[^:]*]]: tensor<?x4x?x2xi32>
// CHECK: attn.attention_backward causal {{.*}} mask {
// CHECK-NEXT: ^bb0(%[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK: %[[BLK:.*]] = arith.divui %[[J]], %c8 : index
// CHECK: %[[S0:.*]] = tensor.extract %[[SEL]][%[[B]], %[[H]], %[[I]], %c0]
// CHECK: %[[N0:.*]] = arith.index_cast %[[S0]] : i32 to index
// CHECK: %[[E0:.*]] = arith.cmpi eq, %[[N0]], %[[BLK]] : index
// CHECK: %[[S1:.*]] = tensor.extract %[[SEL]][%[[B]], %[[H]], %[[I]], %c1]
// CHECK: %[[N1:.*]] = arith.index_cast %[[S1]] : i32 to index
// CHECK: %[[E1:.*]] = arith.cmpi eq, %[[N1]], %[[BLK]] : index
// CHECK: %[[ANY:.*]] = arith.ori %[[E0]], %[[E1]] : i1
// CHECK: attn.yield %[[ANY]] : i1

// attn.evict's kept keys and values are a gather: their gradient is the
// one-hot contraction dK[b, h, s, d] = sum_n (idx[b, h, n] == s) dK'[b, h, n, d]
// (a generic reducing over n), in f32, then bf16; the scores get zeros.
// CHECK-LABEL: func.func @evict_backward(
// CHECK: %[[E:.*]]:3 = attn.evict budget(4)
// CHECK: %[[DK:.*]] = linalg.generic {indexing_maps = [#[[IDX]], #[[KEPT]], #[[ALL]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%[[E]]#0, %{{.*}} : tensor<?x4x6xi32>, tensor<?x4x6x16xf32>) outs(%{{.*}} : tensor<?x4x?x16xf32>)
// CHECK: %[[S:.*]] = linalg.index 2 : index
// CHECK: %[[SI:.*]] = arith.index_cast %[[S]] : index to i32
// CHECK: %[[HIT:.*]] = arith.cmpi eq, %{{.*}}, %[[SI]] : i32
// CHECK: arith.select %[[HIT]]
// CHECK: linalg.generic {{.*}} ins(%[[E]]#0, %{{.*}} : tensor<?x4x6xi32>, tensor<?x4x6x16xf32>)
// CHECK: %[[ZS:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x4x?xf32>)
// CHECK: return %[[ZS]],
func.func @blocks(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>,
                  %v: tensor<?x4x?x16xf32>, %sel: tensor<?x4x?x2xi32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
      blocks(%sel : tensor<?x4x?x2xi32>) block_size(8)
      outs(%init : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

func.func @evict(%s: tensor<?x4x?xf32>, %k: tensor<?x4x?x16xbf16>, %v: tensor<?x4x?x16xbf16>)
    -> (tensor<?x4x6xi32>, tensor<?x4x6x16xbf16>, tensor<?x4x6x16xbf16>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %k, %c0 : tensor<?x4x?x16xbf16>
  %i0 = tensor.empty(%b) : tensor<?x4x6xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x6x16xbf16>
  %v0 = tensor.empty(%b) : tensor<?x4x6x16xbf16>
  %i, %k1, %v1 = attn.evict budget(4) sink(1) recent(1)
      scores(%s : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x16xbf16>, tensor<?x4x?x16xbf16>)
      outs(%i0, %k0, %v0 : tensor<?x4x6xi32>, tensor<?x4x6x16xbf16>, tensor<?x4x6x16xbf16>)
      -> tensor<?x4x6xi32>, tensor<?x4x6x16xbf16>, tensor<?x4x6x16xbf16>
  return %i, %k1, %v1 : tensor<?x4x6xi32>, tensor<?x4x6x16xbf16>, tensor<?x4x6x16xbf16>
}
