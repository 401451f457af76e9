// RUN: attn-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(func.func(attn-lower-experts))'

func.func @dims(%x: memref<?x48xf32>, %w: memref<?x2xf32>, %i: memref<?x2xi32>, %w1: memref<4x48x64xf32>,
                %w3: memref<4x48x64xf32>, %w2: memref<4x64x48xf32>, %y: memref<?x48xf32>) {
  // expected-error @+1 {{attn-lower-experts needs model and hidden dims that are multiples of 32, got 48 and 64}}
  attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : memref<?x48xf32>, memref<?x2xf32>, memref<?x2xi32>,
      memref<4x48x64xf32>, memref<4x48x64xf32>, memref<4x64x48xf32>) outs(%y : memref<?x48xf32>)
  return
}

// -----

func.func @tensors(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x64xf32>,
                   %w3: tensor<4x64x64xf32>, %w2: tensor<4x64x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{must be bufferized before attn-lower-experts}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
      tensor<4x64x64xf32>, tensor<4x64x64xf32>, tensor<4x64x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}
