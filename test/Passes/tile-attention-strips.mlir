// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=64 kv-tile=64 decode-split-keys=0" -canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=64 kv-tile=64 decode-split-keys=0 strip-rows=0" -canonicalize | FileCheck %s --check-prefix=OFF
// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=32 kv-tile=64 decode-split-keys=0 strip-rows=32" -canonicalize | FileCheck %s --check-prefix=OFF

// Partially visible tiles go in 32-row strips. Each strip scans the tile's
// keys from the front and from the back for the first and last key some of
// its rows can see (a single key classified against the strip's rows), and
// attends with the mask to those keys only: its query, state and key/value
// tiles are views at the strip's rows and first key. Full tiles stay whole.
// Without strips (strip-rows=0, or a tile no larger than a strip) a partial
// tile is one tile_attend with the mask.
// CHECK-LABEL: func.func @causal
// CHECK: %[[M:.+]] = memref.alloca() {{.*}}: memref<64xf32>
// CHECK: scf.if %[[FULL:.+]] {
// CHECK: attn.tile_attend ins(%{{.+}}) state(%[[M]], %{{.+}}, %{{.+}} : memref<64xf32>, memref<64xf32>, memref<64x64xf32>) at[{{.+}}] scale(1.250000e-01){{$}}
// CHECK: } else {
// CHECK: scf.for %[[S:.+]] = %c0 to %{{.+}} step %c1 {
// CHECK: %[[RS:.+]] = arith.muli %[[S]], %c32 : index
// CHECK: %[[LO:.+]] = scf.while
// CHECK: scf.condition
// CHECK: arith.addi %{{.+}}, %c1 : index
// CHECK: %[[HI:.+]] = scf.while (%{{.+}} = %{{.+}}) : (index) -> index {
// CHECK: arith.cmpi ne, %{{.+}}, %[[LO]] : index
// CHECK: arith.addi %{{.+}}, %c-1 : index
// CHECK: %[[ANY:.+]] = arith.cmpi ult, %[[LO]], %[[HI]] : index
// CHECK: scf.if %[[ANY]] {
// CHECK: %[[N:.+]] = arith.subi %[[HI]], %[[LO]] : index
// CHECK: %[[KS:.+]] = memref.subview %{{.+}}[%[[LO]], 0] [%[[N]], 64] [1, 1]
// CHECK: %[[MS:.+]] = memref.subview %[[M]][%[[RS]]] [32] [1] : memref<64xf32> to memref<32xf32, strided<[1], offset: ?>>
// CHECK: attn.tile_attend ins(%{{.+}}, %[[KS]], %{{.+}} : {{.+}}) state(%[[MS]], %{{.+}}, %{{.+}} : memref<32xf32, strided<[1], offset: ?>>, memref<32xf32, strided<[1], offset: ?>>, memref<32x64xf32, strided<[64, 1], offset: ?>>) at[{{.+}}] scale(1.250000e-01) mask {
// CHECK: arith.cmpi sle
// OFF-LABEL: func.func @causal
// OFF-NOT: scf.while
// OFF: attn.tile_attend {{.*}} mask {
// OFF-NOT: scf.while
func.func @causal(%q: memref<?x4x?x64xf32>, %k: memref<?x4x?x64xf32>,
                  %v: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

// Document ids: the range of the strip's ids is loaded once per strip (a
// loop over its rows); each scanned key loads its own id once and compares
// ranges (no loop per key).
// CHECK-LABEL: func.func @documents
// CHECK: } else {
// CHECK: scf.for %[[S:.+]] = %c0 to %{{.+}} step %c1 {
// CHECK: %[[FIRST:.+]] = memref.load %[[DOC:.+]][%{{.+}}, %[[R0:.+]]] : memref<?x?xi32>
// CHECK: %[[RANGE:.+]]:2 = scf.for %{{.+}} = %[[R0]] to %{{.+}} step %c1 iter_args(%{{.+}} = %[[FIRST]], %{{.+}} = %[[FIRST]]) -> (i32, i32) {
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: scf.while
// CHECK-NEXT: arith.cmpi ne
// CHECK-NEXT: scf.if
// CHECK-NEXT: arith.addi
// CHECK-NEXT: %[[DJ:.+]] = memref.load %[[DOC]][%{{.+}}, %{{.+}}] : memref<?x?xi32>
// CHECK-NEXT: arith.cmpi slt, %[[DJ]], %[[RANGE]]#0 : i32
// CHECK-NEXT: arith.cmpi slt, %[[RANGE]]#1, %[[DJ]] : i32
// CHECK: scf.while
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK: arith.cmpi eq
// OFF-LABEL: func.func @documents
// OFF-NOT: scf.while
func.func @documents(%q: memref<?x4x?x64xf32>, %k: memref<?x4x?x64xf32>,
                     %v: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>,
                     %d: memref<?x?xi32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %di = memref.load %d[%bb, %i] : memref<?x?xi32>
        %dj = memref.load %d[%bb, %j] : memref<?x?xi32>
        %same = arith.cmpi eq, %di, %dj : i32
        attn.yield %same : i1
      }
  return
}
