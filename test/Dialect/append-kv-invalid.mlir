// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of attn.append_kv.

func.func @one_output(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32> {
  // expected-error @+1 {{expected two outputs (the key and value pools), got 1}}
  %a = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p : tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>
  return %a : tensor<3x4x2x8xf32>
}

// -----

func.func @keys_rank(%k: tensor<4x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected the new keys to be a rank-3 f32, f16, bf16 or 8-bit (i8, f8E4M3FN, f8E5M2) buffer, got 'tensor<4x8xf32>'}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x8xf32>, tensor<4x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @slots_type(%k: tensor<4x2x8xf32>, %s: tensor<4xi64>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected the slots to be a rank-1 i32 buffer, got 'tensor<4xi64>'}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi64>) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @pool_rank(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: tensor<12x2x8xf32>) {
  // expected-error @+1 {{expected the key pool to be a rank-4 f32, f16, bf16 or 8-bit (i8, f8E4M3FN, f8E5M2) buffer, got 'tensor<12x2x8xf32>'}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<12x2x8xf32>, tensor<12x2x8xf32>) -> tensor<12x2x8xf32>, tensor<12x2x8xf32>
  return
}

// -----

func.func @mixed(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: memref<3x4x2x8xf32>) {
  // expected-error @+1 {{expected operands to be all tensors or all memrefs}}
  attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : memref<3x4x2x8xf32>, memref<3x4x2x8xf32>)
  return
}

// -----

func.func @results(%k: memref<4x2x8xf32>, %s: memref<4xi32>, %p: memref<3x4x2x8xf32>) {
  // expected-error @+1 {{expected one result per pool on tensors and none on memrefs}}
  %a = attn.append_kv ins(%k, %k : memref<4x2x8xf32>, memref<4x2x8xf32>) slots(%s : memref<4xi32>) outs(%p, %p : memref<3x4x2x8xf32>, memref<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>
  return
}

// -----

func.func @page_size(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: tensor<3x?x2x8xf32>) {
  // expected-error @+1 {{expected a static, positive page size (dim 1 of the key pool)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<3x?x2x8xf32>, tensor<3x?x2x8xf32>) -> tensor<3x?x2x8xf32>, tensor<3x?x2x8xf32>
  return
}

// -----

func.func @tokens(%k: tensor<5x2x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected new keys (5) to match slots (4)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<5x2x8xf32>, tensor<5x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @heads(%k: tensor<4x3x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected new key heads (3) to match key pool heads (2)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x3x8xf32>, tensor<4x3x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @hnd_heads(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected new key heads (2) to match key pool heads (4)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) page_layout(hnd) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @dim(%k: tensor<4x2x8xf32>, %v: tensor<4x2x4xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected new value dim (4) to match value pool dim (8)}}
  %a, %b = attn.append_kv ins(%k, %v : tensor<4x2x8xf32>, tensor<4x2x4xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @pools(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>, %q: tensor<5x4x2x8xf32>) {
  // expected-error @+1 {{expected key pages (3) to match value pages (5)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %q : tensor<3x4x2x8xf32>, tensor<5x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<5x4x2x8xf32>
  return
}

// -----

func.func @dynamic_heads(%k: tensor<4x?x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>) {
  // expected-error @+1 {{expected dim 1 of the new keys to be static (heads, page size and head dim are)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x?x8xf32>, tensor<4x?x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %p : tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x2x8xf32>
  return
}

// -----

func.func @dynamic_pool_heads(%k: tensor<4x2x8xf32>, %s: tensor<4xi32>, %p: tensor<3x4x2x8xf32>, %q: tensor<3x4x?x8xf32>) {
  // expected-error @+1 {{expected dim 2 of the value pool to be static (heads, page size and head dim are)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<4x2x8xf32>, tensor<4x2x8xf32>) slots(%s : tensor<4xi32>) outs(%p, %q : tensor<3x4x2x8xf32>, tensor<3x4x?x8xf32>) -> tensor<3x4x2x8xf32>, tensor<3x4x?x8xf32>
  return
}
