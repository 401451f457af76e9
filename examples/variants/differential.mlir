// Differential Transformer (Ye et al., "Differential Transformer"): two
// causal softmax maps over the same values, subtracted with a learned
// per-head lambda, normalized per row (RMSNorm over the head dim, eps 1e-5,
// no weight) and scaled by (1 - lambda_init):
//   o = (1 - lambda_init) * RMSNorm(softmax(q1 k1^T/8) v - lam[h] softmax(q2 k2^T/8) v)
// One op: both maps run in the same tiled loop over the key/value tiles, so
// each value tile is read once. lambda_init = 0.2 (the paper's value for the
// first layer, 0.8 - 0.6 exp(-0.3 (l - 1)) with l = 1).
func.func @main(%q1: tensor<?x4x?x64xf32>, %k1: tensor<?x4x?x64xf32>,
                %q2: tensor<?x4x?x64xf32>, %k2: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x128xf32>, %lam: tensor<4xf32>) -> tensor<?x4x?x128xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q1, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q1, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x128xf32>
  %o = attn.attention causal
      ins(%q1, %k1, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x128xf32>)
      second(%q2, %k2 : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x128xf32>)
      combine {
      ^bb0(%o1: f32, %o2: f32, %bb: index, %h: index, %i: index, %d: index):
        %lh = tensor.extract %lam[%h] : tensor<4xf32>
        %t = arith.mulf %lh, %o2 : f32
        %r = arith.subf %o1, %t : f32
        attn.yield %r : f32
      }
      rms_norm(1.0e-5)
      epilogue {
      ^bb0(%x: f32, %bb: index, %h: index, %i: index, %d: index):
        %f = arith.constant 0.8 : f32
        %y = arith.mulf %x, %f : f32
        attn.yield %y : f32
      } -> tensor<?x4x?x128xf32>
  return %o : tensor<?x4x?x128xf32>
}
