// Catalogue: flatten_focused_linear (linear-recurrent, P2).
// Han et al., "FLatten Transformer: Vision Transformer using Focused Linear
// Attention" (ICCV 2023).
//
// Bidirectional linear attention with the focused feature map
//   phi(x) = ||relu(x)|| * relu(x)^3 / ||relu(x)^3||   (p = 3, row norms over
//   the head dim; 0 for a row with no positive element),
//   o_i = phi(q_i) S / (phi(q_i) . z + 1e-6) + DWConv(v)_i,
//   S = sum_j phi(k_j)^T v_j,  z = sum_j phi(k_j),
// and the rank-restoring depth-wise convolution of v (width 3 over the
// token sequence, per channel, zero padded; the paper's is 2-D over the
// image grid). The row norms are one reduction over q and k together
// (two-output), the rest as in lina_kv_gate_bidirectional.
// q, k, v [B, 4, L, 64], cw [64, 3] -> o [B, 4, L, 64].
#x4 = affine_map<(b, h, j, d) -> (b, h, j, d)>
#n4 = affine_map<(b, h, j, d) -> (b, h, j)>
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
                %v: tensor<?x4x?x64xf32>, %cw: tensor<64x3xf32>)
    -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  // Squared row norms of relu(x) and relu(x)^3, for q and k.
  %r0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %rz = linalg.fill ins(%zero : f32) outs(%r0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %nrm:4 = linalg.generic {indexing_maps = [#x4, #x4, #n4, #n4, #n4, #n4],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%rz, %rz, %rz, %rz : tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) {
  ^bb0(%xq: f32, %xk: f32, %aq1: f32, %aq3: f32, %ak1: f32, %ak3: f32):
    %z = arith.constant 0.0 : f32
    %rq = arith.maximumf %xq, %z : f32
    %rk = arith.maximumf %xk, %z : f32
    %q2 = arith.mulf %rq, %rq : f32
    %k2 = arith.mulf %rk, %rk : f32
    %q4 = arith.mulf %q2, %q2 : f32
    %k4 = arith.mulf %k2, %k2 : f32
    %q6 = arith.mulf %q4, %q2 : f32
    %k6 = arith.mulf %k4, %k2 : f32
    %o1 = arith.addf %aq1, %q2 : f32
    %o2 = arith.addf %aq3, %q6 : f32
    %o3 = arith.addf %ak1, %k2 : f32
    %o4 = arith.addf %ak3, %k6 : f32
    linalg.yield %o1, %o2, %o3, %o4 : f32, f32, f32, f32
  } -> (tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>)
  // phi(x) = relu(x)^3 * sqrt(|r|^2 / |r^3|^2) (0 where |r^3| = 0).
  %f0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %phi:2 = linalg.generic {indexing_maps = [#x4, #x4, #n4, #n4, #n4, #n4, #x4, #x4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q, %k, %nrm#0, %nrm#1, %nrm#2, %nrm#3 : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>,
          tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>)
      outs(%f0, %f0 : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) {
  ^bb0(%xq: f32, %xk: f32, %q1: f32, %q3: f32, %k1: f32, %k3: f32, %u0: f32, %u1: f32):
    %z = arith.constant 0.0 : f32
    %rq = arith.maximumf %xq, %z : f32
    %rk = arith.maximumf %xk, %z : f32
    %q2 = arith.mulf %rq, %rq : f32
    %k2 = arith.mulf %rk, %rk : f32
    %cq = arith.mulf %q2, %rq : f32
    %ck = arith.mulf %k2, %rk : f32
    %tq = arith.divf %q1, %q3 : f32
    %tk = arith.divf %k1, %k3 : f32
    %sq = math.sqrt %tq : f32
    %sk = math.sqrt %tk : f32
    %zq = arith.cmpf ogt, %q3, %z : f32
    %zk = arith.cmpf ogt, %k3, %z : f32
    %pq = arith.mulf %cq, %sq : f32
    %pk = arith.mulf %ck, %sk : f32
    %fq = arith.select %zq, %pq, %z : f32
    %fk = arith.select %zk, %pk, %z : f32
    linalg.yield %fq, %fk : f32, f32
  } -> (tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
  // S = sum_j phi(k_j)^T v_j and z = sum_j phi(k_j).
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
    %eps = arith.constant 1.0e-6 : f32
    %ye = arith.addf %y, %eps : f32
    %lin = arith.divf %x, %ye : f32
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
