// RUN: attn-opt %s --attn-expand-side-outputs="fuse-row-entropy=true"| FileCheck %s

// Row entropy fused, column scores not (their swapped pass reads the LSE the
// expander adds): the kept attention returns (output, LSE, entropy) and the
// scores come from the second attention's LSE.
// CHECK-LABEL: func.func @entropy_kept_columns_expanded
// CHECK: %[[M:.*]]:3 = attn.attention causal {{.*}}outs(%arg1, %{{.*}}, %arg2 : tensor<1x4x77x64xf32>, tensor<1x4x77xf32>, tensor<1x4x77xf32>) row_entropy ->
// CHECK: %[[S:.*]]:2 = attn.attention
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[S]]#1 :
// CHECK: return %[[M]]#0, %[[M]]#2, %[[C]]
func.func @entropy_kept_columns_expanded(%q: tensor<1x4x77x64xf32>, %o0: tensor<1x4x77x64xf32>,
                                         %e0: tensor<1x4x77xf32>, %s0: tensor<1x4x77xf32>)
    -> (tensor<1x4x77x64xf32>, tensor<1x4x77xf32>, tensor<1x4x77xf32>) {
  %o, %e, %s = attn.attention causal ins(%q, %q, %q : tensor<1x4x77x64xf32>, tensor<1x4x77x64xf32>, tensor<1x4x77x64xf32>)
      outs(%o0, %e0, %s0 : tensor<1x4x77x64xf32>, tensor<1x4x77xf32>, tensor<1x4x77xf32>) row_entropy column_scores
      -> tensor<1x4x77x64xf32>, tensor<1x4x77xf32>, tensor<1x4x77xf32>
  return %o, %e, %s : tensor<1x4x77x64xf32>, tensor<1x4x77xf32>, tensor<1x4x77xf32>
}
