// MoBA (Mixture of Block Attention): every query scores each 64-key block
// by q . mean(K_block), keeps its 3 best blocks -- its own block always,
// future blocks never -- and attends causally within them. Three ops, one
// compiled program: attn.pool (block means), attn.route (the block scores
// q K_mean^T computed in the router kernel, its score region forbidding
// future blocks and forcing the diagonal), and a block-sparse
// attn.attention that skips key tiles no row of a query tile selected.
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64].
#map_in = affine_map<(b, h, d, n) -> (b, h, n, d)>
#map_out = affine_map<(b, h, d, n) -> (b, h, d, n)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %nb = arith.ceildivui %l, %c64 : index
  // Mean key of every block, transposed to [B, 4, 64, blocks].
  %kp0 = tensor.empty(%b, %nb) : tensor<?x4x?x64xf32>
  %kp = attn.pool block(64) kinds(["mean"]) ins(%k : tensor<?x4x?x64xf32>)
      outs(%kp0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %kt0 = tensor.empty(%b, %nb) : tensor<?x4x64x?xf32>
  %kt = linalg.generic {indexing_maps = [#map_in, #map_out],
                        iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%kp : tensor<?x4x?x64xf32>) outs(%kt0 : tensor<?x4x64x?xf32>) {
  ^bb0(%x: f32, %unused: f32):
    linalg.yield %x : f32
  } -> tensor<?x4x64x?xf32>
  // Top-3 blocks per query: own block +inf, future blocks -inf.
  %w0 = tensor.empty(%b, %l) : tensor<?x4x?x3xf32>
  %i0 = tensor.empty(%b, %l) : tensor<?x4x?x3xi32>
  %w, %sel = attn.route top(3) scoring(none)
      ins(%q, %kt : tensor<?x4x?x64xf32>, tensor<?x4x64x?xf32>)
      outs(%w0, %i0 : tensor<?x4x?x3xf32>, tensor<?x4x?x3xi32>)
      score {
      ^bb0(%s: f32, %t: index, %e: index):
        %blk = arith.constant 64 : index
        %own = arith.divui %t, %blk : index
        %inf = arith.constant 0x7F800000 : f32
        %ninf = arith.constant 0xFF800000 : f32
        %future = arith.cmpi ugt, %e, %own : index
        %diag = arith.cmpi eq, %e, %own : index
        %a = arith.select %diag, %inf, %s : f32
        %r = arith.select %future, %ninf, %a : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x3xf32>, tensor<?x4x?x3xi32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      blocks(%sel : tensor<?x4x?x3xi32>) block_size(64)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
