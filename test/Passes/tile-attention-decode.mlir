// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=32 kv-tile=16" -canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=32 kv-tile=16 decode-split-keys=0" -canonicalize | FileCheck %s --check-prefix=OFF
// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=32 kv-tile=16" -attn-decompose-merge -canonicalize | FileCheck %s --check-prefix=MERGED

// The decode forms of attn-tile-attention (the other forms are in
// tile-attention.mlir, which turns them off). With decode-split-keys=0 no
// op takes them, and no query length is dispatched on.
// OFF-NOT: scf.if {{.*}}attn.dispatch
// OFF-NOT: memref.cast {{.*}}x1x64xf32>

// Decode (static query length 1, GQA 8:2): the 4 query heads of a KV head
// form one query tile, the keys are split into chunks of decode-split-keys
// processed in parallel into partial outputs and LSEs stacked along a
// leading split dim, and an attn.merge merges them by log-sum-exp
// (attn-decompose-merge then makes it a loop parallel over the rows). The
// causal mask is void for one row.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%{{.+}}: memref<?x8x1x64xf32>, %{{.+}}: memref<?x2x?x64xf32>, %[[O:.+]]: memref<?x8x1x64xf32>, %[[L:.+]]: memref<?x8x1xf32>)
// CHECK: %[[PO:.+]] = memref.alloc(%[[S:.+]], %{{.+}}) : memref<?x?x8x1x64xf32>
// CHECK: %[[PL:.+]] = memref.alloc(%[[S]], %{{.+}}) : memref<?x?x8x1xf32>
// CHECK: scf.forall (%[[B:.+]], %[[HK:.+]], %[[SP:.+]]) in (%{{.+}}, 2, %[[S]])
// CHECK: memref.subview %{{.+}}[%[[B]], %{{.+}}, 0, 0] [1, 4, 1, 64] [1, 1, 1, 1] : memref<?x8x1x64xf32> to memref<4x64xf32, strided<[64, 1], offset: ?>>
// CHECK: scf.for
// CHECK-NOT: mask
// CHECK: attn.tile_attend
// CHECK: memref.subview %[[PO]][%[[SP]], %[[B]], %{{.+}}, 0, 0] [1, 1, 4, 1, 64]
// CHECK: attn.tile_finalize {{.*}} outs(%{{.+}}, %{{.+}} : memref<4x64xf32, strided<[64, 1], offset: ?>>, memref<4xf32, strided<[1], offset: ?>>)
// CHECK: }
// CHECK-NEXT: attn.merge stacked ins(%[[PO]] : memref<?x?x8x1x64xf32>) lse(%[[PL]] : memref<?x?x8x1xf32>) outs(%[[O]], %[[L]] : memref<?x8x1x64xf32>, memref<?x8x1xf32>)
// MERGED-LABEL: func.func @decode
// MERGED: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}}, 2, %{{.+}})
// MERGED: attn.tile_finalize
// MERGED-NOT: attn.merge
// MERGED: scf.forall (%{{.+}}, %{{.+}}) in (%{{.+}}, 8)
// MERGED: arith.maximumf
// MERGED: math.exp
// MERGED: math.fma
// MERGED: math.log
func.func @decode(%q: memref<?x8x1x64xf32>, %k: memref<?x2x?x64xf32>, %o: memref<?x8x1x64xf32>, %l: memref<?x8x1xf32>) {
  attn.attention causal ins(%q, %k, %k : memref<?x8x1x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      outs(%o, %l : memref<?x8x1x64xf32>, memref<?x8x1xf32>)
  return
}

// -----

// A score region that reads the query head keeps the per-head form.
// CHECK-LABEL: func.func @decode_head_dependent
// CHECK-NOT: memref.alloc
// CHECK: scf.forall (%{{.+}}, %{{.+}}) in (%{{.+}}, 8)
// CHECK: attn.tile_attend {{.*}} score
func.func @decode_head_dependent(%q: memref<?x8x1x64xf32>, %k: memref<?x2x?x64xf32>, %o: memref<?x8x1x64xf32>) {
  attn.attention ins(%q, %k, %k : memref<?x8x1x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      outs(%o : memref<?x8x1x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %hi = arith.index_cast %h : index to i32
        %hf = arith.sitofp %hi : i32 to f32
        %r = arith.addf %s, %hf : f32
        attn.yield %r : f32
      }
  return
}

// -----

// MHA decode: with one query head per KV head the packed tile's single row
// is row 0 of its own head, so regions that read the head and the row keep
// the decode form.
// CHECK-LABEL: func.func @decode_mha_head_dependent
// CHECK: memref.alloc
// CHECK: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}}, 4, %{{.+}})
// CHECK: attn.tile_attend {{.*}} score
func.func @decode_mha_head_dependent(%q: memref<?x4x1x64xf32>, %k: memref<?x4x?x64xf32>, %o: memref<?x4x1x64xf32>) {
  attn.attention ins(%q, %k, %k : memref<?x4x1x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x1x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %hi = arith.index_cast %h : index to i32
        %hf = arith.sitofp %hi : i32 to f32
        %r = arith.addf %s, %hf : f32
        attn.yield %r : f32
      }
  return
}

// -----

// A query length known only at run time: one kernel, dispatched per call.
// Lq = 1 takes the split-KV decode form on the query, output and LSE cast to
// one row (only the operands: a key that is the query's buffer stays as is); any other length the tiled prefill form.
// CHECK-LABEL: func.func @decode_dynamic_rows
// CHECK: %[[LQ:.+]] = memref.dim %{{.+}}, %c2 : memref<?x8x?x64xf32>
// CHECK: %[[ONE:.+]] = arith.cmpi eq, %[[LQ]], %c1
// CHECK: scf.if %[[ONE]] {
// CHECK: %[[Q1:.+]] = memref.cast %{{.+}} : memref<?x8x?x64xf32> to memref<?x8x1x64xf32>
// CHECK: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}}, 2, %{{.+}})
// CHECK: memref.subview %[[Q1]]
// CHECK: attn.tile_attend
// CHECK: attn.merge stacked ins(%{{.+}} : memref<?x?x8x1x64xf32>) lse(%{{.+}} : memref<?x?x8x1xf32>) outs(%{{.+}}, %{{.+}} : memref<?x8x1x64xf32>, memref<?x8x1xf32>)
// CHECK: } else {
// CHECK: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}}, 8, %{{.+}})
// CHECK: attn.tile_attend
// CHECK: attn.tile_finalize
// CHECK: } {attn.dispatch = "decode_if_one_query_row"}
func.func @decode_dynamic_rows(%q: memref<?x8x?x64xf32>, %k: memref<?x2x?x64xf32>, %o: memref<?x8x?x64xf32>, %l: memref<?x8x?xf32>) {
  attn.attention causal ins(%q, %k, %k : memref<?x8x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      outs(%o, %l : memref<?x8x?x64xf32>, memref<?x8x?xf32>)
  return
}

// -----

// A score region that reads the query head of a GQA group: no decode form,
// so no dispatch either.
// CHECK-LABEL: func.func @dynamic_rows_head_dependent
// CHECK-NOT: scf.if
// CHECK-NOT: memref.cast
// CHECK: scf.forall (%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}}, 8, %{{.+}})
func.func @dynamic_rows_head_dependent(%q: memref<?x8x?x64xf32>, %k: memref<?x2x?x64xf32>, %o: memref<?x8x?x64xf32>) {
  attn.attention ins(%q, %k, %k : memref<?x8x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      outs(%o : memref<?x8x?x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %hi = arith.index_cast %h : index to i32
        %hf = arith.sitofp %hi : i32 to f32
        %r = arith.addf %s, %hf : f32
        attn.yield %r : f32
      }
  return
}

// -----

// An epilogue (here the cast to bf16 attn-fuse-elementwise folds in) runs
// after the merge, over merged f32 rows.
// CHECK-LABEL: func.func @decode_epilogue
// CHECK: %[[M:.+]] = memref.alloc(%{{.+}}) : memref<?x4x1x32xf32>
// CHECK: attn.merge stacked ins(%{{.+}} : memref<?x?x4x1x32xf32>) lse(%{{.+}} : memref<?x?x4x1xf32>) outs(%[[M]] : memref<?x4x1x32xf32>)
// CHECK: scf.forall (%[[B:.+]], %[[H:.+]]) in (%{{.+}}, 4)
// CHECK: %[[X:.+]] = memref.load %[[M]][%[[B]], %[[H]], %c0, %[[D:.+]]]
// CHECK: %[[Y:.+]] = arith.truncf %[[X]] : f32 to bf16
// CHECK: memref.store %[[Y]], %{{.+}}[%[[B]], %[[H]], %c0, %[[D]]] : memref<?x4x1x32xbf16>
func.func @decode_epilogue(%q: memref<?x4x1x32xf32>, %k: memref<?x4x?x32xf32>, %o: memref<?x4x1x32xbf16>) {
  attn.attention ins(%q, %k, %k : memref<?x4x1x32xf32>, memref<?x4x?x32xf32>, memref<?x4x?x32xf32>)
      outs(%o : memref<?x4x1x32xbf16>)
      epilogue {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %d: index):
        %t = arith.truncf %x : f32 to bf16
        attn.yield %t : bf16
      }
  return
}
