// One step of a serving engine with chunked prefill (vLLM's and SGLang's
// scheduler, FlashInfer's BatchPrefillWithPagedKVCache): the step's new
// tokens of every request, prefill chunks and decode steps alike, are
// packed one after the other; their keys and values are written into their
// slots of the page pools (in place), then every token attends, causally,
// to its own request's cache through the block table, in one call.
//
//   q        [T, 32, 128] f16      the step's queries (GQA 32:8), packed
//   k_new    [T, 8, 128] f16       the step's keys and values
//   v_new    [T, 8, 128] f16
//   slots    [T] i32               page * 16 + row of each token (< 0: none)
//   k_pool   [P, 16, 8, 128] f16   page pools (nhd), updated in place
//   v_pool   [P, 16, 8, 128] f16
//   lens     [B] i32               keys per request, this step's included
//   table    [B, max_pages] i32    each request's pages, in order
//   indptr   [B + 1] i32           request b owns tokens indptr[b] .. indptr[b+1]-1
//   plan     [2, B + 1] i32        attnrt_plan_ragged(indptr, lens, 32, 8):
//                                  computed once per step, shared by every layer
// Returns the attention output [T, 32, 128] f32 and the two pools.
func.func @main(%q: tensor<?x32x128xf16>, %k_new: tensor<?x8x128xf16>,
                %v_new: tensor<?x8x128xf16>, %slots: tensor<?xi32>,
                %k_pool: tensor<?x16x8x128xf16>, %v_pool: tensor<?x16x8x128xf16>,
                %lens: tensor<?xi32>, %table: tensor<?x?xi32>,
                %indptr: tensor<?xi32>, %plan: tensor<2x?xi32>)
    -> (tensor<?x32x128xf32>, tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>) {
  %kp, %vp = attn.append_kv ins(%k_new, %v_new : tensor<?x8x128xf16>, tensor<?x8x128xf16>)
      slots(%slots : tensor<?xi32>)
      outs(%k_pool, %v_pool : tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>)
      -> tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %q, %c0 : tensor<?x32x128xf16>
  // The attention's ragged query is [tokens, heads, 1, D]: a view.
  %q4 = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [%t, 32, 1, 128]
      : tensor<?x32x128xf16> into tensor<?x32x1x128xf16>
  %init = tensor.empty(%t) : tensor<?x32x1x128xf32>
  %o = attn.attention causal
      ins(%q4, %kp, %vp : tensor<?x32x1x128xf16>, tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      qo_indptr(%indptr : tensor<?xi32>) plan(%plan : tensor<2x?xi32>)
      outs(%init : tensor<?x32x1x128xf32>) -> tensor<?x32x1x128xf32>
  %o3 = tensor.collapse_shape %o [[0], [1], [2, 3]]
      : tensor<?x32x1x128xf32> into tensor<?x32x128xf32>
  return %o3, %kp, %vp : tensor<?x32x128xf32>, tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>
}
