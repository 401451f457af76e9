// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-lower-pool,canonicalize))' | FileCheck %s

// One forall over (batch, head, block); per channel one pass over the
// block's rows carrying max, min and sum; the kinds stored side by side and
// the mean divided by the block's own length (the last block may be short).
// CHECK-LABEL: func @pool3
// CHECK: %[[NB:.*]] = arith.ceildivui %{{.*}}, %c64 : index
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[N:.*]]) in (%{{.*}}, 4, %[[NB]])
// CHECK: %[[FIRST:.*]] = arith.muli %[[N]], %c64
// CHECK: %[[LAST:.*]] = arith.minui
// CHECK: arith.subi %[[LAST]], %[[FIRST]]
// CHECK: scf.for %[[D:.*]] = %c0 to %c64
// CHECK: %[[S:.*]]:3 = scf.for %{{.*}} = %[[FIRST]] to %[[LAST]] {{.*}} -> (f32, f32, f32)
// CHECK: arith.extf
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: arith.addf
// CHECK: memref.store %[[S]]#0, %arg1[%[[B]], %[[H]], %[[N]], %[[D]]]
// CHECK: memref.store %[[S]]#1, %arg1[%[[B]], %[[H]], %[[N]], %{{.*}}]
// CHECK: %[[MEAN:.*]] = arith.divf %[[S]]#2
// CHECK: memref.store %[[MEAN]], %arg1[%[[B]], %[[H]], %[[N]], %{{.*}}]
func.func @pool3(%k: memref<?x4x?x64xbf16>, %o: memref<?x4x?x192xf32>) {
  attn.pool block(64) kinds(["max", "min", "mean"]) ins(%k : memref<?x4x?x64xbf16>) outs(%o : memref<?x4x?x192xf32>)
  return
}
