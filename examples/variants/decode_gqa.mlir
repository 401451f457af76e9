// Decode with grouped-query attention (flash-decoding; Dao et al.,
// "Flash-Decoding for long-context inference"; FlashInfer): one query row per
// head, 32 query heads sharing 8 KV heads, against an S-long cache. The
// static query length of 1 selects the split-KV form: the 4 query heads of
// a KV head share one tile, the cache is split across threads, and the
// partial results are merged by log-sum-exp.
func.func @main(%q: tensor<?x32x1x128xf32>, %k: tensor<?x8x?x128xf32>,
                %v: tensor<?x8x?x128xf32>) -> tensor<?x32x1x128xf32> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x32x1x128xf32>
  %init = tensor.empty(%b) : tensor<?x32x1x128xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x32x1x128xf32>, tensor<?x8x?x128xf32>, tensor<?x8x?x128xf32>)
      outs(%init : tensor<?x32x1x128xf32>) -> tensor<?x32x1x128xf32>
  return %o : tensor<?x32x1x128xf32>
}
