// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s -mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func @merge_two
// CHECK: attn.merge ins(%{{.*}}, %{{.*}} : tensor<?x4x?x16xf32>, tensor<?x4x?x16xbf16>) lse(%{{.*}}, %{{.*}} : tensor<?x4x?xf32>, tensor<?x4x?xf32>) outs(%{{.*}}, %{{.*}} : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>) -> tensor<?x4x?x16xf32>, tensor<?x4x?xf32>
func.func @merge_two(%o1: tensor<?x4x?x16xf32>, %o2: tensor<?x4x?x16xbf16>,
                     %l1: tensor<?x4x?xf32>, %l2: tensor<?x4x?xf32>,
                     %oi: tensor<?x4x?x16xf32>, %li: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x16xf32>, tensor<?x4x?xf32>) {
  %o:2 = attn.merge ins(%o1, %o2 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xbf16>)
      lse(%l1, %l2 : tensor<?x4x?xf32>, tensor<?x4x?xf32>)
      outs(%oi, %li : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x16xf32>, tensor<?x4x?xf32>
  return %o#0, %o#1 : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>
}

// CHECK-LABEL: func @merge_rank2_memref
// CHECK: attn.merge ins(%{{.*}} : memref<8x64xf16>) lse(%{{.*}} : memref<8xf32>) outs(%{{.*}} : memref<8x64xf16>)
func.func @merge_rank2_memref(%o1: memref<8x64xf16>, %l1: memref<8xf32>,
                              %o: memref<8x64xf16>) {
  attn.merge ins(%o1 : memref<8x64xf16>) lse(%l1 : memref<8xf32>)
      outs(%o : memref<8x64xf16>)
  return
}

// CHECK-LABEL: func @merge_stacked
// CHECK: attn.merge stacked ins(%{{.*}} : tensor<?x?x8x1x64xf32>) lse(%{{.*}} : tensor<?x?x8x1xf32>) outs(%{{.*}} : tensor<?x8x1x64xbf16>) -> tensor<?x8x1x64xbf16>
func.func @merge_stacked(%p: tensor<?x?x8x1x64xf32>, %l: tensor<?x?x8x1xf32>,
                         %o: tensor<?x8x1x64xbf16>) -> tensor<?x8x1x64xbf16> {
  %r = attn.merge stacked ins(%p : tensor<?x?x8x1x64xf32>) lse(%l : tensor<?x?x8x1xf32>)
      outs(%o : tensor<?x8x1x64xbf16>) -> tensor<?x8x1x64xbf16>
  return %r : tensor<?x8x1x64xbf16>
}

// The partials' dim elsewhere (FlashInfer's merge_states layout [L, S, H, D]).
// CHECK-LABEL: func @merge_stacked_mid
// CHECK: attn.merge stacked(1) ins(%{{.*}} : tensor<?x?x8x64xf32>) lse(%{{.*}} : tensor<?x?x8xf32>) outs(%{{.*}} : tensor<?x8x64xf32>) -> tensor<?x8x64xf32>
func.func @merge_stacked_mid(%p: tensor<?x?x8x64xf32>, %l: tensor<?x?x8xf32>,
                             %o: tensor<?x8x64xf32>) -> tensor<?x8x64xf32> {
  %r = attn.merge stacked(1) ins(%p : tensor<?x?x8x64xf32>) lse(%l : tensor<?x?x8xf32>)
      outs(%o : tensor<?x8x64xf32>) -> tensor<?x8x64xf32>
  return %r : tensor<?x8x64xf32>
}
