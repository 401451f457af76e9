// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s

// attn.evict round-trips with caller scores, with key_norm and lowest, with
// the defaults (no sinks, no window) elided, on tensors and memrefs.

// CHECK-LABEL: func.func @h2o
// CHECK: attn.evict budget(64) sink(4) recent(32) scores(%{{.*}} : tensor<?x4x?xf32>) ins(%{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>) -> tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
func.func @h2o(%s: tensor<?x4x?xf32>, %k: tensor<?x4x?x64xf32>, %i: tensor<?x4x100xi32>,
               %ko: tensor<?x4x100x64xf32>) -> tensor<?x4x100xi32> {
  %r:3 = attn.evict budget(64) sink(4) recent(32) scores(%s : tensor<?x4x?xf32>)
      ins(%k, %k : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i, %ko, %ko : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>)
      -> tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
  return %r#0 : tensor<?x4x100xi32>
}

// -----

// CHECK-LABEL: func.func @l2
// CHECK: attn.evict budget(96) sink(4) key_norm lowest ins(
// CHECK-NOT: scores
// CHECK-SAME: outs(
func.func @l2(%k: memref<2x8x?x128xbf16>, %v: memref<2x8x?x64xbf16>, %i: memref<2x8x100xi32>,
              %ko: memref<2x8x100x128xbf16>, %vo: memref<2x8x100x64xbf16>) {
  attn.evict budget(96) sink(4) key_norm lowest
      ins(%k, %v : memref<2x8x?x128xbf16>, memref<2x8x?x64xbf16>)
      outs(%i, %ko, %vo : memref<2x8x100xi32>, memref<2x8x100x128xbf16>, memref<2x8x100x64xbf16>)
  return
}

// -----

// CHECK-LABEL: func.func @defaults
// CHECK: attn.evict budget(8) lowest scores(%{{.*}} : memref<3x?xf16>) ins(
func.func @defaults(%s: memref<3x?xf16>, %k: memref<3x?x16xf32>, %i: memref<3x8xi32>,
                    %ko: memref<3x8x16xf32>) {
  attn.evict budget(8) sink(0) lowest scores(%s : memref<3x?xf16>)
      ins(%k, %k : memref<3x?x16xf32>, memref<3x?x16xf32>)
      outs(%i, %ko, %ko : memref<3x8xi32>, memref<3x8x16xf32>, memref<3x8x16xf32>)
  return
}
