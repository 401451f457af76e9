// RUN: attn-opt %s -split-input-file -attn-tile-attention="q-tile=32 kv-tile=16 decode-split-keys=0" -canonicalize | FileCheck %s

// Causal: a parallel loop over (batch, head, query tile); per key tile the
// classification is two comparisons; empty tiles are skipped, full tiles run
// tile_attend without a mask, partial tiles with the causal mask.
// CHECK-LABEL: func.func @causal_gqa
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: memref<?x8x?x64xf32>, %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32>, %[[V:[a-z0-9]+]]: memref<?x2x?x64xf32>, %[[O:[a-z0-9]+]]: memref<?x8x?x64xf32>)
// CHECK: scf.forall (%[[B:.+]], %[[H:.+]], %[[QT:.+]]) in (%{{.+}}, 8, %{{.+}}) {
// CHECK-DAG: %[[M:.+]] = memref.alloca() : memref<32xf32>
// CHECK-DAG: %[[L:.+]] = memref.alloca() : memref<32xf32>
// CHECK-DAG: %[[ACC:.+]] = memref.alloca() : memref<32x64xf32>
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[M]] : memref<32xf32>)
// CHECK: %[[HK:.+]] = arith.divui %[[H]], %c4
// CHECK: %[[QTILE:.+]] = memref.subview %[[Q]][%[[B]], %[[H]], %{{.+}}, 0] [1, 1, %{{.+}}, 64] [1, 1, 1, 1]
// CHECK: scf.for
// CHECK: memref.subview %[[K]][%[[B]], %[[HK]], %{{.+}}, 0]
// CHECK: %[[FULL:.+]] = arith.cmpi sle
// CHECK: %[[NONEMPTY:.+]] = arith.cmpi sle
// CHECK: scf.if %[[NONEMPTY]] {
// CHECK: scf.if %[[FULL]] {
// CHECK: attn.tile_attend ins(%[[QTILE]], %{{.+}}, %{{.+}} : {{.+}}) state(%[[M]], %[[L]], %[[ACC]] : {{.+}}) at[%[[B]], %[[H]], %{{.+}}, %{{.+}}] scale(1.250000e-01){{$}}
// CHECK: } else {
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK: arith.cmpi sle
// CHECK: attn.yield %{{.+}} : i1
// CHECK: attn.tile_finalize state(%[[M]], %[[L]], %[[ACC]] : {{.+}}) outs(%{{.+}} : memref<?x64xf32, strided<[64, 1], offset: ?>>) at[%[[B]], %[[H]], %{{.+}}]
// CHECK: } {attn.tile_sizes = array<i64: 32, 16>}
func.func @causal_gqa(%q: memref<?x8x?x64xf32>, %k: memref<?x2x?x64xf32>,
                      %v: memref<?x2x?x64xf32>, %o: memref<?x8x?x64xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x8x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      outs(%o : memref<?x8x?x64xf32>)
  return
}

// -----

// No mask: every tile is full, no classification and no mask region.
// CHECK-LABEL: func.func @dense_lse
// CHECK: scf.for
// CHECK-NOT: scf.if
// CHECK: attn.tile_attend
// CHECK-NOT: mask
// CHECK: attn.tile_finalize {{.*}} outs(%{{.+}}, %{{.+}} : memref<?x128xbf16, strided<[128, 1], offset: ?>>, memref<?xf32, strided<[1], offset: ?>>)
func.func @dense_lse(%q: memref<?x4x?x128xbf16>, %k: memref<?x4x?x128xbf16>,
                     %v: memref<?x4x?x128xbf16>, %o: memref<?x4x?x128xbf16>, %l: memref<?x4x?xf32>) {
  attn.attention ins(%q, %k, %v : memref<?x4x?x128xbf16>, memref<?x4x?x128xbf16>, memref<?x4x?x128xbf16>)
      outs(%o, %l : memref<?x4x?x128xbf16>, memref<?x4x?xf32>)
  return
}

// -----

// A sliding window written in the mask region (i - 64 < j <= i) is
// classified at compile time too: both bounds of the band are checked. Its
// keys are one interval per query tile, [max(q0 - 63, 0), min(q0 + nq, Lk)):
// the key loop starts at the window's first key, not at key 0.
// CHECK-LABEL: func.func @sliding_window
// CHECK: scf.forall
// CHECK: %[[Q0:.+]] = arith.muli %{{.+}}, %c32 : index
// CHECK: %[[LO0:.+]] = arith.addi %[[Q0]], %c-63 : index
// CHECK: %[[LO1:.+]] = arith.maxsi %[[LO0]], %c0 : index
// CHECK: %[[LO:.+]] = arith.minsi %[[LO1]], %{{.+}} : index
// CHECK: scf.for %[[KT:.+]] = %c0 to %{{.+}} step %c1 {
// CHECK: %[[OFF:.+]] = arith.muli %[[KT]], %c16 : index
// CHECK: %[[K0:.+]] = arith.addi %[[LO]], %[[OFF]] : index
// CHECK: memref.subview %{{.+}}[%{{.+}}, %{{.+}}, %[[K0]], 0]
// CHECK-COUNT-4: arith.cmpi
// CHECK: scf.if
// CHECK: scf.if
// CHECK: attn.tile_attend
// CHECK-NOT: mask
// CHECK: } else {
// CHECK: attn.tile_attend {{.*}} mask {
func.func @sliding_window(%q: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %w = arith.constant 64 : index
        %lo = arith.subi %i, %w : index
        %after = arith.cmpi sgt, %j, %lo : index
        %before = arith.cmpi sle, %j, %i : index
        %in = arith.andi %after, %before : i1
        attn.yield %in : i1
      }
  return
}

// -----

// Sinks or a window: two key intervals, [0, 4) and the window's; the one
// that starts first is visited first and the second starts where the first
// ends (no key twice). One loop: its index picks the interval.
// CHECK-LABEL: func.func @sinks_and_window
// CHECK: scf.forall
// CHECK: %[[SWAP:.+]] = arith.cmpi slt, %{{.+}}, %{{.+}} : index
// CHECK: %[[LO1:.+]] = arith.select %[[SWAP]]
// CHECK: %[[HI1:.+]] = arith.select %[[SWAP]]
// CHECK: %[[LO2:.+]] = arith.maxsi %{{.+}}, %[[HI1]] : index
// CHECK: scf.for %[[KT:.+]] = %c0 to %{{.+}} step %c1 {
// CHECK: %[[FIRST:.+]] = arith.cmpi ult, %[[KT]], %{{.+}} : index
// CHECK: %[[BASE:.+]] = arith.select %[[FIRST]], %[[LO1]], %[[LO2]] : index
// CHECK: attn.tile_attend
func.func @sinks_and_window(%q: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c4 = arith.constant 4 : index
        %w = arith.constant 64 : index
        %sink = arith.cmpi slt, %j, %c4 : index
        %jw = arith.addi %j, %w : index
        %win = arith.cmpi slt, %i, %jw : index
        %vis = arith.ori %sink, %win : i1
        attn.yield %vis : i1
      }
  return
}

// -----

// A data-dependent mask (document ids): the ranges of the ids over the
// tile's query rows and key columns are computed at run time (a loop of
// loads each); disjoint ranges make the tile empty, one shared id makes it
// full.
// CHECK-LABEL: func.func @document_mask
// CHECK: scf.for %[[KT:.+]] =
// CHECK: %[[QFIRST:.+]] = memref.load %[[DOC:.+]][%{{.+}}, %[[Q0:.+]]] : memref<?x?xi32>
// CHECK: %[[QR:.+]]:2 = scf.for %[[I:.+]] = %[[Q0]] to %{{.+}} step %{{.+}} iter_args(%{{.+}} = %[[QFIRST]], %{{.+}} = %[[QFIRST]])
// CHECK: memref.load %[[DOC]][%{{.+}}, %[[I]]]
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: %[[KR:.+]]:2 = scf.for
// CHECK-DAG: arith.cmpi slt, %[[KR]]#1, %[[QR]]#0 : i32
// CHECK-DAG: arith.cmpi slt, %[[QR]]#1, %[[KR]]#0 : i32
// CHECK: scf.if
// CHECK: scf.if
// CHECK: attn.tile_attend
// CHECK-NOT: mask
// CHECK: } else {
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK: attn.tile_finalize
func.func @document_mask(%q: memref<?x4x?x64xf32>, %doc: memref<?x?xi32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %di = memref.load %doc[%b, %i] : memref<?x?xi32>
        %dj = memref.load %doc[%b, %j] : memref<?x?xi32>
        %same = arith.cmpi eq, %di, %dj : i32
        attn.yield %same : i1
      }
  return
}

// -----

// A tile-granular mask (tile coordinates (i / 64) % 4 against (j / 64) % 4,
// as sliding tile attention's 3-D windows): each side's range over the tile
// by interval arithmetic. Inside one 64-block a coordinate is a single value
// (the remainder is exact over one period; [0, 3] otherwise), so the tile
// is full or empty and the mask runs only in the else branch. The indices
// are non-negative: the unsigned ops need no sign guard.
// CHECK-LABEL: func.func @tile_granular
// CHECK: scf.for %[[KT:.+]] =
// CHECK-NOT: arith.select %{{.+}}, %c-9223372036854775808
// CHECK: %[[KB0:.+]] = arith.divsi %[[K0:.+]], %c64 : index
// CHECK: %[[KB1:.+]] = arith.divsi %[[K1:.+]], %c64 : index
// CHECK: %[[KP0:.+]] = arith.divsi %[[KB0]], %c4 : index
// CHECK: %[[KP1:.+]] = arith.divsi %[[KB1]], %c4 : index
// CHECK: %[[KONE:.+]] = arith.cmpi eq, %[[KP0]], %[[KP1]] : index
// CHECK: %[[KR0:.+]] = arith.remsi %[[KB0]], %c4 : index
// CHECK: %[[KR1:.+]] = arith.remsi %[[KB1]], %c4 : index
// CHECK: %[[KLO:.+]] = arith.select %[[KONE]], %[[KR0]], %c0 : index
// CHECK: %[[KHI:.+]] = arith.select %[[KONE]], %[[KR1]], %c3 : index
// CHECK: %[[QLO:.+]] = arith.select %{{.+}}, %{{.+}}, %c0 : index
// CHECK: %[[QHI:.+]] = arith.select %{{.+}}, %{{.+}}, %c3 : index
// CHECK-DAG: arith.cmpi slt, %[[QHI]], %[[KLO]] : index
// CHECK-DAG: arith.cmpi slt, %[[KHI]], %[[QLO]] : index
// CHECK: scf.if
// CHECK: scf.if
// CHECK: attn.tile_attend
// CHECK-NOT: mask
// CHECK: } else {
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK: attn.tile_finalize
func.func @tile_granular(%q: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c64 = arith.constant 64 : index
        %c4 = arith.constant 4 : index
        %qi = arith.divui %i, %c64 : index
        %kj = arith.divui %j, %c64 : index
        %kx = arith.remui %kj, %c4 : index
        %qx = arith.remui %qi, %c4 : index
        %same = arith.cmpi eq, %kx, %qx : index
        attn.yield %same : i1
      }
  return
}

// -----

// An index map the ranges cannot follow (a remainder by a run-time value):
// every tile is partial.
// CHECK-LABEL: func.func @tile_granular_opaque
// CHECK-NOT: scf.if %{{.+}} {
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK-NOT: attn.tile_attend
// CHECK: attn.tile_finalize
func.func @tile_granular_opaque(%q: memref<?x4x?x64xf32>, %n: index, %o: memref<?x4x?x64xf32>) {
  attn.attention ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %kx = arith.remui %j, %n : index
        %qx = arith.remui %i, %n : index
        %same = arith.cmpi eq, %kx, %qx : index
        attn.yield %same : i1
      }
  return
}

// -----

// A mask the classifier cannot bound (a load indexed by i and j together):
// with causal, tiles above the diagonal are still skipped, but no tile
// counts as full.
// CHECK-LABEL: func.func @opaque_mask
// CHECK-NOT: attn.tile_attend
// CHECK: scf.if %{{.+}} {
// CHECK-NEXT: attn.tile_attend {{.*}} mask {
// CHECK: memref.load
// CHECK-NOT: attn.tile_attend
// CHECK: attn.tile_finalize
func.func @opaque_mask(%q: memref<?x4x?x64xf32>, %allow: memref<?x?xi8>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %a = memref.load %allow[%i, %j] : memref<?x?xi8>
        %zero = arith.constant 0 : i8
        %vis = arith.cmpi ne, %a, %zero : i8
        attn.yield %vis : i1
      }
  return
}

// -----

// A key-padding mask (valid[b, j] != 0): one run-time range over the tile's
// keys against a constant; a tile of padding keys is skipped.
// CHECK-LABEL: func.func @key_padding
// CHECK: %[[KR:.+]]:2 = scf.for
// CHECK-DAG: arith.cmpi slt, %[[KR]]#1, %{{.+}} : i8
// CHECK-DAG: arith.cmpi sgt, %[[KR]]#0, %{{.+}} : i8
// CHECK: scf.if
// CHECK: attn.tile_attend
func.func @key_padding(%q: memref<?x4x?x64xf32>, %valid: memref<?x?xi8>, %o: memref<?x4x?x64xf32>) {
  attn.attention ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %a = memref.load %valid[%b, %j] : memref<?x?xi8>
        %zero = arith.constant 0 : i8
        %vis = arith.cmpi ne, %a, %zero : i8
        attn.yield %vis : i1
      }
  return
}

// -----

// The normalizer and the sink region travel to the tile ops: the sink is
// applied once per row in tile_finalize, not per key tile.
// CHECK-LABEL: func.func @sink_and_sigmoid
// CHECK: attn.tile_attend {{.*}} normalizer(sigmoid)
// CHECK: attn.tile_finalize {{.*}} normalizer(sigmoid)
// CHECK: attn.tile_attend
// CHECK-NOT: sink
// CHECK: attn.tile_finalize {{.*}} sink {
// CHECK: memref.load %{{.+}}[%{{.+}}] : memref<4xf32>
func.func @sink_and_sigmoid(%q: memref<?x4x?x64xf32>, %s: memref<4xf32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal normalizer(sigmoid) ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x64xf32>)
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

// Two maps over the same values: one key-tile loop, each value tile view
// used by both tile_attend steps; the rows are finalized into stack tiles,
// combined, RMS-normalized and stored.
// CHECK-LABEL: func.func @second_map
// CHECK: scf.for
// CHECK: %[[V:.+]] = memref.subview %[[VBUF:.+]][{{.*}}] : memref<?x4x?x128xf32> to
// One tile classification serves both maps.
// CHECK: scf.if
// CHECK: scf.if
// CHECK-NOT: scf.if
// CHECK: attn.tile_attend ins(%{{.+}}, %{{.+}}, %[[V]] :
// CHECK-NEXT: attn.tile_attend ins(%{{.+}}, %{{.+}}, %[[V]] :
// CHECK-NEXT: } else {
// CHECK: attn.tile_attend ins(%{{.+}}, %{{.+}}, %[[V]] : {{.*}} mask
// CHECK: attn.tile_attend ins(%{{.+}}, %{{.+}}, %[[V]] : {{.*}} mask
// CHECK: attn.tile_finalize
// CHECK: attn.tile_finalize
// CHECK: scf.for
// CHECK: arith.subf
// CHECK: math.fma
// CHECK: math.rsqrt
// CHECK: memref.store %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}] : memref<?x4x?x128xf32>
func.func @second_map(%q: memref<?x4x?x64xf32>, %v: memref<?x4x?x128xf32>, %o: memref<?x4x?x128xf32>) {
  attn.attention causal ins(%q, %q, %v : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x128xf32>)
      second(%q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o : memref<?x4x?x128xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        %x = arith.subf %a, %c : f32
        attn.yield %x : f32
      }
      rms_norm(1.0e-5)
  return
}

// -----

// Block selection (MoBA), key-block major: per (batch, head) a counting
// sort of the (row, slot) selections by block (out-of-range entries and
// repeats of an earlier slot choose nothing); per (batch, head, block) the
// rows that chose it are gathered in chunks of q-tile rows and attended to
// that block only (key tiles of gcd(16, 24) = 8), their regions seeing each
// row's position through a load; partial outputs and LSEs per (row, slot)
// are merged by log-sum-exp.
// CHECK-LABEL: func @blocks
// CHECK: %[[NB:.*]] = arith.ceildivui %{{.*}}, %c24 : index
// CHECK: %[[OFFS:.*]] = memref.alloc(%{{.*}}) : memref<?xindex>
// CHECK: %[[LIST:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK: %[[PARTO:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK: %[[PARTL:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 4)
// CHECK: memref.load %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %c1]
// CHECK: memref.load %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %c0]
// CHECK: arith.cmpi ne
// CHECK: memref.store %{{.*}}, %[[LIST]]
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[N:.*]]) in (%{{.*}}, 4, %[[NB]])
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// CHECK: %[[QP:.*]] = memref.alloca() : memref<32x64xf32>
// CHECK: %[[POS:.*]] = memref.alloca() : memref<32xindex>
// CHECK: vector.load %arg0
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8
// CHECK: scf.if
// CHECK: attn.tile_attend
// CHECK-NOT: mask
// CHECK: } else {
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %[[R:.*]]: index, %[[J:.*]]: index):
// CHECK: %[[I:.*]] = memref.load %[[POS]][%[[R]]] : memref<32xindex>
// CHECK: %[[LIM:.*]] = arith.addi %[[I]], %{{.*}} : index
// CHECK: arith.cmpi sle, %[[J]], %[[LIM]] : index
// CHECK: attn.tile_finalize
// CHECK: memref.store %{{.*}}, %[[PARTL]]
// CHECK: vector.store %{{.*}}, %[[PARTO]]
// The merge reads a slot's partials only when the slot is valid (an
// invalid slot's were never written).
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, 4, %{{.*}})
// CHECK: %[[V0:.*]] = arith.cmpi sge, %{{.*}}, %c0 : index
// CHECK: scf.if %[[V0]] -> (f32) {
// CHECK-NEXT: memref.load %[[PARTL]]
// CHECK: math.exp
// CHECK: scf.if %[[V0]] -> (f32) {
// CHECK-NEXT: memref.load %[[PARTO]]
// CHECK: memref.store %{{.*}}, %arg4
func.func @blocks(%q: memref<?x4x?x64xf32>, %k: memref<?x4x?x64xf32>, %v: memref<?x4x?x64xf32>,
                  %sel: memref<?x4x?x2xi32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      blocks(%sel : memref<?x4x?x2xi32>) block_size(24) outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

// A block selection whose rows cannot be merged by LSE (sigmoid attention)
// keeps the query-tile form: per query tile a stack row counts the rows that
// chose each key block; a key tile is empty if no row chose its block, full
// only if every row did and the positions hide nothing, else its mask tests
// each row's list.
// CHECK-LABEL: func @blocks_sigmoid
// CHECK: scf.forall
// CHECK: %[[NB:.*]] = arith.divui %{{.*}}, %c24 : index
// CHECK: %[[ROWS:.*]] = memref.alloca(%[[NB]]) : memref<?xi32>
// CHECK: memref.store %c0_i32, %[[ROWS]]
// CHECK: %[[SEL:.*]] = memref.load %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %c0] : memref<?x4x?x2xi32>
// CHECK: %[[N:.*]] = arith.index_cast %[[SEL]] : i32 to index
// CHECK: arith.cmpi ult, %[[N]], %[[NB]]
// CHECK: arith.cmpi sge, %[[SEL]], %c0_i32
// CHECK: scf.if
// CHECK: arith.addi %{{.*}}, %c1_i32
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1
// CHECK: %[[K0:.*]] = arith.muli %{{.*}}, %c8 : index
// CHECK: %[[BLK:.*]] = arith.divui %[[K0]], %c24 : index
// CHECK: %[[CNT:.*]] = memref.load %[[ROWS]][%[[BLK]]]
// CHECK: %[[CNTI:.*]] = arith.index_cast %[[CNT]]
// CHECK: arith.cmpi eq, %[[CNTI]], %c0 : index
// CHECK: arith.cmpi eq, %[[CNTI]], %{{.*}} : index
// CHECK: attn.tile_attend
// CHECK-NOT: mask
// CHECK: } else {
// CHECK: attn.tile_attend {{.*}} mask {
// CHECK: arith.divui %{{.*}}, %c24 : index
// CHECK: memref.load %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %c0]
// CHECK: memref.load %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %c1]
// CHECK: arith.ori
// CHECK: arith.andi
func.func @blocks_sigmoid(%q: memref<?x4x?x64xf32>, %k: memref<?x4x?x64xf32>, %v: memref<?x4x?x64xf32>,
                          %sel: memref<?x4x?x2xi32>, %o: memref<?x4x?x64xf32>) {
  attn.attention causal normalizer(sigmoid) ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      blocks(%sel : memref<?x4x?x2xi32>) block_size(24) outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

// Fused row entropy: a [TQ] buffer of running sums per query tile, zeroed,
// updated by every tile_attend and turned into the entropy tile by
// tile_finalize. Not the decode form (even for one query row).
// CHECK-LABEL: func.func @row_entropy
// CHECK: scf.forall
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : memref<32x64xf32>)
// CHECK: %[[U:.+]] = memref.alloca() : memref<32xf32>
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[U]] : memref<32xf32>)
// CHECK: attn.tile_attend {{.*}} entropy(%[[U]] : memref<32xf32>) at
// CHECK: %[[E:.+]] = memref.subview %arg3[
// CHECK: attn.tile_finalize {{.*}} entropy(%[[U]] -> %[[E]] : memref<32xf32> -> memref<?xf32, strided<[1], offset: ?>>)
// CHECK-NOT: attn.dispatch
func.func @row_entropy(%q: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>, %l: memref<?x4x?xf32>, %e: memref<?x4x?xf32>) {
  attn.attention causal ins(%q, %q, %q : memref<?x4x?x64xf32>, memref<?x4x?x64xf32>, memref<?x4x?x64xf32>)
      outs(%o, %l, %e : memref<?x4x?x64xf32>, memref<?x4x?xf32>, memref<?x4x?xf32>) row_entropy
  return
}
