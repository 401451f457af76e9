// Catalogue: trim_kv_retention_gate (kv-scoring, P2).
// "Cache What Lasts: Token Retention for Memory-Bounded KV Cache in LLMs".
//
// A per-(head, token) retention gate beta_j = sigmoid(g[b, h, j]) (the
// gate MLP's logit, given here) decays a token's weight as beta_j^(t - j):
//   training form: o_t = sum_j softmax_j(beta_j^(t - j) * s_tj) v_j,
//     a per-(t, j) multiplier of the scaled logit s_tj = q_t . k_j / sqrt(D)
//     (causal; t is the query's position, Lk - Lq + i),
//   inference: when over budget, keep the tokens of largest retention
//     beta_j^(T - j), T = Lk - 1 the newest position: the 4 first, the 16 most
//     recent and the 44 best others (attn.evict on (T - j) log beta_j).
// log beta = -softplus(-g) is computed once ([B, 4, Lk]) and read by the
// score region: exp((t - j) log beta_j) is one exp per logit, fused.
// q, k, v [B, 4, L, 64], g [B, 4, Lk] -> o [B, 4, L, 64], kept indices
// [B, 4, 64] i32 (-1 pads), k', v' [B, 4, 64, 64].
#e = affine_map<(b, h, j) -> (b, h, j)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %g: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x64xi32>, tensor<?x4x64x64xf32>,
        tensor<?x4x64x64xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %off = arith.subi %lk, %lq : index
  // log beta_j = log sigmoid(g_j) = -(max(-g, 0) + log1p(exp(-|g|))).
  %lb0 = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %lb = linalg.generic {indexing_maps = [#e, #e],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g : tensor<?x4x?xf32>) outs(%lb0 : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %zero = arith.constant 0.0 : f32
    %nx = arith.negf %x : f32
    %pos = arith.maximumf %nx, %zero : f32
    %ax = math.absf %x : f32
    %nax = arith.negf %ax : f32
    %ex = math.exp %nax : f32
    %lp = math.log1p %ex : f32
    %sp = arith.addf %pos, %lp : f32
    %r = arith.negf %sp : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %t = arith.addi %i, %off : index
        %age = arith.subi %t, %j : index
        %agei = arith.index_cast %age : index to i64
        %agef = arith.sitofp %agei : i64 to f32
        %l = tensor.extract %lb[%bb, %h, %j] : tensor<?x4x?xf32>
        %x = arith.mulf %agef, %l : f32
        %ret = math.exp %x : f32
        %r = arith.mulf %s, %ret : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x64xf32>
  // Retention at the newest position T = Lk - 1: (T - j) log beta_j.
  %c1 = arith.constant 1 : index
  %tl = arith.subi %lk, %c1 : index
  %r0 = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %ret = linalg.generic {indexing_maps = [#e, #e],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%lb : tensor<?x4x?xf32>) outs(%r0 : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %j = linalg.index 2 : index
    %age = arith.subi %tl, %j : index
    %agei = arith.index_cast %age : index to i64
    %agef = arith.sitofp %agei : i64 to f32
    %r = arith.mulf %agef, %x : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x64xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %idx, %k1, %v1 = attn.evict budget(44) sink(4) recent(16)
      scores(%ret : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>)
      -> tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>
  return %o, %idx, %k1, %v1 : tensor<?x4x?x64xf32>, tensor<?x4x64xi32>, tensor<?x4x64x64xf32>,
                              tensor<?x4x64x64xf32>
}
