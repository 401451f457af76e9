// Catalogue: transnormer_norm_attention (linear-recurrent, P2).
// Qin et al., "The Devil in Linear Transformer" (EMNLP 2022).
//
// NormAttention: causal kernelized linear attention with no denominator,
// normalised at the output instead (RMSNorm over the value dim, eps 1e-6,
// learned gain g):
//   u_t = phi(q_t) S_t,  S_t = sum_{s<=t} phi(k_s)^T v_s,
//   o_t = g * u_t / sqrt(mean_d(u_t^2) + eps),
// with phi(x) = elu(x) + 1 (the paper's kernel choice is open; any
// feature_map region works). The scan keeps no z accumulator (no
// `normalize`); the norm is a row reduction over d (linalg).
// q, k, v [B, 4, L, 64], g [64] -> o [B, 4, L, 64].
#row = affine_map<(b, h, t, d) -> (b, h, t, d)>
#red = affine_map<(b, h, t, d) -> (b, h, t)>
#gain = affine_map<(b, h, t, d) -> (d)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %g: tensor<64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %u0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %u = attn.scan decay(none)
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%u0 : tensor<?x4x?x64xf32>)
      feature_map {
      ^bb0(%x: f32, %d: index):
        %z = arith.constant 0.0 : f32
        %one = arith.constant 1.0 : f32
        %pos = arith.cmpf ogt, %x, %z : f32
        %e = math.exp %x : f32
        %neg = arith.subf %e, %one : f32
        %elu = arith.select %pos, %x, %neg : f32
        %phi = arith.addf %elu, %one : f32
        attn.yield %phi : f32
      } -> tensor<?x4x?x64xf32>
  // RMSNorm over d: ms = mean(u^2), o = g * u / sqrt(ms + eps).
  %ms0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %msz = linalg.fill ins(%zero : f32) outs(%ms0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %ms = linalg.generic {indexing_maps = [#row, #red],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%u : tensor<?x4x?x64xf32>) outs(%msz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %inv = arith.constant 0.015625 : f32
    %sq = arith.mulf %x, %x : f32
    %w = arith.mulf %sq, %inv : f32
    %r = arith.addf %acc, %w : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = linalg.generic {indexing_maps = [#row, #red, #gain, #row],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%u, %ms, %g : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>) {
  ^bb0(%x: f32, %m: f32, %w: f32, %unused: f32):
    %eps = arith.constant 1.0e-6 : f32
    %me = arith.addf %m, %eps : f32
    %rs = math.rsqrt %me : f32
    %n = arith.mulf %x, %rs : f32
    %r = arith.mulf %n, %w : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
