// RUN: attn-opt %s --attn-gpu-tile-attention --split-input-file --verify-diagnostics

func.func @tensors(%q: tensor<1x2x8x16xf16>, %o: tensor<1x2x8x16xf16>) -> tensor<1x2x8x16xf16> {
  // expected-error @+1 {{'attn.attention' op must be bufferized before attn-gpu-tile-attention}}
  %r = attn.attention
      ins(%q, %q, %q : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>)
      outs(%o : tensor<1x2x8x16xf16>) -> tensor<1x2x8x16xf16>
  return %r : tensor<1x2x8x16xf16>
}
