// RUN: attn-opt %s --attn-expand-column-scores --split-input-file | FileCheck %s

// H2O: the attention gains an LSE output; a second attention with keys as
// rows and queries as keys subtracts each query row's LSE in its score
// region, sees the transposed causal mask, has values of ones; its LSE,
// exponentiated, is the scores output.
// CHECK-LABEL: func.func @h2o
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x4x?x64xf32>, %[[K:[^:]*]]: tensor<?x4x?x64xf32>, %[[V:[^:]*]]: tensor<?x4x?x64xf32>
// CHECK: %[[LQ:.*]] = tensor.dim %[[Q]], %c2
// CHECK: %[[LK:.*]] = tensor.dim %[[K]], %c2
// CHECK: %[[MAIN:.*]]:2 = attn.attention causal scale(1.250000e-01) ins(%[[Q]], %[[K]], %[[V]] :
// CHECK-NOT: column_scores
// CHECK: %[[ONES:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x4x?x1xf32>)
// CHECK: %[[SW:.*]]:2 = attn.attention scale(1.250000e-01) ins(%[[K]], %[[Q]], %[[ONES]] :
// CHECK:   score {
// CHECK:   ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK:     %[[L:.*]] = tensor.extract %[[MAIN]]#1[%[[B]], %[[H]], %[[J]]]
// CHECK:     arith.subf %[[S]], %[[L]]
// CHECK:   mask {
// CHECK:   ^bb0(%{{.*}}: index, %{{.*}}: index, %[[MI:.*]]: index, %[[MJ:.*]]: index):
// CHECK:     %[[UP:.*]] = arith.addi %[[MJ]], %[[LK]]
// CHECK:     %[[BOUND:.*]] = arith.subi %[[UP]], %[[LQ]]
// CHECK:     arith.cmpi sle, %[[MI]], %[[BOUND]]
// CHECK: %[[SC:.*]] = linalg.generic {{.*}} ins(%[[SW]]#1 : tensor<?x4x?xf32>)
// CHECK:   math.exp
// CHECK: return %[[MAIN]]#0, %[[SC]]
func.func @h2o(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
               %o0: tensor<?x4x?x64xf32>, %s0: tensor<?x4x?xf32>) -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %o, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}

// -----

// GQA + A2SF + VATP: the group's query heads stacked as keys (row r, head
// h*G + g of stacked index j), (Lq - 1 - r) log(alpha) added, the user's
// score region applied at the transposed indices, |v|_1 reduced and
// multiplied; an existing LSE output is kept.
// CHECK-LABEL: func.func @gqa
// CHECK: %[[MAIN:.*]]:2 = attn.attention
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2], [3], [4]{{\]}}
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3], [4]{{\]}}
// CHECK: attn.attention scale(1.250000e-01) ins(
// CHECK:   score {
// CHECK:     %[[R:.*]] = arith.remui
// CHECK:     arith.divui
// CHECK:     math.tanh
// CHECK:     tensor.extract %[[MAIN]]#1
// CHECK:     arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:   math.absf
// CHECK: linalg.generic
// CHECK:   math.exp
// CHECK:   arith.mulf
// CHECK: return %[[MAIN]]#0, %[[MAIN]]#1
func.func @gqa(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xbf16>,
               %o0: tensor<1x8x?x64xf32>, %l0: tensor<1x8x?xf32>, %s0: tensor<1x2x?xf32>)
    -> (tensor<1x8x?x64xf32>, tensor<1x8x?xf32>, tensor<1x2x?xf32>) {
  %o, %l, %s = attn.attention causal ins(%q, %k, %v : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xbf16>)
      outs(%o0, %l0, %s0 : tensor<1x8x?x64xf32>, tensor<1x8x?xf32>, tensor<1x2x?xf32>)
      column_scores score_decay(0.9) value_norm
      score {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %x : f32
        attn.yield %t : f32
      } -> tensor<1x8x?x64xf32>, tensor<1x8x?xf32>, tensor<1x2x?xf32>
  return %o, %l, %s : tensor<1x8x?x64xf32>, tensor<1x8x?xf32>, tensor<1x2x?xf32>
}
