// RUN: attn-opt %s --split-input-file --verify-diagnostics

func.func @shape(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x4x9xf32>) {
  // expected-error @+1 {{expected row entropy length (9) to match query length (8)}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<1x4x9xf32>) row_entropy -> tensor<1x4x8x16xf32>, tensor<1x4x9xf32>
  return
}

// -----

func.func @heads(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x2x8xf32>) {
  // expected-error @+1 {{expected row entropy heads (2) to match query heads (4)}}
  %r:2 = attn.attention ins(%q, %k, %k : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<1x2x8xf32>) row_entropy -> tensor<1x4x8x16xf32>, tensor<1x2x8xf32>
  return
}

// -----

func.func @batch(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<2x4x8xf32>) {
  // expected-error @+1 {{expected row entropy batch (2) to match query batch (1)}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<2x4x8xf32>) row_entropy -> tensor<1x4x8x16xf32>, tensor<2x4x8xf32>
  return
}

// -----

func.func @type(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x4x8xbf16>) {
  // expected-error @+1 {{expected the row entropy output to be a rank-3 f32 [batch, heads, query length] buffer}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<1x4x8xbf16>) row_entropy -> tensor<1x4x8x16xf32>, tensor<1x4x8xbf16>
  return
}

// -----

func.func @missing(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected 3 or 4 outputs (output, optional log-sum-exp, row entropy, column scores), got 2}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>) row_entropy column_scores -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @too_many(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected 2 or 3 outputs (output, optional log-sum-exp, row entropy), got 4}}
  %r:4 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e, %e, %e : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) row_entropy
      -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @sigmoid(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x4x8xf32>) {
  // expected-error @+1 {{computes a row entropy with the softmax normalizer only}}
  %r:2 = attn.attention normalizer(sigmoid) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>) row_entropy -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @second(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %e: tensor<1x4x8xf32>) {
  // expected-error @+1 {{computes no row entropy with a second map}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      second(%q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %e : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>) row_entropy
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        %x = arith.subf %a, %c : f32
        attn.yield %x : f32
      } -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return
}

// -----

// The fused form's tile ops (attn-tile-attention on the CPU).
func.func @tile_entropy_rows(%q: memref<?x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %u: memref<8xf32>, %i: index) {
  // expected-error @+1 {{expected entropy sums rows (8) to match query tile rows (16)}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) entropy(%u : memref<8xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @tile_entropy_sigmoid(%q: memref<?x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %u: memref<16xf32>, %i: index) {
  // expected-error @+1 {{keeps entropy sums with the softmax normalizer only}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) entropy(%u : memref<16xf32>) at [%i, %i, %i, %i] scale(1.0) normalizer(sigmoid)
  return
}

// -----

func.func @finalize_entropy_rows(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf32>, %u: memref<16xf32>, %h: memref<4xf32>, %i: index) {
  // expected-error @+1 {{expected entropy rows (4) to match output rows (8)}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o : memref<8x64xf32>) entropy(%u -> %h : memref<16xf32> -> memref<4xf32>) at [%i, %i, %i]
  return
}

// -----

func.func @finalize_entropy_sums(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf32>, %u: memref<8xf32>, %h: memref<8xf32>, %i: index) {
  // expected-error @+1 {{expected entropy sums rows (8) to match query tile rows (16)}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o : memref<8x64xf32>) entropy(%u -> %h : memref<8xf32> -> memref<8xf32>) at [%i, %i, %i]
  return
}

// -----

func.func @finalize_entropy_sigmoid(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf32>, %u: memref<16xf32>, %h: memref<8xf32>, %i: index) {
  // expected-error @+1 {{takes no log-sum-exp or entropy output and no sink region with normalizer(sigmoid)}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o : memref<8x64xf32>) entropy(%u -> %h : memref<16xf32> -> memref<8xf32>) at [%i, %i, %i] normalizer(sigmoid)
  return
}

// -----

// The custom form writes both or neither; the generic form can omit one.
func.func @finalize_entropy_sums_only(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf32>, %u: memref<16xf32>, %i: index) {
  // expected-error @+1 {{expected an entropy output with entropy sums}}
  "attn.tile_finalize"(%m, %m, %acc, %o, %u, %i, %i, %i) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 1, 1, 1>}> ({}, {}) : (memref<16xf32>, memref<16xf32>, memref<16x64xf32>, memref<8x64xf32>, memref<16xf32>, index, index, index) -> ()
  return
}
