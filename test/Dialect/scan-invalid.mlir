// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of attn.scan.

func.func @rank(%q: tensor<4x16x64xf32>, %k: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the query to be [B, H, L, D] of f32, f16 or bf16, got 'tensor<4x16x64xf32>'}}
  %r = attn.scan decay(none) ins(%q, %k, %k : tensor<4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @qk(%q: tensor<1x4x16x64xf32>, %k: tensor<1x4x16x32xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the query and key shapes to match, got 'tensor<1x4x16x64xf32>' and 'tensor<1x4x16x32xf32>'}}
  %r = attn.scan decay(none) ins(%q, %k, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @v(%q: tensor<1x4x16x64xf32>, %v: tensor<1x4x8x64xf32>, %o: tensor<1x4x8x64xf32>) {
  // expected-error @+1 {{expected the value to share batch, heads and length with the query, got 'tensor<1x4x8x64xf32>'}}
  %r = attn.scan decay(none) ins(%q, %q, %v : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x8x64xf32>) outs(%o : tensor<1x4x8x64xf32>) -> tensor<1x4x8x64xf32>
  return
}

// -----

func.func @out(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{expected the output shape to be the value's, got 'tensor<1x4x16x32xf32>'}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x32xf32>) -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @state(%q: tensor<1x4x16x64xf32>, %s: tensor<1x4x64x32xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the state to be [B, H, Dk, Dv] = [1, 4, 64, 64], got 'tensor<1x4x64x32xf32>'}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) state(%s : tensor<1x4x64x32xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @final(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>, %s: tensor<1x4x64x64xbf16>) {
  // expected-error @+1 {{expected the final state to be [B, H, Dk, Dv] of f32, got 'tensor<1x4x64x64xbf16>'}}
  %r:2 = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o, %s : tensor<1x4x16x64xf32>, tensor<1x4x64x64xbf16>) -> tensor<1x4x16x64xf32>, tensor<1x4x64x64xbf16>
  return
}

// -----

func.func @none(%q: tensor<1x4x16x64xf32>, %l: tensor<4xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{with decay(none) takes no decays}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) decays(%l : tensor<4xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @head(%q: tensor<1x4x16x64xf32>, %l: tensor<8xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{with decay(head) expects decays [H], one per head}}
  %r = attn.scan decay(head) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) decays(%l : tensor<8xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @channel(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{with decay(channel) expects log-decays shaped like the keys}}
  %r = attn.scan decay(channel) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @outputs(%q: tensor<1x4x16x64xf32>, %s: tensor<1x4x64x64xf32>) {
  // expected-error @+1 {{expected the output and optionally the final state as outputs}}
  %r:3 = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%q, %s, %s : tensor<1x4x16x64xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>) -> tensor<1x4x16x64xf32>, tensor<1x4x64x64xf32>, tensor<1x4x64x64xf32>
  return
}

// -----

func.func @phi_args(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the feature_map region to take (element: float, head-dim index: index)}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) feature_map {
  ^bb0(%x: f32):
    attn.yield %x : f32
  } -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @phi_yield(%q: tensor<1x4x16x64xf32>, %o: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{expected the feature_map region to yield one float}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<1x4x16x64xf32>) feature_map {
  ^bb0(%x: f32, %d: index):
    attn.yield %d : index
  } -> tensor<1x4x16x64xf32>
  return
}

// -----

func.func @output_rank(%q: tensor<1x4x16x64xf32>, %o: tensor<4x16x64xf32>) {
  // expected-error @+1 {{expected the output to be [B, H, L, Dv], got 'tensor<4x16x64xf32>'}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>) outs(%o : tensor<4x16x64xf32>) -> tensor<4x16x64xf32>
  return
}
