// Catalogue: scissorhands_persistence_count (kv-scoring, P2).
// Liu et al., "Scissorhands: Exploiting the Persistence of Importance
// Hypothesis for LLM KV Cache Compression at Test Time" (NeurIPS 2023).
//
// Over a history window of the last w = min(16, L) query rows (decode
// steps), each cached token counts the rows that found it unimportant,
// i.e. gave it less than half the uniform share of that row (the threshold
// is the method's hyper-parameter; below the uniform level itself, a row
// whose keys all weigh 1 / (i + 1), such as the first, would count on the
// rounding of p):
//   cnt[b, h, j] = #{ i in [L - w, L) : j <= i and p[b, h, i, j] < 0.5 / (i + 1) },
// and the cache keeps the 16 most recent tokens and the 48 others with the
// lowest counts (attn.evict ... lowest). The probabilities of the window's
// rows are recomputed from the attention's log-sum-exp output,
// p = exp(s - lse), for those w rows only (a [B, 4, w, L] contraction that
// reads the window's query rows at L - w + r), so
// the fused kernel never materialises P.
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64], cnt [B, 4, L] (counts as f32),
// kept indices [B, 4, 64] i32 (-1 pads), k', v' [B, 4, 64, 64].
#kk = affine_map<(b, h, r, j, d) -> (b, h, j, d)>
#sw = affine_map<(b, h, r, j, d) -> (b, h, r, j)>
#s4 = affine_map<(b, h, j, r) -> (b, h, r, j)>
#c4 = affine_map<(b, h, j, r) -> (b, h, j)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x64xi32>,
        tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %lse0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %lse = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %lse0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  // The window: the last w rows' scaled logits s = q . k / 8.
  %w = arith.minsi %l, %c16 : index
  %start = arith.subi %l, %w : index
  %s0 = tensor.empty(%b, %w, %l) : tensor<?x4x?x?xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %s = linalg.generic {indexing_maps = [#kk, #sw],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k : tensor<?x4x?x64xf32>) outs(%sz : tensor<?x4x?x?xf32>) {
  ^bb0(%y: f32, %acc: f32):
    %bi = linalg.index 0 : index
    %hi = linalg.index 1 : index
    %r = linalg.index 2 : index
    %d = linalg.index 4 : index
    %i = arith.addi %start, %r : index
    %x = tensor.extract %q[%bi, %hi, %i, %d] : tensor<?x4x?x64xf32>
    %eighth = arith.constant 0.125 : f32
    %m = arith.mulf %x, %y : f32
    %ms = arith.mulf %m, %eighth : f32
    %sum = arith.addf %acc, %ms : f32
    linalg.yield %sum : f32
  } -> tensor<?x4x?x?xf32>
  // cnt_j = rows of the window that see j with p_ij < 1 / (i + 1).
  %n0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %nz = linalg.fill ins(%zero : f32) outs(%n0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %cnt = linalg.generic {indexing_maps = [#s4, #c4],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%s : tensor<?x4x?x?xf32>) outs(%nz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %bi = linalg.index 0 : index
    %hi = linalg.index 1 : index
    %j = linalg.index 2 : index
    %r = linalg.index 3 : index
    %i = arith.addi %start, %r : index
    %lr = tensor.extract %lse[%bi, %hi, %i] : tensor<?x4x?xf32>
    %d = arith.subf %x, %lr : f32
    %p = math.exp %d : f32
    %one = arith.constant 1 : index
    %n = arith.addi %i, %one : index
    %ni = arith.index_cast %n : index to i64
    %nf = arith.sitofp %ni : i64 to f32
    %p_n = arith.mulf %p, %nf : f32
    %onef = arith.constant 1.0 : f32
    %half = arith.constant 0.5 : f32
    %low = arith.cmpf olt, %p_n, %half : f32
    %vis = arith.cmpi ule, %j, %i : index
    %hit = arith.andi %low, %vis : i1
    %inc = arith.select %hit, %onef, %zero : f32
    %sum = arith.addf %acc, %inc : f32
    linalg.yield %sum : f32
  } -> tensor<?x4x?xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x64xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %idx, %k1, %v1 = attn.evict budget(48) recent(16) lowest
      scores(%cnt : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>)
      -> tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>
  return %o, %cnt, %idx, %k1, %v1 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x64xi32>,
                                    tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>
}
