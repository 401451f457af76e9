// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @rank(%q: tensor<4x16x64xf32>, %k: tensor<1x4x16x64xf32>, %v: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected query to be a ranked tensor or memref of rank 4, got 'tensor<4x16x64xf32>'}}
  %r = attn.attention ins(%q, %k, %v : tensor<4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @element_type(%q: tensor<1x4x16x64xi32>, %k: tensor<1x4x16x64xf32>, %v: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected query element type to be f32, f16 or bf16, got 'i32'}}
  %r = attn.attention ins(%q, %k, %v : tensor<1x4x16x64xi32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @num_outputs(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected 1 or 2 outputs (output, optional log-sum-exp), got 3}}
  %r:3 = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o, %o, %o : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>
  return
}

// -----

func.func @mixed(%q: tensor<1x4x16x64xf32>, %o: memref<1x4x16x64xf32>) {
  // expected-error @+1 {{expected operands to be all tensors or all memrefs}}
  attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : memref<1x4x16x64xf32>)
  return
}

// -----

func.func @dynamic_heads(%q: tensor<1x?x16x64xf32>, %k: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the number of query heads to be static}}
  %r = attn.attention ins(%q, %k, %k : tensor<1x?x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @dynamic_head_dim(%q: tensor<1x4x16x64xf32>, %k: tensor<1x4x16x?xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the key head dim to be static}}
  %r = attn.attention ins(%q, %k, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x?xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @key_head_dim(%q: tensor<1x4x16x64xf32>, %k: tensor<1x4x16x32xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected key head dim (32) to match query head dim (64)}}
  %r = attn.attention ins(%q, %k, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @value_heads(%q: tensor<1x4x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x1x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected value heads (1) to match key heads (2)}}
  %r = attn.attention ins(%q, %k, %v : tensor<1x4x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x1x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @output_heads(%q: tensor<1x4x16x64xf32>, %o: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{expected output heads (2) to match query heads (4)}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x2x16x64xf32>) -> tensor<1x2x16x64xf32>
  return
}

// -----

func.func @output_head_dim(%q: tensor<1x4x16x64xf32>, %v: tensor<1x4x16x128xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected output head dim (64) to match value head dim (128)}}
  %r = attn.attention ins(%q, %q, %v : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x128xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @gqa(%q: tensor<1x8x16x64xf32>, %k: tensor<1x3x16x64xf32>, %o: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{expected the number of query heads (8) to be a multiple of the key/value heads (3)}}
  %r = attn.attention ins(%q, %k, %k : tensor<1x8x16x64xf32>, tensor<1x3x16x64xf32>, tensor<1x3x16x64xf32>) outs(%o : tensor<1x8x16x64xf32>) -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @batch(%q: tensor<2x4x16x64xf32>, %k: tensor<3x4x16x64xf32>, %o: tensor<2x4x16x64xf32>) {
  // expected-error @+1 {{expected key batch (3) to match query batch (2)}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x16x64xf32>, tensor<3x4x16x64xf32>, tensor<3x4x16x64xf32>) outs(%o : tensor<2x4x16x64xf32>) -> tensor<2x4x16x64xf32>
  return
}

// -----

func.func @value_batch(%q: tensor<2x4x16x64xf32>, %v: tensor<3x4x16x64xf32>, %o: tensor<2x4x16x64xf32>) {
  // expected-error @+1 {{expected value batch (3) to match query batch (2)}}
  %r = attn.attention ins(%q, %q, %v : tensor<2x4x16x64xf32>, tensor<2x4x16x64xf32>, tensor<3x4x16x64xf32>) outs(%o : tensor<2x4x16x64xf32>) -> tensor<2x4x16x64xf32>
  return
}

// -----

func.func @output_batch(%q: tensor<2x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected output batch (1) to match query batch (2)}}
  %r = attn.attention ins(%q, %q, %q : tensor<2x4x16x64xf32>, tensor<2x4x16x64xf32>, tensor<2x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @value_length(%q: tensor<1x4x16x64xf32>, %k: tensor<1x4x12x64xf32>, %v: tensor<1x4x10x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected value length (10) to match key length (12)}}
  %r = attn.attention ins(%q, %k, %v : tensor<1x4x16x64xf32>, tensor<1x4x12x64xf32>, tensor<1x4x10x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @output_length(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected output length (8) to match query length (16)}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x8x64xf32>) -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @lse_type(%q: tensor<1x4x16x64xf32>, %l: tensor<1x4x16xf16>) {
  // expected-error @+1 {{expected the log-sum-exp output to be a rank-3 f32 [batch, heads, query length] buffer, got 'tensor<1x4x16xf16>'}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q, %l : tensor<1x4x16x64xf32>, tensor<1x4x16xf16>) -> tensor<1x4x16x64xf32>, tensor<1x4x16xf16>
  return
}

// -----

func.func @lse_batch(%q: tensor<1x4x16x64xf32>, %l: tensor<2x4x16xf32>) {
  // expected-error @+1 {{expected log-sum-exp batch (2) to match query batch (1)}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q, %l : tensor<1x4x16x64xf32>, tensor<2x4x16xf32>) -> tensor<1x4x16x64xf32>, tensor<2x4x16xf32>
  return
}

// -----

func.func @lse_heads(%q: tensor<1x4x16x64xf32>, %l: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expected log-sum-exp heads (2) to match query heads (4)}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q, %l : tensor<1x4x16x64xf32>, tensor<1x2x16xf32>) -> tensor<1x4x16x64xf32>, tensor<1x2x16xf32>
  return
}

// -----

func.func @lse_length(%q: tensor<1x4x16x64xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected log-sum-exp length (8) to match query length (16)}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q, %l : tensor<1x4x16x64xf32>, tensor<1x4x8xf32>) -> tensor<1x4x16x64xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @result_types(%q: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the result types to match the output types}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf16>
  return
}

// -----

func.func @memref_results(%q: memref<1x4x16x64xf32>) {
  // expected-error @+1 {{expected no results when operating on memrefs}}
  %r = attn.attention ins(%q, %q, %q : memref<1x4x16x64xf32>, memref<1x4x16x64xf32>, memref<1x4x16x64xf32>) outs(%q : memref<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @scale(%q: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected a finite, non-zero scale, got 0}}
  %r = attn.attention scale(0.0) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @score_args(%q: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the score region to take (f32, index, index, index, index)}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q : tensor<1x4x16x64xf32>)
      score {
      ^bb0(%s: f32):
        attn.yield %s : f32
      } -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @score_blocks(%q: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the score region to have one block}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q : tensor<1x4x16x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        cf.br ^bb1
      ^bb1:
        %c = arith.constant 0.0 : f32
        attn.yield %c : f32
      } -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @mask_yield(%q: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the mask region to yield one 'i1'}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q : tensor<1x4x16x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        attn.yield %i : index
      } -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @epilogue_yield(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xbf16>) {
  // expected-error @+1 {{expected the epilogue region to yield one 'bf16'}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xbf16>)
      epilogue {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %d: index):
        attn.yield %x : f32
      } -> tensor<1x4x16x64xbf16>
  return
}

// -----

func.func @state_static(%q: memref<?x64xf32>, %m: memref<?xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{expected the online-softmax state to have a static shape}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<?xf32>, memref<?xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @state_rows(%q: memref<?x64xf32>, %m: memref<16xf32>, %acc: memref<8x64xf32>, %i: index) {
  // expected-error @+1 {{expected the state buffers to have 16 rows}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<8x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @state_columns(%q: memref<?x64xf32>, %m: memref<16xf32>, %acc: memref<16x32xf32>, %i: index) {
  // expected-error @+1 {{expected the accumulator to have at least 64 columns, got 32}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x32xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @tile_head_dims(%q: memref<?x?xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{expected static head dims in the tiles}}
  attn.tile_attend ins(%q, %q, %q : memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @tile_key_dim(%q: memref<?x64xf32>, %k: memref<?x32xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{expected key head dim (32) to match query head dim (64)}}
  attn.tile_attend ins(%q, %k, %q : memref<?x64xf32>, memref<?x32xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @tile_value_rows(%q: memref<?x64xf32>, %k: memref<8x64xf32>, %v: memref<4x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{expected value rows (4) to match key rows (8)}}
  attn.tile_attend ins(%q, %k, %v : memref<?x64xf32>, memref<8x64xf32>, memref<4x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @tile_rows(%q: memref<32x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{expected at most 16 query rows, got 32}}
  attn.tile_attend ins(%q, %q, %q : memref<32x64xf32>, memref<32x64xf32>, memref<32x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @tile_mask_args(%q: memref<?x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{expected the mask region to take (index, index, index, index)}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
      mask {
      ^bb0(%b: index):
        %t = arith.constant true
        attn.yield %t : i1
      }
  return
}

// -----

func.func @finalize_dim(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<?x?xf32>, %i: index) {
  // expected-error @+1 {{expected a static output head dim}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o : memref<?x?xf32>) at [%i, %i, %i]
  return
}

// -----

func.func @finalize_lse(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf32>, %l: memref<4xf32>, %i: index) {
  // expected-error @+1 {{expected log-sum-exp rows (4) to match output rows (8)}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o, %l : memref<8x64xf32>, memref<4xf32>) at [%i, %i, %i]
  return
}

// -----

func.func @finalize_epilogue(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf16>, %i: index) {
  // expected-error @+1 {{expected the epilogue region to take (f32, index, index, index, index)}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o : memref<8x64xf16>) at [%i, %i, %i]
      epilogue {
      ^bb0(%x: f32):
        %y = arith.truncf %x : f32 to f16
        attn.yield %y : f16
      }
  return
}

// -----

func.func @parallel_body(%n: i64) {
  // expected-error @+1 {{expected the body to take one i64 iteration index}}
  attn.parallel_for (%n) {
  ^bb0(%t: index):
    attn.yield
  }
  return
}

// -----

func.func @sigmoid_lse(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{has no log-sum-exp output with normalizer(sigmoid)}}
  %r:2 = attn.attention normalizer(sigmoid) ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o, %l : tensor<1x4x8x64xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8x64xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @sigmoid_sink(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{takes no sink region with normalizer(sigmoid)}}
  %r = attn.attention normalizer(sigmoid) ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 0.0 : f32
        attn.yield %c : f32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @sink_signature(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected the sink region to take (index, index, index)}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      sink {
      ^bb0(%b: index, %h: index):
        %c = arith.constant 0.0 : f32
        attn.yield %c : f32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @sink_type(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected the sink region to yield one 'f32'}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 0 : i32
        attn.yield %c : i32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @finalize_sigmoid_lse(%m: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<8x64xf32>, %l: memref<8xf32>, %i: index) {
  // expected-error @+1 {{takes no log-sum-exp or entropy output and no sink region with normalizer(sigmoid)}}
  attn.tile_finalize state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) outs(%o, %l : memref<8x64xf32>, memref<8xf32>) at [%i, %i, %i] normalizer(sigmoid)
  return
}

// -----

func.func @cumsum_dim(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{expected dim (2) to be in [0, 2)}}
  %r = attn.cumsum dim(2) ins(%x : tensor<?x4xf32>) outs(%x : tensor<?x4xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @cumsum_shape(%x: tensor<?x4xf32>, %y: tensor<?x8xf32>) {
  // expected-error @+1 {{expected input dim 1 (4) to match output dim 1 (8)}}
  %r = attn.cumsum dim(0) ins(%x : tensor<?x4xf32>) outs(%y : tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @cumsum_rank(%x: tensor<?x4xf32>, %y: tensor<?xf32>) {
  // expected-error @+1 {{expected input rank (2) to match output rank (1)}}
  %r = attn.cumsum dim(0) ins(%x : tensor<?x4xf32>) outs(%y : tensor<?xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @cumsum_int(%x: tensor<?xi32>) {
  // expected-error @+1 {{expected floating-point input and output}}
  %r = attn.cumsum dim(0) ins(%x : tensor<?xi32>) outs(%x : tensor<?xi32>) -> tensor<?xi32>
  return
}

// -----

func.func @cumsum_mixed(%x: tensor<?xf32>, %y: memref<?xf32>) {
  // expected-error @+1 {{expected ranked input and output, both tensors or both memrefs}}
  attn.cumsum dim(0) ins(%x : tensor<?xf32>) outs(%y : memref<?xf32>)
  return
}

// -----

func.func @cumsum_results(%x: memref<?xf32>) {
  // expected-error @+1 {{expected one result on tensors and none on memrefs}}
  %r = attn.cumsum dim(0) ins(%x : memref<?xf32>) outs(%x : memref<?xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @second_without_combine(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected a combine region with a second map}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      second(%q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>) -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @combine_without_second(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{has a combine region but no second map}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        attn.yield %a : f32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @second_type(%q: tensor<1x4x8x64xf32>, %q2: tensor<1x4x9x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected the second query and key to have the types of the first}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      second(%q2, %q : tensor<1x4x9x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        attn.yield %a : f32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @second_lse(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{has no log-sum-exp output with a second map}}
  %r:2 = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      second(%q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o, %l : tensor<1x4x8x64xf32>, tensor<1x4x8xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        attn.yield %a : f32
      } -> tensor<1x4x8x64xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @second_sink(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{takes no sink region with a second map}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      second(%q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 0.0 : f32
        attn.yield %c : f32
      }
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        attn.yield %a : f32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @combine_signature(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected the combine region to take (f32, f32, index, index, index, index)}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      second(%q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>)
      combine {
      ^bb0(%a: f32, %c: f32):
        attn.yield %a : f32
      } -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @rms_eps(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected a finite, non-negative rms_norm epsilon, got -1}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>)
      outs(%o : tensor<1x4x8x64xf32>) rms_norm(-1.0) -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @cumsum_result_type(%x: tensor<?xf32>) {
  // expected-error @+1 {{expected the result type to be the output type}}
  %r = attn.cumsum dim(0) ins(%x : tensor<?xf32>) outs(%x : tensor<?xf32>) -> tensor<4xf32>
  return
}

// -----

// Only the generic form can give a second query without a second key.
func.func @second_query_only(%q: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected both a second query and a second key}}
  %r = "attn.attention"(%q, %q, %q, %q, %o) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1>}> ({}, {}, {}, {}, {
  ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
    attn.yield %a : f32
  }) : (tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>) -> tensor<1x4x8x64xf32>
  return
}
