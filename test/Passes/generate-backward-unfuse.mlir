// RUN: attn-opt %s --attn-generate-backward --canonicalize | FileCheck %s

// Differential attention with rms_norm and a bf16 epilogue: the training
// forward unfuses the op into one attention per map (each saving O and LSE,
// f32 outputs), a generic for the combine region (lambda[h], read in the
// region, becomes an input at (b, h, i, d) -> (h)), a sum of squares into
// [b, h, i] and the normalizing generic, and the epilogue as a generic. The
// backward differentiates the generics: the sum's input gradient reads the
// result's gradient through the output's map (b, h, i); lambda's gradient
// sums over b, i, d.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[HEAD:.*]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @main_train(
// CHECK-SAME: -> (tensor<?x2x?x8xbf16>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
// CHECK: %[[A1:.*]]:2 = attn.attention causal ins(%arg0, %arg1, %arg4 : {{.*}}) outs({{.*}}) -> tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
// CHECK: %[[A2:.*]]:2 = attn.attention causal ins(%arg2, %arg3, %arg4 : {{.*}}) outs({{.*}}) -> tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
// CHECK: %[[C:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[HEAD]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[A1]]#0, %[[A2]]#0, %arg5 :
// CHECK: arith.mulf
// CHECK: arith.subf
// CHECK: %[[SS:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[C]] :
// CHECK: arith.addf %out,
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[C]], %[[SS]] :
// CHECK: math.rsqrt
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[N]] : tensor<?x2x?x8xf32>) outs(%{{.*}} : tensor<?x2x?x8xbf16>)
// CHECK: arith.truncf
// CHECK: return %[[E]], %[[A1]]#0, %[[A1]]#1, %[[A2]]#0, %[[A2]]#1
// CHECK-LABEL: func.func @main_backward(
// CHECK: %[[SSB:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// The sum's adjoint: dy at (b, h, i), the input at (b, h, i, d), all parallel.
// CHECK: linalg.generic {indexing_maps = [#[[ROW]], #[[ID]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// lambda's gradient: reduced over b, i and d.
// CHECK: %[[DLAM:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[ID]], #[[HEAD]], #[[HEAD]]], iterator_types = ["reduction", "parallel", "reduction", "reduction"]}
// CHECK: %[[G2:.*]]:3 = attn.attention_backward causal scale(2.500000e-01) ins(%arg2, %arg3, %arg4
// CHECK: %[[G1:.*]]:3 = attn.attention_backward causal scale(2.500000e-01) ins(%arg0, %arg1, %arg4
// CHECK: return %[[G1]]#0, %[[G1]]#1, %[[G2]]#0, %[[G2]]#1, %{{.*}}, %[[DLAM]]
func.func @main(%q1: tensor<?x2x?x16xf32>, %k1: tensor<?x2x?x16xf32>,
                %q2: tensor<?x2x?x16xf32>, %k2: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x8xf32>, %lam: tensor<2xf32>) -> tensor<?x2x?x8xbf16> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q1, %c0 : tensor<?x2x?x16xf32>
  %l = tensor.dim %q1, %c2 : tensor<?x2x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x2x?x8xbf16>
  %o = attn.attention causal
      ins(%q1, %k1, %v : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x8xf32>)
      second(%q2, %k2 : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%init : tensor<?x2x?x8xbf16>)
      combine {
      ^bb0(%o1: f32, %o2: f32, %bb: index, %h: index, %i: index, %d: index):
        %lh = tensor.extract %lam[%h] : tensor<2xf32>
        %t = arith.mulf %lh, %o2 : f32
        %r = arith.subf %o1, %t : f32
        attn.yield %r : f32
      }
      rms_norm(1.0e-5)
      epilogue {
      ^bb0(%x: f32, %bb: index, %h: index, %i: index, %d: index):
        %f = arith.constant 0.8 : f32
        %y = arith.mulf %x, %f : f32
        %t = arith.truncf %y : f32 to bf16
        attn.yield %t : bf16
      } -> tensor<?x2x?x8xbf16>
  return %o : tensor<?x2x?x8xbf16>
}
