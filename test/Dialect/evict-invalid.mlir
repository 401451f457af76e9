// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of attn.evict.

func.func @negative(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected a non-negative budget, sink and recent, got 8, -1, 0}}
  attn.evict budget(8) sink(-1) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @empty(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x0xi32>, %o1: memref<2x0x16xf32>, %o2: memref<2x0x16xf32>) {
  // expected-error @+1 {{expected to keep at least one position (sink + budget + recent > 0)}}
  attn.evict budget(0) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x0xi32>, memref<2x0x16xf32>, memref<2x0x16xf32>)
  return
}

// -----

func.func @both(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{takes no scores operand with key_norm (it ranks by the keys' L2 norms)}}
  attn.evict budget(8) key_norm scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @neither(%k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected a scores operand or key_norm}}
  attn.evict budget(8) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @keys(%k: memref<?xf32>, %v: memref<?xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the keys to be [..., positions, dim] of f32, f16 or bf16, got 'memref<?xf32>'}}
  attn.evict budget(8) key_norm ins(%k, %v : memref<?xf32>, memref<?xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @keys_type(%k: memref<2x?x16xi8>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the keys to be [..., positions, dim] of f32, f16 or bf16, got 'memref<2x?x16xi8>'}}
  attn.evict budget(8) key_norm ins(%k, %v : memref<2x?x16xi8>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @values(%k: memref<2x?x16xf32>, %v: memref<?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the values to be f32, f16 or bf16 of the keys' rank 3, got 'memref<?x16xf32>'}}
  attn.evict budget(8) key_norm ins(%k, %v : memref<2x?x16xf32>, memref<?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @values_dim(%k: memref<2x?x16xf32>, %v: memref<3x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected values dim 0 (3) to match keys dim 0 (2)}}
  attn.evict budget(8) key_norm ins(%k, %v : memref<2x?x16xf32>, memref<3x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @scores(%s: memref<2x?x1xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the scores to be [..., positions] of f32, f16 or bf16 with rank 2, got 'memref<2x?x1xf32>'}}
  attn.evict budget(8) scores(%s : memref<2x?x1xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @scores_dim(%s: memref<2x5xf32>, %k: memref<2x6x16xf32>, %v: memref<2x6x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected scores dim 1 (5) to match keys dim 1 (6)}}
  attn.evict budget(8) scores(%s : memref<2x5xf32>) ins(%k, %v : memref<2x6x16xf32>, memref<2x6x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @outputs(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected 3 outputs (indices, keys, values), got 2}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1 : memref<2x8xi32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @indices(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi64>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the indices output to be i32 of rank 2, got 'memref<2x8xi64>'}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi64>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @keys_out(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xbf16>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the keys output to have the keys' rank and element type, got 'memref<2x8x16xbf16>' for keys 'memref<2x?x16xf32>'}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xbf16>, memref<2x8x16xf32>)
  return
}

// -----

func.func @values_out(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<16x8xf32>) {
  // expected-error @+1 {{expected the values output to have the values' rank and element type, got 'memref<16x8xf32>' for values 'memref<2x?x16xf32>'}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<16x8xf32>)
  return
}

// -----

func.func @lead(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<4x8x16xf32>) {
  // expected-error @+1 {{expected values output dim 0 (4) to match keys dim 0 (2)}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<4x8x16xf32>)
  return
}

// -----

func.func @count(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the indices output to hold 12 positions (static: sink 4 + budget 8 + recent 0), got 8}}
  attn.evict budget(8) sink(4) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @dynamic(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x?x16xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected the keys output to hold 8 positions (static: sink 0 + budget 8 + recent 0), got ?}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x?x16xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @dim(%s: memref<2x?xf32>, %k: memref<2x?x16xf32>, %v: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x32xf32>, %o2: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected keys output dim (32) to match keys dim (16)}}
  attn.evict budget(8) scores(%s : memref<2x?xf32>) ins(%k, %v : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o2 : memref<2x8xi32>, memref<2x8x32xf32>, memref<2x8x16xf32>)
  return
}

// -----

func.func @huge(%k: memref<2x?x16xf32>, %o0: memref<2x8xi32>, %o1: memref<2x8x16xf32>) {
  // expected-error @+1 {{expected sink + budget + recent to fit the i32 indices, got 0 + 4294967296 + 0}}
  attn.evict budget(4294967296) key_norm ins(%k, %k : memref<2x?x16xf32>, memref<2x?x16xf32>) outs(%o0, %o1, %o1 : memref<2x8xi32>, memref<2x8x16xf32>, memref<2x8x16xf32>)
  return
}
