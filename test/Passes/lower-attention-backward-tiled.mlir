// RUN: attn-opt %s --attn-lower-attention-backward="tiled=true" --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-lower-attention-backward --split-input-file | FileCheck %s --check-prefix=PAIR

// The tiled form of a causal GQA backward (H = 4, Hkv = 2) with a soft cap,
// a wide window mask (1000 keys), bf16 keys and values, D = 64, Dv = 32: one nest per
// (batch, KV head) with its tiles on the stack (K^T [D, 48], V^T [Dv, 48],
// K, Q and dO rows, P and dR [48, 48], the dK/dV accumulators), 48-key
// tiles, the query tiles a window-hidden tile would need skipped at run
// time, and register-blocked products: S = Q K^T (8 rows x 3 vectors over
// D), dP = dO V^T (over Dv), P and dR elementwise on 16 keys (the soft cap
// and its derivative vectorized), dV += P^T dO (8 x 2 over the tile's
// rows), dK += dR^T Q (6 x 4) and dQ += dR K (6 x 4 over the tile's keys).
// With 2 KV heads the iterations also split the key tiles in 2 interleaved
// parts (tile t to part t mod 2: start part * 48, step 96), each adding into
// its own copy of dQ; a last nest sums the copies in order of part.
// CHECK-LABEL: func.func @tiled
// CHECK: scf.forall ({{.*}}) in (%{{.*}}, %c4)
// CHECK: %[[PARTS:.*]] = memref.alloc({{.*}}) : memref<2x?x4x?x64xf32>
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %[[PART:.*]]) in (%{{.*}}, %c2{{.*}}, %c2{{.*}})
// CHECK-DAG: memref.alloca() : memref<64x48xf32>
// CHECK-DAG: memref.alloca() : memref<32x48xf32>
// CHECK-DAG: memref.alloca() : memref<48x48xf32>
// CHECK: %[[START:.*]] = arith.muli %[[PART]], %c48
// CHECK: scf.for %[[J0:.*]] = %[[START]] to %{{.*}} step %c96
// CHECK: arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: scf.if
// CHECK: scf.for {{.*}} = %c0{{.*}} to %c64 step %c1{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-24: vector.fma
// CHECK: scf.for {{.*}} = %c0{{.*}} to %c32 step %c1{{.*}} iter_args(
// CHECK: math.tanh %{{.*}} : vector<16xf32>
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: math.tanh %{{.*}} : vector<16xf32>
// CHECK: arith.select %{{.*}} : vector<16xi1>, vector<16xf32>
// CHECK: arith.select %{{.*}} : vector<16xi1>, vector<16xf32>
// CHECK: -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-16: vector.fma
// CHECK: -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-24: vector.fma
// CHECK: -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-24: vector.fma
// CHECK: scf.forall ({{.*}}) in (%{{.*}}, %c4{{.*}})
// CHECK: vector.load %[[PARTS]][%c0
// CHECK: vector.load %[[PARTS]][%c1
// CHECK: arith.addf {{.*}} : vector<16xf32>
// The pair form has no tiles.
// PAIR-LABEL: func.func @tiled
// PAIR-NOT: memref.alloca
// PAIR: return
func.func @tiled(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x32xbf16>,
                 %o: memref<?x4x?x32xf32>, %lse: memref<?x4x?xf32>, %do: memref<?x4x?x32xf32>,
                 %dq: memref<?x4x?x64xf32>, %dk: memref<?x2x?x64xf32>, %dv: memref<?x2x?x32xf32>) {
  attn.attention_backward causal scale(0.125)
      ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xbf16>, memref<?x2x?x32xbf16>)
      saved(%o : memref<?x4x?x32xf32>) lse(%lse : memref<?x4x?xf32>)
      grads(%do : memref<?x4x?x32xf32>)
      outs(%dq, %dk, %dv : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x32xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 30.0 : f32
        %x = arith.divf %s, %c : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %t, %c : f32
        attn.yield %r : f32
      }
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %w = arith.constant 1000 : index
        %jw = arith.addi %j, %w : index
        %m = arith.cmpi slt, %i, %jw : index
        attn.yield %m : i1
      }
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 30.0 : f32
        %x = arith.divf %s, %c : f32
        %t = math.tanh %x : f32
        %one = arith.constant 1.0 : f32
        %t2 = arith.mulf %t, %t : f32
        %d = arith.subf %one, %t2 : f32
        %r = arith.mulf %g, %d : f32
        attn.yield %r : f32
      }
  return
}

// -----

// Sigmoid attention (no LSE, no D): P = sigmoid(s), dS = dP P (1 - P).
// CHECK-LABEL: func.func @sigmoid
// CHECK: scf.forall
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: arith.divf %{{.*}} : vector<16xf32>
// CHECK: arith.subf %{{.*}} : vector<16xf32>
// PAIR-LABEL: func.func @sigmoid
func.func @sigmoid(%q: memref<1x2x?x16xf32>, %o: memref<1x2x?x16xf32>,
                   %dq: memref<1x2x?x16xf32>) {
  attn.attention_backward scale(0.25) normalizer(sigmoid)
      ins(%q, %q, %q : memref<1x2x?x16xf32>, memref<1x2x?x16xf32>, memref<1x2x?x16xf32>)
      saved(%o : memref<1x2x?x16xf32>)
      grads(%o : memref<1x2x?x16xf32>)
      outs(%dq, %dq, %dq : memref<1x2x?x16xf32>, memref<1x2x?x16xf32>, memref<1x2x?x16xf32>)
  return
}

// -----

// A narrow band (a causal window of 64 keys: MaskClassifier finds its static
// width) takes 32-key tiles; the 32-row products over D = 64 take 4-row
// register blocks (a divisor of 32) instead of 6 rows and a remainder.
// CHECK-LABEL: func.func @band
// CHECK-DAG: memref.alloca() : memref<64x32xf32>
// CHECK-DAG: memref.alloca() : memref<32x32xf32>
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c32
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{(_[0-9]+)?}} step %c4{{(_[0-9]+)?}} {
// PAIR-LABEL: func.func @band
func.func @band(%q: memref<1x4x?x64xf32>, %o: memref<1x4x?x64xf32>, %lse: memref<1x4x?xf32>,
                %dq: memref<1x4x?x64xf32>) {
  attn.attention_backward causal scale(0.125)
      ins(%q, %q, %q : memref<1x4x?x64xf32>, memref<1x4x?x64xf32>, memref<1x4x?x64xf32>)
      saved(%o : memref<1x4x?x64xf32>) lse(%lse : memref<1x4x?xf32>)
      grads(%o : memref<1x4x?x64xf32>)
      outs(%dq, %dq, %dq : memref<1x4x?x64xf32>, memref<1x4x?x64xf32>, memref<1x4x?x64xf32>)
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %w = arith.constant 64 : index
        %jw = arith.addi %j, %w : index
        %m = arith.cmpi slt, %i, %jw : index
        attn.yield %m : i1
      }
  return
}
