// RUN: attn-opt %s --attn-gpu-map-loops --attn-gpu-emulate-launches --cse --split-input-file | FileCheck %s

// A SIMT launch becomes a parallel loop over the blocks whose body loops
// over the threads; device allocations are host allocations again.
// CHECK-LABEL: func.func @copy
// CHECK: %[[T:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK-NOT: gpu.
// CHECK: scf.forall (%[[B:.*]]) in (%{{.*}})
// CHECK:   scf.for %[[TX:.*]] = %{{.*}} to %c128
// CHECK:     arith.muli %[[B]], %c128
// CHECK:     memref.store %{{.*}}, %[[T]]
// CHECK: scf.forall
// CHECK: memref.dealloc %[[T]]
// CHECK-NOT: gpu.
// CHECK: return
func.func @copy(%x: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  scf.forall (%i) in (%n) {
    %a = memref.load %x[%i] : memref<?xf32>
    memref.store %a, %t[%i] : memref<?xf32>
  }
  scf.forall (%i) in (%n) {
    %a = memref.load %t[%i] : memref<?xf32>
    %b = arith.addf %a, %a : f32
    memref.store %b, %x[%i] : memref<?xf32>
  }
  return
}
