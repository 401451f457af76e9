// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s
// Round trip of every attn op and every optional part of attn.attention.

// CHECK-LABEL: func.func @attention_plain
// CHECK: attn.attention ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x16x64xf32>, tensor<2x4x32x64xf32>, tensor<2x4x32x32xf32>) outs(%{{.*}} : tensor<2x4x16x32xf32>) -> tensor<2x4x16x32xf32>
func.func @attention_plain(%q: tensor<2x4x16x64xf32>, %k: tensor<2x4x32x64xf32>,
                           %v: tensor<2x4x32x32xf32>, %o: tensor<2x4x16x32xf32>) -> tensor<2x4x16x32xf32> {
  %r = attn.attention ins(%q, %k, %v : tensor<2x4x16x64xf32>, tensor<2x4x32x64xf32>, tensor<2x4x32x32xf32>)
      outs(%o : tensor<2x4x16x32xf32>) -> tensor<2x4x16x32xf32>
  return %r : tensor<2x4x16x32xf32>
}

// -----

// CHECK-LABEL: func.func @attention_causal_gqa_bf16_lse
// CHECK: attn.attention causal scale(1.250000e-01) ins
// CHECK-SAME: outs(%{{.*}}, %{{.*}} : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) -> tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
func.func @attention_causal_gqa_bf16_lse(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>,
    %v: tensor<?x2x?x64xbf16>, %o: tensor<?x8x?x64xbf16>, %l: tensor<?x8x?xf32>)
    -> (tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) {
  %r:2 = attn.attention causal scale(0.125)
      ins(%q, %k, %v : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>)
      outs(%o, %l : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) -> tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
  return %r#0, %r#1 : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
}

// -----

// CHECK-LABEL: func.func @attention_regions
// CHECK: score {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: math.tanh
// CHECK: attn.yield %{{.*}} : f32
// CHECK: mask {
// CHECK: arith.cmpi
// CHECK: attn.yield %{{.*}} : i1
// CHECK: epilogue {
// CHECK: tensor.extract
// CHECK: attn.yield %{{.*}} : f32
func.func @attention_regions(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>,
                             %v: tensor<1x4x?x64xf32>, %o: tensor<1x4x?x64xf32>,
                             %gate: tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xf32> {
  %r = attn.attention ins(%q, %k, %v : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
      outs(%o : tensor<1x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        attn.yield %t : f32
      }
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c = arith.cmpi sle, %j, %i : index
        attn.yield %c : i1
      }
      epilogue {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %d: index):
        %g = tensor.extract %gate[%b, %h, %i, %d] : tensor<1x4x?x64xf32>
        %y = arith.mulf %x, %g : f32
        attn.yield %y : f32
      } -> tensor<1x4x?x64xf32>
  return %r : tensor<1x4x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @attention_memref
// CHECK: attn.attention causal ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<?x2x?x16xf16>, memref<?x1x?x16xf16>, memref<?x1x?x16xf16>) outs(%{{.*}} : memref<?x2x?x16xf32>)
// CHECK-NOT: ->
func.func @attention_memref(%q: memref<?x2x?x16xf16>, %k: memref<?x1x?x16xf16>,
                            %v: memref<?x1x?x16xf16>, %o: memref<?x2x?x16xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x2x?x16xf16>, memref<?x1x?x16xf16>, memref<?x1x?x16xf16>)
      outs(%o : memref<?x2x?x16xf32>)
  return
}

// -----

// CHECK-LABEL: func.func @tile_ops
// CHECK: attn.tile_attend ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<?x64xf32>, memref<?x64xbf16>, memref<?x32xbf16>) state(%{{.*}}, %{{.*}}, %{{.*}} : memref<16xf32>, memref<16xf32>, memref<16x32xf32>) at[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] scale(1.250000e-01) mask
// CHECK: attn.tile_finalize state(%{{.*}}, %{{.*}}, %{{.*}} : memref<16xf32>, memref<16xf32>, memref<16x32xf32>) outs(%{{.*}}, %{{.*}} : memref<?x32xbf16>, memref<?xf32>) at[%{{.*}}, %{{.*}}, %{{.*}}]
func.func @tile_ops(%q: memref<?x64xf32>, %k: memref<?x64xbf16>, %v: memref<?x32xbf16>,
                    %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x32xf32>,
                    %o: memref<?x32xbf16>, %lse: memref<?xf32>, %i: index) {
  attn.tile_attend ins(%q, %k, %v : memref<?x64xf32>, memref<?x64xbf16>, memref<?x32xbf16>)
      state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x32xf32>)
      at [%i, %i, %i, %i] scale(0.125)
      mask {
      ^bb0(%b: index, %h: index, %qi: index, %kj: index):
        %c = arith.cmpi sle, %kj, %qi : index
        attn.yield %c : i1
      }
  attn.tile_finalize state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x32xf32>)
      outs(%o, %lse : memref<?x32xbf16>, memref<?xf32>) at [%i, %i, %i]
  return
}

// -----

// CHECK-LABEL: func.func @parallel_for
// CHECK: attn.parallel_for(%{{.*}}) {
// CHECK: ^bb0(%{{.*}}: i64):
// CHECK: attn.yield
func.func @parallel_for(%n: i64, %buf: memref<?xi64>) {
  attn.parallel_for (%n) {
  ^bb0(%t: i64):
    %i = arith.index_cast %t : i64 to index
    memref.store %t, %buf[%i] : memref<?xi64>
    attn.yield
  }
  return
}

// -----

// CHECK-LABEL: func.func @attention_sigmoid_and_sink
// CHECK: attn.attention causal normalizer(sigmoid) ins
// CHECK: attn.attention ins
// CHECK: sink {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: attn.yield %{{.*}} : f32
func.func @attention_sigmoid_and_sink(%q: tensor<1x4x?x64xf32>, %o: tensor<1x4x?x64xf32>,
                                      %s: tensor<4xf32>) -> tensor<1x4x?x64xf32> {
  %r = attn.attention causal normalizer(sigmoid)
      ins(%q, %q, %q : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
      outs(%o : tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xf32>
  %r2 = attn.attention ins(%q, %q, %q : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
      outs(%r : tensor<1x4x?x64xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %x = tensor.extract %s[%h] : tensor<4xf32>
        attn.yield %x : f32
      } -> tensor<1x4x?x64xf32>
  return %r2 : tensor<1x4x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @tile_ops_sigmoid_sink
// CHECK: attn.tile_attend {{.*}} scale(1.250000e-01) normalizer(sigmoid)
// CHECK: attn.tile_finalize {{.*}} normalizer(sigmoid)
// CHECK: attn.tile_finalize {{.*}} sink {
func.func @tile_ops_sigmoid_sink(%q: memref<?x64xf32>, %m: memref<16xf32>, %l: memref<16xf32>,
                                 %acc: memref<16x64xf32>, %o: memref<?x64xf32>, %i: index) {
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>)
      state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>)
      at [%i, %i, %i, %i] scale(0.125) normalizer(sigmoid)
  attn.tile_finalize state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>)
      outs(%o : memref<?x64xf32>) at [%i, %i, %i] normalizer(sigmoid)
  attn.tile_finalize state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>)
      outs(%o : memref<?x64xf32>) at [%i, %i, %i]
      sink {
      ^bb0(%b: index, %h: index, %r: index):
        %c = arith.constant 1.0 : f32
        attn.yield %c : f32
      }
  return
}

// -----

// CHECK-LABEL: func.func @cumsum
// CHECK: attn.cumsum dim(2) ins(%{{.*}} : tensor<?x4x?xf32>) outs(%{{.*}} : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
// CHECK: attn.cumsum dim(0) ins(%{{.*}} : memref<?xbf16>) outs(%{{.*}} : memref<?xf32>)
// CHECK: attn.cumsum reverse dim(0) ins(%{{.*}} : memref<?xbf16>) outs(%{{.*}} : memref<?xf32>)
func.func @cumsum(%x: tensor<?x4x?xf32>, %y: tensor<?x4x?xf32>, %a: memref<?xbf16>, %b: memref<?xf32>) -> tensor<?x4x?xf32> {
  %r = attn.cumsum dim(2) ins(%x : tensor<?x4x?xf32>) outs(%y : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  attn.cumsum dim(0) ins(%a : memref<?xbf16>) outs(%b : memref<?xf32>)
  attn.cumsum reverse dim(0) ins(%a : memref<?xbf16>) outs(%b : memref<?xf32>)
  return %r : tensor<?x4x?xf32>
}

// -----

// CHECK-LABEL: func.func @attention_second_map
// CHECK: attn.attention causal ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x128xf32>) second(%{{.*}}, %{{.*}} : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>) outs
// CHECK: combine {
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: } rms_norm(9.99999974E-6)
func.func @attention_second_map(%q: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x128xf32>,
                                %o: tensor<1x4x?x128xf32>) -> tensor<1x4x?x128xf32> {
  %r = attn.attention causal ins(%q, %q, %v : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x128xf32>)
      second(%q, %q : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
      outs(%o : tensor<1x4x?x128xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        %x = arith.subf %a, %c : f32
        attn.yield %x : f32
      }
      rms_norm(1.0e-5) -> tensor<1x4x?x128xf32>
  return %r : tensor<1x4x?x128xf32>
}

// -----

// Side outputs round-trip in order: output, LSE, row entropy, column scores.
// CHECK-LABEL: func.func @attention_side_outputs
// CHECK: attn.attention causal ins({{.*}}) outs(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x4x?x64xf32>, tensor<1x4x?xf32>, tensor<1x4x?xf32>, tensor<1x2x?xf32>) row_entropy column_scores score_decay(0.899999976) -> tensor<1x4x?x64xf32>, tensor<1x4x?xf32>, tensor<1x4x?xf32>, tensor<1x2x?xf32>
func.func @attention_side_outputs(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                                  %o: tensor<1x4x?x64xf32>, %l: tensor<1x4x?xf32>, %s: tensor<1x2x?xf32>)
    -> (tensor<1x4x?x64xf32>, tensor<1x4x?xf32>, tensor<1x4x?xf32>, tensor<1x2x?xf32>) {
  %r:4 = attn.attention causal ins(%q, %k, %k : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>)
      outs(%o, %l, %l, %s : tensor<1x4x?x64xf32>, tensor<1x4x?xf32>, tensor<1x4x?xf32>, tensor<1x2x?xf32>)
      row_entropy column_scores score_decay(0.9)
      -> tensor<1x4x?x64xf32>, tensor<1x4x?xf32>, tensor<1x4x?xf32>, tensor<1x2x?xf32>
  return %r#0, %r#1, %r#2, %r#3 : tensor<1x4x?x64xf32>, tensor<1x4x?xf32>, tensor<1x4x?xf32>, tensor<1x2x?xf32>
}

// -----

// Fused column scores: tile_attend's weights and tile_column_scores.
// CHECK-LABEL: func.func @tile_ops_columns
// CHECK: attn.tile_attend {{.*}} weights(%{{.*}} : memref<?x16xf32>) at[
// CHECK: attn.tile_column_scores ins(%{{.*}}, %{{.*}} : memref<?x16xf32>, memref<16xf32>) state(%{{.*}}, %{{.*}} : memref<16xf32>, memref<16xf32>) outs(%{{.*}} : memref<?xf32>) rows(%{{.*}}) length(%{{.*}}) at[%{{.*}}, %{{.*}}, %{{.*}}] score_decay(5.000000e-01) sink {
func.func @tile_ops_columns(%q: memref<?x64xf32>, %m: memref<16xf32>, %l: memref<16xf32>,
                            %acc: memref<16x64xf32>, %w: memref<?x16xf32>, %p: memref<?xf32>,
                            %i: index) {
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>)
      state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>)
      weights(%w : memref<?x16xf32>) at [%i, %i, %i, %i] scale(0.125)
  attn.tile_column_scores ins(%w, %m : memref<?x16xf32>, memref<16xf32>)
      state(%m, %l : memref<16xf32>, memref<16xf32>) outs(%p : memref<?xf32>)
      rows(%i) length(%i) at [%i, %i, %i] score_decay(0.5)
      sink {
      ^bb0(%b: index, %h: index, %r: index):
        %c = arith.constant 1.0 : f32
        attn.yield %c : f32
      }
  return
}

// -----

// Fused row entropy: tile_attend's running sums and tile_finalize's output.
// CHECK-LABEL: func.func @tile_ops_entropy
// CHECK: attn.tile_attend {{.*}} entropy(%{{.*}} : memref<16xf32>) at[
// CHECK: attn.tile_finalize {{.*}} outs(%{{.*}} : memref<?x64xf32>) entropy(%{{.*}} -> %{{.*}} : memref<16xf32> -> memref<?xf32>) at[
func.func @tile_ops_entropy(%q: memref<?x64xf32>, %m: memref<16xf32>, %l: memref<16xf32>,
                            %acc: memref<16x64xf32>, %u: memref<16xf32>, %h: memref<?xf32>,
                            %i: index) {
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>)
      state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>)
      entropy(%u : memref<16xf32>) at [%i, %i, %i, %i] scale(0.125)
  attn.tile_finalize state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>)
      outs(%q : memref<?x64xf32>) entropy(%u -> %h : memref<16xf32> -> memref<?xf32>)
      at [%i, %i, %i]
  return
}
