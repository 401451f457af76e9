// Catalogue: dcmha_composable_heads (attention-structure, P2).
// Xiao et al., "Improving Transformers with Dynamically Composable
// Multi-Head Attention" (DCFormer, ICML 2024).
//
// For every query/key pair the vector of the H = 4 heads' scores is mixed
// by Compose, once on the logits and once on the probabilities:
//   Compose_s(A)[h] = sum_g A[g] (M^q_s[i, g, h] + M^k_s[j, g, h])
//   M^q_s[i] = W_b,s + w1q_s(i) w2q_s(i)^T + diag(tanh(gq_s(i)))   [H, H]
//   M^k_s[j] =         w1k_s(j) w2k_s(j)^T + diag(tanh(gk_s(j)))
// with rank R = 2 dynamic weights w1, w2 [H, R] and gates g [H] projected
// from the token's concatenated query (keys: key) vectors, s = 0 before the
// softmax and s = 1 after:
//   O = Compose_1(softmax_causal(Compose_0(Q K^T / sqrt(D)))) V.
// The per-pair [H, H] mix is static + per query + per key, and a mix of dot
// products is a dot product of mixed vectors: both Composes fold into ONE
// attn.attention per head over vectors 2 H D = 512 wide (queries scaled by
// the query-side mix and keys by the key-side one for Compose_0; values
// scaled by the key-side mix of Compose_1, its query side applied to the
// output). Exact, no [L, L] tensor, tiled and fused like any attention, at
// 2 H = 8 times the QK and PV work of plain attention. The per-token mixes
// ([B, 2, L, H, H]) and the widened q, k, v are linalg.
// q, k, v [B, 4, L, 64], pq, pk [2, 4, 64, 3, 2, 4], wb [2, 4, 4]
// -> o [B, 4, L, 64]. pq[s, head, d, c, r, e]: c = 0 gives w1[e, r], c = 1
// w2[e, r], c = 2 (r = 0) the gate logit of head e (r = 1 is unused).
#qx = affine_map<(b, s, i, c, r, e, h, d) -> (b, h, i, d)>
#px = affine_map<(b, s, i, c, r, e, h, d) -> (s, h, d, c, r, e)>
#dx = affine_map<(b, s, i, c, r, e, h, d) -> (b, s, i, c, r, e)>
#w1 = affine_map<(b, s, i, g, h, r) -> (b, s, i, 0, r, g)>
#w2 = affine_map<(b, s, i, g, h, r) -> (b, s, i, 1, r, h)>
#mm = affine_map<(b, s, i, g, h, r) -> (b, s, i, g, h)>
#m5 = affine_map<(b, s, i, g, h) -> (b, s, i, g, h)>
#gt = affine_map<(b, s, i, g, h) -> (b, s, i, 2, 0, h)>
#wb = affine_map<(b, s, i, g, h) -> (s, g, h)>
#a4 = affine_map<(b, h, i, c) -> (b, h, i, c)>
#cq1o = affine_map<(b, h, i, e, g) -> (b, 1, i, g, h)>
#oo = affine_map<(b, h, i, e, g) -> (b, h, i, e)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %pq: tensor<2x4x64x3x2x4xf32>,
                %pk: tensor<2x4x64x3x2x4xf32>, %wbs: tensor<2x4x4xf32>)
    -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  // Per token and stage: w1, w2 and the gate logits from the concatenated
  // heads' vectors.
  %dq0 = tensor.empty(%b, %lq) : tensor<?x2x?x3x2x4xf32>
  %dqz = linalg.fill ins(%zero : f32) outs(%dq0 : tensor<?x2x?x3x2x4xf32>) -> tensor<?x2x?x3x2x4xf32>
  %dq = linalg.generic {indexing_maps = [#qx, #px, #dx],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%q, %pq : tensor<?x4x?x64xf32>, tensor<2x4x64x3x2x4xf32>) outs(%dqz : tensor<?x2x?x3x2x4xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x2x?x3x2x4xf32>
  %dk0 = tensor.empty(%b, %lk) : tensor<?x2x?x3x2x4xf32>
  %dkz = linalg.fill ins(%zero : f32) outs(%dk0 : tensor<?x2x?x3x2x4xf32>) -> tensor<?x2x?x3x2x4xf32>
  %dk = linalg.generic {indexing_maps = [#qx, #px, #dx],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%k, %pk : tensor<?x4x?x64xf32>, tensor<2x4x64x3x2x4xf32>) outs(%dkz : tensor<?x2x?x3x2x4xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x2x?x3x2x4xf32>
  // M^q = w1 w2^T (rank 2), then + W_b + diag(tanh(gate)); M^k likewise
  // without W_b.
  %mq0 = tensor.empty(%b, %lq) : tensor<?x2x?x4x4xf32>
  %mqz = linalg.fill ins(%zero : f32) outs(%mq0 : tensor<?x2x?x4x4xf32>) -> tensor<?x2x?x4x4xf32>
  %lrq = linalg.generic {indexing_maps = [#w1, #w2, #mm],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%dq, %dq : tensor<?x2x?x3x2x4xf32>, tensor<?x2x?x3x2x4xf32>) outs(%mqz : tensor<?x2x?x4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x2x?x4x4xf32>
  %mqe = tensor.empty(%b, %lq) : tensor<?x2x?x4x4xf32>
  %mq = linalg.generic {indexing_maps = [#m5, #gt, #wb, #m5],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%lrq, %dq, %wbs : tensor<?x2x?x4x4xf32>, tensor<?x2x?x3x2x4xf32>, tensor<2x4x4xf32>)
      outs(%mqe : tensor<?x2x?x4x4xf32>) {
  ^bb0(%lr: f32, %gl: f32, %w: f32, %unused: f32):
    %g = linalg.index 3 : index
    %h = linalg.index 4 : index
    %z = arith.constant 0.0 : f32
    %diag = arith.cmpi eq, %g, %h : index
    %t = math.tanh %gl : f32
    %d = arith.select %diag, %t, %z : f32
    %a = arith.addf %lr, %w : f32
    %r = arith.addf %a, %d : f32
    linalg.yield %r : f32
  } -> tensor<?x2x?x4x4xf32>
  %mk0 = tensor.empty(%b, %lk) : tensor<?x2x?x4x4xf32>
  %mkz = linalg.fill ins(%zero : f32) outs(%mk0 : tensor<?x2x?x4x4xf32>) -> tensor<?x2x?x4x4xf32>
  %lrk = linalg.generic {indexing_maps = [#w1, #w2, #mm],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%dk, %dk : tensor<?x2x?x3x2x4xf32>, tensor<?x2x?x3x2x4xf32>) outs(%mkz : tensor<?x2x?x4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x2x?x4x4xf32>
  %mke = tensor.empty(%b, %lk) : tensor<?x2x?x4x4xf32>
  %mk = linalg.generic {indexing_maps = [#m5, #gt, #m5],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%lrk, %dk : tensor<?x2x?x4x4xf32>, tensor<?x2x?x3x2x4xf32>)
      outs(%mke : tensor<?x2x?x4x4xf32>) {
  ^bb0(%lr: f32, %gl: f32, %unused: f32):
    %g = linalg.index 3 : index
    %h = linalg.index 4 : index
    %z = arith.constant 0.0 : f32
    %diag = arith.cmpi eq, %g, %h : index
    %t = math.tanh %gl : f32
    %d = arith.select %diag, %t, %z : f32
    %r = arith.addf %lr, %d : f32
    linalg.yield %r : f32
  } -> tensor<?x2x?x4x4xf32>
  // Compose_0 folded into the dot products. With s_g = q_g . k_g / 8,
  //   sum_g s_g (M^q[i,g,h] + M^k[j,g,h]) = qh_h(i) . kh_h(j) / 8,
  //   qh_h(i) = [M^q[i,g,h] q_g(i)]_g ++ [q_g(i)]_g,
  //   kh_h(j) = [k_g(j)]_g ++ [M^k[j,g,h] k_g(j)]_g     (512 wide),
  // so head h's composed logits are one attention of head dim 2 H D.
  %qh0 = tensor.empty(%b, %lq) : tensor<?x4x?x512xf32>
  %qh = linalg.generic {indexing_maps = [#a4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%qh0 : tensor<?x4x?x512xf32>) {
  ^bb0(%unused: f32):
    %bi = linalg.index 0 : index
    %h = linalg.index 1 : index
    %i = linalg.index 2 : index
    %c = linalg.index 3 : index
    %c256 = arith.constant 256 : index
    %c64_ = arith.constant 64 : index
    %z = arith.constant 0 : index
    %part = arith.remui %c, %c256 : index
    %g = arith.divui %part, %c64_ : index
    %d = arith.remui %c, %c64_ : index
    %x = tensor.extract %q[%bi, %g, %i, %d] : tensor<?x4x?x64xf32>
    %m = tensor.extract %mq[%bi, %z, %i, %g, %h] : tensor<?x2x?x4x4xf32>
    %mx_ = arith.mulf %m, %x : f32
    %first = arith.cmpi ult, %c, %c256 : index
    %r = arith.select %first, %mx_, %x : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x512xf32>
  %kh0 = tensor.empty(%b, %lk) : tensor<?x4x?x512xf32>
  %kh = linalg.generic {indexing_maps = [#a4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%kh0 : tensor<?x4x?x512xf32>) {
  ^bb0(%unused: f32):
    %bi = linalg.index 0 : index
    %h = linalg.index 1 : index
    %j = linalg.index 2 : index
    %c = linalg.index 3 : index
    %c256 = arith.constant 256 : index
    %c64_ = arith.constant 64 : index
    %z = arith.constant 0 : index
    %part = arith.remui %c, %c256 : index
    %g = arith.divui %part, %c64_ : index
    %d = arith.remui %c, %c64_ : index
    %x = tensor.extract %k[%bi, %g, %j, %d] : tensor<?x4x?x64xf32>
    %m = tensor.extract %mk[%bi, %z, %j, %g, %h] : tensor<?x2x?x4x4xf32>
    %mx_ = arith.mulf %m, %x : f32
    %first = arith.cmpi ult, %c, %c256 : index
    %r = arith.select %first, %x, %mx_ : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x512xf32>
  // Compose_1 folded into the values. With P_g head g's probabilities,
  //   O_h(i) = sum_g M^q_1[i,g,h] (P_g V_h)(i) + sum_g (P_g (M^k_1[.,g,h] V_h))(i),
  // so attention g runs over vh_g(j) = [v_h(j)]_h ++ [M^k_1[j,g,h] v_h(j)]_h
  // (512 wide) and the query-side mix is applied to its output.
  %vh0 = tensor.empty(%b, %lk) : tensor<?x4x?x512xf32>
  %vh = linalg.generic {indexing_maps = [#a4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%vh0 : tensor<?x4x?x512xf32>) {
  ^bb0(%unused: f32):
    %bi = linalg.index 0 : index
    %g = linalg.index 1 : index
    %j = linalg.index 2 : index
    %c = linalg.index 3 : index
    %c256 = arith.constant 256 : index
    %c64_ = arith.constant 64 : index
    %one = arith.constant 1 : index
    %part = arith.remui %c, %c256 : index
    %h = arith.divui %part, %c64_ : index
    %e = arith.remui %c, %c64_ : index
    %x = tensor.extract %v[%bi, %h, %j, %e] : tensor<?x4x?x64xf32>
    %m = tensor.extract %mk[%bi, %one, %j, %g, %h] : tensor<?x2x?x4x4xf32>
    %mx_ = arith.mulf %m, %x : f32
    %first = arith.cmpi ult, %c, %c256 : index
    %r = arith.select %first, %x, %mx_ : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x512xf32>
  // The four composed attentions, fused and tiled as any attention.
  %y0 = tensor.empty(%b, %lq) : tensor<?x4x?x512xf32>
  %y = attn.attention causal scale(0.125)
      ins(%qh, %kh, %vh : tensor<?x4x?x512xf32>, tensor<?x4x?x512xf32>, tensor<?x4x?x512xf32>)
      outs(%y0 : tensor<?x4x?x512xf32>) -> tensor<?x4x?x512xf32>
  // O_h = sum_g M^q_1[i,g,h] y_g[h block] + y_g[256 + h block]
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %o = linalg.generic {indexing_maps = [#cq1o, #oo],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%mq : tensor<?x2x?x4x4xf32>) outs(%oz : tensor<?x4x?x64xf32>) {
  ^bb0(%m: f32, %acc: f32):
    %bi = linalg.index 0 : index
    %h = linalg.index 1 : index
    %i = linalg.index 2 : index
    %e = linalg.index 3 : index
    %g = linalg.index 4 : index
    %c64_ = arith.constant 64 : index
    %c256 = arith.constant 256 : index
    %hb = arith.muli %h, %c64_ : index
    %col = arith.addi %hb, %e : index
    %col2 = arith.addi %col, %c256 : index
    %a = tensor.extract %y[%bi, %g, %i, %col] : tensor<?x4x?x512xf32>
    %k2 = tensor.extract %y[%bi, %g, %i, %col2] : tensor<?x4x?x512xf32>
    %ma = arith.mulf %m, %a : f32
    %t = arith.addf %ma, %k2 : f32
    %r = arith.addf %acc, %t : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
