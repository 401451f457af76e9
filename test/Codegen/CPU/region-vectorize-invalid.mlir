// RUN: attn-opt %s --attn-cpu-pipeline --verify-diagnostics -o /dev/null

// A score region with a loop cannot be vectorized over keys (the region
// vectorizer clones elementwise ops lane-parallel; an scf.for whose trip
// count varies per key has no vector form): a located error, not a crash.
func.func @main(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  // expected-error @+1 {{cannot vectorize 'scf.for' in a region: ops with regions are not supported}}
  %o = attn.attention ins(%q, %k, %v : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c0 = arith.constant 0 : index
        %c1 = arith.constant 1 : index
        %r = scf.for %t = %c0 to %j step %c1 iter_args(%a = %s) -> (f32) {
          %a2 = arith.mulf %a, %s : f32
          scf.yield %a2 : f32
        }
        attn.yield %r : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
