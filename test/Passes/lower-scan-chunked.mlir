// RUN: attn-opt %s --attn-lower-scan --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-lower-scan=chunk-size=8 --split-input-file | FileCheck %s --check-prefix=C8

// The chunkwise form (default 32 steps): per (batch, head) a loop over
// chunks; the fill loads rows (bf16 widened), accumulates the log decays
// and scales q by e^G; a run-time range check picks the single reference
// point (e^-G on the keys, 16x16 transposes, one matmul of fma rows) or the
// sub-block form (exponents clamped at 0, per-element diagonal); the
// output rounds to bf16; the state update is a matmul; the final state is
// stored.
// CHECK-LABEL: func.func @gla
// CHECK:   %[[LEN:.*]] = memref.dim %{{.*}}, %c2
// CHECK:   scf.forall (%[[B:.*]], %[[H:.*]]) in
// CHECK:     memref.alloca() : memref<32x32xf32>
// CHECK:     scf.for %[[T0:.*]] = %{{.*}} to %[[LEN]] step %c32
// CHECK:       arith.minsi
// CHECK:       scf.for {{.*}} iter_args(%[[CUM:.*]] = %{{.*}}) -> (vector<32xf32>)
// CHECK:         vector.load %{{.*}}[%[[B]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x2x?x16xbf16>, vector<16xbf16>
// CHECK:         arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK:         arith.addf %[[CUM]], %{{.*}} : vector<32xf32>
// CHECK:         math.exp
// CHECK:       vector.reduction <maximumf>
// CHECK:       vector.reduction <minimumf>
// CHECK:       scf.if
// CHECK:         arith.negf
// CHECK:         math.exp
// CHECK:         vector.transpose %{{.*}}, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
// CHECK:         vector.fma
// CHECK:         arith.select
// CHECK:       } else {
// CHECK:         scf.for {{.*}} step %c16
// CHECK:           arith.minimumf
// CHECK:           vector.fma
// CHECK:           vector.reduction <add>
// CHECK:       }
// CHECK:       vector.fma {{.*}} : vector<16xf32>
// CHECK:       arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK:       vector.store %{{.*}}, %{{.*}}[%[[B]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x2x?x16xbf16>, vector<16xbf16>
// CHECK:       vector.fma {{.*}} : vector<16xf32>
// CHECK:     vector.store %{{.*}}, %{{.*}}[%[[B]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x2x32x16xf32>, vector<16xf32>
// CHECK-NOT: attn.scan
// Chunks of 8 rows: one sub-block, element-wise transposes.
// C8-LABEL: func.func @gla
// C8:       scf.for {{.*}} step %c8
// C8-NOT:   vector.transpose
// C8:       return
func.func @gla(%q: memref<?x2x?x32xf32>, %k: memref<?x2x?x32xf32>, %v: memref<?x2x?x16xbf16>,
               %a: memref<?x2x?x32xf32>, %o: memref<?x2x?x16xbf16>, %s1: memref<?x2x32x16xf32>) {
  attn.scan decay(channel) ins(%q, %k, %v : memref<?x2x?x32xf32>, memref<?x2x?x32xf32>, memref<?x2x?x16xbf16>)
      decays(%a : memref<?x2x?x32xf32>)
      outs(%o, %s1 : memref<?x2x?x16xbf16>, memref<?x2x32x16xf32>)
  return
}

// -----

// decay(head): log(lambda) once per head, lambda^(t-s) on the scores
// (exactly 1 on the diagonal), the feature map on vectors of 16 channels,
// normalize divides by the running sums.
// CHECK-LABEL: func.func @elu_head
// CHECK: scf.forall
// CHECK:   %[[LAM:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<2xf32>
// CHECK:   math.log %[[LAM]] : f32
// CHECK:   scf.for
// CHECK:     math.exp %{{.*}} : vector<16xf32>
// CHECK:     arith.cmpi eq
// CHECK:     arith.select
// CHECK:     vector.reduction <add>
// CHECK:     arith.divf %{{.*}} : vector<16xf32>
// CHECK-NOT: attn.scan
func.func @elu_head(%q: memref<1x2x?x16xbf16>, %l: memref<2xf32>, %o: memref<1x2x?x16xf32>) {
  attn.scan decay(head) normalize ins(%q, %q, %q : memref<1x2x?x16xbf16>, memref<1x2x?x16xbf16>, memref<1x2x?x16xbf16>)
      decays(%l : memref<2xf32>) outs(%o : memref<1x2x?x16xf32>)
      feature_map {
      ^bb0(%x: f32, %d: index):
        %e = math.exp %x : f32
        attn.yield %e : f32
      }
  return
}

// -----

// One static step (decode) takes the recurrent form, whatever the chunk
// size.
// CHECK-LABEL: func.func @decode
// CHECK: scf.forall
// CHECK-NOT: vector.fma
// CHECK:   memref.load
// CHECK: return
// C8-LABEL: func.func @decode
// C8-NOT: vector.fma
// C8: return
func.func @decode(%q: memref<?x2x1x16xf32>, %s0: memref<?x2x16x16xf32>,
                  %o: memref<?x2x1x16xf32>, %s1: memref<?x2x16x16xf32>) {
  attn.scan decay(none) ins(%q, %q, %q : memref<?x2x1x16xf32>, memref<?x2x1x16xf32>, memref<?x2x1x16xf32>)
      state(%s0 : memref<?x2x16x16xf32>) outs(%o, %s1 : memref<?x2x1x16xf32>, memref<?x2x16x16xf32>)
  return
}

// -----

// A feature map with a region (no vector form) and strided rows also take
// the recurrent form.
// CHECK-LABEL: func.func @branchy_phi
// CHECK-NOT: vector.fma
// CHECK: scf.if
// CHECK: return
func.func @branchy_phi(%q: memref<1x2x?x16xf32>, %o: memref<1x2x?x16xf32>) {
  attn.scan decay(none) ins(%q, %q, %q : memref<1x2x?x16xf32>, memref<1x2x?x16xf32>, memref<1x2x?x16xf32>)
      outs(%o : memref<1x2x?x16xf32>)
      feature_map {
      ^bb0(%x: f32, %d: index):
        %zero = arith.constant 0.0 : f32
        %pos = arith.cmpf ogt, %x, %zero : f32
        %y = scf.if %pos -> f32 {
          scf.yield %x : f32
        } else {
          scf.yield %zero : f32
        }
        attn.yield %y : f32
      }
  return
}

// -----

// CHECK-LABEL: func.func @strided
// CHECK-NOT: vector.load
// CHECK: return
func.func @strided(%q: memref<1x2x?x16xf32, strided<[?, ?, ?, 2]>>, %o: memref<1x2x?x16xf32>) {
  attn.scan decay(none) ins(%q, %q, %q : memref<1x2x?x16xf32, strided<[?, ?, ?, 2]>>, memref<1x2x?x16xf32, strided<[?, ?, ?, 2]>>, memref<1x2x?x16xf32, strided<[?, ?, ?, 2]>>)
      outs(%o : memref<1x2x?x16xf32>)
  return
}

// -----

// A reverse scan: the forward recurrence with step t at row len - 1 - t of
// every stepped operand (the chunks' row loads, the output's stores); the
// per-head decays are loaded as before.
// CHECK-LABEL: func.func @reverse
// CHECK: %[[LEN:.*]] = memref.dim %{{.*}}, %c2
// CHECK: scf.forall
// CHECK: %[[LAST:.*]] = arith.subi %[[LEN]], %c1{{.*}}
// CHECK: %[[ROW:.*]] = arith.subi %[[LAST]], %{{.*}}
// CHECK: vector.load %arg0[%{{.*}}, %{{.*}}, %[[ROW]], %c0{{.*}}]
// CHECK: arith.subi %[[LEN]], %c1{{.*}}
// CHECK: vector.store {{.*}}, %arg2[
// CHECK-NOT: attn.scan
// CHECK-NOT: memref.reinterpret_cast
// C8-LABEL: func.func @reverse
// C8-NOT: attn.scan
func.func @reverse(%q: memref<?x2x?x16xf32>, %l: memref<2xf32>, %o: memref<?x2x?x16xf32>) {
  attn.scan decay(head) reverse ins(%q, %q, %q : memref<?x2x?x16xf32>, memref<?x2x?x16xf32>, memref<?x2x?x16xf32>)
      decays(%l : memref<2xf32>) outs(%o : memref<?x2x?x16xf32>)
  return
}
