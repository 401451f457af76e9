// RUN: attn-opt %s --attn-generate-backward --canonicalize | FileCheck %s

// Side outputs are differentiated in their expanded form: the training
// forward computes the row entropy and the column scores as second
// attentions from the first one's LSE (attn-expand-side-outputs' unfused
// form), and the backward differentiates those: one attention_backward per
// attention, the captured LSE's gradient accumulated by the second ones
// (capture 0) and flowing into the first one's dLSE. The fused op stays in
// @side.

// CHECK-LABEL: func.func @side(
// CHECK: attn.attention causal {{.*}} row_entropy column_scores
// CHECK-LABEL: func.func @side_train(
// CHECK: %[[MAIN:.*]]:2 = attn.attention causal scale(2.500000e-01) ins(%arg0, %arg1, %arg2
// CHECK-NOT: row_entropy
// The entropy: the same rows and keys, values of ones, logits read the LSE.
// CHECK: attn.attention causal scale(2.500000e-01) ins(%arg0, %arg1, %{{.*}} : {{.*}}, tensor<1x1x8x1xf32>)
// CHECK: tensor.extract %[[MAIN]]#1
// The column scores: keys as rows over the stacked query heads.
// CHECK: attn.attention scale(2.500000e-01) ins(%arg1, %{{.*}}, %{{.*}} : tensor<1x1x8x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x1xf32>)
// CHECK: tensor.extract %[[MAIN]]#1
// CHECK-LABEL: func.func @side_backward(
// CHECK: attn.attention_backward scale(2.500000e-01) ins(%arg1,
// CHECK: attn.grad_accumulate {{.*}} capture(0)
// CHECK: attn.attention_backward causal scale(2.500000e-01) ins(%arg0, %arg1,
// CHECK: attn.grad_accumulate {{.*}} capture(0)
// CHECK: attn.attention_backward causal scale(2.500000e-01) ins(%arg0, %arg1, %arg2
// CHECK-SAME: grad_lse(
func.func @side(%q: tensor<1x2x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>)
    -> (tensor<1x2x8x16xf32>, tensor<1x2x8xf32>, tensor<1x1x8xf32>) {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %e = tensor.empty() : tensor<1x2x8xf32>
  %s = tensor.empty() : tensor<1x1x8xf32>
  %o:3 = attn.attention causal ins(%q, %k, %v : tensor<1x2x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>)
      outs(%init, %e, %s : tensor<1x2x8x16xf32>, tensor<1x2x8xf32>, tensor<1x1x8xf32>) row_entropy column_scores
      -> tensor<1x2x8x16xf32>, tensor<1x2x8xf32>, tensor<1x1x8xf32>
  return %o#0, %o#1, %o#2 : tensor<1x2x8x16xf32>, tensor<1x2x8xf32>, tensor<1x1x8xf32>
}
