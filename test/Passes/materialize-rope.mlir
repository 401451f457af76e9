// RUN: attn-opt %s -split-input-file -attn-materialize-rope | FileCheck %s
// RUN: attn-opt %s -split-input-file -attn-materialize-rope=skip-paged | FileCheck %s --check-prefix=SKIP

// attn.rope becomes a generic: the signed frequency table (a select tree on
// the channel; negated for the inverse), the pair partner read with
// tensor.extract, the f64 angle reduced to [-pi, pi] before f32 cos/sin.

// CHECK-LABEL: func.func @inverse
// CHECK: %[[T:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4xf64>)
// CHECK-DAG: arith.constant 1.000000e+00 : f64
// CHECK-DAG: arith.constant 1.000000e-02 : f64
// CHECK-DAG: arith.constant -1.000000e+00 : f64
// CHECK-DAG: arith.constant -1.000000e-02 : f64
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[T]], %arg1 : tensor<1x1x?x4xf32>, tensor<4xf64>, tensor<1x?xi32>) outs(%arg2
// CHECK: ^bb0(%[[X:.*]]: f32, %[[F:.*]]: f64, %[[P:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[D:.*]] = linalg.index 3
// CHECK: %[[S:.*]] = arith.addi %[[D]], %c2
// CHECK: %[[PART:.*]] = arith.remui %[[S]], %c4
// CHECK: %[[XP:.*]] = tensor.extract %arg0[%{{.*}}, %{{.*}}, %{{.*}}, %[[PART]]]
// CHECK: %[[PF:.*]] = arith.sitofp %[[P]] : i32 to f64
// CHECK: %[[A:.*]] = arith.mulf %[[PF]], %[[F]] : f64
// CHECK: arith.fptosi %{{.*}} : f64 to i64
// CHECK: %[[R:.*]] = arith.subf %[[A]], %{{.*}} : f64
// CHECK: %[[R32:.*]] = arith.truncf %[[R]] : f64 to f32
// CHECK: %[[C:.*]] = math.cos %[[R32]]
// CHECK: %[[SN:.*]] = math.sin %[[R32]]
// CHECK-DAG: %[[Y1:.*]] = arith.mulf %[[X]], %[[C]]
// CHECK-DAG: %[[Y2:.*]] = arith.mulf %[[XP]], %[[SN]]
// CHECK: arith.addf {{%[0-9]+}}, {{%[0-9]+}}
func.func @inverse(%x: tensor<1x1x?x4xf32>, %p: tensor<1x?xi32>, %o: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  %r = attn.rope <> inverse ins(%x : tensor<1x1x?x4xf32>) positions(%p : tensor<1x?xi32>) outs(%o : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %r : tensor<1x1x?x4xf32>
}

// -----

// GPT-J pairs (d xor 1, clamped for Halide), partial rotation (channels
// past dims are their own partner), YaRN's factor on rotated channels only
// (0.1 ln 4 + 1 = 1.1386...), bf16 rows rotated in f32 and rounded back.

// CHECK-LABEL: func.func @gptj_partial
// CHECK: arith.remui %{{.*}}, %c2
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c4
// CHECK: arith.select %[[IN]]
// CHECK: tensor.extract
// CHECK: arith.constant 1.13862944 : f32
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @gptj_partial(%x: tensor<2x1x3x8xbf16>, %p: tensor<2x3xi64>, %o: tensor<2x1x3x8xbf16>) -> tensor<2x1x3x8xbf16> {
  %r = attn.rope <style = gptj, dims = 4, scaling = yarn, factor = 4.0, original_context = 32> ins(%x : tensor<2x1x3x8xbf16>) positions(%p : tensor<2x3xi64>) outs(%o : tensor<2x1x3x8xbf16>) -> tensor<2x1x3x8xbf16>
  return %r : tensor<2x1x3x8xbf16>
}

// -----

// The attention's rope: queries at i + lens[b] - Lq, keys at j; the
// attention keeps its lengths and loses the rope.

// CHECK-LABEL: func.func @lens
// CHECK: %[[LQ:.*]] = tensor.dim %arg0, %c2
// CHECK: %[[QP:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?xi64>)
// CHECK: %[[B:.*]] = linalg.index 0
// CHECK: %[[I:.*]] = linalg.index 1
// CHECK: %[[L:.*]] = tensor.extract %arg3[%[[B]]]
// CHECK: %[[LI:.*]] = arith.index_cast %[[L]] : i32 to index
// CHECK: %[[OFF:.*]] = arith.subi %[[LI]], %[[LQ]]
// CHECK: arith.addi %[[I]], %[[OFF]]
// CHECK: %[[KP:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?xi64>)
// CHECK: %[[QR:.*]] = linalg.generic {{.*}} ins(%arg0, %{{.*}}, %[[QP]] :
// CHECK: %[[KR:.*]] = linalg.generic {{.*}} ins(%arg1, %{{.*}}, %[[KP]] :
// CHECK: attn.attention causal ins(%[[QR]], %[[KR]], %arg2 : {{.*}}) kv_lens(%arg3 : tensor<?xi32>) outs(
// CHECK-NOT: rope
func.func @lens(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %lens: tensor<?xi32>, %o: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %r = attn.attention causal rope <> ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) kv_lens(%lens : tensor<?xi32>) outs(%o : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %r : tensor<?x4x?x16xf32>
}

// -----

// Without lengths the queries sit at i + Lk - Lq.

// CHECK-LABEL: func.func @plain
// CHECK: %[[LQ:.*]] = tensor.dim %arg0, %c2
// CHECK: %[[LK:.*]] = tensor.dim %arg1, %c2
// CHECK: linalg.generic
// CHECK: arith.subi %[[LK]], %[[LQ]]
// SKIP-LABEL: func.func @plain
// SKIP-NOT: attn.attention {{.*}}rope
func.func @plain(%q: tensor<1x4x?x16xf32>, %k: tensor<1x4x?x16xf32>, %o: tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32> {
  %r = attn.attention rope <> ins(%q, %k, %k : tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>) outs(%o : tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32>
  return %r : tensor<1x4x?x16xf32>
}

// -----

// A paged pool is gathered first (a pool row's position is the one its
// request reads it at); the attention keeps kv_lens on dense keys. With
// skip-paged it stays as it is.

// CHECK-LABEL: func.func @paged
// CHECK: %[[K:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2x?x16xf16>)
// CHECK: tensor.extract %arg4
// CHECK: %[[V:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2x?x16xf16>)
// CHECK: %[[KR:.*]] = linalg.generic {{.*}} ins(%[[K]],
// CHECK: attn.attention causal ins(%{{.*}}, %[[KR]], %[[V]] : tensor<?x4x1x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>) kv_lens(%arg3 : tensor<?xi32>) outs(
// SKIP-LABEL: func.func @paged
// SKIP: attn.attention causal rope <> ins({{.*}}) kv_lens(%arg3 : tensor<?xi32>) pages(%arg4
func.func @paged(%q: tensor<?x4x1x16xf16>, %kp: tensor<?x8x2x16xf16>, %vp: tensor<?x8x2x16xf16>, %lens: tensor<?xi32>, %t: tensor<?x?xi32>, %o: tensor<?x4x1x16xf16>) -> tensor<?x4x1x16xf16> {
  %r = attn.attention causal rope <> ins(%q, %kp, %vp : tensor<?x4x1x16xf16>, tensor<?x8x2x16xf16>, tensor<?x8x2x16xf16>) kv_lens(%lens : tensor<?xi32>) pages(%t : tensor<?x?xi32>) outs(%o : tensor<?x4x1x16xf16>) -> tensor<?x4x1x16xf16>
  return %r : tensor<?x4x1x16xf16>
}
