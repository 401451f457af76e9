// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s -mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func @route_logits
// CHECK: attn.route top(2) renormalize ins(%{{.*}} : tensor<?x8xf32>) outs(%{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<?x2xi32>) {temperature = 2.000000e+00 : f32}
func.func @route_logits(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %a, %b = attn.route top(2) scoring(softmax) renormalize ins(%l : tensor<?x8xf32>)
      outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {temperature = 2.0 : f32}
      -> tensor<?x2xf32>, tensor<?x2xi32>
  return %a, %b : tensor<?x2xf32>, tensor<?x2xi32>
}

// CHECK-LABEL: func @route_deepseek
// CHECK: attn.route top(6) scoring(sigmoid) renormalize ins(%{{.*}}, %{{.*}} : tensor<?x128xbf16>, tensor<128x64xbf16>) bias(%{{.*}} : tensor<64xf32>)
// CHECK-SAME: outs(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x6xf32>, tensor<?x6xi32>, tensor<64xi32>, tensor<64xf32>)
// CHECK-SAME: capacity_factor = 1.250000e+00 : f32, groups = array<i64: 8, 4>, keep = array<i1: true, false
// CHECK-SAME: routed_scale = 2.500000e+00 : f32, skip_threshold = 0.00999999977 : f32
func.func @route_deepseek(%x: tensor<?x128xbf16>, %wr: tensor<128x64xbf16>, %bias: tensor<64xf32>,
                          %w: tensor<?x6xf32>, %i: tensor<?x6xi32>, %n: tensor<64xi32>, %p: tensor<64xf32>) {
  %r:4 = attn.route top(6) scoring(sigmoid) renormalize ins(%x, %wr : tensor<?x128xbf16>, tensor<128x64xbf16>)
      bias(%bias : tensor<64xf32>)
      outs(%w, %i, %n, %p : tensor<?x6xf32>, tensor<?x6xi32>, tensor<64xi32>, tensor<64xf32>)
      {groups = array<i64: 8, 4>, routed_scale = 2.5 : f32, skip_threshold = 0.01 : f32,
       capacity_factor = 1.25 : f32,
       keep = array<i1: true, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
                        true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
                        true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
                        true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true>}
      -> tensor<?x6xf32>, tensor<?x6xi32>, tensor<64xi32>, tensor<64xf32>
  return
}

// CHECK-LABEL: func @route_blocks
// CHECK: attn.route top(3) scoring(none) ins(%{{.*}}, %{{.*}} : memref<?x4x?x64xf32>, memref<?x4x64x?xf32>) outs
// CHECK: score {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index):
// CHECK: attn.yield %{{.*}} : f32
func.func @route_blocks(%q: memref<?x4x?x64xf32>, %k: memref<?x4x64x?xf32>, %w: memref<?x4x?x3xf32>, %i: memref<?x4x?x3xi32>) {
  attn.route top(3) scoring(none) ins(%q, %k : memref<?x4x?x64xf32>, memref<?x4x64x?xf32>)
      outs(%w, %i : memref<?x4x?x3xf32>, memref<?x4x?x3xi32>)
      score {
      ^bb0(%s: f32, %t: index, %e: index):
        %ninf = arith.constant 0xFF800000 : f32
        %f = arith.cmpi ugt, %e, %t : index
        %r = arith.select %f, %ninf, %s : f32
        attn.yield %r : f32
      }
  return
}

// CHECK-LABEL: func @experts
// CHECK: attn.experts swish ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%{{.*}} : tensor<?x64xf32>) -> tensor<?x64xf32>
func.func @experts(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>,
                   %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
      tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// The per-slot expert output norms as a second output.
// CHECK-LABEL: func @experts_norms
// CHECK: attn.experts swish ins({{.*}}) outs(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<?x2xf32>) -> tensor<?x64xf32>, tensor<?x2xf32>
func.func @experts_norms(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>,
                         %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>,
                         %n: tensor<?x2xf32>) -> (tensor<?x64xf32>, tensor<?x2xf32>) {
  %r:2 = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
      tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y, %n : tensor<?x64xf32>, tensor<?x2xf32>)
      -> tensor<?x64xf32>, tensor<?x2xf32>
  return %r#0, %r#1 : tensor<?x64xf32>, tensor<?x2xf32>
}

// CHECK-LABEL: func @gates
// CHECK: attn.gate sigmoid ins(%{{.*}}, %{{.*}} : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) outs(%{{.*}} : tensor<?x4x?x64xbf16>) dims([0, 1, 2])
// CHECK: attn.gate identity ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<?x64xf32>) outs(%{{.*}} : tensor<?x64xf32>) ->
func.func @gates(%o: tensor<?x4x?x64xf32>, %g: tensor<?x4x?xf32>, %y: tensor<?x4x?x64xbf16>,
                 %a: tensor<?x64xf32>, %b: tensor<?x64xf32>) {
  %r = attn.gate sigmoid ins(%o, %g : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) outs(%y : tensor<?x4x?x64xbf16>)
      dims([0, 1, 2]) -> tensor<?x4x?x64xbf16>
  %s = attn.gate identity ins(%a, %b : tensor<?x64xf32>, tensor<?x64xf32>) outs(%a : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// CHECK-LABEL: func @pool
// CHECK: attn.pool block(64) kinds(["max", "min", "mean"]) ins(%{{.*}} : memref<?x4x?x64xbf16>) outs(%{{.*}} : memref<?x4x?x192xf32>)
func.func @pool(%k: memref<?x4x?x64xbf16>, %o: memref<?x4x?x192xf32>) {
  attn.pool block(64) kinds(["max", "min", "mean"]) ins(%k : memref<?x4x?x64xbf16>) outs(%o : memref<?x4x?x192xf32>)
  return
}

// CHECK-LABEL: func @attention_blocks
// CHECK: attn.attention causal ins(%{{.*}}, %{{.*}}, %{{.*}} : {{.*}}) blocks(%{{.*}} : tensor<?x4x?x3xi32>) block_size(64) outs
func.func @attention_blocks(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                            %sel: tensor<?x4x?x3xi32>, %o: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %r = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      blocks(%sel : tensor<?x4x?x3xi32>) block_size(64)
      outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %r : tensor<?x4x?x64xf32>
}
