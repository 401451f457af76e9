// RUN: attn-opt %s --attn-expand-side-outputs="fuse-column-scores=true" --split-input-file | FileCheck %s

// The CPU form: column_scores stay on the attention for attn-tile-attention
// (a static query length other than 1).
// CHECK-LABEL: func.func @kept
// CHECK: %{{.*}}:2 = attn.attention causal ins({{.*}}) outs({{.*}}) column_scores score_decay(5.000000e-01) value_norm
// CHECK-NOT: attn.attention
// CHECK-NOT: linalg.generic
func.func @kept(%q: tensor<?x4x64x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                %o0: tensor<?x4x64x64xf32>, %s0: tensor<?x4x?xf32>) -> (tensor<?x4x64x64xf32>, tensor<?x4x?xf32>) {
  %o, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x64x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x64x64xf32>, tensor<?x4x?xf32>) column_scores score_decay(0.5) value_norm
      -> tensor<?x4x64x64xf32>, tensor<?x4x?xf32>
  return %o, %s : tensor<?x4x64x64xf32>, tensor<?x4x?xf32>
}

// -----

// A dynamic query length: run-time dispatch, Lq = 1 to the swapped pass on
// one-row casts, otherwise the fused form (the op as it was).
// CHECK-LABEL: func.func @dispatched
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %{{.*}}, %c1
// CHECK: scf.if %[[ONE]]
// CHECK: tensor.cast %arg0 : tensor<?x4x?x64xf32> to tensor<?x4x1x64xf32>
// CHECK: attn.attention
// CHECK-NOT: column_scores
// CHECK: attn.attention
// CHECK: linalg.generic
// CHECK: } else {
// CHECK: %[[F:.*]]:2 = attn.attention causal ins({{.*}}) outs({{.*}}) column_scores score_decay(5.000000e-01) value_norm
// CHECK-NEXT: scf.yield %[[F]]#0, %[[F]]#1
// CHECK: } {attn.dispatch = "expand_side_outputs_if_one_query_row"}
func.func @dispatched(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                %o0: tensor<?x4x?x64xf32>, %s0: tensor<?x4x?xf32>) -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %o, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores score_decay(0.5) value_norm
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}

// -----

// A decode step (static query length 1) still takes the swapped pass.
// CHECK-LABEL: func.func @decode
// CHECK: attn.attention scale(1.250000e-01) ins(
// CHECK-NOT: column_scores
func.func @decode(%q: tensor<?x4x1x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                  %o0: tensor<?x4x1x64xf32>, %s0: tensor<?x4x?xf32>) -> (tensor<?x4x1x64xf32>, tensor<?x4x?xf32>) {
  %o, %s = attn.attention ins(%q, %k, %v : tensor<?x4x1x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x1x64xf32>, tensor<?x4x?xf32>) column_scores
      -> tensor<?x4x1x64xf32>, tensor<?x4x?xf32>
  return %o, %s : tensor<?x4x1x64xf32>, tensor<?x4x?xf32>
}

// -----

// With a row entropy too: the main attention keeps the column scores (last
// output, after the LSE it gains); the entropy pass reads that LSE.
// CHECK-LABEL: func.func @both
// CHECK: } else {
// CHECK: %[[MAIN:.*]]:3 = attn.attention causal {{.*}} outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) column_scores
// CHECK: attn.attention causal scale(1.250000e-01) ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x1xf32>)
// CHECK:   tensor.extract %[[MAIN]]#1
// CHECK: %[[EN:.*]] = linalg.generic
// CHECK: scf.yield %[[MAIN]]#0, %[[EN]], %[[MAIN]]#2
func.func @both(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                %o0: tensor<?x4x?x64xf32>, %e0: tensor<?x4x?xf32>, %s0: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  %o, %e, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %e0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) row_entropy column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
  return %o, %e, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
}
