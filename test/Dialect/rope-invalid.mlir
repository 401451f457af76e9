// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of #attn.rope, attention's rope and attn.rope.

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope theta must be a finite number above 1, got 1.000000e+00}}
  %r = attn.attention rope <theta = 1.0> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope dims must be even and not negative (0: all channels), got 5}}
  %r = attn.attention rope <dims = 5> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope factor must be a finite positive number, got 0.000000e+00}}
  %r = attn.attention rope <factor = 0.0> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope scaling yarn needs original_context (the trained context length)}}
  %r = attn.attention rope <scaling = yarn, factor = 4.0> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope yarn needs beta_fast > beta_slow > 0}}
  %r = attn.attention rope <scaling = yarn, factor = 4.0, original_context = 64, beta_fast = 1.0> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope llama3 needs high_freq_factor > low_freq_factor > 0}}
  %r = attn.attention rope <scaling = llama3, factor = 8.0, original_context = 64, low_freq_factor = 4.0> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{rope attention_factor must not be negative}}
  %r = attn.attention rope <attention_factor = -1.0> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{expected rope to rotate an even number of channels, at most the head dim (16), got 32}}
  %r = attn.attention rope <dims = 32> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x16xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{takes no rope with a second map}}
  %r = attn.attention rope <> ins(%q, %q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) second(%q, %q : tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) outs(%o : tensor<1x2x3x16xf32>) combine {
  ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
    %s = arith.subf %a, %c : f32
    attn.yield %s : f32
  } -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%x: tensor<2x3x16xf32>, %p: tensor<1x3xi32>, %o: tensor<2x3x16xf32>) -> tensor<2x3x16xf32> {
  // expected-error @+1 {{expected a [batch, heads, len, head_dim] input, got 'tensor<2x3x16xf32>'}}
  %r = attn.rope <> ins(%x : tensor<2x3x16xf32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<2x3x16xf32>) -> tensor<2x3x16xf32>
  return %r : tensor<2x3x16xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x16xi32>, %p: tensor<1x3xi32>, %o: tensor<1x2x3x16xi32>) -> tensor<1x2x3x16xi32> {
  // expected-error @+1 {{expected f32, f16 or bf16 input and output}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xi32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<1x2x3x16xi32>) -> tensor<1x2x3x16xi32>
  return %r : tensor<1x2x3x16xi32>
}

// -----

func.func @f(%x: tensor<1x2x3x16xf32>, %p: tensor<1x3xi32>, %o: tensor<1x2x4x16xf32>) -> tensor<1x2x4x16xf32> {
  // expected-error @+1 {{expected output dim 2 (4) to match input dim 2 (3)}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xf32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<1x2x4x16xf32>) -> tensor<1x2x4x16xf32>
  return %r : tensor<1x2x4x16xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x16xf32>, %p: tensor<1x3xi32>, %o: tensor<1x2x3xf32>) -> tensor<1x2x3xf32> {
  // expected-error @+1 {{expected the output to have the input's rank, got 'tensor<1x2x3xf32>'}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xf32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  return %r : tensor<1x2x3xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x16xf32>, %p: tensor<1x3xi32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xbf16> {
  // expected-error @+1 {{expected the result type to be the output type}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xf32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xbf16>
  return %r : tensor<1x2x3x16xbf16>
}

// -----

func.func @f(%x: tensor<1x2x3x16xf32>, %p: tensor<1x3xf32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{expected i32 or i64 [batch, len] positions, got 'tensor<1x3xf32>'}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xf32>) positions(%p : tensor<1x3xf32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x16xf32>, %p: tensor<2x3xi32>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{expected positions batch (2) to match input batch (1)}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xf32>) positions(%p : tensor<2x3xi32>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x16xf32>, %p: tensor<1x4xi64>, %o: tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32> {
  // expected-error @+1 {{expected positions length (4) to match input length (3)}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x16xf32>) positions(%p : tensor<1x4xi64>) outs(%o : tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %r : tensor<1x2x3x16xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x?xf32>, %p: tensor<1x3xi32>, %o: tensor<1x2x3x?xf32>) -> tensor<1x2x3x?xf32> {
  // expected-error @+1 {{expected a static head dim with rope}}
  %r = attn.rope <> ins(%x : tensor<1x2x3x?xf32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<1x2x3x?xf32>) -> tensor<1x2x3x?xf32>
  return %r : tensor<1x2x3x?xf32>
}

// -----

func.func @f(%x: tensor<1x2x3x6xf32>, %p: tensor<1x3xi32>, %o: tensor<1x2x3x6xf32>) -> tensor<1x2x3x6xf32> {
  // expected-error @+1 {{expected rope to rotate an even number of channels, at most the head dim (6), got 8}}
  %r = attn.rope <dims = 8> ins(%x : tensor<1x2x3x6xf32>) positions(%p : tensor<1x3xi32>) outs(%o : tensor<1x2x3x6xf32>) -> tensor<1x2x3x6xf32>
  return %r : tensor<1x2x3x6xf32>
}
