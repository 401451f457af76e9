// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-lower-evict,canonicalize))' | FileCheck %s

// One forall over (batch, KV head). The middle range lies between the sinks
// and the recent window; only when it holds more than the budget does the
// radix select run: four digit passes (shift 24 - 8 pass) that histogram
// the order-preserving images of the candidates sharing the chosen prefix
// into a 256-entry stack array, then scan the digits from 255 down. The
// ordered pass keeps sinks and the window, images above the threshold and
// the first ties, storing the position and copying both rows, guarded by
// the slot bound; the remaining slots get -1 and zero rows.
// CHECK-LABEL: func @h2o
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]]) in (%{{.*}}, 4)
// CHECK: %[[SINK_END:.*]] = arith.minui %{{.*}}, %c4
// CHECK: %[[RECENT_START:.*]] = arith.maxui %[[SINK_END]]
// CHECK: %[[MIDDLE:.*]] = arith.subi %[[RECENT_START]], %[[SINK_END]]
// CHECK: %[[OVER:.*]] = arith.cmpi ugt, %[[MIDDLE]], %c64
// CHECK: %[[SEL:.*]]:2 = scf.if %[[OVER]] -> (i32, i32)
// CHECK: %[[HIST:.*]] = memref.alloca() : memref<256xi32>
// CHECK: scf.for %{{.*}} = %c0 to %c4 {{.*}} -> (i32, i32, i32)
// CHECK: scf.for %{{.*}} = %[[SINK_END]] to %[[RECENT_START]]
// CHECK: arith.addf %{{.*}}, %cst{{.*}} : f32
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.cmpf uno
// CHECK: arith.shrui
// CHECK: memref.store %{{.*}}, %[[HIST]]
// CHECK: scf.for %{{.*}} = %c0 to %c256 {{.*}} -> (i32, i32, i32, i1)
// CHECK: arith.subi %c255
// CHECK: } else {
// CHECK: scf.yield %c0_i32, %{{.*}} : i32, i32
// CHECK: %[[END:.*]]:2 = scf.for %[[J:.*]] = %c0 to %{{.*}} iter_args(%[[SLOT:.*]] = %c0, %{{.*}} = %c0_i32) -> (index, i32)
// CHECK: arith.cmpi ugt, %{{.*}}, %[[SEL]]#0 : i32
// CHECK: arith.cmpi slt, %{{.*}}, %[[SEL]]#1 : i32
// CHECK: arith.cmpi ult, %[[SLOT]], %c100
// CHECK: memref.store %{{.*}}, %arg3[%[[B]], %[[H]], %[[SLOT]]] : memref<?x4x100xi32>
// CHECK: memref.load %arg1[%[[B]], %[[H]], %[[J]], %{{.*}}] : memref<?x4x?x64xbf16>
// CHECK: memref.store %{{.*}}, %arg4[%[[B]], %[[H]], %[[SLOT]], %{{.*}}] : memref<?x4x100x64xbf16>
// CHECK: memref.store %{{.*}}, %arg5[%[[B]], %[[H]], %[[SLOT]], %{{.*}}] : memref<?x4x100x32xbf16>
// CHECK: scf.for %[[PAD:.*]] = %[[END]]#0 to %c100
// CHECK: memref.store %c-1_i32, %arg3[%[[B]], %[[H]], %[[PAD]]]
func.func @h2o(%s: memref<?x4x?xf32>, %k: memref<?x4x?x64xbf16>, %v: memref<?x4x?x32xbf16>,
               %i: memref<?x4x100xi32>, %ko: memref<?x4x100x64xbf16>, %vo: memref<?x4x100x32xbf16>) {
  attn.evict budget(64) sink(4) recent(32) scores(%s : memref<?x4x?xf32>)
      ins(%k, %v : memref<?x4x?x64xbf16>, memref<?x4x?x32xbf16>)
      outs(%i, %ko, %vo : memref<?x4x100xi32>, memref<?x4x100x64xbf16>, memref<?x4x100x32xbf16>)
  return
}

// -----

// key_norm ranks sum_d k^2 (bf16 keys widened), in 16-wide vectors when the
// key dim is a multiple of 16; lowest inverts the image. Without leading
// dims the forall has one iteration (canonicalized away).
// The norms are computed once, into a buffer the ranking then reads.
// CHECK-LABEL: func @l2
// CHECK-NOT: scf.forall
// CHECK: %[[NORMS:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: %[[E:.*]] = vector.load %arg0[%{{.*}}, %c0] : memref<?x16xbf16>, vector<16xbf16>
// CHECK: %[[W:.*]] = arith.extf %[[E]] : vector<16xbf16> to vector<16xf32>
// CHECK: %[[SQ:.*]] = vector.fma %[[W]], %[[W]], %{{.*}} : vector<16xf32>
// CHECK: %[[N:.*]] = vector.reduction <add>, %[[SQ]] : vector<16xf32> into f32
// CHECK: memref.store %[[N]], %[[NORMS]]
// CHECK-NOT: vector.load
// CHECK: memref.load %[[NORMS]]
// CHECK: arith.select
// CHECK: arith.xori %{{.*}}, %c-1_i32
func.func @l2(%k: memref<?x16xbf16>, %i: memref<8xi32>, %ko: memref<8x16xbf16>) {
  attn.evict budget(8) key_norm lowest ins(%k, %k : memref<?x16xbf16>, memref<?x16xbf16>)
      outs(%i, %ko, %ko : memref<8xi32>, memref<8x16xbf16>, memref<8x16xbf16>)
  return
}

// -----

// A key dim that is not a multiple of 8: a scalar sum of squares.
// CHECK-LABEL: func @l2_scalar
// CHECK-NOT: vector.
// CHECK: %[[NORMS:.*]] = memref.alloc(%{{.*}}) : memref<2x?xf32>
// CHECK: %[[N:.*]] = scf.for %{{.*}} = %c0 to %c12 {{.*}} -> (f32)
// CHECK: %[[SQ:.*]] = arith.mulf %[[E:.*]], %[[E]] : f32
// CHECK: arith.addf %{{.*}}, %[[SQ]]
// CHECK: memref.store %[[N]], %[[NORMS]]
func.func @l2_scalar(%k: memref<2x?x12xf32>, %i: memref<2x8xi32>, %ko: memref<2x8x12xf32>) {
  attn.evict budget(8) key_norm ins(%k, %k : memref<2x?x12xf32>, memref<2x?x12xf32>)
      outs(%i, %ko, %ko : memref<2x8xi32>, memref<2x8x12xf32>, memref<2x8x12xf32>)
  return
}
