// RUN: attn-opt %s -split-input-file -canonicalize | FileCheck %s

// A constant size in the output's tensor.empty becomes static; the cast that
// canonicalization leaves is folded into attn.attention (regions kept,
// empty optional regions included) and re-introduced on the result.
// CHECK-LABEL: func.func @fold_output_cast
// CHECK: %[[INIT:.+]] = tensor.empty(%{{.+}}) : tensor<?x4x1x64xf32>
// CHECK: %[[R:.+]] = attn.attention causal ins({{.*}}) outs(%[[INIT]] : tensor<?x4x1x64xf32>)
// CHECK: score {
// CHECK: math.tanh
// CHECK: } -> tensor<?x4x1x64xf32>
// CHECK: %[[C:.+]] = tensor.cast %[[R]] : tensor<?x4x1x64xf32> to tensor<?x4x?x64xf32>
// CHECK: return %[[C]]
func.func @fold_output_cast(%q: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %c1) : tensor<?x4x?x64xf32>
  %o = attn.attention causal ins(%q, %q, %q : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        attn.yield %t : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}

// -----

// A cast that adds static information is not folded.
// CHECK-LABEL: func.func @keep_refining_cast
// CHECK: tensor.cast %{{.+}} : tensor<?x4x?x64xf32> to tensor<2x4x?x64xf32>
// CHECK: attn.attention ins(%{{.+}} : tensor<2x4x?x64xf32>
func.func @keep_refining_cast(%q: tensor<?x4x?x64xf32>, %o: tensor<2x4x?x64xf32>) -> tensor<2x4x?x64xf32> {
  %q2 = tensor.cast %q : tensor<?x4x?x64xf32> to tensor<2x4x?x64xf32>
  %r = attn.attention ins(%q2, %q2, %q2 : tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>)
      outs(%o : tensor<2x4x?x64xf32>) -> tensor<2x4x?x64xf32>
  return %r : tensor<2x4x?x64xf32>
}
