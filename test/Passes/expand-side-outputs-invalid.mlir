// RUN: attn-opt %s --attn-expand-side-outputs --verify-diagnostics

func.func @memref(%q: memref<1x4x8x16xf32>, %o: memref<1x4x8x16xf32>, %s: memref<1x4x8xf32>) {
  // expected-error @+1 {{with row_entropy or column_scores must be expanded on tensors, before bufferization}}
  attn.attention ins(%q, %q, %q : memref<1x4x8x16xf32>, memref<1x4x8x16xf32>, memref<1x4x8x16xf32>)
      outs(%o, %s : memref<1x4x8x16xf32>, memref<1x4x8xf32>) column_scores
  return
}
