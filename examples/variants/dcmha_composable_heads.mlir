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
// The per-pair [H, H] mix is static + low rank per query + low rank per
// key + diagonal, so it is built per token ([B, 2, L, H, H], linalg) and
// applied as one reduction over the source head g. The post-softmax mix
// needs every head's normalised probabilities at once: this example
// materialises the [B, H, Lq, Lk] logits and probabilities (linalg); the
// fused tiled form (all heads of a tile resident, two passes over the
// keys) is described in dialect/Rationale.md and not built.
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
#sq = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#sk = affine_map<(b, h, i, j, d) -> (b, h, j, d)>
#so = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#ca = affine_map<(b, h, i, j, g) -> (b, g, i, j)>
#cq0 = affine_map<(b, h, i, j, g) -> (b, 0, i, g, h)>
#ck0 = affine_map<(b, h, i, j, g) -> (b, 0, j, g, h)>
#cq1 = affine_map<(b, h, i, j, g) -> (b, 1, i, g, h)>
#ck1 = affine_map<(b, h, i, j, g) -> (b, 1, j, g, h)>
#co = affine_map<(b, h, i, j, g) -> (b, h, i, j)>
#a4 = affine_map<(b, h, i, j) -> (b, h, i, j)>
#r4 = affine_map<(b, h, i, j) -> (b, h, i)>
#pp = affine_map<(b, h, i, e, j) -> (b, h, i, j)>
#pv = affine_map<(b, h, i, e, j) -> (b, h, j, e)>
#po = affine_map<(b, h, i, e, j) -> (b, h, i, e)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %pq: tensor<2x4x64x3x2x4xf32>,
                %pk: tensor<2x4x64x3x2x4xf32>, %wbs: tensor<2x4x4xf32>)
    -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %off = arith.subi %lk, %lq : index
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
  // Logits A = Q K^T / sqrt(64), all heads.
  %a0 = tensor.empty(%b, %lq, %lk) : tensor<?x4x?x?xf32>
  %az = linalg.fill ins(%zero : f32) outs(%a0 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %a = linalg.generic {indexing_maps = [#sq, #sk, #so],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) outs(%az : tensor<?x4x?x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %scale = arith.constant 0.125 : f32
    %m = arith.mulf %x, %y : f32
    %ms = arith.mulf %m, %scale : f32
    %s = arith.addf %acc, %ms : f32
    linalg.yield %s : f32
  } -> tensor<?x4x?x?xf32>
  // Compose_0 on the logits.
  %c0z = linalg.fill ins(%zero : f32) outs(%a0 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %s = linalg.generic {indexing_maps = [#ca, #cq0, #ck0, #co],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %mq, %mk : tensor<?x4x?x?xf32>, tensor<?x2x?x4x4xf32>, tensor<?x2x?x4x4xf32>)
      outs(%c0z : tensor<?x4x?x?xf32>) {
  ^bb0(%x: f32, %u: f32, %w: f32, %acc: f32):
    %m = arith.addf %u, %w : f32
    %p = arith.mulf %x, %m : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x?xf32>
  // Causal softmax per head (a row with no visible key: all zeros).
  %mx0 = tensor.empty(%b, %lq) : tensor<?x4x?xf32>
  %mxz = linalg.fill ins(%ninf : f32) outs(%mx0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %mx = linalg.generic {indexing_maps = [#a4, #r4],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%s : tensor<?x4x?x?xf32>) outs(%mxz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %last = arith.addi %i, %off : index
    %vis = arith.cmpi sle, %j, %last : index
    %m = arith.maximumf %acc, %x : f32
    %r = arith.select %vis, %m, %acc : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %e0 = tensor.empty(%b, %lq, %lk) : tensor<?x4x?x?xf32>
  %e = linalg.generic {indexing_maps = [#a4, #r4, #a4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %mx : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%e0 : tensor<?x4x?x?xf32>) {
  ^bb0(%x: f32, %m: f32, %unused: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %z = arith.constant 0.0 : f32
    %last = arith.addi %i, %off : index
    %vis = arith.cmpi sle, %j, %last : index
    %d = arith.subf %x, %m : f32
    %ex = math.exp %d : f32
    %r = arith.select %vis, %ex, %z : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x?xf32>
  %l0 = tensor.empty(%b, %lq) : tensor<?x4x?xf32>
  %lz = linalg.fill ins(%zero : f32) outs(%l0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %l = linalg.generic {indexing_maps = [#a4, #r4],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%e : tensor<?x4x?x?xf32>) outs(%lz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %p0 = tensor.empty(%b, %lq, %lk) : tensor<?x4x?x?xf32>
  %p = linalg.generic {indexing_maps = [#a4, #r4, #a4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%e, %l : tensor<?x4x?x?xf32>, tensor<?x4x?xf32>) outs(%p0 : tensor<?x4x?x?xf32>) {
  ^bb0(%x: f32, %sum: f32, %unused: f32):
    %z = arith.constant 0.0 : f32
    %one = arith.constant 1.0 : f32
    %empty = arith.cmpf oeq, %sum, %z : f32
    %den = arith.select %empty, %one, %sum : f32
    %r = arith.divf %x, %den : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x?xf32>
  // Compose_1 on the probabilities.
  %c1z = linalg.fill ins(%zero : f32) outs(%a0 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %pm = linalg.generic {indexing_maps = [#ca, #cq1, #ck1, #co],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %mq, %mk : tensor<?x4x?x?xf32>, tensor<?x2x?x4x4xf32>, tensor<?x2x?x4x4xf32>)
      outs(%c1z : tensor<?x4x?x?xf32>) {
  ^bb0(%x: f32, %u: f32, %w: f32, %acc: f32):
    %m = arith.addf %u, %w : f32
    %pr = arith.mulf %x, %m : f32
    %r = arith.addf %acc, %pr : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x?xf32>
  // O = P' V
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %o = linalg.generic {indexing_maps = [#pp, #pv, #po],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%pm, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x64xf32>) outs(%oz : tensor<?x4x?x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
