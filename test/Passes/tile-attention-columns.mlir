// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=64 kv-tile=64" -canonicalize | FileCheck %s

// Fused column_scores (GQA 4/2, A2SF decay, VATP value norm): partial sums
// [B, Hq, chunks, Lk] with chunks = min(8, query tiles); each parallel
// iteration takes every chunks-th query tile, owns a weights buffer
// [Lk, 64] and a step-maxima buffer [key tiles, 64] on the heap, zeroes its
// partial row, records the maxima after each key tile, and after
// finalizing runs a second loop over the same (classified) key tiles with
// attn.tile_column_scores. A second parallel loop sums the group's heads and
// the chunks, times |v|_1, into the scores.
// CHECK-LABEL: func.func @columns
// CHECK-SAME: %{{[^:]*}}: memref<?x2x?x64xf32>, %[[V:[^:]*]]: memref<?x2x?x64xf32>, %{{[^:]*}}: memref<?x4x?x64xf32>, %[[S:[^:]*]]: memref<?x2x?xf32>)
// CHECK: %[[LK:.*]] = memref.dim %{{.*}}, %c2 : memref<?x2x?x64xf32>
// CHECK: %[[NQT:.*]] = arith.divui
// CHECK: %[[NKT:.*]] = arith.divui
// CHECK: %[[CH:.*]] = arith.minui %[[NQT]], %c8
// CHECK: %[[PART:.*]] = memref.alloc(%{{.*}}, %[[CH]], %[[LK]]) : memref<?x4x?x?xf32>
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[C:.*]]) in (%{{.*}}, 4, %[[CH]])
// CHECK: %[[M:.*]] = memref.alloca() : memref<64xf32>
// CHECK: %[[L:.*]] = memref.alloca() : memref<64xf32>
// CHECK: %[[W:.*]] = memref.alloc(%[[LK]]) : memref<?x64xf32>
// CHECK: %[[SM:.*]] = memref.alloc(%[[NKT]]) : memref<?x64xf32>
// CHECK: %[[ROW:.*]] = memref.subview %[[PART]][%[[B]], %[[H]], %[[C]], 0] [1, 1, 1, %[[LK]]]
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[ROW]] :
// CHECK: scf.for %{{.*}} = %[[C]] to %[[NQT]] step %[[CH]]
// CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%[[M]] : memref<64xf32>)
// CHECK:   scf.for %[[KT:.*]] = %c0 to %[[NKT]] step %c1
// CHECK:     %[[WT:.*]] = memref.subview %[[W]][%{{.*}}, 0] [%{{.*}}, 64] [1, 1]
// CHECK:     attn.tile_attend {{.*}} weights(%[[WT]] : memref<?x64xf32, strided<[64, 1], offset: ?>>)
// CHECK:     attn.tile_attend {{.*}} weights(%[[WT]] : memref<?x64xf32, strided<[64, 1], offset: ?>>) {{.*}} mask
// CHECK:     scf.for %[[R:.*]] = %c0 to %c64 step %c1
// CHECK:       %[[X:.*]] = memref.load %[[M]][%[[R]]]
// CHECK:       memref.store %[[X]], %[[SM]][%[[KT]], %[[R]]]
// CHECK:   attn.tile_finalize
// CHECK:   scf.for %[[CT:.*]] = %c0 to %[[NKT]] step %c1
// CHECK:     scf.if
// CHECK:       %[[CW:.*]] = memref.subview %[[W]]
// CHECK:       %[[CSM:.*]] = memref.subview %[[SM]][%[[CT]], 0] [1, 64] [1, 1]
// CHECK:       %[[CP:.*]] = memref.subview %[[ROW]]
// CHECK:       attn.tile_column_scores ins(%[[CW]], %[[CSM]] : {{.*}}) state(%[[M]], %[[L]] : {{.*}}) outs(%[[CP]] : {{.*}}) rows(%{{.*}}) length(%{{.*}}) at[%[[B]], %[[H]], %{{.*}}] score_decay(5.000000e-01)
// CHECK: scf.forall (%[[RB:.*]], %[[G:.*]]) in (%{{.*}}, 2)
// CHECK:   memref.load %[[PART]]
// CHECK:   memref.load %[[PART]]
// CHECK:   memref.load %[[V]][%[[RB]], %[[G]]
// CHECK:   math.absf
// CHECK:   arith.mulf
// CHECK:   memref.store %{{.*}}, %[[S]][%[[RB]], %[[G]], %{{.*}}]
func.func @columns(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x64xf32>,
                   %o: memref<?x4x?x64xf32>, %s: memref<?x2x?xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      outs(%o, %s : memref<?x4x?x64xf32>, memref<?x2x?xf32>) column_scores score_decay(0.5) value_norm
  return
}

// -----

// A sink region reaches the column op (its logit is in the denominator);
// a static decode query still takes this form (not the split-KV one).
// CHECK-LABEL: func.func @sink_decode
// CHECK: %[[SINK:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: scf.forall
// CHECK: attn.tile_column_scores {{.*}} rows(%c1) length(%c1) {{.*}} sink {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: attn.yield %[[SINK]] : f32
// CHECK-NOT: attn.parallel_for
func.func @sink_decode(%q: memref<1x4x1x64xf32>, %k: memref<1x4x?x64xf32>, %v: memref<1x4x?x64xf32>,
                       %o: memref<1x4x1x64xf32>, %s: memref<1x4x?xf32>) {
  attn.attention ins(%q, %k, %v : memref<1x4x1x64xf32>, memref<1x4x?x64xf32>, memref<1x4x?x64xf32>)
      outs(%o, %s : memref<1x4x1x64xf32>, memref<1x4x?xf32>) column_scores
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 0.5 : f32
        attn.yield %c : f32
      }
  return
}
