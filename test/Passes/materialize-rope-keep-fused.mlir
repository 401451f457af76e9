// RUN: attn-opt %s -split-input-file -attn-materialize-rope=keep-fused | FileCheck %s

// keep-fused (the CPU pipeline) leaves the attentions whose query and key
// tiles attn-tile-attention rotates: dense, with lengths, paged.

// CHECK-LABEL: func.func @kept
// CHECK-NOT: attn.rope
// CHECK-NOT: linalg.generic
// CHECK: attn.attention causal rope <style = gptj> ins(
// CHECK: attn.attention causal rope <> ins({{.*}}) kv_lens({{.*}}) pages(
func.func @kept(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %kp: tensor<?x8x2x16xf32>, %lens: tensor<?xi32>, %t: tensor<?x?xi32>, %o: tensor<?x4x?x16xf32>) -> (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) {
  %a = attn.attention causal rope <style = gptj> ins(%q, %k, %k : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) outs(%o : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %b = attn.attention causal rope <> ins(%q, %kp, %kp : tensor<?x4x?x16xf32>, tensor<?x8x2x16xf32>, tensor<?x8x2x16xf32>) kv_lens(%lens : tensor<?xi32>) pages(%t : tensor<?x?xi32>) outs(%o : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %a, %b : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
}

// -----

// Column scores (and a row entropy or a block selection) take rotated
// operands: made explicit even with keep-fused.

// CHECK-LABEL: func.func @columns
// CHECK: linalg.generic
// CHECK: attn.attention causal ins({{.*}}) outs({{.*}}) column_scores
func.func @columns(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %o: tensor<1x4x8x16xf32>, %s: tensor<1x2x8xf32>) -> (tensor<1x4x8x16xf32>, tensor<1x2x8xf32>) {
  %r:2 = attn.attention causal rope <> ins(%q, %k, %k : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) outs(%o, %s : tensor<1x4x8x16xf32>, tensor<1x2x8xf32>) column_scores -> tensor<1x4x8x16xf32>, tensor<1x2x8xf32>
  return %r#0, %r#1 : tensor<1x4x8x16xf32>, tensor<1x2x8xf32>
}
