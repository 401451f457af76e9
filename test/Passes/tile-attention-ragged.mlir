// RUN: attn-opt %s -split-input-file -attn-tile-attention=kv-tile=64 | FileCheck %s

// A ragged batch (qo_indptr): parallel loops over work items. Without a
// plan the order and the requests' first items are counted here, chunks
// first then the rest, each in batch order (a decode request: its 2 KV
// heads; a chunk: 8 heads times its blocks of 64 rows); the chunks' items
// run in a first loop (as many as the counting's first pass gave), the
// decode items in a second; an item finds its
// request by a binary search of the first items. A chunk's item reads its
// head's rows of the packed tokens (stride Hq * D = 128) and tiles the keys
// within pages; a decode item packs the 4 query heads of its KV head as the
// rows of one tile (one token's heads are contiguous) over the request's
// keys gathered into 64-key tiles.
// CHECK-LABEL: func.func @ragged_nhd
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<?x8x1x16xf32>, %{{.*}}: memref<?x16x2x16xf32>, %{{.*}}: memref<?x16x2x16xf32>, %[[LENS:[a-z0-9]+]]: memref<?xi32>, %[[T:[a-z0-9]+]]: memref<?x?xi32>, %[[P:[a-z0-9]+]]: memref<?xi32>, %[[O:[a-z0-9]+]]: memref<?x8x1x16xf32>
// CHECK: %[[ORDER:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// CHECK: %[[FIRSTS:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// CHECK: %[[C:.*]]:2 = scf.for {{.*}} iter_args
// CHECK: arith.cmpi sge, %{{.*}}, %{{c2[_0-9]*}}
// CHECK: arith.select %{{.*}}, %{{c2[_0-9]*}}, %{{.*}} : index
// CHECK: %[[D:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[C]]#0, %{{.*}} = %[[C]]#1)
// CHECK: memref.store %[[D]]#1, %[[FIRSTS]]
// CHECK: %[[N:.*]] = memref.load %[[FIRSTS]]
// CHECK-NOT: scf.for
// CHECK: scf.forall (%{{.*}}) in (%[[C]]#1)
// CHECK: scf.while
// CHECK: memref.load %[[FIRSTS]]
// CHECK: %[[R:.*]] = memref.load %[[ORDER]]
// CHECK: memref.load %[[P]][%[[R]]]
// CHECK: memref.subview %[[Q]][%{{.*}}, %{{.*}}, 0, 0] [%{{.*}}, 1, 1, 16] [1, 1, 1, 1] : memref<?x8x1x16xf32> to memref<?x16xf32, strided<[128, 1], offset: ?>>
// CHECK: memref.load %[[T]][%[[R]],
// CHECK: attn.tile_attend
// CHECK: memref.subview %[[O]][%{{.*}}, %{{.*}}, 0, 0] [%{{.*}}, 1, 1, 16]
// CHECK: attn.tile_finalize
// CHECK: %[[ND:.*]] = arith.subi %[[N]], %[[C]]#1
// CHECK: scf.forall (%[[I:.*]]) in (%[[ND]])
// CHECK: arith.addi %[[I]], %[[C]]#1
// CHECK: scf.while
// CHECK: memref.subview %[[Q]][%{{.*}}, %{{.*}}, 0, 0] [1, 4, 1, 16]
// CHECK: memref.alloca() : memref<64x16xf32>
// CHECK: attn.tile_attend ins({{.*}} : memref<4x16xf32, strided<[16, 1], offset: ?>>
// CHECK: memref.subview %[[O]][%{{.*}}, %{{.*}}, 0, 0] [1, 4, 1, 16]
// CHECK: attn.tile_finalize
func.func @ragged_nhd(%q: memref<?x8x1x16xf32>, %k: memref<?x16x2x16xf32>, %v: memref<?x16x2x16xf32>,
                      %lens: memref<?xi32>, %table: memref<?x?xi32>, %indptr: memref<?xi32>,
                      %o: memref<?x8x1x16xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x8x1x16xf32>, memref<?x16x2x16xf32>, memref<?x16x2x16xf32>)
      kv_lens(%lens : memref<?xi32>) pages(%table : memref<?x?xi32>) qo_indptr(%indptr : memref<?xi32>)
      outs(%o : memref<?x8x1x16xf32>)
  return
}

// -----

// With a plan: no counting; the order and first items are its rows. A mask
// that reads the row: decode requests are not packed (one item per query
// head, through the prefill form), so one loop takes every item.
// CHECK-LABEL: func.func @ragged_plan
// CHECK-SAME: %[[PLAN:[a-z0-9]+]]: memref<2x?xi32>
// CHECK-NOT: memref.alloc(
// CHECK: %[[N:.*]] = memref.load %[[PLAN]][%c1, %{{.*}}] : memref<2x?xi32>
// CHECK: scf.forall (%{{.*}}) in (
// CHECK: scf.while
// CHECK: memref.load %[[PLAN]][%{{c1[_0-9]*}},
// CHECK: memref.load %[[PLAN]][%{{c0[_0-9]*}}, %{{.*}}] : memref<2x?xi32>
// CHECK-NOT: [1, 4, 1, 16]
// CHECK: attn.tile_attend
// CHECK-NOT: scf.forall
func.func @ragged_plan(%q: memref<?x4x1x16xf32>, %k: memref<?x2x?x16xf32>, %lens: memref<?xi32>,
                       %indptr: memref<?xi32>, %plan: memref<2x?xi32>, %o: memref<?x4x1x16xf32>) {
  attn.attention causal ins(%q, %k, %k : memref<?x4x1x16xf32>, memref<?x2x?x16xf32>, memref<?x2x?x16xf32>)
      kv_lens(%lens : memref<?xi32>) qo_indptr(%indptr : memref<?xi32>) plan(%plan : memref<2x?xi32>)
      outs(%o : memref<?x4x1x16xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c3 = arith.constant 3 : index
        %t = arith.muli %i, %c3 : index
        %r = arith.cmpi sge, %j, %t : index
        attn.yield %r : i1
      }
  return
}

// -----

// With a plan and packed decode items: the chunks' items are counted over
// the requests (a plan may list idle requests anywhere), then the two
// loops as without a plan.
// CHECK-LABEL: func.func @ragged_plan_packed
// CHECK-SAME: %[[PLAN:[a-z0-9]+]]: memref<2x?xi32>
// CHECK-NOT: memref.alloc(
// CHECK: %[[N:.*]] = memref.load %[[PLAN]][%{{c1[_0-9]*}}, %{{.*}}] : memref<2x?xi32>
// CHECK: %[[NC:.*]] = scf.for {{.*}} iter_args
// CHECK: scf.forall (%{{.*}}) in (%[[NC]])
// CHECK: attn.tile_finalize
// CHECK: %[[ND:.*]] = arith.subi %{{.*}}, %[[NC]]
// CHECK: scf.forall (%{{.*}}) in (%[[ND]])
// CHECK: [1, 2, 1, 16]
func.func @ragged_plan_packed(%q: memref<?x4x1x16xf32>, %k: memref<?x2x?x16xf32>, %lens: memref<?xi32>,
                              %indptr: memref<?xi32>, %plan: memref<2x?xi32>, %o: memref<?x4x1x16xf32>) {
  attn.attention causal ins(%q, %k, %k : memref<?x4x1x16xf32>, memref<?x2x?x16xf32>, memref<?x2x?x16xf32>)
      kv_lens(%lens : memref<?xi32>) qo_indptr(%indptr : memref<?xi32>) plan(%plan : memref<2x?xi32>)
      outs(%o : memref<?x4x1x16xf32>)
  return
}
