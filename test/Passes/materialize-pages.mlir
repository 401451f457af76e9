// RUN: attn-opt %s -split-input-file -attn-materialize-pages | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-materialize-pages=keep-fused | FileCheck %s --check-prefix=KEEP

// A paged nhd pool: gathered through the table into [B, Hkv, P * ps, D]
// (entries read only below the request's length, clamped into the pool),
// then a dense attention whose mask is the length, the per-request causal
// alignment and the op's own mask.
// CHECK-LABEL: func.func @paged_nhd
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[KP:[a-z0-9]+]]: tensor<?x8x2x16xf32>, %[[VP:[a-z0-9]+]]: tensor<?x8x2x16xf32>, %[[LENS:[a-z0-9]+]]: tensor<?xi32>, %[[T:[a-z0-9]+]]: tensor<?x?xi32>
// CHECK: %[[P:.*]] = tensor.dim %[[T]], %c1
// CHECK: %[[CAP:.*]] = arith.muli %[[P]], %c8
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %[[CAP]]) : tensor<?x2x?x16xf32>
// CHECK: %[[K:.*]] = linalg.generic
// CHECK-SAME: outs(%[[E]] : tensor<?x2x?x16xf32>)
// CHECK: %[[B:.*]] = linalg.index 0
// CHECK: %[[G:.*]] = linalg.index 1
// CHECK: %[[J:.*]] = linalg.index 2
// CHECK: %[[D:.*]] = linalg.index 3
// CHECK: %[[N:.*]] = arith.divui %[[J]], %c8
// CHECK: %[[R:.*]] = arith.remui %[[J]], %c8
// CHECK: %[[LEN:.*]] = tensor.extract %[[LENS]][%[[B]]]
// CHECK: %[[IN:.*]] = arith.cmpi slt, %[[J]]
// CHECK: tensor.extract %[[T]][%[[B]], %[[N]]]
// CHECK: arith.select %[[IN]]
// CHECK: arith.maxsi
// CHECK: %[[PG:.*]] = arith.minsi
// CHECK: tensor.extract %[[KP]][%[[PG]], %[[R]], %[[G]], %[[D]]]
// CHECK: %[[V:.*]] = linalg.generic
// CHECK: tensor.extract %[[VP]]
// CHECK: %[[LQ:.*]] = tensor.dim %[[Q]], %c2
// CHECK: attn.attention scale(2.500000e-01) ins(%[[Q]], %[[K]], %[[V]] :
// CHECK-NOT: kv_lens
// CHECK-SAME: mask {
// CHECK: ^bb0(%[[MB:.*]]: index, %{{.*}}: index, %[[MI:.*]]: index, %[[MJ:.*]]: index):
// CHECK: %[[ML:.*]] = tensor.extract %[[LENS]][%[[MB]]]
// CHECK: %[[MLI:.*]] = arith.index_cast %[[ML]]
// CHECK: %[[VIS:.*]] = arith.cmpi slt, %[[MJ]], %[[MLI]]
// CHECK: %[[LHS:.*]] = arith.addi %[[MJ]], %[[LQ]]
// CHECK: %[[RHS:.*]] = arith.addi %[[MI]], %[[MLI]]
// CHECK: %[[C:.*]] = arith.cmpi sle, %[[LHS]], %[[RHS]]
// CHECK: %[[V1:.*]] = arith.andi %[[VIS]], %[[C]]
// CHECK: %[[U:.*]] = arith.cmpi uge, %[[MJ]], %[[MI]]
// CHECK: %[[V2:.*]] = arith.andi %[[V1]], %[[U]]
// CHECK: attn.yield %[[V2]] : i1
// KEEP-LABEL: func.func @paged_nhd
// KEEP: attn.attention causal {{.*}} kv_lens({{.*}}) pages(
func.func @paged_nhd(%q: tensor<?x4x?x16xf32>, %kp: tensor<?x8x2x16xf32>, %vp: tensor<?x8x2x16xf32>,
                     %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %init: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %o = attn.attention causal ins(%q, %kp, %vp : tensor<?x4x?x16xf32>, tensor<?x8x2x16xf32>, tensor<?x8x2x16xf32>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%init : tensor<?x4x?x16xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %r = arith.cmpi uge, %j, %i : index
        attn.yield %r : i1
      } -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// hnd: the head before the row within the page.
// CHECK-LABEL: func.func @paged_hnd
// CHECK: %[[PG:.*]] = arith.minsi
// CHECK: tensor.extract %arg1[%[[PG]], %{{.*}}, %{{.*}}, %{{.*}}] : tensor<?x2x4x8xbf16>
// CHECK: %[[G:.*]] = linalg.index 1
// CHECK: %[[J:.*]] = linalg.index 2
// CHECK: %[[D:.*]] = linalg.index 3
// CHECK: %[[R:.*]] = arith.remui %[[J]], %c4
// CHECK: %[[PG2:.*]] = arith.minsi
// CHECK: tensor.extract %arg2[%[[PG2]], %[[G]], %[[R]], %[[D]]] : tensor<?x2x4x8xbf16>
// Not causal: the mask is the length alone.
// CHECK: mask {
// CHECK: arith.cmpi slt
// CHECK-NEXT: attn.yield
func.func @paged_hnd(%q: tensor<?x2x1x8xbf16>, %kp: tensor<?x2x4x8xbf16>, %vp: tensor<?x2x4x8xbf16>,
                     %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %init: tensor<?x2x1x8xbf16>) -> tensor<?x2x1x8xbf16> {
  %o = attn.attention ins(%q, %kp, %vp : tensor<?x2x1x8xbf16>, tensor<?x2x4x8xbf16>, tensor<?x2x4x8xbf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>) page_layout(hnd)
      outs(%init : tensor<?x2x1x8xbf16>) -> tensor<?x2x1x8xbf16>
  return %o : tensor<?x2x1x8xbf16>
}

// -----

// Dense keys with per-request lengths: no gather, the same mask; the sink
// and score regions are kept.
// CHECK-LABEL: func.func @dense_lens
// CHECK-NOT: linalg.generic
// CHECK: attn.attention scale(5.000000e-01) ins(%arg0, %arg1, %arg2 :
// CHECK-SAME: score {
// CHECK: mask {
// CHECK: sink {
// KEEP-LABEL: func.func @dense_lens
// KEEP: kv_lens(
func.func @dense_lens(%q: tensor<?x2x?x4xf32>, %k: tensor<?x1x?x4xf32>, %v: tensor<?x1x?x4xf32>,
                      %lens: tensor<?xi32>, %init: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %o = attn.attention causal ins(%q, %k, %v : tensor<?x2x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>)
      kv_lens(%lens : tensor<?xi32>) outs(%init : tensor<?x2x?x4xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        attn.yield %t : f32
      }
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 1.0 : f32
        attn.yield %c : f32
      } -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// -----

// A ragged batch (qo_indptr): the request of every token (how many
// requests end at or before it: a reduction over the pointer), each pool
// gathered per token from its request's pages (the request clamped into
// [0, B - 1] for Halide's bounds), then one dense row per token; the
// regions see the token's request and its row within the chunk, and the
// causal alignment is the chunk's.
// CHECK-LABEL: func.func @ragged_paged
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x1x16xf32>, %{{.*}}: tensor<?x8x2x16xf32>, %{{.*}}: tensor<?x8x2x16xf32>, %[[LENS:[a-z0-9]+]]: tensor<?xi32>, %[[T:[a-z0-9]+]]: tensor<?x?xi32>, %[[P:[a-z0-9]+]]: tensor<?xi32>
// CHECK: %[[REQ:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[LENS]] : tensor<?xi32>)
// CHECK: tensor.extract %[[P]]
// CHECK: arith.cmpi sle
// CHECK: linalg.generic
// CHECK: tensor.extract %[[REQ]]
// CHECK: arith.minsi
// CHECK: tensor.extract %[[T]]
// CHECK: attn.attention scale(2.500000e-01) ins(%[[Q]], {{.*}}) outs(
// CHECK: score {
// CHECK: tensor.extract %[[REQ]]
// CHECK: %[[R:.*]] = arith.minsi
// CHECK: %[[BF:.*]] = arith.index_cast %[[R]] : index to i32
// CHECK: arith.sitofp %[[BF]]
// CHECK: mask {
// CHECK: %[[S0:.*]] = tensor.extract %[[P]][
// CHECK: %[[START:.*]] = arith.index_cast %[[S0]] : i32 to index
// CHECK: %[[E0:.*]] = tensor.extract %[[P]][
// CHECK: %[[END:.*]] = arith.index_cast %[[E0]] : i32 to index
// CHECK: %[[LQ:.*]] = arith.subi %[[END]], %[[START]]
// CHECK: arith.addi %{{.*}}, %[[LQ]]
// CHECK: arith.cmpi sle
// KEEP-LABEL: func.func @ragged_paged
// KEEP: attn.attention causal {{.*}} qo_indptr(
func.func @ragged_paged(%q: tensor<?x4x1x16xf32>, %k: tensor<?x8x2x16xf32>, %v: tensor<?x8x2x16xf32>,
                        %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %indptr: tensor<?xi32>,
                        %o: tensor<?x4x1x16xf32>) -> tensor<?x4x1x16xf32> {
  %r = attn.attention causal ins(%q, %k, %v : tensor<?x4x1x16xf32>, tensor<?x8x2x16xf32>, tensor<?x8x2x16xf32>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>) qo_indptr(%indptr : tensor<?xi32>)
      outs(%o : tensor<?x4x1x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %bi = arith.index_cast %b : index to i32
        %bf = arith.sitofp %bi : i32 to f32
        %x = arith.addf %s, %bf : f32
        attn.yield %x : f32
      } -> tensor<?x4x1x16xf32>
  return %r : tensor<?x4x1x16xf32>
}
