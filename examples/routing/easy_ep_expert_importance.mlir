// Catalogue: easy_ep_expert_importance (routing, P2).
// Dong et al., "Domain-Specific Pruning of Large Mixture-of-Experts Models
// with Few-shot Demonstrations" (EASY-EP, 2025).
//
// Output-aware expert importance over calibration tokens h_t:
//   I[t, s] = g[t, s] * ||E_e(h_t)||_2      (e = idx[t, s], activated only)
//   c_t     = 1 - cos(h_t, h_t + MoE(h_t))  (how much the layer moves h_t)
//   S_e     = sum_t c_t sum_{s : idx[t, s] = e} I[t, s]
// and the experts kept under a budget: the 6 of 8 with the largest S_e.
// The router (softmax, top-2, renormalized) and the SwiGLU experts are the
// usual two ops; the experts' second output is the per-slot norm of each
// expert's own output, computed in the grouped matmuls' epilogue. The
// cosine is one reduction with three accumulators per token (a parallel
// dim of 3), the per-expert sum a reduction over (token, slot), the budget
// an attn.route top(6) over the one row S. c_t's exact form is open in the
// catalogue; the paper's cosine-distance form is used.
// h [T, 64], Wr [64, 8], W1, W3 [8, 64, 128], W2 [8, 128, 64] -> y [T, 64],
// importance I [T, 2], scores S [8], kept experts [1, 6] i32 (best first).
#td3 = affine_map<(t, c, d) -> (t, d)>
#tc3 = affine_map<(t, c, d) -> (t, c)>
#tc = affine_map<(t, c) -> (t, c)>
#t_ = affine_map<(t, c) -> (t)>
#ts = affine_map<(t, s) -> (t, s)>
#c_e = affine_map<(e, t, s) -> (t)>
#ts_e = affine_map<(e, t, s) -> (t, s)>
#e_e = affine_map<(e, t, s) -> (e)>
func.func @main(%h: tensor<?x64xf32>, %wr: tensor<64x8xf32>,
                %w1: tensor<8x64x128xf32>, %w3: tensor<8x64x128xf32>,
                %w2: tensor<8x128x64xf32>)
    -> (tensor<?x64xf32>, tensor<?x2xf32>, tensor<8xf32>, tensor<1x6xi32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %h, %c0 : tensor<?x64xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %g, %idx = attn.route top(2) scoring(softmax) renormalize
      ins(%h, %wr : tensor<?x64xf32>, tensor<64x8xf32>)
      outs(%w0, %i0 : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  %y0 = tensor.empty(%t) : tensor<?x64xf32>
  %n0 = tensor.empty(%t) : tensor<?x2xf32>
  %y, %norms = attn.experts swish
      ins(%h, %g, %idx, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
          tensor<8x64x128xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>)
      outs(%y0, %n0 : tensor<?x64xf32>, tensor<?x2xf32>) -> tensor<?x64xf32>, tensor<?x2xf32>
  // [h . (h + y), |h|^2, |h + y|^2] per token.
  %d0 = tensor.empty(%t) : tensor<?x3xf32>
  %dz = linalg.fill ins(%zero : f32) outs(%d0 : tensor<?x3xf32>) -> tensor<?x3xf32>
  %dots = linalg.generic {indexing_maps = [#td3, #td3, #tc3],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%h, %y : tensor<?x64xf32>, tensor<?x64xf32>) outs(%dz : tensor<?x3xf32>) {
  ^bb0(%a: f32, %m: f32, %acc: f32):
    %c = linalg.index 1 : index
    %one = arith.constant 1 : index
    %two = arith.constant 2 : index
    %after = arith.addf %a, %m : f32
    // c = 0: h . (h + y), 1: h . h, 2: (h + y) . (h + y)
    %is1 = arith.cmpi eq, %c, %one : index
    %is2 = arith.cmpi eq, %c, %two : index
    %l = arith.select %is2, %after, %a : f32
    %r = arith.select %is1, %a, %after : f32
    %p = arith.mulf %l, %r : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x3xf32>
  // I[t, s] = g[t, s] * norms[t, s]
  %imp0 = tensor.empty(%t) : tensor<?x2xf32>
  %imp = linalg.generic {indexing_maps = [#ts, #ts, #ts],
      iterator_types = ["parallel", "parallel"]}
      ins(%g, %norms : tensor<?x2xf32>, tensor<?x2xf32>) outs(%imp0 : tensor<?x2xf32>) {
  ^bb0(%a: f32, %b: f32, %unused: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  } -> tensor<?x2xf32>
  // c_t = 1 - dot / sqrt(|h|^2 |h + y|^2)
  %ct0 = tensor.empty(%t) : tensor<?xf32>
  %ct = linalg.generic {indexing_maps = [affine_map<(t) -> (t, 0)>, affine_map<(t) -> (t, 1)>,
                                         affine_map<(t) -> (t, 2)>, affine_map<(t) -> (t)>],
      iterator_types = ["parallel"]}
      ins(%dots, %dots, %dots : tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>)
      outs(%ct0 : tensor<?xf32>) {
  ^bb0(%dot: f32, %nh: f32, %na: f32, %unused: f32):
    %one = arith.constant 1.0 : f32
    %nn = arith.mulf %nh, %na : f32
    %root = math.sqrt %nn : f32
    %cos = arith.divf %dot, %root : f32
    %r = arith.subf %one, %cos : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  // S_e = sum_t c_t sum_{s : idx[t, s] = e} I[t, s]
  %s0 = tensor.empty() : tensor<8xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<8xf32>) -> tensor<8xf32>
  %scores = linalg.generic {indexing_maps = [#c_e, #ts_e, #ts_e, #e_e],
      iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%ct, %imp, %idx : tensor<?xf32>, tensor<?x2xf32>, tensor<?x2xi32>)
      outs(%sz : tensor<8xf32>) {
  ^bb0(%c: f32, %i: f32, %e32: i32, %acc: f32):
    %e = linalg.index 0 : index
    %ei = arith.index_cast %e32 : i32 to index
    %mine = arith.cmpi eq, %ei, %e : index
    %ci = arith.mulf %c, %i : f32
    %add = arith.addf %acc, %ci : f32
    %r = arith.select %mine, %add, %acc : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  // The 6 experts to keep, best first (the router over one row of S).
  %row0 = tensor.empty() : tensor<1x8xf32>
  %row = linalg.generic {indexing_maps = [affine_map<(r, e) -> (e)>, affine_map<(r, e) -> (r, e)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%scores : tensor<8xf32>) outs(%row0 : tensor<1x8xf32>) {
  ^bb0(%a: f32, %unused: f32):
    linalg.yield %a : f32
  } -> tensor<1x8xf32>
  %kw0 = tensor.empty() : tensor<1x6xf32>
  %ki0 = tensor.empty() : tensor<1x6xi32>
  %kw, %keep = attn.route top(6) scoring(none)
      ins(%row : tensor<1x8xf32>)
      outs(%kw0, %ki0 : tensor<1x6xf32>, tensor<1x6xi32>) -> tensor<1x6xf32>, tensor<1x6xi32>
  return %y, %imp, %scores, %keep : tensor<?x64xf32>, tensor<?x2xf32>, tensor<8xf32>, tensor<1x6xi32>
}
