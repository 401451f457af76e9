// RUN: attn-opt %s -split-input-file -attn-cpu-parallelize | FileCheck %s

// CHECK-LABEL: func.func @forall_3d
// CHECK-SAME: (%[[B:.+]]: index, %[[N:.+]]: index, %[[BUF:.+]]: memref<?x4x?xf32>)
// CHECK: %[[COUNT:.+]] = arith.index_cast %{{.+}} : index to i64
// CHECK: attn.parallel_for(%[[COUNT]]) {
// CHECK: ^bb0(%[[T:.+]]: i64):
// CHECK: %[[LIN:.+]] = arith.index_cast %[[T]] : i64 to index
// CHECK: arith.remui %[[LIN]]
// CHECK: arith.divui %[[LIN]]
// CHECK: memref.store
// CHECK: attn.yield
// CHECK-NOT: scf.forall
func.func @forall_3d(%b: index, %n: index, %buf: memref<?x4x?xf32>) {
  %c = arith.constant 1.0 : f32
  scf.forall (%i, %h, %j) in (%b, 4, %n) {
    memref.store %c, %buf[%i, %h, %j] : memref<?x4x?xf32>
  }
  return
}

// -----

// Only the outermost forall is parallel; a nested one becomes a loop.
// CHECK-LABEL: func.func @nested
// CHECK: attn.parallel_for
// CHECK: scf.for
// CHECK-NOT: scf.forall
func.func @nested(%n: index, %buf: memref<?x?xf32>) {
  %c = arith.constant 1.0 : f32
  scf.forall (%i) in (%n) {
    scf.forall (%j) in (%n) {
      memref.store %c, %buf[%i, %j] : memref<?x?xf32>
    }
  }
  return
}
