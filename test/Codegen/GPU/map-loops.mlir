// RUN: attn-opt %s --attn-gpu-map-loops --cse --split-input-file | FileCheck %s

// The outermost forall: one thread per iteration, 128 per block, the grid
// from the run-time trip count, the tail guarded; the nested forall runs
// sequentially in its thread.
// CHECK-LABEL: func.func @nested
// CHECK: %[[N:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[M:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[TOTAL:.*]] = arith.muli
// CHECK: %[[C128:.*]] = arith.constant 128 : index
// CHECK: %[[GRID:.*]] = arith.ceildivui %[[TOTAL]], %[[C128]]
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%[[BS:.*]] = %[[C128]],
// CHECK:   %[[B0:.*]] = arith.muli %[[BX]], %[[BS]]
// CHECK:   %[[LIN:.*]] = arith.addi %[[B0]], %[[TX]]
// CHECK:   %[[IN:.*]] = arith.cmpi ult, %[[LIN]], %[[TOTAL]]
// CHECK:   scf.if %[[IN]]
// CHECK:     scf.for %[[J:.*]] = %{{.*}} to %[[M]]
// CHECK:       memref.store
// CHECK:   gpu.terminator
// CHECK-NOT: scf.forall
// CHECK: return
func.func @nested(%x: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %m = memref.dim %x, %c1 : memref<?x?xf32>
  %f = arith.constant 2.0 : f32
  scf.forall (%i) in (%n) {
    scf.forall (%j) in (%m) {
      memref.store %f, %x[%i, %j] : memref<?x?xf32>
    }
  }
  return
}

// -----

// Host work on buffer contents (a sequential scan) runs in a single-thread
// launch, before the parallel loop that follows it; the prefix length the
// loop's body reads from a buffer is read inside the kernel.
// CHECK-LABEL: func.func @serial
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C1]], {{.*}} threads({{.*}}) in ({{.*}} = %[[C1]],
// CHECK:   memref.store
// CHECK:   scf.for
// CHECK:     memref.load
// CHECK:     memref.store
// CHECK:   gpu.terminator
// CHECK-NOT: memref.load
// CHECK: gpu.launch
// CHECK:   %[[L:.*]] = memref.load %{{.*}}[] : memref<i32>
// CHECK:   %[[LI:.*]] = arith.index_cast %[[L]]
// CHECK:   scf.if
// CHECK:     arith.cmpi ult, %{{.*}}, %[[LI]]
// CHECK: return
func.func @serial(%x: memref<?xf32>, %len: memref<i32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  memref.store %f, %x[%c0] : memref<?xf32>
  scf.for %i = %c1 to %n step %c1 {
    %p = arith.subi %i, %c1 : index
    %a = memref.load %x[%p] : memref<?xf32>
    %b = arith.addf %a, %f : f32
    memref.store %b, %x[%i] : memref<?xf32>
  }
  %l = memref.load %len[] : memref<i32>
  %li = arith.index_cast %l : i32 to index
  scf.forall (%i) in (%n) {
    %in = arith.cmpi ult, %i, %li : index
    scf.if %in {
      memref.store %f, %x[%i] : memref<?xf32>
    }
  }
  return
}

// -----

// Host buffers become device allocations freed at the end of the function;
// per-iteration scratch of 16 KiB or more becomes one device buffer with a
// slice per iteration (smaller scratch stays in registers/local memory);
// scf.parallel (from linalg) is mapped like scf.forall.
// CHECK-LABEL: func.func @buffers
// CHECK: %[[T:.*]], %[[TOK:.*]] = gpu.alloc async [%{{.*}}] (%{{.*}}) : memref<?xf32>
// CHECK: gpu.wait [%[[TOK]]]
// CHECK: gpu.alloc async [%{{.*}}] () : memref<8xi32>
// CHECK: %[[C32K:.*]] = arith.constant 32768 : index
// CHECK: %[[BYTES:.*]] = arith.muli %{{.*}}, %[[C32K]]
// CHECK: %[[SCRATCH:.*]], %{{.*}} = gpu.alloc async [%{{.*}}] (%[[BYTES]]) : memref<?xi8>
// CHECK: gpu.launch
// CHECK:   memref.view %[[SCRATCH]][%{{.*}}][] : memref<?xi8> to memref<64x128xf32>
// CHECK:   memref.alloca() : memref<16xf32>
// CHECK: gpu.launch
// CHECK:   memref.load %[[T]]
// CHECK-NOT: scf.parallel
// CHECK: gpu.dealloc async [%{{.*}}] %[[T]]
// CHECK: gpu.dealloc
// CHECK: gpu.dealloc async [%{{.*}}] %[[SCRATCH]]
// CHECK: return
func.func @buffers(%x: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  %s = memref.alloca() : memref<8xi32>
  scf.forall (%i) in (%n) {
    %big = memref.alloca() : memref<64x128xf32>
    %small = memref.alloca() : memref<16xf32>
    %a = memref.load %x[%i] : memref<?xf32>
    memref.store %a, %big[%c0, %c0] : memref<64x128xf32>
    memref.store %a, %small[%c0] : memref<16xf32>
    %b = memref.load %big[%c0, %c0] : memref<64x128xf32>
    memref.store %b, %t[%i] : memref<?xf32>
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %a = memref.load %t[%i] : memref<?xf32>
    memref.store %a, %x[%i] : memref<?xf32>
  }
  return
}
