// RUN: attn-opt %s --attn-generate-backward --canonicalize | FileCheck %s

// A soft-capped causal GQA attention: the training forward gains an LSE and
// returns (O, then the saved O and LSE); the backward takes (q, k, v, saved O,
// saved LSE, dO) and returns (dq, dk, dv) from one attention_backward whose
// score_grad is the derivative of 30 tanh(s / 30): g (1 - t^2) / 30 * 30.
// CHECK-LABEL: func.func @main(
// CHECK-LABEL: func.func @main_train(
// CHECK-SAME: -> (tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?xf32>)
// CHECK: %[[A:.*]]:2 = attn.attention causal ins(
// CHECK-SAME: outs(%{{.*}}, %{{.*}} : tensor<?x8x?x64xf32>, tensor<?x8x?xf32>)
// CHECK: return %[[A]]#0, %[[A]]#0, %[[A]]#1
// CHECK-LABEL: func.func @main_backward(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<?x8x?x64xf32>, %[[K:[^:]*]]: tensor<?x2x?x64xf32>, %[[V:[^:]*]]: tensor<?x2x?x64xf32>, %[[O:[^:]*]]: tensor<?x8x?x64xf32>, %[[L:[^:]*]]: tensor<?x8x?xf32>, %[[DO:[^:]*]]: tensor<?x8x?x64xf32>)
// CHECK-SAME: -> (tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
// CHECK: %[[G:.*]]:3 = attn.attention_backward causal scale(1.250000e-01) ins(%[[Q]], %[[K]], %[[V]] : {{.*}}) saved(%[[O]] : {{.*}}) lse(%[[L]] : {{.*}}) grads(%[[DO]] : {{.*}}) outs(
// CHECK: score {
// CHECK: math.tanh
// CHECK: score_grad {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[DS:.*]]: f32,
// CHECK: %[[T:.*]] = math.tanh
// CHECK: %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK: arith.subf %{{.*}}, %[[T2]]
// CHECK: attn.yield
// CHECK: return %[[G]]#0, %[[G]]#1, %[[G]]#2
func.func @main(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                %v: tensor<?x2x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      outs(%init : tensor<?x8x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %cap = arith.constant 30.0 : f32
        %x = arith.divf %s, %cap : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %t, %cap : f32
        attn.yield %r : f32
      } -> tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}

// An attention whose LSE is a result, on bf16 inputs, its output returned
// twice: the LSE's gradient enters through grad_lse, the two results'
// gradients are summed, and the f32 gradients are truncated to bf16.
// CHECK-LABEL: func.func @twice_backward(
// CHECK-SAME: %{{[^:]*}}: tensor<1x2x5x8xf32>, %{{[^:]*}}: tensor<1x2x5x8xf32>, %{{[^:]*}}: tensor<1x2x5xf32>)
// CHECK: linalg.add
// CHECK: attn.attention_backward scale(0.353553{{[0-9]*}}) {{.*}} grad_lse(
// CHECK: arith.truncf {{.*}} to bf16
// CHECK: return {{.*}} : tensor<1x2x5x8xbf16>, tensor<1x2x5x8xbf16>, tensor<1x2x5x8xbf16>
func.func @twice(%q: tensor<1x2x5x8xbf16>, %k: tensor<1x2x5x8xbf16>, %v: tensor<1x2x5x8xbf16>)
    -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32>) {
  %init = tensor.empty() : tensor<1x2x5x8xf32>
  %linit = tensor.empty() : tensor<1x2x5xf32>
  %o:2 = attn.attention ins(%q, %k, %v : tensor<1x2x5x8xbf16>, tensor<1x2x5x8xbf16>, tensor<1x2x5x8xbf16>)
      outs(%init, %linit : tensor<1x2x5x8xf32>, tensor<1x2x5xf32>) -> tensor<1x2x5x8xf32>, tensor<1x2x5xf32>
  return %o#0, %o#0, %o#1 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32>
}

// Tensors the regions read get gradients: a per-head logit scale in the
// score region and per-head sink logits. The backward gains one f32 output
// per captured tensor, accumulated through attn.grad_accumulate at the
// extract's indices (the scale: dS * s; the sink: its row's share g).
// CHECK-LABEL: func.func @captured_backward(
// CHECK-SAME: -> (tensor<1x4x9x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x16xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK: %[[G:.*]]:5 = attn.attention_backward causal
// CHECK: score_grad {
// CHECK-NEXT: ^bb0(%[[R:.*]]: f32, %[[DS:.*]]: f32, %{{.*}}: index, %[[H:.*]]: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: %[[A:.*]] = arith.mulf %[[DS]], %[[R]]
// CHECK: attn.grad_accumulate %[[A]], capture(0) [%[[H]]] : f32
// CHECK: sink {
// CHECK: sink_grad {
// CHECK-NEXT: ^bb0(%[[SG:.*]]: f32, %{{.*}}: index, %[[SH:.*]]: index, %{{.*}}: index):
// CHECK-NEXT: attn.grad_accumulate %[[SG]], capture(1) [%[[SH]]] : f32
// CHECK: return %[[G]]#0, %[[G]]#1, %[[G]]#2, %[[G]]#3, %[[G]]#4
func.func @captured(%q: tensor<1x4x9x16xf32>, %k: tensor<1x4x9x16xf32>, %v: tensor<1x4x9x16xf32>,
                    %scale: tensor<4xf32>, %sinks: tensor<4xf32>) -> tensor<1x4x9x16xf32> {
  %init = tensor.empty() : tensor<1x4x9x16xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<1x4x9x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x16xf32>)
      outs(%init : tensor<1x4x9x16xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %c = tensor.extract %scale[%h] : tensor<4xf32>
        %r = arith.mulf %s, %c : f32
        attn.yield %r : f32
      }
      sink {
      ^bb0(%bb: index, %h: index, %i: index):
        %c = tensor.extract %sinks[%h] : tensor<4xf32>
        attn.yield %c : f32
      } -> tensor<1x4x9x16xf32>
  return %o : tensor<1x4x9x16xf32>
}
