// RUN: attn-opt %s -split-input-file -attn-tile-attention -canonicalize -convert-attn-to-vector=vector-width=16 | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=32" -canonicalize -convert-attn-to-vector=vector-width=8 | FileCheck %s --check-prefix=AVX2
// RUN: attn-opt %s -split-input-file -attn-tile-attention -canonicalize -convert-attn-to-vector="vector-width=16 bf16-dot=true" | FileCheck %s --check-prefix=DOT

// CHECK-LABEL: func.func @causal_bf16_kv
// Scratch buffers are allocated once per parallel iteration.
// CHECK: scf.forall
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64xf32>
// CHECK-DAG: %[[SCORES:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK-DAG: %[[QPACK:.+]] = memref.alloca() {alignment = 64 : i64} : memref<64x64xf32>
// The query tile is packed transposed and pre-scaled by scale * log2(e),
// once, before the key/value loop.
// CHECK: %[[QT:.+]] = memref.subview %arg0
// CHECK: vector.store %{{.+}}, %[[QPACK]]
// CHECK: memref.load %[[QT]]
// CHECK: arith.mulf %{{.+}}, %cst
// CHECK: memref.store %{{.+}}, %[[QPACK]]
// CHECK: scf.for
// Full tiles: 6 keys x 4 query vectors of accumulators, bf16 keys
// converted once per broadcast; no mask evaluation.
// CHECK: scf.if
// CHECK: scf.if
// CHECK: %{{.+}}:24 = scf.for {{.+}} -> (vector<16xf32>
// CHECK: vector.load %[[QPACK]]
// CHECK: arith.extf %{{.+}} : bf16 to f32
// CHECK: vector.broadcast %{{.+}} : f32 to vector<16xf32>
// CHECK-COUNT-4: vector.fma
// CHECK-NOT: arith.cmpi {{.*}} vector<16xindex>
// CHECK: math.floor
// CHECK: arith.shli
// CHECK: arith.bitcast %{{.+}} : vector<16xi32> to vector<16xf32>
// CHECK: } else {
// Partial tiles: the causal mask, vectorized over the query lanes.
// CHECK: arith.cmpi sle, %{{.+}}, %{{.+}} : vector<16xindex>
// CHECK: arith.select %{{.+}}, %{{.+}}, %{{.+}} : vector<16xi1>, vector<16xf32>
// Finalize: divide by the row sum, store the output rows.
// CHECK: arith.divf
// CHECK: vector.store %{{.+}}, %{{.+}} : memref<?x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
// CHECK-NOT: attn.tile_{{attend|finalize}}

// AVX2-LABEL: func.func @causal_bf16_kv
// AVX2: %{{.+}}:8 = scf.for {{.+}} -> (vector<8xf32>
func.func @causal_bf16_kv(%q: memref<?x8x?x64xf32>, %k: memref<?x2x?x64xbf16>,
                          %v: memref<?x2x?x64xbf16>, %o: memref<?x8x?x64xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x8x?x64xf32>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>)
      outs(%o : memref<?x8x?x64xf32>)
  return
}

// -----

// A score modifier that depends only on the key stays scalar (uniform);
// one that depends on the query row is vectorized. Dv = 72 is not a multiple
// of 16: the last value vector is masked.
// CHECK-LABEL: func.func @score_and_odd_head_dim
// CHECK: math.tanh %{{.+}} : vector<16xf32>
// CHECK: arith.sitofp %{{.+}} : vector<16xi64> to vector<16xf32>
// CHECK: vector.maskedload
// CHECK: vector.maskedstore
func.func @score_and_odd_head_dim(%q: memref<?x4x?x72xf32>, %o: memref<?x4x?x72xf32>) {
  attn.attention ins(%q, %q, %q : memref<?x4x?x72xf32>, memref<?x4x?x72xf32>, memref<?x4x?x72xf32>)
      outs(%o : memref<?x4x?x72xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %r = arith.addf %t, %df : f32
        attn.yield %r : f32
      }
  return
}

// -----

// Sigmoid attention: weights 1/(1+2^-|s|) (or 2^-|s|/(1+2^-|s|)) per key,
// no running maximum; the finalize step does not divide.
// CHECK-LABEL: func.func @sigmoid
// CHECK: math.absf %{{.+}} : vector<16xf32>
// CHECK: arith.cmpf oge
// CHECK: arith.divf %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK-NOT: attn.tile_attend
// AVX2-LABEL: func.func @sigmoid
// AVX2: math.absf %{{.+}} : vector<8xf32>
func.func @sigmoid(%q: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal normalizer(sigmoid) ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

// A sink logit: evaluated once per output row, folded into the denominator.
// CHECK-LABEL: func.func @sink
// CHECK: scf.for
// CHECK: memref.load %{{.+}}[%{{.+}}] : memref<4xf32>
// CHECK: arith.maximumf
// CHECK: math.exp2
// CHECK: math.exp2
func.func @sink(%q: memref<?x4x?x64xf32>, %s: memref<4xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %x = memref.load %s[%h] : memref<4xf32>
        attn.yield %x : f32
      }
  return
}

// -----

// A load whose index varies across the query lanes is gathered lane by lane
// with the index clamped into the buffer (masked lanes evaluate the region
// too; their indices need not be valid).
// CHECK-LABEL: func.func @gather_clamped
// CHECK-SAME: %[[BIAS:[a-z0-9]+]]: memref<?xf32>
// CHECK: %[[D:.+]] = memref.dim %[[BIAS]], %c0
// CHECK: %[[LAST:.+]] = arith.subi %[[D]], %c1
// CHECK: %[[E:.+]] = vector.extract %{{.+}}[0] : index from vector<16xindex>
// CHECK: %[[LO:.+]] = arith.maxsi %[[E]], %c0
// CHECK: %[[IDX:.+]] = arith.minsi %[[LO]], %[[LAST]]
// CHECK: memref.load %[[BIAS]][%[[IDX]]] : memref<?xf32>
func.func @gather_clamped(%q: memref<?x4x?x64xf32>, %bias: memref<?xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c7 = arith.constant 7 : index
        %r = arith.subi %i, %c7 : index
        %x = memref.load %bias[%r] : memref<?xf32>
        %y = arith.addf %s, %x : f32
        attn.yield %y : f32
      }
  return
}

// -----

// A tile of a few static query rows (decode: the 4 query heads of a GQA
// group) takes the row-vector form: the head dim in the lanes for Q K^T
// (lane sums as transposing shuffle trees), value rows and the next chunk's key
// rows prefetched, the softmax with the keys in the lanes (regions
// vectorized over keys, keys past the tile masked), and P V with broadcast
// probabilities. The state is filled with vector stores.
// CHECK-LABEL: func.func @decode_rows
// The query rows packed once, pre-scaled, head dim in the lanes.
// CHECK: arith.extf %{{.+}} : vector<16xf16> to vector<16xf32>
// CHECK: vector.store %{{.+}} : memref<4x128xf32>, vector<16xf32>
// CHECK: scf.for
// CHECK: vector.store %{{.+}} : memref<16x128xf32>, vector<16xf32>
// CHECK-NOT: linalg.fill
// Keys in blocks of 4: value rows and key rows a chunk ahead prefetched.
// CHECK: scf.for {{.+}} step %c64
// CHECK: scf.for {{.+}} step %c4
// CHECK: memref.prefetch %arg2[{{.+}}], read, locality<3>, data : memref<?x128xf16>
// CHECK: memref.prefetch %arg1[{{.+}}], read, locality<3>, data : memref<?x128xf16>
// Key-major dot products (D = 128 is 8 vectors): each key row read front to
// back, each of its vectors against the 4 rows' query vectors.
// CHECK-NOT: scf.for
// CHECK: arith.extf %{{.+}} : vector<16xf16> to vector<16xf32>
// CHECK-COUNT-4: vector.fma
// The 4 keys' logits of a row summed across lanes by one transposing tree
// (pairs of half-group shuffles) and stored as one vector (rows padded by a
// vector); the last keys one at a time, by lane reductions.
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31] : vector<16xf32>, vector<16xf32>
// CHECK: vector.store %{{.+}} : memref<4x80xf32>, vector<16xf32>
// CHECK: vector.reduction <add>, %{{.+}} fastmath<reassoc> : vector<16xf32> into f32
// Softmax over 16 keys at a time: the mask reads the key index only.
// CHECK: arith.cmpi slt, %{{.+}}, %{{.+}} : vector<16xindex>
// CHECK: memref.load %arg3
// CHECK: vector.reduction <maximumf>
// CHECK: math.exp2 %{{.+}} : f32
// P V: 4 rows x 4 value vectors per block (two blocks for D = 128).
// CHECK: %{{.+}}:16 = scf.for {{.+}} -> (vector<16xf32>
// CHECK: %{{.+}}:16 = scf.for {{.+}} -> (vector<16xf32>
// CHECK-NOT: attn.tile_attend
func.func @decode_rows(%q: memref<4x128xf16>, %k: memref<?x128xf16>, %v: memref<?x128xf16>,
                       %len: memref<?xi32>, %o: memref<4x128xf32>, %i: index) {
  %m = memref.alloca() : memref<16xf32>
  %l = memref.alloca() : memref<16xf32>
  %acc = memref.alloca() : memref<16x128xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
  linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
  linalg.fill ins(%zero : f32) outs(%acc : memref<16x128xf32>)
  attn.tile_attend ins(%q, %k, %v : memref<4x128xf16>, memref<?x128xf16>, memref<?x128xf16>)
      state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x128xf32>)
      at [%i, %i, %i, %i] scale(0.0883883461)
      mask {
      ^bb0(%b: index, %h: index, %qi: index, %kj: index):
        %n = memref.load %len[%b] : memref<?xi32>
        %ni = arith.index_cast %n : i32 to index
        %c = arith.cmpi slt, %kj, %ni : index
        attn.yield %c : i1
      }
  attn.tile_finalize state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x128xf32>)
      outs(%o : memref<4x128xf32>) at [%i, %i, %i]
  return
}

// -----

// A bf16 decode tile (MHA: one row). With bf16-dot the logits are
// vdpbf16ps over pairs, each key row read as 32-lane bf16 vectors against
// the query row's, read straight from the query view (no packing), and the
// summed logits scaled in f32. P V widens a bf16 value pair-vector by a
// shift (even elements) and a mask (odd elements) in both modes, with the
// accumulators split into even and odd elements while in registers.
// CHECK-LABEL: func.func @decode_rows_bf16
// CHECK: arith.extf %{{.+}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31] : vector<16xf32>, vector<16xf32>
// CHECK: scf.for
// CHECK: %[[W:.+]] = vector.bitcast %{{.+}} : vector<32xbf16> to vector<16xi32>
// CHECK: %[[E:.+]] = arith.shli %[[W]], %{{.+}} : vector<16xi32>
// CHECK: vector.bitcast %[[E]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[O:.+]] = arith.andi %[[W]], %{{.+}} : vector<16xi32>
// CHECK: vector.bitcast %[[O]] : vector<16xi32> to vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31] : vector<16xf32>, vector<16xf32>
// DOT-LABEL: func.func @decode_rows_bf16
// DOT-NOT: memref.alloca() {{.*}} : memref<1x128xf32>
// DOT: vector.load %arg0[%{{.+}}, %{{.+}}] : memref<1x128xbf16>, vector<32xbf16>
// DOT: vector.load %arg1[%{{.+}}, %{{.+}}] : memref<?x128xbf16>, vector<32xbf16>
// DOT: x86vector.avx512.dot %{{.+}}, %{{.+}}, %{{.+}} : vector<32xbf16> -> vector<16xf32>
// DOT: %[[S:.+]] = vector.shuffle
// DOT: arith.mulf %{{.+}}, %cst{{.*}} : vector<16xf32>
// DOT: vector.store %{{.+}} : memref<1x80xf32>, vector<16xf32>
// DOT: arith.shli
func.func @decode_rows_bf16(%q: memref<1x128xbf16>, %k: memref<?x128xbf16>, %v: memref<?x128xbf16>,
                            %o: memref<1x128xf32>, %i: index) {
  %m = memref.alloca() : memref<16xf32>
  %l = memref.alloca() : memref<16xf32>
  %acc = memref.alloca() : memref<16x128xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
  linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
  linalg.fill ins(%zero : f32) outs(%acc : memref<16x128xf32>)
  attn.tile_attend ins(%q, %k, %v : memref<1x128xbf16>, memref<?x128xbf16>, memref<?x128xbf16>)
      state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x128xf32>)
      at [%i, %i, %i, %i] scale(0.0883883461)
  attn.tile_finalize state(%m, %l, %acc : memref<16xf32>, memref<16xf32>, memref<16x128xf32>)
      outs(%o : memref<1x128xf32>) at [%i, %i, %i]
  return
}

// -----

// With bf16-dot (AVX512-BF16 targets) and bf16 queries, keys and values,
// both products are dot products over pairs: Q packed by head-dim pairs,
// each key's pair broadcast as one 32-bit word; the logits scaled in f32;
// P rounded to bf16 and interleaved by pairs of keys, value rows likewise
// (an odd last key pairs with zeros).
// DOT-LABEL: func.func @bf16_dot
// DOT: memref.alloca() {alignment = 64 : i64} : memref<32x128xbf16>
// DOT: vector.load %{{.+}} : memref<?x64xbf16, {{.+}}>, vector<2xbf16>
// DOT: vector.bitcast %{{.+}} : vector<2xbf16> to vector<1xi32>
// DOT: vector.broadcast %{{.+}} : i32 to vector<16xi32>
// DOT-COUNT-4: x86vector.avx512.dot %{{.+}}, %{{.+}}, %{{.+}} : vector<32xbf16> -> vector<16xf32>
// DOT: arith.mulf %{{.+}}, %cst{{.*}} : vector<16xf32>
// DOT: arith.truncf %{{.+}} : vector<16xf32> to vector<16xbf16>
// DOT: vector.interleave %{{.+}}, %{{.+}} : vector<16xbf16> -> vector<32xbf16>
// DOT: vector.interleave %{{.+}}, %{{.+}} : vector<16xbf16> -> vector<32xbf16>
// DOT: scf.for
// DOT: x86vector.avx512.dot
// DOT-NOT: attn.tile_attend
func.func @bf16_dot(%q: memref<?x4x?x64xbf16>, %o: memref<?x4x?x64xbf16>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xbf16>, memref<?x4x?x64xbf16>, memref<?x4x?x64xbf16>)
      outs(%o : memref<?x4x?x64xbf16>)
  return
}

// -----

// The query tile is packed transposed ([D, TQ], pre-scaled): a whole tile by
// blocks of 16 rows x 16 head-dim elements, loaded by rows, scaled and
// transposed in registers (4 stages of 16 shuffles; 3 of 8 on AVX2) and
// stored by rows of the pack; a partial tile element by element.
// CHECK-LABEL: func.func @pack_transposed
// CHECK: %[[QT:.+]] = memref.subview %arg0
// CHECK: %[[WHOLE:.+]] = arith.cmpi eq, %{{.+}}, %{{.+}} : index
// CHECK: scf.if %[[WHOLE]] {
// CHECK: scf.for
// CHECK-COUNT-16: vector.load %[[QT]]
// CHECK-COUNT-64: vector.shuffle
// CHECK: vector.store %{{.+}}, %[[QP:[a-z_0-9]+]][
// CHECK-COUNT-15: vector.store %{{.+}}, %[[QP]][
// CHECK: } else {
// CHECK: memref.load %[[QT]]
// CHECK: memref.store %{{.+}}, %[[QP]]
// AVX2-LABEL: func.func @pack_transposed
// AVX2: scf.if
// AVX2-COUNT-8: vector.load
// AVX2-COUNT-24: vector.shuffle
// AVX2-COUNT-8: vector.store
// AVX2: } else {
func.func @pack_transposed(%q: memref<1x2x100x64xf32>, %k: memref<1x2x?x64xf32>,
                           %v: memref<1x2x?x64xf32>, %o: memref<1x2x100x64xf32>) {
  attn.attention ins(%q, %k, %v : memref<1x2x100x64xf32>, memref<1x2x?x64xf32>, memref<1x2x?x64xf32>)
      outs(%o : memref<1x2x100x64xf32>)
  return
}

// -----

// A soft-cap's division by a constant becomes a multiplication by the
// reciprocal (a vector division per logit vector costs a dozen FMAs); a
// division by a logit-dependent value stays a division.
// CHECK-LABEL: func.func @softcap_reciprocal
// CHECK-NOT: arith.divf %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK: %[[INV:.+]] = arith.constant 0.0333333351 : f32
// CHECK: %[[INVV:.+]] = vector.broadcast %[[INV]] : f32 to vector<16xf32>
// CHECK: %[[X:.+]] = arith.mulf %{{.+}}, %[[INVV]] : vector<16xf32>
// CHECK: math.tanh %[[X]]
// CHECK: arith.divf %{{.+}}, %{{.+}} : vector<16xf32>
func.func @softcap_reciprocal(%q: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %cap = arith.constant 30.0 : f32
        %x = arith.divf %s, %cap : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %t, %cap : f32
        %one = arith.constant 1.0 : f32
        %d = arith.addf %s, %one : f32
        %y = arith.divf %r, %d : f32
        attn.yield %y : f32
      }
  return
}
