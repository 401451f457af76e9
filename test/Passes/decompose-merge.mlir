// RUN: attn-opt %s -split-input-file -attn-decompose-merge | FileCheck %s

// Two partials with the LSE output: one generic for O (the partials at the
// element, their LSEs at the row), one for the LSE.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[ROW3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func @merge_two
// CHECK-NOT: attn.merge
// CHECK: %[[O:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[ROW]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%arg0, %arg1, %arg2, %arg3 :
// CHECK: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: bf16, %[[LA:.*]]: f32, %[[LB:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[M:.*]] = arith.maximumf %[[LA]], %[[LB]] : f32
// CHECK: %[[NONE:.*]] = arith.cmpf oeq, %[[M]], %{{.*}} : f32
// CHECK: %[[SAFE:.*]] = arith.select %[[NONE]], %{{.*}}, %[[M]] : f32
// CHECK: %[[DA:.*]] = arith.subf %[[LA]], %[[SAFE]] : f32
// CHECK: %[[WA:.*]] = math.exp %[[DA]] : f32
// CHECK: %[[DB:.*]] = arith.subf %[[LB]], %[[SAFE]] : f32
// CHECK: %[[WB:.*]] = math.exp %[[DB]] : f32
// CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[WB]] : f32
// CHECK: %[[SEEN:.*]] = arith.cmpf ogt, %[[DEN]]
// CHECK: %[[SAFE_DEN:.*]] = arith.select %[[SEEN]], %[[DEN]]
// CHECK: arith.mulf %[[WA]], %[[A]] : f32
// CHECK: %[[BF:.*]] = arith.extf %[[B]] : bf16 to f32
// CHECK: arith.mulf %[[WB]], %[[BF]] : f32
// CHECK: %[[Q:.*]] = arith.divf %{{.*}}, %[[SAFE_DEN]] : f32
// CHECK: linalg.yield %[[Q]] : f32
// CHECK: %[[L:.*]] = linalg.generic {indexing_maps = [#[[ROW3]], #[[ROW3]], #[[ROW3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%arg2, %arg3 :
// CHECK: math.log
// CHECK: %[[LV:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: linalg.yield %[[LV]] : f32
// CHECK: return %[[O]], %[[L]]
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

// -----

// Without the LSE output, one generic; a bf16 output is truncated.
// CHECK-LABEL: func @merge_bf16_out
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: linalg.yield %{{.*}} : bf16
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @merge_bf16_out(%o1: tensor<8x64xf32>, %l1: tensor<8xf32>,
                          %o: tensor<8x64xbf16>) -> tensor<8x64xbf16> {
  %r = attn.merge ins(%o1 : tensor<8x64xf32>) lse(%l1 : tensor<8xf32>)
      outs(%o : tensor<8x64xbf16>) -> tensor<8x64xbf16>
  return %r : tensor<8x64xbf16>
}

// -----

// Stacked partials (a run-time count along the leading dim): reductions over
// it for the row maximum, the weights' sum and the weighted sum (f32), then
// the quotient and the LSE elementwise.
// CHECK-DAG: #[[LSE_S:.*]] = affine_map<(d0, d1, d2) -> (d2, d0, d1)>
// CHECK-DAG: #[[ROWS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[PART:.*]] = affine_map<(d0, d1, d2, d3) -> (d3, d0, d1, d2)>
// CHECK-DAG: #[[LSE_S4:.*]] = affine_map<(d0, d1, d2, d3) -> (d3, d0, d1)>
// CHECK-DAG: #[[OUT4:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func @merge_stacked
// CHECK-SAME: (%[[P:.*]]: tensor<?x?x4x16xbf16>, %[[LS:.*]]: tensor<?x?x4xf32>, %[[OI:.*]]: tensor<?x4x16xf16>, %[[LI:.*]]: tensor<?x4xf32>)
// CHECK-NOT: attn.merge
// CHECK: %[[M:.*]] = linalg.generic {indexing_maps = [#[[LSE_S]], #[[ROWS]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[LS]] :
// CHECK: arith.maximumf
// CHECK: %[[DEN:.*]] = linalg.generic {indexing_maps = [#[[LSE_S]], #[[ROWS]], #[[ROWS]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[LS]], %[[M]] :
// CHECK: math.exp
// CHECK: %[[NUM:.*]] = linalg.generic {indexing_maps = [#[[PART]], #[[LSE_S4]], #{{.*}}, #[[OUT4]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[P]], %[[LS]], %[[M]] :
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[NUM]], %[[DEN]] : {{.*}}) outs(%[[OI]] :
// CHECK: arith.divf
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[DEN]] : {{.*}}) outs(%[[LI]] :
// CHECK: math.log
// CHECK: return %[[O]], %[[L]]
func.func @merge_stacked(%p: tensor<?x?x4x16xbf16>, %l: tensor<?x?x4xf32>,
                         %oi: tensor<?x4x16xf16>, %li: tensor<?x4xf32>)
    -> (tensor<?x4x16xf16>, tensor<?x4xf32>) {
  %o:2 = attn.merge stacked ins(%p : tensor<?x?x4x16xbf16>)
      lse(%l : tensor<?x?x4xf32>)
      outs(%oi, %li : tensor<?x4x16xf16>, tensor<?x4xf32>)
      -> tensor<?x4x16xf16>, tensor<?x4xf32>
  return %o#0, %o#1 : tensor<?x4x16xf16>, tensor<?x4xf32>
}

// -----

// On buffers (the split-KV decode's, after tiling): a forall over the rows;
// per row the maximum LSE, the weights once (kept in a stack buffer) and
// their sum, then a weighted sum per column.
// CHECK-LABEL: func @merge_stacked_buffers
// CHECK-SAME: (%[[P:.*]]: memref<?x2x8x64xf32>, %[[LS:.*]]: memref<?x2x8xf32>, %[[O:.*]]: memref<2x8x64xbf16>, %[[L:.*]]: memref<2x8xf32>)
// CHECK: %[[S:.*]] = memref.dim %[[LS]], %c0
// CHECK: scf.forall (%[[I:.*]], %[[J:.*]]) in (%{{.*}}, %{{.*}})
// CHECK: scf.for %[[K:.*]] = %c0 to %[[S]]
// CHECK: memref.load %[[LS]][%[[K]], %[[I]], %[[J]]]
// CHECK: arith.maximumf
// CHECK: %[[W:.*]] = memref.alloca(%[[S]]) : memref<?xf32>
// CHECK: scf.for %[[K2:.*]] = %c0 to %[[S]]
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[W]][%[[K2]]]
// CHECK: scf.for %[[C:.*]] = %c0 to %{{.*}}
// CHECK: scf.for %[[K3:.*]] = %c0 to %[[S]]
// CHECK: memref.load %[[W]][%[[K3]]]
// CHECK: memref.load %[[P]][%[[K3]], %[[I]], %[[J]], %[[C]]]
// CHECK: math.fma
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[O]][%[[I]], %[[J]], %[[C]]]
// CHECK: math.log
// CHECK: memref.store %{{.*}}, %[[L]][%[[I]], %[[J]]]
// CHECK-NOT: attn.merge
func.func @merge_stacked_buffers(%p: memref<?x2x8x64xf32>, %l: memref<?x2x8xf32>,
                                 %o: memref<2x8x64xbf16>, %lo: memref<2x8xf32>) {
  attn.merge stacked ins(%p : memref<?x2x8x64xf32>) lse(%l : memref<?x2x8xf32>)
      outs(%o, %lo : memref<2x8x64xbf16>, memref<2x8xf32>)
  return
}

// -----

// Separate buffers: the loops over the partials are unrolled.
// CHECK-LABEL: func @merge_two_buffers
// CHECK-SAME: (%[[A:.*]]: memref<8x64xf16>, %[[B:.*]]: memref<8x64xf32>, %[[LA:.*]]: memref<8xf32>, %[[LB:.*]]: memref<8xf32>, %[[O:.*]]: memref<8x64xf32>)
// CHECK: scf.forall (%[[I:.*]]) in (%{{.*}})
// CHECK-NOT: scf.for {{.*}} iter_args
// CHECK: memref.load %[[LA]][%[[I]]]
// CHECK: memref.load %[[LB]][%[[I]]]
// CHECK: arith.maximumf
// CHECK: scf.for %[[C:.*]] =
// CHECK: memref.load %[[A]][%[[I]], %[[C]]]
// CHECK: arith.extf
// CHECK: math.fma
// CHECK: memref.load %[[B]][%[[I]], %[[C]]]
// CHECK: math.fma
// CHECK: memref.store %{{.*}}, %[[O]][%[[I]], %[[C]]]
func.func @merge_two_buffers(%a: memref<8x64xf16>, %b: memref<8x64xf32>,
                             %la: memref<8xf32>, %lb: memref<8xf32>,
                             %o: memref<8x64xf32>) {
  attn.merge ins(%a, %b : memref<8x64xf16>, memref<8x64xf32>)
      lse(%la, %lb : memref<8xf32>, memref<8xf32>) outs(%o : memref<8x64xf32>)
  return
}

// -----

// Static and dynamic dims mixed between the operands (the verifier matches
// a static dim with a dynamic one): the output's own sizes build its
// accumulator.
// CHECK-LABEL: func @merge_stacked_mixed_dims
// CHECK-SAME: (%{{.*}}: tensor<3x?x4x16xf32>, %{{.*}}: tensor<?x2x4xf32>, %[[OI:.*]]: tensor<?x4x?xbf16>)
// CHECK-DAG: %[[D0:.*]] = tensor.dim %[[OI]], %c0
// CHECK-DAG: %[[D2:.*]] = tensor.dim %[[OI]], %c2
// CHECK: tensor.empty(%[[D0]], %[[D2]]) : tensor<?x4x?xf32>
// CHECK: return
func.func @merge_stacked_mixed_dims(%p: tensor<3x?x4x16xf32>, %l: tensor<?x2x4xf32>,
                                   %oi: tensor<?x4x?xbf16>) -> tensor<?x4x?xbf16> {
  %o = attn.merge stacked ins(%p : tensor<3x?x4x16xf32>) lse(%l : tensor<?x2x4xf32>)
      outs(%oi : tensor<?x4x?xbf16>) -> tensor<?x4x?xbf16>
  return %o : tensor<?x4x?xbf16>
}

// -----

// The partials' dim in the middle ([L, S, H, D]): the maps insert the
// reduction loop there; the sizes come from the other dims.
// CHECK-DAG: #[[LSE_MID:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[PART_MID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d1, d2)>
// CHECK-LABEL: func @merge_stacked_mid
// CHECK-SAME: (%[[P:.*]]: tensor<?x?x8x64xf32>, %[[LS:.*]]: tensor<?x?x8xf32>
// CHECK: %[[R:.*]] = tensor.dim %[[LS]], %c0
// CHECK: tensor.empty(%[[R]]) : tensor<?x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[LSE_MID]], {{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[LS]] :
// CHECK: linalg.generic {indexing_maps = [#[[PART_MID]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[P]], %[[LS]], %{{.*}} :
func.func @merge_stacked_mid(%p: tensor<?x?x8x64xf32>, %l: tensor<?x?x8xf32>,
                             %o: tensor<?x8x64xf32>) -> tensor<?x8x64xf32> {
  %r = attn.merge stacked(1) ins(%p : tensor<?x?x8x64xf32>) lse(%l : tensor<?x?x8xf32>)
      outs(%o : tensor<?x8x64xf32>) -> tensor<?x8x64xf32>
  return %r : tensor<?x8x64xf32>
}

// -----

// On buffers: the partial index goes at the stacked dim of each load.
// CHECK-LABEL: func @merge_stacked_mid_buffers
// CHECK-SAME: (%[[P:.*]]: memref<5x?x8x64xf32>, %[[LS:.*]]: memref<5x?x8xf32>
// CHECK: %[[S:.*]] = memref.dim %[[LS]], %c1
// CHECK: scf.forall (%[[I:.*]], %[[J:.*]]) in
// CHECK: scf.for %[[K:.*]] = %c0 to %[[S]]
// CHECK: memref.load %[[LS]][%[[I]], %[[K]], %[[J]]]
// CHECK: memref.load %[[P]][%[[I]], %{{.*}}, %[[J]], %{{.*}}]
func.func @merge_stacked_mid_buffers(%p: memref<5x?x8x64xf32>, %l: memref<5x?x8xf32>,
                                     %o: memref<5x8x64xf32>) {
  attn.merge stacked(1) ins(%p : memref<5x?x8x64xf32>) lse(%l : memref<5x?x8xf32>)
      outs(%o : memref<5x8x64xf32>)
  return
}
