// Cross-Layer Attention (catalogue cla_cross_layer_kv; Brandon et al.,
// "Reducing Transformer Key-Value Cache Size with Cross-Layer Attention"):
// layers are grouped in pairs (CLA2) and only the first layer of a pair
// projects keys and values; both layers attend to that one paged cache with
// their own queries (GQA 8:2 here). The kernel is unchanged: two
// attentions reading the same pools through the same block table, so the
// cache is half the size of one per layer.
//
//   q_a, q_b  [B, 8, Lq, 64] f32   the two layers' queries (this chunk)
//   k_pool    [P, 16, 2, 64] f32   the pair's shared pools (nhd)
//   v_pool    [P, 16, 2, 64] f32
//   lens      [B] i32              keys per request (the chunk included)
//   table     [B, max_pages] i32   each request's pages
// Returns both layers' outputs [B, 8, Lq, 64].
func.func @main(%q_a: tensor<?x8x?x64xf32>, %q_b: tensor<?x8x?x64xf32>,
                %k_pool: tensor<?x16x2x64xf32>, %v_pool: tensor<?x16x2x64xf32>,
                %lens: tensor<?xi32>, %table: tensor<?x?xi32>)
    -> (tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q_a, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q_a, %c2 : tensor<?x8x?x64xf32>
  %init_a = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %init_b = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %o_a = attn.attention causal
      ins(%q_a, %k_pool, %v_pool : tensor<?x8x?x64xf32>, tensor<?x16x2x64xf32>, tensor<?x16x2x64xf32>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%init_a : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
  %o_b = attn.attention causal
      ins(%q_b, %k_pool, %v_pool : tensor<?x8x?x64xf32>, tensor<?x16x2x64xf32>, tensor<?x16x2x64xf32>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%init_b : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
  return %o_a, %o_b : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
}
