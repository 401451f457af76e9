// One decode step of a serving engine over a paged KV cache (vLLM's
// reshape_and_cache + paged attention, catalogue gqa_mqa on a paged cache):
// each request's new key/value row is written into its slot of the page
// pools (in place: the pools are in/out arguments of the C entry point),
// then its query attends to all of its keys through the block table.
//
//   q        [B, 32, 1, 128] f16   this step's queries (GQA 32:8)
//   k_new    [B, 8, 128] f16       this step's keys and values
//   v_new    [B, 8, 128] f16
//   slots    [B] i32               page * 16 + row of each new token (< 0: none)
//   k_pool   [P, 16, 8, 128] f16   page pools (nhd), updated in place
//   v_pool   [P, 16, 8, 128] f16
//   lens     [B] i32               keys per request, the new one included
//   table    [B, max_pages] i32    each request's pages, in order
// Returns the attention output [B, 32, 1, 128] f32 and the two pools.
func.func @main(%q: tensor<?x32x1x128xf16>, %k_new: tensor<?x8x128xf16>,
                %v_new: tensor<?x8x128xf16>, %slots: tensor<?xi32>,
                %k_pool: tensor<?x16x8x128xf16>, %v_pool: tensor<?x16x8x128xf16>,
                %lens: tensor<?xi32>, %table: tensor<?x?xi32>)
    -> (tensor<?x32x1x128xf32>, tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>) {
  %kp, %vp = attn.append_kv ins(%k_new, %v_new : tensor<?x8x128xf16>, tensor<?x8x128xf16>)
      slots(%slots : tensor<?xi32>)
      outs(%k_pool, %v_pool : tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>)
      -> tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x32x1x128xf16>
  %init = tensor.empty(%b) : tensor<?x32x1x128xf32>
  %o = attn.attention causal
      ins(%q, %kp, %vp : tensor<?x32x1x128xf16>, tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%init : tensor<?x32x1x128xf32>) -> tensor<?x32x1x128xf32>
  return %o, %kp, %vp : tensor<?x32x1x128xf32>, tensor<?x16x8x128xf16>, tensor<?x16x8x128xf16>
}
