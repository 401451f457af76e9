// RUN: attn-opt %s -convert-attn-to-vector=vector-width=16 | FileCheck %s

// tile_attend with weights stores each chunk's exp2(s - m) next to its
// softmax buffer and rescales the step's earlier chunks by alpha when a
// later chunk raises the maxima; tile_column_scores computes one shift per
// row (m + log2 l, the decay, +inf for dead rows), one factor vector per
// 16 rows, then per key one FMA per vector and a reassociable sum.
// CHECK-LABEL: func.func @columns
// CHECK-SAME: %[[W:[^:]*]]: memref<?x32xf32>, %[[SM:[^:]*]]: memref<32xf32>, %[[P:[^:]*]]: memref<?xf32>
// CHECK: scf.for %[[KC:.*]] = %{{.*}} to %{{.*}} step %c64
// CHECK:   scf.for %[[J:.*]] = %{{.*}} to %[[KC]] step
// CHECK:     %[[OLD:.*]] = vector.load %[[W]][%[[J]], %{{.*}}]
// CHECK:     %[[NEW:.*]] = arith.mulf %[[OLD]], %{{.*}} : vector<16xf32>
// CHECK:     vector.store %[[NEW]], %[[W]][%[[J]], %{{.*}}]
// CHECK:   scf.for
// CHECK:     vector.store %{{.*}}, %[[W]][%{{.*}}, %{{.*}}] : memref<?x32xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c32
// CHECK:   math.log2
// CHECK:   arith.sitofp
// CHECK:   arith.cmpi uge
// CHECK:   arith.select
// CHECK: vector.load %[[SM]][%{{.*}}] : memref<32xf32>, vector<16xf32>
// CHECK: vector.load %[[SM]][%{{.*}}] : memref<32xf32>, vector<16xf32>
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step
// CHECK:   %[[W0:.*]] = vector.load %[[W]][%[[K]], %{{.*}}]
// CHECK:   %[[F0:.*]] = vector.fma %[[W0]], %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:   %[[W1:.*]] = vector.load %[[W]][%[[K]], %{{.*}}]
// CHECK:   %[[F1:.*]] = vector.fma %[[W1]], %{{.*}}, %[[F0]] : vector<16xf32>
// CHECK:   %[[R:.*]] = vector.reduction <add>, %[[F1]] fastmath<reassoc>
// CHECK:   %[[PO:.*]] = memref.load %[[P]][%[[K]]]
// CHECK:   %[[PN:.*]] = arith.addf %[[PO]], %[[R]]
// CHECK:   memref.store %[[PN]], %[[P]][%[[K]]]
// CHECK-NOT: attn.tile
func.func @columns(%q: memref<?x64xf32>, %k: memref<?x64xf32>, %m: memref<32xf32>, %l: memref<32xf32>,
                   %acc: memref<32x64xf32>, %w: memref<?x32xf32>, %sm: memref<32xf32>, %p: memref<?xf32>,
                   %i: index, %n: index) {
  attn.tile_attend ins(%q, %k, %k : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>)
      state(%m, %l, %acc : memref<32xf32>, memref<32xf32>, memref<32x64xf32>)
      weights(%w : memref<?x32xf32>) at [%i, %i, %i, %i] scale(0.125)
  attn.tile_column_scores ins(%w, %sm : memref<?x32xf32>, memref<32xf32>)
      state(%m, %l : memref<32xf32>, memref<32xf32>) outs(%p : memref<?xf32>)
      rows(%n) length(%n) at [%i, %i, %i] score_decay(0.5)
  return
}
