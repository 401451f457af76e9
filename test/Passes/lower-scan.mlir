// RUN: attn-opt %s --attn-lower-scan=chunk-size=0 --split-input-file | FileCheck %s

// The recurrent form: a parallel loop over (batch, head), the state and the
// normalizer in f32 scratch, a sequential loop over the steps that decays and
// updates the state (exp of the step's log-decays for decay(channel)), then
// o_t = phi(q_t) S; the final state copied out.
// CHECK-LABEL: func.func @gla_decode
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]]) in (%{{.*}}, %{{.*}})
// CHECK:   %[[S:.*]] = memref.alloca() : memref<64x32xf32>
// CHECK:   memref.load %{{.*}}[%[[B]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x2x64x32xf32>
// CHECK:   scf.for %[[T:.*]] =
// CHECK:     scf.for %[[I:.*]] =
// CHECK:       math.exp
// CHECK:       scf.for %[[J:.*]] =
// CHECK:         arith.mulf
// CHECK:         arith.addf
// CHECK:         memref.store %{{.*}}, %[[S]][%[[I]], %[[J]]]
// CHECK:     scf.for
// CHECK:       scf.for {{.*}} iter_args
// CHECK:       memref.store %{{.*}}, %{{.*}}[%[[B]], %[[H]], %[[T]], %{{.*}}] : memref<?x2x1x32xf32>
// CHECK:   scf.for
// CHECK:     scf.for
// CHECK:       memref.store %{{.*}}, %{{.*}}[%[[B]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x2x64x32xf32>
// CHECK-NOT: attn.scan
func.func @gla_decode(%q: memref<?x2x1x64xf32>, %v: memref<?x2x1x32xf32>, %a: memref<?x2x1x64xf32>,
                      %s0: memref<?x2x64x32xf32>, %o: memref<?x2x1x32xf32>, %s1: memref<?x2x64x32xf32>) {
  attn.scan decay(channel) ins(%q, %q, %v : memref<?x2x1x64xf32>, memref<?x2x1x64xf32>, memref<?x2x1x32xf32>)
      decays(%a : memref<?x2x1x64xf32>) state(%s0 : memref<?x2x64x32xf32>)
      outs(%o, %s1 : memref<?x2x1x32xf32>, memref<?x2x64x32xf32>)
  return
}

// -----

// normalize divides by phi(q_t) . z_t; the feature map is inlined on the
// keys and the queries; decay(head) reads the head's decay once.
// CHECK-LABEL: func.func @elu_head
// CHECK: scf.forall
// CHECK:   %[[LAM:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<2xf32>
// CHECK:   scf.for
// CHECK:     math.exp
// CHECK:     arith.mulf %[[LAM]]
// CHECK:     arith.divf
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

