// Catalogue: zipvl_cumulative_mass_tokens (sparse-attention, P2).
// He et al., "ZipVL: Efficient Large Vision-Language Models with Dynamic
// Token Sparsification and KV Cache Compression" (2024).
//
// The number of important tokens is chosen at run time: with s_j the
// ZipCache-normalised attention score of key j (column sum of the causal
// probabilities over the number of queries that see j), per (batch, head)
//   k = min { k : the k largest s_j sum to >= tau * sum_j s_j },
// and causal attention then runs over those k keys only (plus each row's own
// token, so that no row is empty). No sort: key j is among the k largest iff
// the mass of the keys ranked before it (larger s, ties to the lower
// position) is still below tau * total, a pairwise reduction over the keys.
// Four steps: attention with fused column sums (the scores; the paper
// uses a few probe queries, here every query), the normalisation and the
// pairwise "mass before" (linalg), the totals, then the attention again
// with a mask region that reads them. Selection per head (the catalogue
// leaves per head vs per layer open).
// q, k, v [B, 4, L, 64], tau [1] -> o [B, 4, L, 64], kept [B, 4] (k, f32).
#e = affine_map<(b, h, j) -> (b, h, j)>
#bh3 = affine_map<(b, h, j) -> (b, h)>
#pj = affine_map<(b, h, j, m) -> (b, h, j)>
#pm = affine_map<(b, h, j, m) -> (b, h, m)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %tau: tensor<1xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %off = arith.subi %lk, %lq : index
  // 1. Column sums of the causal probabilities.
  %p0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %c0s = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %probe, %cols = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%p0, %c0s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  // 2. s_j = cols_j / #{rows that see j}.
  %n0 = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %s = linalg.generic {indexing_maps = [#e, #e],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%cols : tensor<?x4x?xf32>) outs(%n0 : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %j = linalg.index 2 : index
    %zi = arith.constant 0 : index
    %late = arith.subi %j, %off : index
    %skip = arith.maxsi %late, %zi : index
    %rows = arith.subi %lq, %skip : index
    %ri = arith.index_cast %rows : index to i64
    %rf = arith.sitofp %ri : i64 to f32
    %r = arith.divf %x, %rf : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  // 3. The mass ranked before each key, and the total.
  %m0 = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %mz = linalg.fill ins(%zero : f32) outs(%m0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %before = linalg.generic {indexing_maps = [#pj, #pm, #pj],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%s, %s : tensor<?x4x?xf32>, tensor<?x4x?xf32>) outs(%mz : tensor<?x4x?xf32>) {
  ^bb0(%sj: f32, %sm: f32, %acc: f32):
    %j = linalg.index 2 : index
    %m = linalg.index 3 : index
    %z = arith.constant 0.0 : f32
    %gt = arith.cmpf ogt, %sm, %sj : f32
    %eq = arith.cmpf oeq, %sm, %sj : f32
    %lower = arith.cmpi ult, %m, %j : index
    %tie = arith.andi %eq, %lower : i1
    %ahead = arith.ori %gt, %tie : i1
    %add = arith.select %ahead, %sm, %z : f32
    %r = arith.addf %acc, %add : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %t0 = tensor.empty(%b) : tensor<?x4xf32>
  %tz = linalg.fill ins(%zero : f32) outs(%t0 : tensor<?x4xf32>) -> tensor<?x4xf32>
  %total = linalg.generic {indexing_maps = [#e, #bh3],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s : tensor<?x4x?xf32>) outs(%tz : tensor<?x4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  } -> tensor<?x4xf32>
  // The threshold tau * total, and the number of keys kept.
  %th0 = tensor.empty(%b) : tensor<?x4xf32>
  %th = linalg.generic {indexing_maps = [affine_map<(b, h) -> (b, h)>, affine_map<(b, h) -> (0)>,
                                         affine_map<(b, h) -> (b, h)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%total, %tau : tensor<?x4xf32>, tensor<1xf32>) outs(%th0 : tensor<?x4xf32>) {
  ^bb0(%x: f32, %t: f32, %unused: f32):
    %r = arith.mulf %x, %t : f32
    linalg.yield %r : f32
  } -> tensor<?x4xf32>
  %kz = linalg.fill ins(%zero : f32) outs(%t0 : tensor<?x4xf32>) -> tensor<?x4xf32>
  %kept = linalg.generic {indexing_maps = [#e, #bh3, #bh3],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%before, %th : tensor<?x4x?xf32>, tensor<?x4xf32>) outs(%kz : tensor<?x4xf32>) {
  ^bb0(%x: f32, %t: f32, %acc: f32):
    %one = arith.constant 1.0 : f32
    %z = arith.constant 0.0 : f32
    %in = arith.cmpf olt, %x, %t : f32
    %add = arith.select %in, %one, %z : f32
    %r = arith.addf %acc, %add : f32
    linalg.yield %r : f32
  } -> tensor<?x4xf32>
  // 4. Causal attention over the kept keys and the row's own token.
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %mass = tensor.extract %before[%bb, %h, %j] : tensor<?x4x?xf32>
        %limit = tensor.extract %th[%bb, %h] : tensor<?x4xf32>
        %in = arith.cmpf olt, %mass, %limit : f32
        %self = arith.addi %i, %off : index
        %own = arith.cmpi eq, %j, %self : index
        %vis = arith.ori %in, %own : i1
        attn.yield %vis : i1
      } -> tensor<?x4x?x64xf32>
  return %o, %kept : tensor<?x4x?x64xf32>, tensor<?x4xf32>
}
