// H2O-style KV-cache eviction: keep the 4 first positions (attention
// sinks), the 32 most recent and the 64 others with the highest scores
// (e.g. the column_scores of h2o_scores.mlir), per batch and KV head; ties
// go to the lower position.
// scores [B, 4, S], k, v [B, 4, S, 64] -> indices [B, 4, 100] i32 (sorted;
// -1 pads when S < 100), k', v' [B, 4, 100, 64].
func.func @main(%s: tensor<?x4x?xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %k, %c0 : tensor<?x4x?x64xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x100xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x100x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x100x64xf32>
  %i, %k1, %v1 = attn.evict budget(64) sink(4) recent(32)
      scores(%s : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>)
      -> tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
  return %i, %k1, %v1 : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
}
