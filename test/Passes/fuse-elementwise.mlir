// RUN: attn-opt %s -split-input-file -attn-fuse-elementwise | FileCheck %s

// A constant scale of Q folds into the scale attribute (default 1/8 * 0.5).
// CHECK-LABEL: func.func @fold_query_scale
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: tensor<2x4x8x64xf32>, %[[K:[a-z0-9]+]]: tensor<2x4x8x64xf32>
// CHECK-NOT: arith.mulf
// CHECK: attn.attention scale(6.250000e-02) ins(%[[Q]], %[[K]],
func.func @fold_query_scale(%q: tensor<2x4x8x64xf32>, %k: tensor<2x4x8x64xf32>,
                            %v: tensor<2x4x8x64xf32>, %o: tensor<2x4x8x64xf32>) -> tensor<2x4x8x64xf32> {
  %half = arith.constant dense<0.5> : tensor<2x4x8x64xf32>
  %qs = arith.mulf %q, %half : tensor<2x4x8x64xf32>
  %r = attn.attention ins(%qs, %k, %v : tensor<2x4x8x64xf32>, tensor<2x4x8x64xf32>, tensor<2x4x8x64xf32>)
      outs(%o : tensor<2x4x8x64xf32>) -> tensor<2x4x8x64xf32>
  return %r : tensor<2x4x8x64xf32>
}

// -----

// The same scale written as a linalg.generic division.
// CHECK-LABEL: func.func @fold_query_scale_generic
// CHECK-NOT: linalg.generic
// CHECK: attn.attention scale(2.500000e-01) ins(%arg0,
#id = affine_map<(b, h, i, d) -> (b, h, i, d)>
func.func @fold_query_scale_generic(%q: tensor<2x4x8x64xf32>, %v: tensor<2x4x8x64xf32>,
                                    %o: tensor<2x4x8x64xf32>) -> tensor<2x4x8x64xf32> {
  %e = tensor.empty() : tensor<2x4x8x64xf32>
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<2x4x8x64xf32>) outs(%e : tensor<2x4x8x64xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %c = arith.constant 0.5 : f32
    %y = arith.divf %x, %c : f32
    linalg.yield %y : f32
  }  -> tensor<2x4x8x64xf32>
  %r = attn.attention scale(0.125) ins(%qs, %v, %v : tensor<2x4x8x64xf32>, tensor<2x4x8x64xf32>, tensor<2x4x8x64xf32>)
      outs(%o : tensor<2x4x8x64xf32>) -> tensor<2x4x8x64xf32>
  return %r : tensor<2x4x8x64xf32>
}

// -----

// A cast of the output becomes the epilogue; the op writes bf16 directly.
// CHECK-LABEL: func.func @fold_output_cast
// CHECK: %[[INIT:.+]] = tensor.empty() : tensor<1x2x16x32xbf16>
// CHECK: %[[R:.+]] = attn.attention causal ins
// CHECK-SAME: outs(%[[INIT]] : tensor<1x2x16x32xbf16>)
// CHECK: epilogue {
// CHECK: ^bb0(%[[X:.+]]: f32, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index):
// CHECK: %[[T:.+]] = arith.truncf %[[X]] : f32 to bf16
// CHECK: attn.yield %[[T]] : bf16
// CHECK-NOT: arith.truncf
// CHECK: return %[[R]]
func.func @fold_output_cast(%q: tensor<1x2x16x32xf32>, %o: tensor<1x2x16x32xf32>) -> tensor<1x2x16x32xbf16> {
  %r = attn.attention causal ins(%q, %q, %q : tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>)
      outs(%o : tensor<1x2x16x32xf32>) -> tensor<1x2x16x32xf32>
  %c = arith.truncf %r : tensor<1x2x16x32xf32> to tensor<1x2x16x32xbf16>
  return %c : tensor<1x2x16x32xbf16>
}

// -----

// An output gate o * sigmoid(g) in a linalg.generic becomes the epilogue,
// reading g at the element's coordinates.
// CHECK-LABEL: func.func @fold_output_gate
// CHECK-SAME: (%{{[a-z0-9]+}}: tensor<?x4x?x64xf32>, %[[G:[a-z0-9]+]]: tensor<?x4x?x64xf32>
// CHECK: attn.attention causal
// CHECK: epilogue {
// CHECK: ^bb0(%[[X:.+]]: f32, %[[B:.+]]: index, %[[H:.+]]: index, %[[I:.+]]: index, %[[D:.+]]: index):
// CHECK: %[[GV:.+]] = tensor.extract %[[G]][%[[B]], %[[H]], %[[I]], %[[D]]]
// CHECK: math.exp
// CHECK: %[[Y:.+]] = arith.mulf %[[X]], %{{.+}} : f32
// CHECK: attn.yield %[[Y]] : f32
// CHECK-NOT: linalg.generic
#id = affine_map<(b, h, i, d) -> (b, h, i, d)>
func.func @fold_output_gate(%q: tensor<?x4x?x64xf32>, %g: tensor<?x4x?x64xf32>,
                            %o: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %r = attn.attention causal ins(%q, %q, %q : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %gated = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%r, %g : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) outs(%o : tensor<?x4x?x64xf32>) {
  ^bb0(%x: f32, %gv: f32, %unused: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %gv : f32
    %e = math.exp %n : f32
    %den = arith.addf %one, %e : f32
    %s = arith.divf %one, %den : f32
    %y = arith.mulf %x, %s : f32
    linalg.yield %y : f32
  } -> tensor<?x4x?x64xf32>
  return %gated : tensor<?x4x?x64xf32>
}

// -----

// Two consumers: nothing may change.
// CHECK-LABEL: func.func @negative_two_uses
// CHECK: attn.attention ins
// CHECK-NOT: epilogue
// CHECK: arith.truncf
// CHECK: arith.negf
func.func @negative_two_uses(%q: tensor<1x2x16x32xf32>) -> (tensor<1x2x16x32xbf16>, tensor<1x2x16x32xf32>) {
  %r = attn.attention ins(%q, %q, %q : tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>)
      outs(%q : tensor<1x2x16x32xf32>) -> tensor<1x2x16x32xf32>
  %c = arith.truncf %r : tensor<1x2x16x32xf32> to tensor<1x2x16x32xbf16>
  %n = arith.negf %r : tensor<1x2x16x32xf32>
  return %c, %n : tensor<1x2x16x32xbf16>, tensor<1x2x16x32xf32>
}

// -----

// A non-constant scale of Q is not a scale: nothing may change.
// CHECK-LABEL: func.func @negative_runtime_scale
// CHECK: arith.mulf
// CHECK: attn.attention ins
func.func @negative_runtime_scale(%q: tensor<1x2x16x32xf32>, %s: tensor<1x2x16x32xf32>) -> tensor<1x2x16x32xf32> {
  %qs = arith.mulf %q, %s : tensor<1x2x16x32xf32>
  %r = attn.attention ins(%qs, %q, %q : tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>)
      outs(%q : tensor<1x2x16x32xf32>) -> tensor<1x2x16x32xf32>
  return %r : tensor<1x2x16x32xf32>
}

// -----

// Fusing into an op with a second map keeps the map, its combine region and
// rms_norm.
// CHECK-LABEL: func.func @fuse_into_second_map
// CHECK: attn.attention causal ins({{.*}}) second({{.*}}) outs(%{{.*}} : tensor<1x4x?x64xbf16>)
// CHECK: combine {
// CHECK: arith.subf
// CHECK: } rms_norm({{.*}}) epilogue {
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @fuse_into_second_map(%q: tensor<1x4x?x64xf32>, %o: tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xbf16> {
  %r = attn.attention causal ins(%q, %q, %q : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
      second(%q, %q : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
      outs(%o : tensor<1x4x?x64xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        %x = arith.subf %a, %c : f32
        attn.yield %x : f32
      }
      rms_norm(1.0e-5) -> tensor<1x4x?x64xf32>
  %t = arith.truncf %r : tensor<1x4x?x64xf32> to tensor<1x4x?x64xbf16>
  return %t : tensor<1x4x?x64xbf16>
}

// -----

// attn.gate becomes a linalg.generic (x * sigmoid(g), g through the
// (b, h, i) projection; the sigmoid from t = e^{-|g|}: 1 / (1 + t) for
// g >= 0, t / (1 + t) below), which folds into the attention's epilogue.
// CHECK-LABEL: func @gate_epilogue
// CHECK-NOT: attn.gate
// CHECK-NOT: linalg.generic
// CHECK: attn.attention causal
// CHECK: epilogue {
// CHECK: ^bb0(%[[O:.*]]: f32, %[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[D:.*]]: index):
// CHECK: %[[G:.*]] = tensor.extract %arg3[%[[B]], %[[H]], %[[I]]] : tensor<?x4x?xf32>
// CHECK: %[[A:.*]] = math.absf %[[G]]
// CHECK: %[[N:.*]] = arith.negf %[[A]]
// CHECK: %[[T:.*]] = math.exp %[[N]]
// CHECK: %[[R:.*]] = arith.divf
// CHECK: %[[P:.*]] = arith.cmpf oge, %[[G]]
// CHECK: %[[TR:.*]] = arith.mulf %[[T]], %[[R]]
// CHECK: %[[S:.*]] = arith.select %[[P]], %[[R]], %[[TR]]
// CHECK: %[[Y:.*]] = arith.mulf %[[O]], %[[S]] : f32
// CHECK: attn.yield %[[Y]] : f32
func.func @gate_epilogue(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                         %g: tensor<?x4x?xf32>, %o0: tensor<?x4x?x64xf32>, %y0: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %o = attn.attention causal ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %y = attn.gate sigmoid ins(%o, %g : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>)
      outs(%y0 : tensor<?x4x?x64xf32>) dims([0, 1, 2]) -> tensor<?x4x?x64xf32>
  return %y : tensor<?x4x?x64xf32>
}

// -----

// A gate on anything else is an ordinary elementwise generic (here SwiGLU's
// swish(g) * x on two projections).
// CHECK-LABEL: func @glu_generic
// CHECK: linalg.generic
// CHECK: ^bb0(%[[X:.*]]: f32, %[[G:.*]]: f32, %{{.*}}: f32):
// CHECK: math.absf %[[G]]
// CHECK: arith.select
// CHECK: %[[S:.*]] = arith.mulf %[[G]], %{{.*}} : f32
// CHECK: %[[Y:.*]] = arith.mulf %[[X]], %[[S]] : f32
// CHECK: linalg.yield %[[Y]] : f32
func.func @glu_generic(%x: tensor<?x64xf32>, %g: tensor<?x64xf32>, %y0: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %y = attn.gate swish ins(%x, %g : tensor<?x64xf32>, tensor<?x64xf32>) outs(%y0 : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A consumer that also reads the attention's own LSE (a merge of partials)
// stays a generic: the epilogue cannot read a result of its own op.
// CHECK-LABEL: func @reads_own_lse
// CHECK: %[[A:.*]]:2 = attn.attention
// CHECK-NOT: epilogue
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]]#0, %[[A]]#1 :
func.func @reads_own_lse(%q: tensor<1x2x8x16xf32>, %o: tensor<1x2x8x16xf32>,
                         %l: tensor<1x2x8xf32>) -> tensor<1x2x8x16xf32> {
  %a:2 = attn.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%o, %l : tensor<1x2x8x16xf32>, tensor<1x2x8xf32>) -> tensor<1x2x8x16xf32>, tensor<1x2x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(b, h, i, d) -> (b, h, i, d)>, affine_map<(b, h, i, d) -> (b, h, i)>, affine_map<(b, h, i, d) -> (b, h, i, d)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%a#0, %a#1 : tensor<1x2x8x16xf32>, tensor<1x2x8xf32>) outs(%o : tensor<1x2x8x16xf32>) {
  ^bb0(%x: f32, %s: f32, %y: f32):
    %m = arith.mulf %x, %s : f32
    linalg.yield %m : f32
  } -> tensor<1x2x8x16xf32>
  return %r : tensor<1x2x8x16xf32>
}
