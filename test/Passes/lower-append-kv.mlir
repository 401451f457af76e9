// RUN: attn-opt %s -split-input-file -attn-lower-append-kv | FileCheck %s

// One parallel iteration per (token, KV head): a non-negative slot copies
// the key and the value row, converted (f32 -> f16), into row slot % 16 of
// page slot / 16 (nhd: [page, row, head, d]).
// CHECK-LABEL: func.func @nhd
// CHECK-SAME: %[[K:[a-z0-9]+]]: memref<?x2x8xf32>, %[[V:[a-z0-9]+]]: memref<?x2x8xf32>, %[[S:[a-z0-9]+]]: memref<?xi32>, %[[KP:[a-z0-9]+]]: memref<?x16x2x8xf16>, %[[VP:[a-z0-9]+]]: memref<?x16x2x8xf16>
// CHECK: %[[T:.*]] = memref.dim %[[S]], %c0
// CHECK: scf.forall (%[[I:.*]], %[[G:.*]]) in (%[[T]], 2)
// CHECK: %[[SL:.*]] = memref.load %[[S]][%[[I]]]
// CHECK: %[[OK:.*]] = arith.cmpi sge, %[[SL]], %c0_i32
// CHECK: scf.if %[[OK]]
// CHECK: %[[SI:.*]] = arith.index_cast %[[SL]]
// CHECK: %[[PG:.*]] = arith.divui %[[SI]], %c16
// CHECK: %[[R:.*]] = arith.remui %[[SI]], %c16
// CHECK: scf.for %[[D:.*]] = %c0{{.*}} to %c8
// CHECK: %[[X:.*]] = memref.load %[[K]][%[[I]], %[[G]], %[[D]]]
// CHECK: %[[H:.*]] = arith.truncf %[[X]] : f32 to f16
// CHECK: memref.store %[[H]], %[[KP]][%[[PG]], %[[R]], %[[G]], %[[D]]]
// CHECK: memref.load %[[V]]
// CHECK: memref.store %{{.*}}, %[[VP]][%[[PG]], %[[R]], %[[G]], %{{.*}}]
// CHECK-NOT: attn.append_kv
func.func @nhd(%k: memref<?x2x8xf32>, %v: memref<?x2x8xf32>, %s: memref<?xi32>,
               %kp: memref<?x16x2x8xf16>, %vp: memref<?x16x2x8xf16>) {
  attn.append_kv ins(%k, %v : memref<?x2x8xf32>, memref<?x2x8xf32>) slots(%s : memref<?xi32>)
      outs(%kp, %vp : memref<?x16x2x8xf16>, memref<?x16x2x8xf16>)
  return
}

// -----

// hnd: [page, head, row, d]; f16 -> bf16 through f32.
// CHECK-LABEL: func.func @hnd
// CHECK: %[[PG:.*]] = arith.divui %{{.*}}, %c4
// CHECK: %[[R:.*]] = arith.remui %{{.*}}, %c4
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: %[[Y:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %[[Y]], %arg3[%[[PG]], %{{.*}}, %[[R]], %{{.*}}] : memref<?x3x4x8xbf16>
func.func @hnd(%k: memref<?x3x8xf16>, %v: memref<?x3x8xf16>, %s: memref<?xi32>,
               %kp: memref<?x3x4x8xbf16>, %vp: memref<?x3x4x8xbf16>) {
  attn.append_kv ins(%k, %v : memref<?x3x8xf16>, memref<?x3x8xf16>) slots(%s : memref<?xi32>) page_layout(hnd)
      outs(%kp, %vp : memref<?x3x4x8xbf16>, memref<?x3x4x8xbf16>)
  return
}

