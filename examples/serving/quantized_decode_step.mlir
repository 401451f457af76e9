// One decode step over an 8-bit paged KV cache (llama.cpp's q8_0 K/V
// cache, vLLM's int8/fp8 kv_cache_dtype): this step's new key and value
// rows are quantized to int8 with one f32 scale per token and head
// (attn.quantize_kv), codes and scales are written into their slots of
// the page pools in place (attn.append_kv, twice), then every request's
// query attends to its keys through the block table, dequantizing each
// tile as it is read (key_scale / value_scale). Half the bytes per key of
// an f16 cache.
//
//   q         [B, 32, 1, 128] f16   this step's queries (GQA 32:8)
//   k_new     [B, 8, 128] f32       this step's keys and values
//   v_new     [B, 8, 128] f32
//   slots     [B] i32               page * 16 + row of each new token (< 0: none)
//   k_pool    [P, 16, 8, 128] i8    code pools (nhd), updated in place
//   v_pool    [P, 16, 8, 128] i8
//   ks_pool   [P, 16, 8, 1] f32     their scales, updated in place
//   vs_pool   [P, 16, 8, 1] f32
//   lens      [B] i32               keys per request, the new one included
//   table     [B, max_pages] i32    each request's pages, in order
// Returns the attention output [B, 32, 1, 128] f32 and the four pools.
func.func @main(%q: tensor<?x32x1x128xf16>, %k_new: tensor<?x8x128xf32>,
                %v_new: tensor<?x8x128xf32>, %slots: tensor<?xi32>,
                %k_pool: tensor<?x16x8x128xi8>, %v_pool: tensor<?x16x8x128xi8>,
                %ks_pool: tensor<?x16x8x1xf32>, %vs_pool: tensor<?x16x8x1xf32>,
                %lens: tensor<?xi32>, %table: tensor<?x?xi32>)
    -> (tensor<?x32x1x128xf32>, tensor<?x16x8x128xi8>, tensor<?x16x8x128xi8>,
        tensor<?x16x8x1xf32>, tensor<?x16x8x1xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %k_new, %c0 : tensor<?x8x128xf32>
  %kq0 = tensor.empty(%t) : tensor<?x8x128xi8>
  %ks0 = tensor.empty(%t) : tensor<?x8x1xf32>
  %vq0 = tensor.empty(%t) : tensor<?x8x128xi8>
  %vs0 = tensor.empty(%t) : tensor<?x8x1xf32>
  %kq, %ks = attn.quantize_kv ins(%k_new : tensor<?x8x128xf32>)
      outs(%kq0, %ks0 : tensor<?x8x128xi8>, tensor<?x8x1xf32>)
      -> tensor<?x8x128xi8>, tensor<?x8x1xf32>
  %vq, %vs = attn.quantize_kv ins(%v_new : tensor<?x8x128xf32>)
      outs(%vq0, %vs0 : tensor<?x8x128xi8>, tensor<?x8x1xf32>)
      -> tensor<?x8x128xi8>, tensor<?x8x1xf32>
  %kp, %vp = attn.append_kv ins(%kq, %vq : tensor<?x8x128xi8>, tensor<?x8x128xi8>)
      slots(%slots : tensor<?xi32>)
      outs(%k_pool, %v_pool : tensor<?x16x8x128xi8>, tensor<?x16x8x128xi8>)
      -> tensor<?x16x8x128xi8>, tensor<?x16x8x128xi8>
  %ksp, %vsp = attn.append_kv ins(%ks, %vs : tensor<?x8x1xf32>, tensor<?x8x1xf32>)
      slots(%slots : tensor<?xi32>)
      outs(%ks_pool, %vs_pool : tensor<?x16x8x1xf32>, tensor<?x16x8x1xf32>)
      -> tensor<?x16x8x1xf32>, tensor<?x16x8x1xf32>
  %b = tensor.dim %q, %c0 : tensor<?x32x1x128xf16>
  %init = tensor.empty(%b) : tensor<?x32x1x128xf32>
  %o = attn.attention causal
      ins(%q, %kp, %vp : tensor<?x32x1x128xf16>, tensor<?x16x8x128xi8>, tensor<?x16x8x128xi8>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      key_scale(%ksp : tensor<?x16x8x1xf32>) value_scale(%vsp : tensor<?x16x8x1xf32>)
      outs(%init : tensor<?x32x1x128xf32>) -> tensor<?x32x1x128xf32>
  return %o, %kp, %vp, %ksp, %vsp : tensor<?x32x1x128xf32>, tensor<?x16x8x128xi8>,
      tensor<?x16x8x128xi8>, tensor<?x16x8x1xf32>, tensor<?x16x8x1xf32>
}
