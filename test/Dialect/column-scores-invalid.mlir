// RUN: attn-opt %s --split-input-file --verify-diagnostics

func.func @shape(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %s: tensor<1x4x9xf32>) {
  // expected-error @+1 {{expected column scores length (9) to match key length (8)}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %s : tensor<1x4x8x16xf32>, tensor<1x4x9xf32>) column_scores -> tensor<1x4x8x16xf32>, tensor<1x4x9xf32>
  return
}

// -----

func.func @type(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %s: tensor<1x4x8xf16>) {
  // expected-error @+1 {{expected the column scores output to be a rank-3 f32 [batch, kv heads, key length] buffer}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %s : tensor<1x4x8x16xf32>, tensor<1x4x8xf16>) column_scores -> tensor<1x4x8x16xf32>, tensor<1x4x8xf16>
  return
}

// -----

func.func @missing(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>) {
  // expected-error @+1 {{expected 2 or 3 outputs (output, optional log-sum-exp, column scores), got 1}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o : tensor<1x4x8x16xf32>) column_scores -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @sigmoid(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %s: tensor<1x4x8xf32>) {
  // expected-error @+1 {{computes column scores with the softmax normalizer only}}
  %r:2 = attn.attention normalizer(sigmoid) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %s : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>) column_scores -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @decay_alone(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>) {
  // expected-error @+1 {{has score_decay or value_norm without column_scores}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o : tensor<1x4x8x16xf32>) score_decay(0.5) -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @decay_range(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %s: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected a score_decay in (0, 1], got 1.5}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %s : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>) column_scores score_decay(1.5) -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @memref(%q: memref<1x4x8x16xf32>, %o: memref<1x4x8x16xf32>, %s: memref<1x4x8xf32>) {
  attn.attention ins(%q, %q, %q : memref<1x4x8x16xf32>, memref<1x4x8x16xf32>, memref<1x4x8x16xf32>)
      outs(%o, %s : memref<1x4x8x16xf32>, memref<1x4x8xf32>) column_scores
  return
}

// -----

func.func @second_map(%q: tensor<1x4x8x16xf32>, %o: tensor<1x4x8x16xf32>, %s: tensor<1x4x8xf32>) {
  // expected-error @+1 {{computes no column scores with a second map}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      second(%q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      outs(%o, %s : tensor<1x4x8x16xf32>, tensor<1x4x8xf32>) column_scores
      combine {
      ^bb0(%a: f32, %b: f32, %bb: index, %h: index, %i: index, %d: index):
        %x = arith.subf %a, %b : f32
        attn.yield %x : f32
      } -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @blocks(%q: tensor<1x4x128x16xf32>, %sel: tensor<1x4x128x2xi32>, %o: tensor<1x4x128x16xf32>, %s: tensor<1x4x128xf32>) {
  // expected-error @+1 {{computes no column scores with a block selection}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x128x16xf32>, tensor<1x4x128x16xf32>, tensor<1x4x128x16xf32>)
      blocks(%sel : tensor<1x4x128x2xi32>) block_size(64)
      outs(%o, %s : tensor<1x4x128x16xf32>, tensor<1x4x128xf32>) column_scores -> tensor<1x4x128x16xf32>, tensor<1x4x128xf32>
  return
}
