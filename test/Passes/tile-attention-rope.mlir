// RUN: attn-opt %s -split-input-file -attn-tile-attention=kv-tile=64 -verify-diagnostics | FileCheck %s

// A decode over a paged pool with rope: the group's query rows are rotated
// once at the request's last position (lens[b] - 1, one cos/sin for all
// rows); each 64-key tile is gathered from its pages of 16 into the key's
// stack tile and rotated there in place: cos/sin exact at every 8th row
// and turned by one position between (loop-carried), halves of each row
// (llama pairs) turned and written back.
// CHECK-LABEL: func.func @paged_decode
// CHECK: scf.forall (%[[B:.*]], %[[G:.*]], %[[S:.*]]) in
// CHECK: %[[L:.*]] = memref.load %arg3[%[[B]]]
// CHECK: %[[LI:.*]] = arith.index_cast %[[L]]
// CHECK: %[[QPOS:.*]] = arith.subi %[[LI]], %c1
// CHECK: %[[QROT:.*]] = memref.alloca() : memref<4x16xf32>
// CHECK: math.cos %{{.*}} : vector<8xf32>
// CHECK: math.sin %{{.*}} : vector<8xf32>
// CHECK: scf.for %[[QR:.*]] = %c0{{.*}} to %c4
// CHECK-NOT: iter_args
// CHECK: vector.transfer_read %{{.*}}[%[[QR]], %c0{{.*}}]
// CHECK: vector.extract_strided_slice {{.*}} {offsets = [0], sizes = [8], strides = [1]}
// CHECK: vector.extract_strided_slice {{.*}} {offsets = [8], sizes = [8], strides = [1]}
// CHECK: vector.transfer_write %{{.*}}, %[[QROT]][%[[QR]], %c0{{.*}}]
// CHECK: %[[QT:.*]] = memref.subview %[[QROT]][0, 0] [4, 16] [1, 1]
// CHECK: %[[KROT:.*]] = memref.alloca() : memref<64x16xf32>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[PAGE:.*]] = memref.subview %arg1[
// CHECK: %[[DST:.*]] = memref.subview %[[KROT]][
// CHECK: vector.transfer_read %[[PAGE]]
// CHECK: vector.transfer_write %{{.*}}, %[[DST]]
// CHECK: %[[GATHERED:.*]] = memref.subview %[[KROT]][0, 0]
// CHECK: scf.for %[[FIRST:.*]] = %c0{{.*}} to %{{.*}} step %c8
// CHECK: math.cos
// CHECK: scf.for %[[ROW:.*]] = %[[FIRST]] to %{{.*}} step %c1{{.*}} iter_args(%[[C:.*]] = %{{.*}}, %[[SN:.*]] = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.transfer_read %[[GATHERED]][%[[ROW]], %c0{{.*}}]
// CHECK: vector.transfer_write %{{.*}}, %[[KROT]][%[[ROW]], %c0{{.*}}]
// CHECK: scf.yield %{{.*}}, %{{.*}} : vector<8xf32>, vector<8xf32>
// CHECK: %[[KT:.*]] = memref.subview %[[KROT]][0, 0]
// CHECK: attn.tile_attend ins(%[[QT]], %[[KT]], %{{.*}} :
func.func @paged_decode(%q: memref<?x8x1x16xf32>, %k: memref<?x16x2x16xf32>, %v: memref<?x16x2x16xf32>, %lens: memref<?xi32>, %t: memref<?x?xi32>, %o: memref<?x8x1x16xf32>) {
  attn.attention causal rope <> ins(%q, %k, %v : memref<?x8x1x16xf32>, memref<?x16x2x16xf32>, memref<?x16x2x16xf32>) kv_lens(%lens : memref<?xi32>) pages(%t : memref<?x?xi32>) outs(%o : memref<?x8x1x16xf32>)
  return
}

// -----

// Prefill rows: the query tile is rotated once at i + Lk - Lq (stepped
// row to row), gptj pairs are even and odd lanes, and a partial rotation
// keeps the channels past dims (inserted back into the row).
// (The decode branch of the dynamic query length comes first.)
// CHECK-LABEL: func.func @prefill_gptj
// CHECK: } else {
// CHECK: %[[LK:.*]] = memref.dim %arg1, %c2
// CHECK: %[[OFF:.*]] = arith.subi %[[LK]], %{{.*}}
// CHECK: scf.forall
// CHECK: memref.alloca() : memref<64x32xbf16>
// CHECK: arith.addi %{{.*}}, %[[OFF]]
// CHECK: scf.for {{.*}} step %c8
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: arith.extf %{{.*}} : vector<32xbf16> to vector<32xf32>
// CHECK: vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [16], strides = [1]}
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14]
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [1, 3, 5, 7, 9, 11, 13, 15]
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15]
// CHECK: vector.insert_strided_slice %{{.*}}, %{{.*}} {offsets = [0], strides = [1]} : vector<16xf32> into vector<32xf32>
// CHECK: arith.truncf %{{.*}} : vector<32xf32> to vector<32xbf16>
func.func @prefill_gptj(%q: memref<1x2x?x32xbf16>, %k: memref<1x2x?x32xbf16>, %o: memref<1x2x?x32xbf16>) {
  attn.attention causal rope <style = gptj, dims = 16> ins(%q, %k, %k : memref<1x2x?x32xbf16>, memref<1x2x?x32xbf16>, memref<1x2x?x32xbf16>) outs(%o : memref<1x2x?x32xbf16>)
  return
}

// -----

// The key-block-major form and the side outputs' passes take rotated
// operands: attn-materialize-rope must run first.
func.func @blocks(%q: memref<1x2x8x16xf32>, %sel: memref<1x2x8x1xi32>, %o: memref<1x2x8x16xf32>) {
  // expected-error @+1 {{has a rope that attn-materialize-rope must make explicit first (with a block selection or side outputs)}}
  attn.attention rope <> ins(%q, %q, %q : memref<1x2x8x16xf32>, memref<1x2x8x16xf32>, memref<1x2x8x16xf32>) blocks(%sel : memref<1x2x8x1xi32>) block_size(4) outs(%o : memref<1x2x8x16xf32>)
  return
}
