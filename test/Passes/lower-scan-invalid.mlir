// RUN: attn-opt %s --attn-lower-scan --split-input-file --verify-diagnostics

func.func @dynamic_dim(%q: memref<1x2x?x?xf32>, %o: memref<1x2x?x?xf32>) {
  // expected-error @+1 {{attn-lower-scan needs static head dims}}
  attn.scan decay(none) ins(%q, %q, %q : memref<1x2x?x?xf32>, memref<1x2x?x?xf32>, memref<1x2x?x?xf32>)
      outs(%o : memref<1x2x?x?xf32>)
  return
}
