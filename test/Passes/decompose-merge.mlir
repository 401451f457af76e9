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
