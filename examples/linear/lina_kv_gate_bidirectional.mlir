// Catalogue: lina_kv_gate_bidirectional (linear-recurrent, P2).
// "LINA: Linear Autoregressive Image Generative Models with Continuous
// Tokens".
//
// Bidirectional (non-causal) normalised linear attention with a "KV gate":
// learned, data-independent weights w[h, j] per head and token position
// weigh each token's key and value in the shared state,
//   S = sum_j w_j phi(k_j)^T v_j,   z = sum_j w_j phi(k_j),
//   o_i = phi(q_i) S / (phi(q_i) . z) + DWConv(v)_i,
// with phi(x) = elu(x) + 1 and a depth-wise convolution over the token
// sequence for locality (width 3, per channel, zero padded; the paper's is
// 2-D over the image grid, and whether its gate is per position, per
// channel or both is open: per position here). No scan is needed: the state
// is one contraction over all tokens (linalg), then one per query row.
// q, k, v [B, 4, L, 64], w [4, L], cw [64, 3] -> o [B, 4, L, 64].
#x4 = affine_map<(b, h, j, d) -> (b, h, j, d)>
#w4 = affine_map<(b, h, j, d) -> (h, j)>
#ks = affine_map<(b, h, d, e, j) -> (b, h, j, d)>
#vs = affine_map<(b, h, d, e, j) -> (b, h, j, e)>
#ss = affine_map<(b, h, d, e, j) -> (b, h, d, e)>
#kz = affine_map<(b, h, d, j) -> (b, h, j, d)>
#zz = affine_map<(b, h, d, j) -> (b, h, d)>
#qn = affine_map<(b, h, i, e, d) -> (b, h, i, d)>
#sn = affine_map<(b, h, i, e, d) -> (b, h, d, e)>
#on = affine_map<(b, h, i, e, d) -> (b, h, i, e)>
#qd = affine_map<(b, h, i, d) -> (b, h, i, d)>
#zd = affine_map<(b, h, i, d) -> (b, h, d)>
#dd = affine_map<(b, h, i, d) -> (b, h, i)>
#r3 = affine_map<(b, h, i, e) -> (b, h, i)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %w: tensor<4x?xf32>,
                %cw: tensor<64x3xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  // phi(q) and the gated phi(k) (phi = elu + 1 = x + 1 or exp(x)).
  %f0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %phi:2 = linalg.generic {indexing_maps = [#x4, #x4, #w4, #x4, #x4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q, %k, %w : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<4x?xf32>)
      outs(%f0, %f0 : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) {
  ^bb0(%xq: f32, %xk: f32, %g: f32, %u0: f32, %u1: f32):
    %z = arith.constant 0.0 : f32
    %one = arith.constant 1.0 : f32
    %pq = arith.cmpf ogt, %xq, %z : f32
    %eq = math.exp %xq : f32
    %aq = arith.addf %xq, %one : f32
    %fq = arith.select %pq, %aq, %eq : f32
    %pk = arith.cmpf ogt, %xk, %z : f32
    %ek = math.exp %xk : f32
    %ak = arith.addf %xk, %one : f32
    %fk = arith.select %pk, %ak, %ek : f32
    %gk = arith.mulf %fk, %g : f32
    linalg.yield %fq, %gk : f32, f32
  } -> (tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
  // S = sum_j w_j phi(k_j)^T v_j and z = sum_j w_j phi(k_j).
  %s0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<?x4x64x64xf32>) -> tensor<?x4x64x64xf32>
  %s = linalg.generic {indexing_maps = [#ks, #vs, #ss],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%phi#1, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) outs(%sz : tensor<?x4x64x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x64x64xf32>
  %z0 = tensor.empty(%b) : tensor<?x4x64xf32>
  %zz0 = linalg.fill ins(%zero : f32) outs(%z0 : tensor<?x4x64xf32>) -> tensor<?x4x64xf32>
  %zs = linalg.generic {indexing_maps = [#kz, #zz],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%phi#1 : tensor<?x4x?x64xf32>) outs(%zz0 : tensor<?x4x64xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  } -> tensor<?x4x64xf32>
  // phi(q_i) S and phi(q_i) . z.
  %n0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %nz = linalg.fill ins(%zero : f32) outs(%n0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %num = linalg.generic {indexing_maps = [#qn, #sn, #on],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%phi#0, %s : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>) outs(%nz : tensor<?x4x?x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  %d0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %dz = linalg.fill ins(%zero : f32) outs(%d0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %den = linalg.generic {indexing_maps = [#qd, #zd, #dd],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%phi#0, %zs : tensor<?x4x?x64xf32>, tensor<?x4x64xf32>) outs(%dz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  // o = num / den + sum_{t = -1, 0, 1} cw[e, t + 1] v[i + t, e] (zero padded).
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = linalg.generic {indexing_maps = [#x4, #r3, #x4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%num, %den : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) outs(%o0 : tensor<?x4x?x64xf32>) {
  ^bb0(%x: f32, %y: f32, %unused: f32):
    %bi = linalg.index 0 : index
    %hi = linalg.index 1 : index
    %i = linalg.index 2 : index
    %e = linalg.index 3 : index
    %zi = arith.constant 0 : index
    %one = arith.constant 1 : index
    %z = arith.constant 0.0 : f32
    %lin = arith.divf %x, %y : f32
    %last = arith.subi %l, %one : index
    // i - 1 and i + 1, clamped (their weight is zeroed at the ends).
    %im = arith.subi %i, %one : index
    %im0 = arith.maxsi %im, %zi : index
    %ip = arith.addi %i, %one : index
    %ip0 = arith.minsi %ip, %last : index
    %vm = tensor.extract %v[%bi, %hi, %im0, %e] : tensor<?x4x?x64xf32>
    %vc = tensor.extract %v[%bi, %hi, %i, %e] : tensor<?x4x?x64xf32>
    %vp = tensor.extract %v[%bi, %hi, %ip0, %e] : tensor<?x4x?x64xf32>
    %c1 = arith.constant 1 : index
    %c2i = arith.constant 2 : index
    %wm = tensor.extract %cw[%e, %zi] : tensor<64x3xf32>
    %wc = tensor.extract %cw[%e, %c1] : tensor<64x3xf32>
    %wp = tensor.extract %cw[%e, %c2i] : tensor<64x3xf32>
    %first = arith.cmpi eq, %i, %zi : index
    %end = arith.cmpi eq, %i, %last : index
    %wm0 = arith.select %first, %z, %wm : f32
    %wp0 = arith.select %end, %z, %wp : f32
    %a = arith.mulf %wm0, %vm : f32
    %bq = arith.mulf %wc, %vc : f32
    %cq = arith.mulf %wp0, %vp : f32
    %ab = arith.addf %a, %bq : f32
    %conv = arith.addf %ab, %cq : f32
    %r = arith.addf %lin, %conv : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
