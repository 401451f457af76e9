// RUN: attn-opt %s --pass-pipeline='builtin.module(func.func(attn-lower-experts,canonicalize))' | FileCheck %s

// A counting sort of the routed pairs by expert (slot indices outside
// [0, 4) are never ordered), a work list of items of up to 64 pairs, an
// scf.forall over the items that gathers the rows and runs the two panel
// matmuls (W1 and W3 together: 4 rows x 2 vectors x 2 matrices of
// accumulators; then W2: 8 rows x 2 vectors), and a second scf.forall that
// adds each token's pairs.
// CHECK-LABEL: func @experts
// CHECK: %[[N:.*]] = arith.muli %{{.*}}, %c2 : index
// CHECK: %[[ORDER:.*]] = memref.alloc(%[[N]]) : memref<?xi32>
// CHECK: arith.cmpi slt, %{{.*}}, %c4_i32 : i32
// CHECK: arith.cmpi sge, %{{.*}}, %c0_i32 : i32
// CHECK: arith.ceildivui %{{.*}}, %c64 : index
// CHECK: memref.store %{{.*}}, %[[ORDER]][%{{.*}}] : memref<?xi32>
// CHECK: %[[Y2:.*]] = memref.alloc(%[[N]]) : memref<?x64xf32>
// CHECK: scf.forall
// CHECK: memref.alloca() : memref<64x64xf32>
// CHECK: memref.alloca() : memref<64x128xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c32
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK-COUNT-16: vector.fma
// CHECK: math.exp
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c32
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK-COUNT-16: vector.fma
// CHECK: vector.store %{{.*}}, %[[Y2]]
// CHECK: scf.forall
// CHECK: vector.load %[[Y2]]
// CHECK: arith.select
// CHECK: vector.store %{{.*}}, %arg6
func.func @experts(%x: memref<?x64xf32>, %w: memref<?x2xf32>, %i: memref<?x2xi32>, %w1: memref<4x64x128xf32>,
                   %w3: memref<4x64x128xf32>, %w2: memref<4x128x64xf32>, %y: memref<?x64xf32>) {
  attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : memref<?x64xf32>, memref<?x2xf32>, memref<?x2xi32>,
      memref<4x64x128xf32>, memref<4x64x128xf32>, memref<4x128x64xf32>) outs(%y : memref<?x64xf32>)
  return
}

// With the norms output: a per-pair sum of squares zeroed before the items,
// accumulated from each W2 panel's unweighted accumulators (a horizontal
// add per row), and its square root stored per (token, slot) after the
// combine (zero for unrouted slots).
// CHECK-LABEL: func @experts_norms
// CHECK: %[[SQ:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: memref.store %cst{{.*}}, %[[SQ]]
// CHECK: scf.forall
// CHECK: vector.store %{{.*}}, %[[Y2:.*]][
// CHECK: vector.reduction <add>
// CHECK: memref.load %[[SQ]]
// CHECK: memref.store %{{.*}}, %[[SQ]]
// CHECK: scf.forall
// CHECK: math.sqrt
// CHECK: memref.store %{{.*}}, %arg7
func.func @experts_norms(%x: memref<?x64xf32>, %w: memref<?x2xf32>, %i: memref<?x2xi32>, %w1: memref<4x64x128xf32>,
                         %w3: memref<4x64x128xf32>, %w2: memref<4x128x64xf32>, %y: memref<?x64xf32>,
                         %n: memref<?x2xf32>) {
  attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : memref<?x64xf32>, memref<?x2xf32>, memref<?x2xi32>,
      memref<4x64x128xf32>, memref<4x64x128xf32>, memref<4x128x64xf32>) outs(%y, %n : memref<?x64xf32>, memref<?x2xf32>)
  return
}
