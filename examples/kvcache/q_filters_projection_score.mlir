// Catalogue: q_filters_projection_score (kv-scoring, P2).
// Godey et al., "Q-Filters: Leveraging QK Geometry for Efficient KV Cache
// Compression" (2025).
//
// Each KV head h has a fixed unit direction f_h (the principal direction of
// its queries, calibrated offline); a cached token scores
//   score[b, h, j] = -<f_h, k[b, h, j, :]>
// (larger: keep) with no attention computed. The cache keeps the 4 first
// positions (sinks), the 16 most recent and the 44 best-scoring others per
// (batch, KV head), compacted in position order (attn.evict).
// k, v [B, 4, S, 64], f [4, 64] -> indices [B, 4, 64] i32 (-1 pads when
// S < 64), k', v' [B, 4, 64, 64], scores [B, 4, S].
#kv = affine_map<(b, h, j, d) -> (b, h, j, d)>
#f = affine_map<(b, h, j, d) -> (h, d)>
#s = affine_map<(b, h, j, d) -> (b, h, j)>
func.func @main(%k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
                %f: tensor<4x64xf32>)
    -> (tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>,
        tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %k, %c0 : tensor<?x4x?x64xf32>
  %n = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %s0 = tensor.empty(%b, %n) : tensor<?x4x?xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  // score = -<f_h, k_j>, accumulated negated.
  %s = linalg.generic {indexing_maps = [#kv, #f, #s],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %f : tensor<?x4x?x64xf32>, tensor<4x64xf32>) outs(%sz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %r = arith.subf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x64xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %i, %k1, %v1 = attn.evict budget(44) sink(4) recent(16)
      scores(%s : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>)
      -> tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>
  return %i, %k1, %v1, %s : tensor<?x4x64xi32>, tensor<?x4x64x64xf32>, tensor<?x4x64x64xf32>,
                            tensor<?x4x?xf32>
}
