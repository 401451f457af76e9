// RUN: attn-opt %s --split-input-file --attn-generate-backward=combined=true --canonicalize | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-generate-backward | FileCheck %s --check-prefix=DEFAULT

// combined=true adds @f_grad(x..., dy...) -> (dx...): the training forward
// (an attention with an LSE) feeding the attention_backward directly, roles
// without the saved state. Without the option there is no @f_grad.
// CHECK-LABEL: func.func @main_backward(
// CHECK-LABEL: func.func @main_grad(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<?x4x?x16xf32>, %[[K:[^:]*]]: tensor<?x4x?x16xf32>, %[[V:[^:]*]]: tensor<?x4x?x16xf32>, %[[DO:[^:]*]]: tensor<?x4x?x16xf32>)
// CHECK-SAME: -> (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
// CHECK-SAME: attn.arg_roles = ["x0 (input 0 of @main)", "x1 (input 1 of @main)", "x2 (input 2 of @main)", "dy0 (gradient of result 0)", "dx0 (gradient of input 0)", "dx1 (gradient of input 1)", "dx2 (gradient of input 2)"]
// CHECK: %[[A:.*]]:2 = attn.attention causal ins(%[[Q]], %[[K]], %[[V]]
// CHECK: %[[G:.*]]:3 = attn.attention_backward causal {{.*}} ins(%[[Q]], %[[K]], %[[V]] : {{.*}}) saved(%[[A]]#0 : {{.*}}) lse(%[[A]]#1 : {{.*}}) grads(%[[DO]] : {{.*}})
// CHECK: return %[[G]]#0, %[[G]]#1, %[[G]]#2
// DEFAULT-NOT: @main_grad
func.func @main(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>,
                %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
      outs(%init : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
