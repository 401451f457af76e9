// RUN: attn-opt %s -split-input-file -attn-tile-attention=kv-tile=64 | FileCheck %s

// A paged pool whose page size (16) divides the key tile. Per request: the
// key count is kv_lens[b], the causal offset kv_lens[b] - Lq. A dynamic
// query length dispatches: the decode form splits the table's capacity
// (empty splits past a request's keys merge away) and gathers the pages of
// each 64-key tile into a stack tile (one online-softmax step per 64 keys,
// not per page), page by page, a row vector at a time; the prefill form
// tiles rows with tiles of one page, read from the page the table names.
// CHECK-LABEL: func.func @paged_nhd
// CHECK-SAME: %[[K:[a-z0-9]+]]: memref<?x16x2x16xf32>, %[[V:[a-z0-9]+]]: memref<?x16x2x16xf32>, %[[LENS:[a-z0-9]+]]: memref<?xi32>, %[[T:[a-z0-9]+]]: memref<?x?xi32>
// CHECK: scf.if
// CHECK: %[[P:.*]] = memref.dim %[[T]], %c1
// CHECK: %[[CAP:.*]] = arith.muli %[[P]], %c16
// CHECK: scf.forall (%[[B:.*]], %[[G:.*]], %[[S:.*]]) in
// CHECK: %[[L:.*]] = memref.load %[[LENS]][%[[B]]]
// CHECK: %[[LI:.*]] = arith.index_cast %[[L]]
// CHECK: %[[END:.*]] = arith.minsi %[[LI]],
// CHECK: %[[KT:.*]] = memref.alloca() : memref<64x16xf32>
// CHECK: scf.for
// CHECK: scf.for %[[PGI:.*]] =
// CHECK: %[[K0:.*]] = arith.maxsi
// CHECK: %[[N:.*]] = arith.divui %[[K0]], %c16
// CHECK: %[[E:.*]] = memref.load %[[T]][%[[B]], %[[N]]]
// CHECK: %[[PG:.*]] = arith.index_cast %[[E]]
// CHECK: %[[R:.*]] = arith.remui %[[K0]], %c16
// CHECK: %[[KP:.*]] = memref.subview %[[K]][%[[PG]], %[[R]], %[[G]], 0] [1, %{{.*}}, 1, 16] [1, 1, 1, 1] : memref<?x16x2x16xf32> to memref<?x16xf32, strided<[32, 1], offset: ?>>
// CHECK: %[[KS:.*]] = memref.subview %[[KT]][%{{.*}}, 0] [%{{.*}}, 16] [1, 1] : memref<64x16xf32> to memref<?x16xf32, strided<[16, 1], offset: ?>>
// CHECK: scf.for %[[RW:.*]] =
// CHECK: %[[ROW:.*]] = vector.transfer_read %[[KP]][%[[RW]], %{{.*}}]
// CHECK: vector.transfer_write %[[ROW]], %[[KS]][%[[RW]], %{{.*}}]
// CHECK: %[[KTILE:.*]] = memref.subview %[[KT]][0, 0]
// CHECK: memref.subview %[[V]][
// CHECK: attn.tile_attend ins(%{{.*}}, %[[KTILE]], %{{.*}} :
// CHECK: attn.merge stacked
// CHECK: } else {
// CHECK: scf.forall (%[[PB:.*]], %{{.*}}, %{{.*}}) in
// CHECK: %[[PL:.*]] = memref.load %[[LENS]][%[[PB]]]
// CHECK: %[[PLI:.*]] = arith.index_cast %[[PL]]
// CHECK: arith.subi %[[PLI]], %{{.*}} : index
// CHECK: {attn.tile_sizes = array<i64: 64, 16>}
func.func @paged_nhd(%q: memref<?x4x?x16xf32>, %k: memref<?x16x2x16xf32>, %v: memref<?x16x2x16xf32>,
                     %lens: memref<?xi32>, %table: memref<?x?xi32>, %o: memref<?x4x?x16xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x16xf32>, memref<?x16x2x16xf32>, memref<?x16x2x16xf32>)
      kv_lens(%lens : memref<?xi32>) pages(%table : memref<?x?xi32>)
      outs(%o : memref<?x4x?x16xf32>)
  return
}

// -----

// Sinks + window: the mask's two key intervals are widened to tile
// boundaries (down for starts, up for the first end, clamped to the
// request's length) so that no tile straddles two pages.
// CHECK-LABEL: func.func @aligned_intervals
// (Three roundings to 16 keys before the loop: the first start and end
// and the second start.)
// CHECK: arith.index_cast
// CHECK-NOT: scf.for
// CHECK-COUNT-3: arith.muli %{{[0-9]+}}, %{{c16[_0-9]*}} : index
// CHECK-NOT: arith.muli %{{[0-9]+}}, %{{c16[_0-9]*}} : index
// CHECK: scf.for
// CHECK: attn.tile_attend
func.func @aligned_intervals(%q: memref<?x4x70x16xf32>, %k: memref<?x16x2x16xf32>, %v: memref<?x16x2x16xf32>,
                             %lens: memref<?xi32>, %table: memref<?x?xi32>, %o: memref<?x4x70x16xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x70x16xf32>, memref<?x16x2x16xf32>, memref<?x16x2x16xf32>)
      kv_lens(%lens : memref<?xi32>) pages(%table : memref<?x?xi32>)
      outs(%o : memref<?x4x70x16xf32>)
    mask {
    ^bb0(%bb: index, %h: index, %i: index, %j: index):
      %c4 = arith.constant 4 : index
      %c40 = arith.constant 40 : index
      %a = arith.cmpi slt, %j, %c4 : index
      %t = arith.addi %i, %c40 : index
      %w = arith.cmpi sge, %j, %t : index
      %r = arith.ori %a, %w : i1
      attn.yield %r : i1
    }
  return
}

// -----

// Pages of one key (hnd): the tile's rows are gathered through the table
// into a stack tile, a row vector at a time from each page it touches.
// CHECK-LABEL: func.func @gather
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %{{.*}}) in
// CHECK: %[[KT:.*]] = memref.alloca() : memref<64x8xf32>
// CHECK: %[[VT:.*]] = memref.alloca() : memref<64x8xf32>
// CHECK: %[[G:.*]] = arith.divui %[[H]], %c2
// CHECK: scf.for
// CHECK: scf.for %[[P:.*]] =
// CHECK: %[[E:.*]] = memref.load %arg4[%[[B]], %{{.*}}]
// CHECK: %[[PG:.*]] = arith.index_cast %[[E]]
// CHECK: %[[ROWS:.*]] = memref.subview %arg1[%[[PG]], %[[G]], %{{.*}}, 0] [1, 1, %{{.*}}, 8]
// CHECK: %[[DST:.*]] = memref.subview %[[KT]][%{{.*}}, 0] [%{{.*}}, 8]
// CHECK: scf.for %[[RW:.*]] =
// CHECK: %[[ROW:.*]] = vector.transfer_read %[[ROWS]][%[[RW]], %{{.*}}]
// CHECK: vector.transfer_write %[[ROW]], %[[DST]][%[[RW]], %{{.*}}]
// CHECK: %[[KV:.*]] = memref.subview %[[KT]][0, 0]
// CHECK: vector.transfer_write %{{.*}} : vector<8xf32>, memref<?x8xf32, strided<[8, 1], offset: ?>>
// CHECK: %[[VV:.*]] = memref.subview %[[VT]][0, 0]
// CHECK: attn.tile_attend ins(%{{.*}}, %[[KV]], %[[VV]] :
func.func @gather(%q: memref<?x2x5x8xf32>, %k: memref<?x1x1x8xf32>, %v: memref<?x1x1x8xf32>,
                  %lens: memref<?xi32>, %table: memref<?x?xi32>, %o: memref<?x2x5x8xf32>) {
  attn.attention ins(%q, %k, %v : memref<?x2x5x8xf32>, memref<?x1x1x8xf32>, memref<?x1x1x8xf32>)
      kv_lens(%lens : memref<?xi32>) pages(%table : memref<?x?xi32>) page_layout(hnd)
      outs(%o : memref<?x2x5x8xf32>)
  return
}
