// Catalogue: hedgehog_learned_feature_map (linear-recurrent, P2).
// Zhang et al., "The Hedgehog & the Porcupine: Expressive Linear Attentions
// with Softmax Mimicry" (ICLR 2024).
//
// Causal normalised linear attention with a learned feature map of width
// 2 d' = 64 per head (d' = 32, W [4, 32, 64], b [4, 32]):
//   phi(x) = [softmax(W_h x + b_h) ; softmax(-W_h x - b_h)],
//   o_t = phi(q_t) S_t / (phi(q_t) . z_t),  S_t = sum_{s<=t} phi(k_s)^T v_s,
//   z_t = sum_{s<=t} phi(k_s).
// The map mixes the head dim (a projection, then a softmax over features),
// which the scan's elementwise `feature_map` region cannot express; it is a
// prologue of linalg ops over q and k together (two-output generics), and
// attn.scan runs on the mapped features.
// q, k, v [B, 4, L, 64], w [4, 32, 64], bias [4, 32] -> o [B, 4, L, 64].
#x5 = affine_map<(b, h, t, f, d) -> (b, h, t, d)>
#w5 = affine_map<(b, h, t, f, d) -> (h, f, d)>
#z5 = affine_map<(b, h, t, f, d) -> (b, h, t, f)>
#z4 = affine_map<(b, h, t, f) -> (b, h, t, f)>
#b4 = affine_map<(b, h, t, f) -> (h, f)>
#r4 = affine_map<(b, h, t, f) -> (b, h, t)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %w: tensor<4x32x64xf32>,
                %bias: tensor<4x32xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  // z = W x + b for x = q and k: the bias first, then the contraction.
  %z0 = tensor.empty(%b, %l) : tensor<?x4x?x32xf32>
  %zb:2 = linalg.generic {indexing_maps = [#b4, #z4, #z4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : tensor<4x32xf32>) outs(%z0, %z0 : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>) {
  ^bb0(%x: f32, %u0: f32, %u1: f32):
    linalg.yield %x, %x : f32, f32
  } -> (tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>)
  %z:2 = linalg.generic {indexing_maps = [#x5, #x5, #w5, #z5, #z5],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k, %w : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<4x32x64xf32>)
      outs(%zb#0, %zb#1 : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>) {
  ^bb0(%xq: f32, %xk: f32, %wf: f32, %aq: f32, %ak: f32):
    %mq = arith.mulf %xq, %wf : f32
    %mk = arith.mulf %xk, %wf : f32
    %sq = arith.addf %aq, %mq : f32
    %sk = arith.addf %ak, %mk : f32
    linalg.yield %sq, %sk : f32, f32
  } -> (tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>)
  // Row maxima of z and -z (for q and k).
  %m0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%m0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %m:4 = linalg.generic {indexing_maps = [#z4, #z4, #r4, #r4, #r4, #r4],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%z#0, %z#1 : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>)
      outs(%mi, %mi, %mi, %mi : tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  ^bb0(%a: f32, %c: f32, %pq: f32, %nq: f32, %pk: f32, %nk: f32):
    %na = arith.negf %a : f32
    %nc = arith.negf %c : f32
    %r0 = arith.maximumf %pq, %a : f32
    %r1 = arith.maximumf %nq, %na : f32
    %r2 = arith.maximumf %pk, %c : f32
    %r3 = arith.maximumf %nk, %nc : f32
    linalg.yield %r0, %r1, %r2, %r3 : f32, f32, f32, f32
  } -> (tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>)
  // Their softmax denominators.
  %si = linalg.fill ins(%zero : f32) outs(%m0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %s:4 = linalg.generic {indexing_maps = [#z4, #z4, #r4, #r4, #r4, #r4, #r4, #r4, #r4, #r4],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%z#0, %z#1, %m#0, %m#1, %m#2, %m#3 : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>,
          tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>)
      outs(%si, %si, %si, %si : tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  ^bb0(%a: f32, %c: f32, %mpq: f32, %mnq: f32, %mpk: f32, %mnk: f32,
       %pq: f32, %nq: f32, %pk: f32, %nk: f32):
    %d0 = arith.subf %a, %mpq : f32
    %na = arith.negf %a : f32
    %d1 = arith.subf %na, %mnq : f32
    %d2 = arith.subf %c, %mpk : f32
    %nc = arith.negf %c : f32
    %d3 = arith.subf %nc, %mnk : f32
    %e0 = math.exp %d0 : f32
    %e1 = math.exp %d1 : f32
    %e2 = math.exp %d2 : f32
    %e3 = math.exp %d3 : f32
    %r0 = arith.addf %pq, %e0 : f32
    %r1 = arith.addf %nq, %e1 : f32
    %r2 = arith.addf %pk, %e2 : f32
    %r3 = arith.addf %nk, %e3 : f32
    linalg.yield %r0, %r1, %r2, %r3 : f32, f32, f32, f32
  } -> (tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>)
  // phi = [softmax(z) ; softmax(-z)], 64 features.
  %f0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %phi:2 = linalg.generic {indexing_maps = [#z4, #z4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%f0, %f0 : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) {
  ^bb0(%u0: f32, %u1: f32):
    %bi = linalg.index 0 : index
    %hi = linalg.index 1 : index
    %ti = linalg.index 2 : index
    %g = linalg.index 3 : index
    %c32 = arith.constant 32 : index
    %neg = arith.cmpi uge, %g, %c32 : index
    %g32 = arith.subi %g, %c32 : index
    %f = arith.select %neg, %g32, %g : index
    %zq = tensor.extract %z#0[%bi, %hi, %ti, %f] : tensor<?x4x?x32xf32>
    %zk = tensor.extract %z#1[%bi, %hi, %ti, %f] : tensor<?x4x?x32xf32>
    %mpq = tensor.extract %m#0[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %mnq = tensor.extract %m#1[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %mpk = tensor.extract %m#2[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %mnk = tensor.extract %m#3[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %spq = tensor.extract %s#0[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %snq = tensor.extract %s#1[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %spk = tensor.extract %s#2[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %snk = tensor.extract %s#3[%bi, %hi, %ti] : tensor<?x4x?xf32>
    %nzq = arith.negf %zq : f32
    %nzk = arith.negf %zk : f32
    %xq = arith.select %neg, %nzq, %zq : f32
    %xk = arith.select %neg, %nzk, %zk : f32
    %mq = arith.select %neg, %mnq, %mpq : f32
    %mk = arith.select %neg, %mnk, %mpk : f32
    %sq = arith.select %neg, %snq, %spq : f32
    %sk = arith.select %neg, %snk, %spk : f32
    %dq = arith.subf %xq, %mq : f32
    %dk = arith.subf %xk, %mk : f32
    %eq = math.exp %dq : f32
    %ek = math.exp %dk : f32
    %pq = arith.divf %eq, %sq : f32
    %pk = arith.divf %ek, %sk : f32
    linalg.yield %pq, %pk : f32, f32
  } -> (tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.scan decay(none) normalize
      ins(%phi#0, %phi#1, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
