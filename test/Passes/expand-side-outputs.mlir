// RUN: attn-opt %s --attn-expand-side-outputs --split-input-file | FileCheck %s

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

// -----

// Row entropy with a block selection and a sink: the main attention keeps
// both and gains an LSE; a second, unswapped attention over the same
// queries, keys, selection and causal mask with values of ones has logits
// s - LSE + log(LSE - s) (-inf kept, and -inf where LSE - s <= 0: the log
// then reads 1, so that its derivative for training is never 0 / 0); exp of
// its LSE plus the sink's share p_sink (LSE - sink) is the entropy (its
// operands read 0 where the sink is -inf: no 0 * inf in its derivative).
// CHECK-LABEL: func.func @entropy
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x4x?x64xf32>, %[[K:[^:]*]]: tensor<?x2x?x64xf32>, %[[V:[^:]*]]: tensor<?x2x?x64xf32>, %[[SEL:[^:]*]]: tensor<?x4x?x2xi32>
// CHECK: %[[MAIN:.*]]:2 = attn.attention causal scale(1.250000e-01) ins(%[[Q]], %[[K]], %[[V]] : {{.*}}) blocks(%[[SEL]] : {{.*}}) block_size(64)
// CHECK-NOT: row_entropy
// CHECK:   sink {
// CHECK: %[[ONES:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x2x?x1xf32>)
// CHECK: %[[EP:.*]]:2 = attn.attention causal scale(1.250000e-01) ins(%[[Q]], %[[K]], %[[ONES]] : {{.*}}) blocks(%[[SEL]] : {{.*}}) block_size(64)
// CHECK-SAME: score {
// CHECK:   ^bb0(%[[S:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %{{.*}}: index):
// CHECK:     %[[L:.*]] = tensor.extract %[[MAIN]]#1[%[[B]], %[[H]], %[[I]]]
// CHECK:     %[[NEG:.*]] = arith.subf %[[L]], %[[S]]
// CHECK:     %[[POS:.*]] = arith.cmpf ogt, %[[NEG]], %{{.*}}
// CHECK:     %[[SAFE:.*]] = arith.select %[[POS]], %[[NEG]], %{{.*}}
// CHECK:     %[[LOG:.*]] = math.log %[[SAFE]]
// CHECK:     %[[SH:.*]] = arith.subf %[[S]], %[[L]]
// CHECK:     %[[X:.*]] = arith.addf %[[SH]], %[[LOG]]
// CHECK:     %[[NINFS:.*]] = arith.cmpf oeq, %[[S]], %[[NINF:.*]] : f32
// CHECK:     %[[NOTPOS:.*]] = arith.xori %[[POS]]
// CHECK:     %[[DEAD:.*]] = arith.ori %[[NINFS]], %[[NOTPOS]]
// CHECK:     %[[Y:.*]] = arith.select %[[DEAD]], %[[NINF]], %[[X]]
// CHECK:     attn.yield %[[Y]]
// CHECK-NOT: mask {
// CHECK: %[[EN:.*]] = linalg.generic {{.*}} ins(%[[EP]]#1, %[[MAIN]]#1 : tensor<?x4x?xf32>, tensor<?x4x?xf32>)
// CHECK:   ^bb0(%[[LSE2:.*]]: f32, %[[LSE:.*]]: f32, %{{.*}}: f32):
// CHECK:     %[[H0:.*]] = math.exp %[[LSE2]]
// CHECK:     %[[SINK:.*]] = arith.constant 5.000000e-01 : f32
// CHECK:     %[[LIVE:.*]] = arith.cmpf ogt, %[[SINK]]
// CHECK:     %[[SS:.*]] = arith.select %[[LIVE]], %[[SINK]]
// CHECK:     %[[LS:.*]] = arith.select %[[LIVE]], %[[LSE]]
// CHECK:     %[[D:.*]] = arith.subf %[[SS]], %[[LS]]
// CHECK:     %[[PS:.*]] = math.exp %[[D]]
// CHECK:     %[[NL:.*]] = arith.subf %[[LS]], %[[SS]]
// CHECK:     %[[T:.*]] = arith.mulf %[[PS]], %[[NL]]
// CHECK:     %[[TS:.*]] = arith.select %[[LIVE]], %[[T]]
// CHECK:     arith.addf %[[H0]], %[[TS]]
// CHECK: return %[[MAIN]]#0, %[[EN]]
func.func @entropy(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>,
                   %sel: tensor<?x4x?x2xi32>, %o0: tensor<?x4x?x64xf32>, %e0: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %o, %e = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      blocks(%sel : tensor<?x4x?x2xi32>) block_size(64)
      outs(%o0, %e0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) row_entropy
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 0.5 : f32
        attn.yield %c : f32
      } -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o, %e : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}

// -----

// Both side outputs: one main attention (LSE added), the entropy pass, then
// the swapped pass; results in the op's order o, entropy, scores.
// CHECK-LABEL: func.func @both
// CHECK: %[[MAIN:.*]]:2 = attn.attention causal
// CHECK: %[[EP:.*]]:2 = attn.attention causal scale(1.250000e-01) ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x1xf32>)
// CHECK: %[[EN:.*]] = linalg.generic {{.*}} ins(%[[EP]]#1 : tensor<?x4x?xf32>)
// CHECK: %[[SW:.*]]:2 = attn.attention scale(1.250000e-01) ins(
// CHECK: %[[SC:.*]] = linalg.generic {{.*}} ins(%[[SW]]#1 : tensor<?x4x?xf32>)
// CHECK: return %[[MAIN]]#0, %[[EN]], %[[SC]]
func.func @both(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                %o0: tensor<?x4x?x64xf32>, %e0: tensor<?x4x?xf32>, %s0: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  %o, %e, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %e0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) row_entropy column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
  return %o, %e, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
}
