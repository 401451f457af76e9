// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of quantized caches: attention's key_scale /
// value_scale, attn.quantize_kv, and append_kv into 8-bit pools.

func.func @f(%q: tensor<1x2x3x64xf32>, %k: tensor<1x2x5x64xi8>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected key element type to be f32, f16 or bf16, got 'i8' (8-bit keys take a key_scale)}}
  %r = attn.attention ins(%q, %k, %q : tensor<1x2x3x64xf32>, tensor<1x2x5x64xi8>, tensor<1x2x3x64xf32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x64xf32>, %k: tensor<1x2x5x64xf32>, %v: tensor<1x2x5x64xf8E4M3FN>, %ks: tensor<1x1x1x1xf32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected value element type to be f32, f16 or bf16, got 'f8E4M3FN' (8-bit values take a value_scale)}}
  %r = attn.attention ins(%q, %k, %v : tensor<1x2x3x64xf32>, tensor<1x2x5x64xf32>, tensor<1x2x5x64xf8E4M3FN>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x64xf32>, %k: tensor<1x2x5x64xf16>, %ks: tensor<1x1x1x1xf32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected an 8-bit operand (i8, f8E4M3FN or f8E5M2) with a key scale, got 'f16'}}
  %r = attn.attention ins(%q, %k, %k : tensor<1x2x3x64xf32>, tensor<1x2x5x64xf16>, tensor<1x2x5x64xf16>) key_scale(%ks : tensor<1x1x1x1xf32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x64xf32>, %k: tensor<1x2x5x64xi8>, %ks: tensor<1x1x1xf32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected the key scale to be an f32, f16 or bf16 buffer of rank 4, got 'tensor<1x1x1xf32>'}}
  %r = attn.attention ins(%q, %k, %q : tensor<1x2x3x64xf32>, tensor<1x2x5x64xi8>, tensor<1x2x3x64xf32>) key_scale(%ks : tensor<1x1x1xf32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x64xf32>, %k: tensor<1x2x5x64xi8>, %ks: tensor<1x1x1x1xi32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected the key scale to be an f32, f16 or bf16 buffer of rank 4, got 'tensor<1x1x1x1xi32>'}}
  %r = attn.attention ins(%q, %k, %q : tensor<1x2x3x64xf32>, tensor<1x2x5x64xi8>, tensor<1x2x3x64xf32>) key_scale(%ks : tensor<1x1x1x1xi32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x64xf32>, %v: tensor<1x2x5x64xi8>, %vs: tensor<1x2x5x3xf32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected dim 3 of the value scale (3) to be 1, the operand's size (64) or a static divisor of it}}
  %r = attn.attention ins(%q, %q, %v : tensor<1x2x3x64xf32>, tensor<1x2x3x64xf32>, tensor<1x2x5x64xi8>) value_scale(%vs : tensor<1x2x5x3xf32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

// A per-token scale needs the dim it follows to be dynamic like it (equal
// at run time) or static and equal.
func.func @f(%q: tensor<1x2x3x64xf32>, %v: tensor<1x2x5x64xi8>, %vs: tensor<1x2x?x1xf32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{expected dim 2 of the value scale (?) to be 1, the operand's size (5) or a static divisor of it}}
  %r = attn.attention ins(%q, %q, %v : tensor<1x2x3x64xf32>, tensor<1x2x3x64xf32>, tensor<1x2x5x64xi8>) value_scale(%vs : tensor<1x2x?x1xf32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%q: tensor<1x2x3x64xf32>, %k: tensor<1x2x5x64xi8>, %ks: tensor<1x1x1x1xf32>, %sel: tensor<1x2x3x1xi32>, %o: tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32> {
  // expected-error @+1 {{reads no quantized keys or values with a second map, a block selection, rms_norm, column scores or a row entropy}}
  %r = attn.attention ins(%q, %k, %q : tensor<1x2x3x64xf32>, tensor<1x2x5x64xi8>, tensor<1x2x3x64xf32>) blocks(%sel : tensor<1x2x3x1xi32>) block_size(4) key_scale(%ks : tensor<1x1x1x1xf32>) outs(%o : tensor<1x2x3x64xf32>) -> tensor<1x2x3x64xf32>
  return %r : tensor<1x2x3x64xf32>
}

// -----

func.func @f(%x: tensor<4x2x64xi32>, %q0: tensor<4x2x64xi8>, %s0: tensor<4x2x1xf32>) -> (tensor<4x2x64xi8>, tensor<4x2x1xf32>) {
  // expected-error @+1 {{expected an f32, f16 or bf16 input, got 'i32'}}
  %q, %s = attn.quantize_kv ins(%x : tensor<4x2x64xi32>) outs(%q0, %s0 : tensor<4x2x64xi8>, tensor<4x2x1xf32>) -> tensor<4x2x64xi8>, tensor<4x2x1xf32>
  return %q, %s : tensor<4x2x64xi8>, tensor<4x2x1xf32>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %q0: tensor<4x2x64xi8>) -> tensor<4x2x64xi8> {
  // expected-error @+1 {{expected 2 outputs (the codes and the scales), got 1}}
  %q = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) outs(%q0 : tensor<4x2x64xi8>) -> tensor<4x2x64xi8>
  return %q : tensor<4x2x64xi8>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %s: tensor<1x1x1xf32>, %q0: tensor<4x2x64xi8>, %s0: tensor<4x2x1xf32>) -> (tensor<4x2x64xi8>, tensor<4x2x1xf32>) {
  // expected-error @+1 {{expected 1 output (the codes; the scales are given), got 2}}
  %q, %t = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) scale(%s : tensor<1x1x1xf32>) outs(%q0, %s0 : tensor<4x2x64xi8>, tensor<4x2x1xf32>) -> tensor<4x2x64xi8>, tensor<4x2x1xf32>
  return %q, %t : tensor<4x2x64xi8>, tensor<4x2x1xf32>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %s: tensor<1x1x1xf32>, %q0: tensor<4x2x64xi8>) -> tensor<?x2x64xi8> {
  // expected-error @+1 {{expected the result types to match the output types}}
  %q = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) scale(%s : tensor<1x1x1xf32>) outs(%q0 : tensor<4x2x64xi8>) -> tensor<?x2x64xi8>
  return %q : tensor<?x2x64xi8>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %s: tensor<1x1xf32>, %q0: tensor<8x64xi8>) -> tensor<8x64xi8> {
  // expected-error @+1 {{expected the codes to have the input's rank (3), got 'tensor<8x64xi8>'}}
  %q = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) scale(%s : tensor<1x1xf32>) outs(%q0 : tensor<8x64xi8>) -> tensor<8x64xi8>
  return %q : tensor<8x64xi8>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %s: tensor<1x1x1xf32>, %q0: tensor<4x3x64xi8>) -> tensor<4x3x64xi8> {
  // expected-error @+1 {{expected codes dim 1 (3) to match input dim 1 (2)}}
  %q = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) scale(%s : tensor<1x1x1xf32>) outs(%q0 : tensor<4x3x64xi8>) -> tensor<4x3x64xi8>
  return %q : tensor<4x3x64xi8>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %s: tensor<1x1x1xf32>, %q0: tensor<4x2x64xf16>) -> tensor<4x2x64xf16> {
  // expected-error @+1 {{expected an 8-bit operand (i8, f8E4M3FN or f8E5M2) with a scale, got 'f16'}}
  %q = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) scale(%s : tensor<1x1x1xf32>) outs(%q0 : tensor<4x2x64xf16>) -> tensor<4x2x64xf16>
  return %q : tensor<4x2x64xf16>
}

// -----

func.func @f(%x: tensor<4x2x64xf32>, %q0: tensor<4x2x64xi8>, %s0: tensor<4x2x24xf32>) -> (tensor<4x2x64xi8>, tensor<4x2x24xf32>) {
  // expected-error @+1 {{expected dim 2 of the scale (24) to be 1, the operand's size (64) or a static divisor of it}}
  %q, %s = attn.quantize_kv ins(%x : tensor<4x2x64xf32>) outs(%q0, %s0 : tensor<4x2x64xi8>, tensor<4x2x24xf32>) -> tensor<4x2x64xi8>, tensor<4x2x24xf32>
  return %q, %s : tensor<4x2x64xi8>, tensor<4x2x24xf32>
}

// -----

func.func @f(%k: tensor<?x2x64xf32>, %s: tensor<?xi32>, %kp: tensor<?x16x2x64xi8>, %vp: tensor<?x16x2x64xf16>) -> (tensor<?x16x2x64xi8>, tensor<?x16x2x64xf16>) {
  // expected-error @+1 {{expected the new keys ('f32') to have the key pool's 8-bit type ('i8'): quantize them with attn.quantize_kv}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<?x2x64xf32>, tensor<?x2x64xf32>) slots(%s : tensor<?xi32>) outs(%kp, %vp : tensor<?x16x2x64xi8>, tensor<?x16x2x64xf16>) -> tensor<?x16x2x64xi8>, tensor<?x16x2x64xf16>
  return %a, %b : tensor<?x16x2x64xi8>, tensor<?x16x2x64xf16>
}

// -----

func.func @f(%v: tensor<?x2x64xf8E5M2>, %k: tensor<?x2x64xf32>, %s: tensor<?xi32>, %kp: tensor<?x16x2x64xf32>, %vp: tensor<?x16x2x64xf16>) -> (tensor<?x16x2x64xf32>, tensor<?x16x2x64xf16>) {
  // expected-error @+1 {{expected the new values ('f8E5M2') to have the value pool's 8-bit type ('f16'): quantize them with attn.quantize_kv}}
  %a, %b = attn.append_kv ins(%k, %v : tensor<?x2x64xf32>, tensor<?x2x64xf8E5M2>) slots(%s : tensor<?xi32>) outs(%kp, %vp : tensor<?x16x2x64xf32>, tensor<?x16x2x64xf16>) -> tensor<?x16x2x64xf32>, tensor<?x16x2x64xf16>
  return %a, %b : tensor<?x16x2x64xf32>, tensor<?x16x2x64xf16>
}
