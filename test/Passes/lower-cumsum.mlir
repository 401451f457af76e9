// RUN: attn-opt %s -split-input-file -attn-lower-cumsum -canonicalize | FileCheck %s

// The scanned dim is the innermost loop, with an f32 running sum; the other
// dims are plain loops in order.
// CHECK-LABEL: func.func @scan_middle
// CHECK-SAME: (%[[X:.+]]: memref<?x4x?xbf16>, %[[Y:.+]]: memref<?x4x?xf32>)
// CHECK: scf.for %[[B:.+]] =
// CHECK: scf.for %[[H:.+]] = %{{.+}} to %c4
// CHECK: scf.for %[[T:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:.+]] = %{{.+}}) -> (f32)
// CHECK: %[[V:.+]] = memref.load %[[X]][%[[B]], %[[H]], %[[T]]] : memref<?x4x?xbf16>
// CHECK: %[[E:.+]] = arith.extf %[[V]] : bf16 to f32
// CHECK: %[[S:.+]] = arith.addf %[[ACC]], %[[E]] : f32
// CHECK: memref.store %[[S]], %[[Y]][%[[B]], %[[H]], %[[T]]] : memref<?x4x?xf32>
// CHECK: scf.yield %[[S]] : f32
// CHECK-NOT: attn.cumsum
func.func @scan_middle(%x: memref<?x4x?xbf16>, %y: memref<?x4x?xf32>) {
  attn.cumsum dim(2) ins(%x : memref<?x4x?xbf16>) outs(%y : memref<?x4x?xf32>)
  return
}

// -----

// A bf16 output is rounded from the f32 running sum.
// CHECK-LABEL: func.func @scan_first_bf16
// CHECK: scf.for %[[D:.+]] =
// CHECK: scf.for %[[T:.+]] = {{.*}} iter_args
// CHECK: %[[S:.+]] = arith.addf
// CHECK: %[[R:.+]] = arith.truncf %[[S]] : f32 to bf16
// CHECK: memref.store %[[R]], %{{.+}}[%[[T]], %[[D]]]
func.func @scan_first_bf16(%x: memref<?x8xf32>, %y: memref<?x8xbf16>) {
  attn.cumsum dim(0) ins(%x : memref<?x8xf32>) outs(%y : memref<?x8xbf16>)
  return
}
