// RUN: attn-opt %s --split-input-file | attn-opt | FileCheck %s

// The backward of a causal GQA attention with a soft cap: score, mask and
// score_grad regions, on tensors and memrefs.
// CHECK-LABEL: func.func @tensors
// CHECK: attn.attention_backward causal scale(1.250000e-01) ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>) saved(%{{.*}} : tensor<?x8x?x64xf32>) lse(%{{.*}} : tensor<?x8x?xf32>) grads(%{{.*}} : tensor<?x8x?x64xf32>) grad_lse(%{{.*}} : tensor<?x8x?xf32>) outs(
// CHECK: score {
// CHECK: mask {
// CHECK: score_grad {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
func.func @tensors(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>,
                   %o: tensor<?x8x?x64xf32>, %lse: tensor<?x8x?xf32>, %do: tensor<?x8x?x64xf32>,
                   %dlse: tensor<?x8x?xf32>, %dq0: tensor<?x8x?x64xf32>, %dk0: tensor<?x2x?x64xf32>,
                   %dv0: tensor<?x2x?x64xf32>) -> (tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>) {
  %dq, %dk, %dv = attn.attention_backward causal scale(0.125)
      ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      saved(%o : tensor<?x8x?x64xf32>) lse(%lse : tensor<?x8x?xf32>)
      grads(%do : tensor<?x8x?x64xf32>) grad_lse(%dlse : tensor<?x8x?xf32>)
      outs(%dq0, %dk0, %dv0 : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 30.0 : f32
        %x = arith.divf %s, %c : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %t, %c : f32
        attn.yield %r : f32
      }
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %t = arith.constant true
        attn.yield %t : i1
      }
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 30.0 : f32
        %x = arith.divf %s, %c : f32
        %t = math.tanh %x : f32
        %one = arith.constant 1.0 : f32
        %t2 = arith.mulf %t, %t : f32
        %d = arith.subf %one, %t2 : f32
        %r = arith.mulf %g, %d : f32
        attn.yield %r : f32
      }
      -> tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
  return %dq, %dk, %dv : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @memrefs
// CHECK: attn.attention_backward scale(5.000000e-01) ins({{.*}}) saved({{.*}}) lse({{.*}}) grads({{.*}}) outs({{.*}} : memref<2x4x5x4xf32>, memref<2x4x7x4xf32>, memref<2x4x7x4xf32>)
// CHECK-NOT: ->
func.func @memrefs(%q: memref<2x4x5x4xbf16>, %k: memref<2x4x7x4xbf16>, %o: memref<2x4x5x4xbf16>,
                   %lse: memref<2x4x5xf32>, %dq: memref<2x4x5x4xf32>, %dk: memref<2x4x7x4xf32>) {
  attn.attention_backward scale(0.5)
      ins(%q, %k, %k : memref<2x4x5x4xbf16>, memref<2x4x7x4xbf16>, memref<2x4x7x4xbf16>)
      saved(%o : memref<2x4x5x4xbf16>) lse(%lse : memref<2x4x5xf32>)
      grads(%o : memref<2x4x5x4xbf16>)
      outs(%dq, %dk, %dk : memref<2x4x5x4xf32>, memref<2x4x7x4xf32>, memref<2x4x7x4xf32>)
  return
}
