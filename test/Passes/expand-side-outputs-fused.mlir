// RUN: attn-opt %s --attn-expand-side-outputs="fuse-column-scores=true" --split-input-file | FileCheck %s

// The CPU form: column_scores stay on the attention for attn-tile-attention.
// CHECK-LABEL: func.func @kept
// CHECK: %{{.*}}:2 = attn.attention causal ins({{.*}}) outs({{.*}}) column_scores score_decay(5.000000e-01) value_norm
// CHECK-NOT: attn.attention
// CHECK-NOT: linalg.generic
func.func @kept(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
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
// CHECK: %[[MAIN:.*]]:3 = attn.attention causal {{.*}} outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) column_scores
// CHECK: attn.attention causal scale(1.250000e-01) ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x1xf32>)
// CHECK:   tensor.extract %[[MAIN]]#1
// CHECK: %[[EN:.*]] = linalg.generic
// CHECK: return %[[MAIN]]#0, %[[EN]], %[[MAIN]]#2
func.func @both(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                %o0: tensor<?x4x?x64xf32>, %e0: tensor<?x4x?xf32>, %s0: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  %o, %e, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %e0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) row_entropy column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
  return %o, %e, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
}
