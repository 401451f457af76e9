// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of attn.merge.

func.func @no_partials(%o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected at least one partial output}}
  %r = "attn.merge"(%o) <{operandSegmentSizes = array<i32: 0, 0, 1>}> : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @lse_count(%o1: tensor<4x8xf32>, %l1: tensor<4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected one LSE per partial output, got 1 for 2}}
  %r = attn.merge ins(%o1, %o1 : tensor<4x8xf32>, tensor<4x8xf32>) lse(%l1 : tensor<4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @three_outputs(%o1: tensor<4x8xf32>, %l1: tensor<4xf32>, %o: tensor<4x8xf32>, %l: tensor<4xf32>) {
  // expected-error @+1 {{expected the merged output and optionally the merged LSE as outputs, got 3}}
  %r:3 = attn.merge ins(%o1 : tensor<4x8xf32>) lse(%l1 : tensor<4xf32>) outs(%o, %l, %l : tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @rank1(%o1: tensor<8xf32>, %l1: tensor<f32>, %o: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{expected the output to be [..., length, dim] of f32, f16 or bf16, got 'tensor<8xf32>'}}
  %r = attn.merge ins(%o1 : tensor<8xf32>) lse(%l1 : tensor<f32>) outs(%o : tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

func.func @int_partial(%o1: tensor<4x8xi32>, %l1: tensor<4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected partial 0 to be f32, f16 or bf16, got 'tensor<4x8xi32>'}}
  %r = attn.merge ins(%o1 : tensor<4x8xi32>) lse(%l1 : tensor<4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @partial_rank(%o1: tensor<2x4x8xf32>, %l1: tensor<4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected partial 0 to have rank 2, got 'tensor<2x4x8xf32>'}}
  %r = attn.merge ins(%o1 : tensor<2x4x8xf32>) lse(%l1 : tensor<4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @partial_dim(%o1: tensor<5x8xf32>, %l1: tensor<4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected partial 0 dim 0 (5) to match output dim 0 (4)}}
  %r = attn.merge ins(%o1 : tensor<5x8xf32>) lse(%l1 : tensor<4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @lse_type(%o1: tensor<4x8xf32>, %l1: tensor<4xf16>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected LSE 0 to be f32, got 'tensor<4xf16>'}}
  %r = attn.merge ins(%o1 : tensor<4x8xf32>) lse(%l1 : tensor<4xf16>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @lse_out_shape(%o1: tensor<4x8xf32>, %l1: tensor<4xf32>, %o: tensor<4x8xf32>, %l: tensor<3xf32>) {
  // expected-error @+1 {{expected the LSE output dim 0 (3) to match output dim 0 (4)}}
  %r:2 = attn.merge ins(%o1 : tensor<4x8xf32>) lse(%l1 : tensor<4xf32>) outs(%o, %l : tensor<4x8xf32>, tensor<3xf32>) -> tensor<4x8xf32>, tensor<3xf32>
  return
}

// -----

func.func @lse_rank(%o1: tensor<4x8xf32>, %l1: tensor<4x8xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected LSE 0 to have rank 1, got 'tensor<4x8xf32>'}}
  %r = attn.merge ins(%o1 : tensor<4x8xf32>) lse(%l1 : tensor<4x8xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_two(%p: tensor<3x4x8xf32>, %l: tensor<3x4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected one stacked partial operand, got 2}}
  %r = attn.merge stacked ins(%p, %p : tensor<3x4x8xf32>, tensor<3x4x8xf32>) lse(%l, %l : tensor<3x4xf32>, tensor<3x4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_rank(%p: tensor<4x8xf32>, %l: tensor<3x4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected partial 0 to have rank 3, got 'tensor<4x8xf32>'}}
  %r = attn.merge stacked ins(%p : tensor<4x8xf32>) lse(%l : tensor<3x4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_rows(%p: tensor<3x5x8xf32>, %l: tensor<3x4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected partial 0 dim 1 (5) to match output dim 0 (4)}}
  %r = attn.merge stacked ins(%p : tensor<3x5x8xf32>) lse(%l : tensor<3x4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_lse_rank(%p: tensor<3x4x8xf32>, %l: tensor<4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected LSE 0 to have rank 2, got 'tensor<4xf32>'}}
  %r = attn.merge stacked ins(%p : tensor<3x4x8xf32>) lse(%l : tensor<4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_count(%p: tensor<3x4x8xf32>, %l: tensor<2x4xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected LSE 0 dim 0 (2) to match partial 0 dim 0 (3)}}
  %r = attn.merge stacked ins(%p : tensor<3x4x8xf32>) lse(%l : tensor<2x4xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_last(%p: tensor<4x8x3xf32>, %l: tensor<4x8xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected the stacked dim to be in [0, 1] (before the output's last dim), got 2}}
  %r = attn.merge stacked(2) ins(%p : tensor<4x8x3xf32>) lse(%l : tensor<4x8xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_mid_count(%p: tensor<4x3x8xf32>, %l: tensor<4x2xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected LSE 0 dim 1 (2) to match partial 0 dim 1 (3)}}
  %r = attn.merge stacked(1) ins(%p : tensor<4x3x8xf32>) lse(%l : tensor<4x2xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

func.func @stacked_mid_rows(%p: tensor<4x3x8xf32>, %l: tensor<5x3xf32>, %o: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected LSE 0 dim 0 (5) to match output dim 0 (4)}}
  %r = attn.merge stacked(1) ins(%p : tensor<4x3x8xf32>) lse(%l : tensor<5x3xf32>) outs(%o : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
