// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(attn-lower-route,canonicalize))' | FileCheck %s

// Independent rows: an scf.forall over chunks of 32 rows, stack rows per
// forall iteration, softmax, two argmax sweeps (strict ogt: ties to the lower
// expert), renormalization, stores of both slots.
// CHECK-LABEL: func @softmax_top2
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %{{.*}}, %c32
// CHECK: scf.forall (%{{.*}}) in (%[[CHUNKS]])
// CHECK-COUNT-3: memref.alloca() : memref<8xf32>
// CHECK: scf.for
// CHECK: math.exp
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf ogt
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %arg1[%{{.*}}, %c0] : memref<?x2xf32>
// CHECK: memref.store %{{.*}}, %arg2[%{{.*}}, %c0] : memref<?x2xi32>
// CHECK: memref.store %{{.*}}, %arg1[%{{.*}}, %c1] : memref<?x2xf32>
// CHECK: memref.store %{{.*}}, %arg2[%{{.*}}, %c1] : memref<?x2xi32>
func.func @softmax_top2(%l: memref<?x8xf32>, %w: memref<?x2xf32>, %i: memref<?x2xi32>) {
  attn.route top(2) renormalize ins(%l : memref<?x8xf32>) outs(%w, %i : memref<?x2xf32>, memref<?x2xi32>)
  return
}

// -----

// Capacity: rows in token order (no forall), a stack row of counters and
// the capacity ceil(1.0 * T * 1 / 8) computed once.
// CHECK-LABEL: func @capacity
// CHECK-NOT: scf.forall
// CHECK: memref.alloca() : memref<8xi32>
// CHECK: math.ceil
// CHECK: arith.fptosi
// CHECK: scf.for
// CHECK: arith.cmpi slt, %{{.*}}, %{{.*}} : i32
// CHECK-NOT: scf.forall
func.func @capacity(%l: memref<?x8xf32>, %w: memref<?x1xf32>, %i: memref<?x1xi32>) {
  attn.route top(1) ins(%l : memref<?x8xf32>) outs(%w, %i : memref<?x1xf32>, memref<?x1xi32>) {capacity_factor = 1.0 : f32}
  return
}

// -----

// Load statistics go to the counts and prob_sums outputs, zeroed first.
// CHECK-LABEL: func @stats
// CHECK-NOT: scf.forall
// CHECK: memref.store %c0_i32, %arg3[
// CHECK: memref.store %{{.*}}, %arg4[
// CHECK: arith.addi %{{.*}}, %c1_i32 : i32
// CHECK: memref.store %{{.*}}, %arg3[
func.func @stats(%l: memref<?x8xf32>, %w: memref<?x2xf32>, %i: memref<?x2xi32>, %n: memref<8xi32>, %p: memref<8xf32>) {
  attn.route top(2) ins(%l : memref<?x8xf32>) outs(%w, %i, %n, %p : memref<?x2xf32>, memref<?x2xi32>, memref<8xi32>, memref<8xf32>)
  return
}

// -----

// Logits from x and W: a vector FMA per 16 experts; sigmoid scores, a bias,
// group ranking (a stack row of 8 group scores) and the routed scale.
// CHECK-LABEL: func @deepseek
// CHECK: memref.alloca() : memref<8xf32>
// CHECK: vector.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: memref.load %arg2[
// CHECK: arith.cmpi uge, %{{.*}}, %c4 : index
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
func.func @deepseek(%x: memref<?x32xf32>, %wr: memref<32x64xf32>, %bias: memref<64xf32>, %w: memref<?x6xf32>, %i: memref<?x6xi32>) {
  attn.route top(6) scoring(sigmoid) renormalize ins(%x, %wr : memref<?x32xf32>, memref<32x64xf32>) bias(%bias : memref<64xf32>)
      outs(%w, %i : memref<?x6xf32>, memref<?x6xi32>) {groups = array<i64: 8, 4>, routed_scale = 2.5 : f32}
  return
}

// -----

// A score region is inlined per logit with the token index and the expert;
// dynamic expert counts get dynamic stack rows.
// CHECK-LABEL: func @blocks
// CHECK: scf.forall
// CHECK: memref.alloca(%{{.*}}) : memref<?xf32>
// CHECK: arith.cmpi ugt
// CHECK: arith.select
func.func @blocks(%q: memref<?x4x?x64xf32>, %k: memref<?x4x64x?xf32>, %w: memref<?x4x?x3xf32>, %i: memref<?x4x?x3xi32>) {
  attn.route top(3) scoring(none) ins(%q, %k : memref<?x4x?x64xf32>, memref<?x4x64x?xf32>)
      outs(%w, %i : memref<?x4x?x3xf32>, memref<?x4x?x3xi32>)
      score {
      ^bb0(%s: f32, %t: index, %e: index):
        %ninf = arith.constant 0xFF800000 : f32
        %f = arith.cmpi ugt, %e, %t : index
        %r = arith.select %f, %ninf, %s : f32
        attn.yield %r : f32
      }
  return
}
