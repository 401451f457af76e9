// RUN: attn-opt %s --attn-lower-scan --split-input-file --verify-diagnostics

func.func @dynamic_dim(%q: memref<1x2x?x?xf32>, %o: memref<1x2x?x?xf32>) {
  // expected-error @+1 {{attn-lower-scan needs static head dims}}
  attn.scan decay(none) ins(%q, %q, %q : memref<1x2x?x?xf32>, memref<1x2x?x?xf32>, memref<1x2x?x?xf32>)
      outs(%o : memref<1x2x?x?xf32>)
  return
}

// -----

func.func @tensors(%q: tensor<1x2x4x16xf32>, %o: tensor<1x2x4x16xf32>) -> tensor<1x2x4x16xf32> {
  // expected-error @+1 {{must be bufferized before attn-lower-scan}}
  %r = attn.scan decay(none) ins(%q, %q, %q : tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>)
      outs(%o : tensor<1x2x4x16xf32>) -> tensor<1x2x4x16xf32>
  return %r : tensor<1x2x4x16xf32>
}
