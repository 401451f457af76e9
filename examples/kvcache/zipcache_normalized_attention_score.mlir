// Catalogue: zipcache_normalized_attention_score (kv-scoring, P2).
// He et al., "ZipCache: Accurate and Efficient KV Cache Quantization with
// Salient Token Identification" (NeurIPS 2024).
//
// A token's saliency is the attention it receives, normalised by the number
// of queries that can see it (a causal mask lets early tokens collect from
// more rows):
//   s[b, h, j] = sum_i p[b, h, i, j] / nnz(p[b, h, :, j]),
//   nnz = Lq - max(0, j - (Lk - Lq))  (the rows i with j <= i + Lk - Lq).
// The column sums come from the attention kernel itself (column_scores: the
// probabilities are never materialised) and the division is one elementwise
// op. ZipCache's probe-query approximation (full rows for ~10% of the
// queries) is not needed: every row's probabilities are summed in the fused
// kernel at the cost of one extra pass over the keys.
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64], s [B, 4, Lk].
#e = affine_map<(b, h, j) -> (b, h, j)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %off = arith.subi %lk, %lq : index
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %s0 = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %o, %cols = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
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
  return %o, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}
