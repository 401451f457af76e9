// RUN: attn-opt %s -split-input-file -attn-tile-attention -verify-diagnostics
// RUN: not attn-opt %s -attn-tile-attention="q-tile=0" 2>&1 | FileCheck %s --check-prefix=SIZES

// SIZES: attn-tile-attention: tile sizes must be positive, got q-tile=0 kv-tile=64

func.func @tensors(%q: tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32> {
  // expected-error @+1 {{expected memref operands; run one-shot-bufferize before attn-tile-attention}}
  %r = attn.attention ins(%q, %q, %q : tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>, tensor<1x4x16x64xf32>)
      outs(%q : tensor<1x4x16x64xf32>) -> tensor<1x4x16x64xf32>
  return %r : tensor<1x4x16x64xf32>
}
