// RUN: attn-opt %s -split-input-file -convert-attn-to-vector=vector-width=16 -verify-diagnostics
// RUN: not attn-opt %s -convert-attn-to-vector=vector-width=5 2>&1 | FileCheck %s --check-prefix=WIDTH

// WIDTH: convert-attn-to-vector: vector-width must be 4, 8 or 16, got 5

func.func @tile_not_multiple(%q: memref<?x64xf32>, %m: memref<24xf32>, %acc: memref<24x64xf32>, %i: index) {
  // expected-error @+1 {{expected the query tile (24 rows) to be a multiple of the vector width (16)}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>)
      state(%m, %m, %acc : memref<24xf32>, memref<24xf32>, memref<24x64xf32>) at [%i, %i, %i, %i] scale(1.0)
  return
}

// -----

func.func @not_vectorizable(%q: memref<?x64xf32>, %m: memref<16xf32>, %acc: memref<16x64xf32>, %i: index) {
  // expected-error @+1 {{cannot vectorize 'tensor.empty' in a region}}
  attn.tile_attend ins(%q, %q, %q : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>)
      state(%m, %m, %acc : memref<16xf32>, memref<16xf32>, memref<16x64xf32>) at [%i, %i, %i, %i] scale(1.0)
      mask {
      ^bb0(%b: index, %h: index, %qi: index, %kj: index):
        %t = tensor.empty(%qi) : tensor<?xf32>
        %c0 = arith.constant 0 : index
        %n = tensor.dim %t, %c0 : tensor<?xf32>
        %c = arith.cmpi sle, %kj, %n : index
        attn.yield %c : i1
      }
  return
}

// -----

// Column scores of a query tile that is not a whole number of vectors.
func.func @columns_tile(%w: memref<?x24xf32>, %sm: memref<24xf32>, %m: memref<24xf32>,
                        %l: memref<24xf32>, %p: memref<?xf32>, %n: index, %i: index) {
  // expected-error @+1 {{expected a static query tile that is a multiple of the vector width (16)}}
  attn.tile_column_scores ins(%w, %sm : memref<?x24xf32>, memref<24xf32>)
      state(%m, %l : memref<24xf32>, memref<24xf32>) outs(%p : memref<?xf32>)
      rows(%n) length(%n) at [%i, %i, %i]
  return
}
