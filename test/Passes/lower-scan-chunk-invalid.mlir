// RUN: attn-opt %s --attn-lower-scan=chunk-size=24 --verify-diagnostics

// The decay(channel) sub-blocks are 16 rows: a chunk is at most 16 steps or
// a multiple of 16.
// expected-error @+1 {{attn-lower-scan: chunk-size must be 0 (recurrent form), at most 16, or a multiple of 16; got 24}}
func.func @f(%q: memref<1x2x?x16xf32>, %o: memref<1x2x?x16xf32>) {
  attn.scan decay(none) ins(%q, %q, %q : memref<1x2x?x16xf32>, memref<1x2x?x16xf32>, memref<1x2x?x16xf32>)
      outs(%o : memref<1x2x?x16xf32>)
  return
}
