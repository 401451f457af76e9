// RUN: attn-opt %s -split-input-file -attn-lower-copies | FileCheck %s

// CHECK-LABEL: func.func @strided_copy
// CHECK-SAME: (%[[A:.+]]: memref<?x64xf32>, %[[B:.+]]: memref<?x64xf32, strided<[576, 1], offset: 512>>)
// CHECK-NEXT: linalg.copy ins(%[[A]] : memref<?x64xf32>) outs(%[[B]] : memref<?x64xf32, strided<[576, 1], offset: 512>>)
// CHECK-NOT: memref.copy
func.func @strided_copy(%a: memref<?x64xf32>, %b: memref<?x64xf32, strided<[576, 1], offset: 512>>) {
  memref.copy %a, %b : memref<?x64xf32> to memref<?x64xf32, strided<[576, 1], offset: 512>>
  return
}
