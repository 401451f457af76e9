// RUN: attn-opt %s -split-input-file -attn-tile-attention -verify-diagnostics
// RUN: not attn-opt %s -attn-tile-attention="q-tile=0" 2>&1 | FileCheck %s --check-prefix=SIZES

// SIZES: attn-tile-attention: tile sizes must be positive, got q-tile=0 kv-tile=64

func.func @tensors(%q: tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32> {
  // expected-error @+1 {{expected memref operands; run one-shot-bufferize before attn-tile-attention}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>)
      outs(%q : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return %r : tensor<1x4x16x64xf32>
}

// -----

// A row entropy reaches the tiler only where its fused form applies (one
// softmax map, written per query tile by attn.tile_finalize).
func.func @entropy_rms_norm(%q: memref<1x2x8x16xf32>, %o: memref<1x2x8x16xf32>, %e: memref<1x2x8xf32>) {
  // expected-error @+1 {{with row_entropy and a second map, rms_norm or a sigmoid normalizer must be expanded first}}
  attn.attention ins(%q, %q, %q : memref<1x2x8x16xf32>, memref<1x2x8x16xf32>, memref<1x2x8x16xf32>) outs(%o, %e : memref<1x2x8x16xf32>, memref<1x2x8xf32>) row_entropy rms_norm(1.0e-5)
  return
}
