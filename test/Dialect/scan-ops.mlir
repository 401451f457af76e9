// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s

// attn.scan round-trips in its three decay forms, with a feature map, the
// normalizer, an initial state and the final state, on tensors and memrefs.

// CHECK-LABEL: func.func @gla
// CHECK: attn.scan decay(channel) ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) decays(%{{.*}} : tensor<?x4x?x64xf32>) state(%{{.*}} : tensor<?x4x64x64xf32>) outs(%{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>) -> tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>
func.func @gla(%q: tensor<?x4x?x64xf32>, %a: tensor<?x4x?x64xf32>, %s0: tensor<?x4x64x64xf32>,
               %o: tensor<?x4x?x64xf32>, %s: tensor<?x4x64x64xf32>) -> (tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>) {
  %r:2 = attn.scan decay(channel)
      ins(%q, %q, %q : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      decays(%a : tensor<?x4x?x64xf32>) state(%s0 : tensor<?x4x64x64xf32>)
      outs(%o, %s : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>) -> tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>
  return %r#0, %r#1 : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>
}

// -----

// CHECK-LABEL: func.func @linear_elu
// CHECK: attn.scan decay(none) normalize ins(
// CHECK: feature_map {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: index):
// CHECK: attn.yield %{{.*}} : f32
func.func @linear_elu(%q: tensor<2x4x16x32xbf16>, %v: tensor<2x4x16x64xbf16>, %o: tensor<2x4x16x64xf32>) -> tensor<2x4x16x64xf32> {
  %r = attn.scan decay(none) normalize
      ins(%q, %q, %v : tensor<2x4x16x32xbf16>, tensor<2x4x16x32xbf16>, tensor<2x4x16x64xbf16>)
      outs(%o : tensor<2x4x16x64xf32>)
      feature_map {
      ^bb0(%x: f32, %d: index):
        %zero = arith.constant 0.0 : f32
        %one = arith.constant 1.0 : f32
        %pos = arith.cmpf ogt, %x, %zero : f32
        %e = math.exp %x : f32
        %neg = arith.subf %e, %one : f32
        %elu = arith.select %pos, %x, %neg : f32
        %phi = arith.addf %elu, %one : f32
        attn.yield %phi : f32
      } -> tensor<2x4x16x64xf32>
  return %r : tensor<2x4x16x64xf32>
}

// -----

// CHECK-LABEL: func.func @lightning_memref
// CHECK: attn.scan decay(head) ins(%{{.*}}) decays(%{{.*}} : memref<4xf32>) outs(%{{.*}} : memref<1x4x?x64xf32>)
func.func @lightning_memref(%q: memref<1x4x?x64xf32>, %l: memref<4xf32>, %o: memref<1x4x?x64xf32>) {
  attn.scan decay(head) ins(%q, %q, %q : memref<1x4x?x64xf32>, memref<1x4x?x64xf32>, memref<1x4x?x64xf32>)
      decays(%l : memref<4xf32>) outs(%o : memref<1x4x?x64xf32>)
  return
}

// -----

// A reverse scan (the backward half of a bidirectional scan).
// CHECK-LABEL: func.func @reverse
// CHECK: attn.scan decay(head) reverse normalize ins(
func.func @reverse(%q: tensor<?x4x?x64xf32>, %l: tensor<4xf32>, %o: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %r = attn.scan decay(head) reverse normalize
      ins(%q, %q, %q : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      decays(%l : tensor<4xf32>) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %r : tensor<?x4x?x64xf32>
}
