// RUN: attn-opt %s --attn-expand-side-outputs="fuse-column-scores=true fuse-row-entropy=true" --split-input-file | FileCheck %s

// The CPU form: row_entropy stays on the attention as written (no LSE is
// added: the fused form does not need one) for attn-tile-attention; no
// second attention, no linalg.generic.
// CHECK-LABEL: func.func @kept
// CHECK: %[[A:.*]]:2 = attn.attention causal {{.*}} outs(%arg3, %arg4 : tensor<2x4x77x64xf32>, tensor<2x4x77xf32>) row_entropy
// CHECK-NOT: attn.attention
// CHECK-NOT: linalg.generic
// CHECK: return %[[A]]#0, %[[A]]#1
func.func @kept(%q: tensor<2x4x77x64xf32>, %k: tensor<2x4x?x64xf32>, %v: tensor<2x4x?x64xf32>,
                %o0: tensor<2x4x77x64xf32>, %e0: tensor<2x4x77xf32>) -> (tensor<2x4x77x64xf32>, tensor<2x4x77xf32>) {
  %o, %e = attn.attention causal ins(%q, %k, %v : tensor<2x4x77x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>)
      outs(%o0, %e0 : tensor<2x4x77x64xf32>, tensor<2x4x77xf32>) row_entropy
      -> tensor<2x4x77x64xf32>, tensor<2x4x77xf32>
  return %o, %e : tensor<2x4x77x64xf32>, tensor<2x4x77xf32>
}

// -----

// A decode step (static query length 1) is expanded: its attentions take
// the split-KV form.
// CHECK-LABEL: func.func @decode
// CHECK: attn.attention {{.*}} outs(%{{.*}}, %{{.*}} : tensor<?x4x1x64xf32>, tensor<?x4x1xf32>)
// CHECK-NOT: row_entropy
// CHECK: attn.attention
// CHECK: linalg.generic
func.func @decode(%q: tensor<?x4x1x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                  %o0: tensor<?x4x1x64xf32>, %e0: tensor<?x4x1xf32>) -> (tensor<?x4x1x64xf32>, tensor<?x4x1xf32>) {
  %o, %e = attn.attention ins(%q, %k, %v : tensor<?x4x1x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %e0 : tensor<?x4x1x64xf32>, tensor<?x4x1xf32>) row_entropy
      -> tensor<?x4x1x64xf32>, tensor<?x4x1xf32>
  return %o, %e : tensor<?x4x1x64xf32>, tensor<?x4x1xf32>
}

// -----

// A dynamic query length: dispatched at run time. Lq = 1 takes the expanded
// form on one-row casts (results cast back), otherwise the fused form. With
// column scores too, the fused attention keeps both (entropy before scores).
// CHECK-LABEL: func.func @dynamic
// CHECK: %[[LQ:.*]] = tensor.dim %arg0, %c2
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[LQ]], %c1
// CHECK: %[[R:.*]]:3 = scf.if %[[ONE]] -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
// CHECK: %[[Q1:.*]] = tensor.cast %arg0 : tensor<?x4x?x64xf32> to tensor<?x4x1x64xf32>
// CHECK: attn.attention {{.*}}ins(%[[Q1]],
// CHECK-NOT: row_entropy
// CHECK: linalg.generic
// CHECK: tensor.cast %{{.*}} : tensor<?x4x1x64xf32> to tensor<?x4x?x64xf32>
// CHECK: scf.yield
// CHECK: } else {
// CHECK: %[[F:.*]]:3 = attn.attention causal {{.*}}ins(%arg0, {{.*}} row_entropy column_scores
// CHECK-NOT: attn.attention
// CHECK: scf.yield %[[F]]#0, %[[F]]#1, %[[F]]#2
// CHECK: } {attn.dispatch = "expand_side_outputs_if_one_query_row"}
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @dynamic(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                   %o0: tensor<?x4x?x64xf32>, %e0: tensor<?x4x?xf32>, %s0: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  %o, %e, %s = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %e0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) row_entropy column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
  return %o, %e, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
}

// -----

// A block selection keeps the expanded form (MoBA's key-block-major tiling).
// CHECK-LABEL: func.func @blocks
// CHECK-NOT: scf.if
// CHECK: attn.attention
// CHECK-NOT: row_entropy
// CHECK: attn.attention
// CHECK: linalg.generic
func.func @blocks(%q: tensor<1x2x128x64xf32>, %sel: tensor<1x2x128x2xi32>,
                  %o0: tensor<1x2x128x64xf32>, %e0: tensor<1x2x128xf32>) -> (tensor<1x2x128x64xf32>, tensor<1x2x128xf32>) {
  %o, %e = attn.attention ins(%q, %q, %q : tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>)
      blocks(%sel : tensor<1x2x128x2xi32>) block_size(32)
      outs(%o0, %e0 : tensor<1x2x128x64xf32>, tensor<1x2x128xf32>) row_entropy
      -> tensor<1x2x128x64xf32>, tensor<1x2x128xf32>
  return %o, %e : tensor<1x2x128x64xf32>, tensor<1x2x128xf32>
}
