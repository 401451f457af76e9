// RUN: attn-opt %s --attn-gpu-tile-attention-backward --split-input-file --verify-diagnostics

func.func @tensors(%q: tensor<1x2x8x16xf16>, %l: tensor<1x2x8xf32>, %g: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{'attn.attention_backward' op must be bufferized before attn-gpu-tile-attention-backward}}
  %a:3 = attn.attention_backward scale(0.25)
      ins(%q, %q, %q : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>)
      saved(%q : tensor<1x2x8x16xf16>) lse(%l : tensor<1x2x8xf32>)
      grads(%q : tensor<1x2x8x16xf16>)
      outs(%g, %g, %g : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}
