// RUN: attn-opt %s --split-input-file --verify-diagnostics
// Verifier errors of the fused column-scores tile ops.

func.func @weights_rows(%k: memref<8x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %w: memref<4x16xf32>, %i: index) {
  // expected-error @+1 {{expected weights rows (4) to match key rows (8)}}
  attn.tile_attend ins(%k, %k, %k : memref<8x64xf32>, memref<8x64xf32>, memref<8x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) weights(%w : memref<4x16xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @weights_cols(%k: memref<8x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %w: memref<8x32xf32>, %i: index) {
  // expected-error @+1 {{expected weights columns (32) to match query tile rows (16)}}
  attn.tile_attend ins(%k, %k, %k : memref<8x64xf32>, memref<8x64xf32>, memref<8x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) weights(%w : memref<8x32xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @weights_sigmoid(%k: memref<8x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %w: memref<8x16xf32>, %i: index) {
  // expected-error @+1 {{stores weights with the softmax normalizer only}}
  attn.tile_attend ins(%k, %k, %k : memref<8x64xf32>, memref<8x64xf32>, memref<8x64xf32>) state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) weights(%w : memref<8x16xf32>) at [%i, %i, %i, %i] scale(1.0) normalizer(sigmoid)
  return
}

// -----

func.func @sums(%w: memref<?x16xf32>, %m: memref<16xf32>, %l: memref<8xf32>, %p: memref<?xf32>, %i: index) {
  // expected-error @+1 {{expected row sums (8) to match row maxima (16)}}
  attn.tile_column_scores ins(%w, %m : memref<?x16xf32>, memref<16xf32>) state(%m, %l : memref<16xf32>, memref<8xf32>) outs(%p : memref<?xf32>) rows(%i) length(%i) at [%i, %i, %i]
  return
}

// -----

func.func @step_maxes(%w: memref<?x16xf32>, %m: memref<16xf32>, %sm: memref<8xf32>, %p: memref<?xf32>, %i: index) {
  // expected-error @+1 {{expected step maxima (8) to match row maxima (16)}}
  attn.tile_column_scores ins(%w, %sm : memref<?x16xf32>, memref<8xf32>) state(%m, %m : memref<16xf32>, memref<16xf32>) outs(%p : memref<?xf32>) rows(%i) length(%i) at [%i, %i, %i]
  return
}

// -----

func.func @cols(%w: memref<?x8xf32>, %m: memref<16xf32>, %p: memref<?xf32>, %i: index) {
  // expected-error @+1 {{expected weights columns (8) to match row maxima (16)}}
  attn.tile_column_scores ins(%w, %m : memref<?x8xf32>, memref<16xf32>) state(%m, %m : memref<16xf32>, memref<16xf32>) outs(%p : memref<?xf32>) rows(%i) length(%i) at [%i, %i, %i]
  return
}

// -----

func.func @partial(%w: memref<4x16xf32>, %m: memref<16xf32>, %p: memref<5xf32>, %i: index) {
  // expected-error @+1 {{expected partial sums (5) to match weights rows (4)}}
  attn.tile_column_scores ins(%w, %m : memref<4x16xf32>, memref<16xf32>) state(%m, %m : memref<16xf32>, memref<16xf32>) outs(%p : memref<5xf32>) rows(%i) length(%i) at [%i, %i, %i]
  return
}

// -----

func.func @decay(%w: memref<?x16xf32>, %m: memref<16xf32>, %p: memref<?xf32>, %i: index) {
  // expected-error @+1 {{expected a score_decay in (0, 1], got 2}}
  attn.tile_column_scores ins(%w, %m : memref<?x16xf32>, memref<16xf32>) state(%m, %m : memref<16xf32>, memref<16xf32>) outs(%p : memref<?xf32>) rows(%i) length(%i) at [%i, %i, %i] score_decay(2.0)
  return
}

// -----

func.func @sink(%w: memref<?x16xf32>, %m: memref<16xf32>, %p: memref<?xf32>, %i: index) {
  // expected-error @+1 {{expected the sink region to take (index, index, index)}}
  attn.tile_column_scores ins(%w, %m : memref<?x16xf32>, memref<16xf32>) state(%m, %m : memref<16xf32>, memref<16xf32>) outs(%p : memref<?xf32>) rows(%i) length(%i) at [%i, %i, %i]
      sink {
      ^bb0(%b: index, %h: index):
        %c = arith.constant 1.0 : f32
        attn.yield %c : f32
      }
  return
}
