// SeerAttention-style learned block gating: mean-pooled queries and
// [max, min, mean]-pooled keys of each 64-row block pass through small
// per-head projections (Wq [4, 64, 32], Wk [4, 192, 32]); their products
// score every (query block, key block) pair, attn.route keeps the 3 best
// key blocks per query block (the diagonal always, future blocks never),
// and the same block-sparse attention path as MoBA attends within them.
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64].
#qp = affine_map<(b, h, n, c, d) -> (b, h, n, d)>
#wq = affine_map<(b, h, n, c, d) -> (h, d, c)>
#qs = affine_map<(b, h, n, c, d) -> (b, h, n, c)>
#kst = affine_map<(b, h, n, c, d) -> (b, h, c, n)>
#rows = affine_map<(b, h, i, s) -> (b, h, i, s)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %wq: tensor<4x64x32xf32>,
                %wk: tensor<4x192x32xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %nb = arith.ceildivui %l, %c64 : index
  // Pooled blocks.
  %qp0 = tensor.empty(%b, %nb) : tensor<?x4x?x64xf32>
  %qp = attn.pool block(64) kinds(["mean"]) ins(%q : tensor<?x4x?x64xf32>)
      outs(%qp0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %kp0 = tensor.empty(%b, %nb) : tensor<?x4x?x192xf32>
  %kp = attn.pool block(64) kinds(["max", "min", "mean"]) ins(%k : tensor<?x4x?x64xf32>)
      outs(%kp0 : tensor<?x4x?x192xf32>) -> tensor<?x4x?x192xf32>
  // Per-head projections: qs = qp Wq[h] [B, 4, nb, 32], ks^T = (kp Wk[h])^T.
  %qs0 = tensor.empty(%b, %nb) : tensor<?x4x?x32xf32>
  %qsz = linalg.fill ins(%zero : f32) outs(%qs0 : tensor<?x4x?x32xf32>) -> tensor<?x4x?x32xf32>
  %qs = linalg.generic {indexing_maps = [#qp, #wq, #qs],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%qp, %wq : tensor<?x4x?x64xf32>, tensor<4x64x32xf32>) outs(%qsz : tensor<?x4x?x32xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x?x32xf32>
  %ks0 = tensor.empty(%b, %nb) : tensor<?x4x32x?xf32>
  %ksz = linalg.fill ins(%zero : f32) outs(%ks0 : tensor<?x4x32x?xf32>) -> tensor<?x4x32x?xf32>
  %kst = linalg.generic {indexing_maps = [#qp, #wq, #kst],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%kp, %wk : tensor<?x4x?x192xf32>, tensor<4x192x32xf32>) outs(%ksz : tensor<?x4x32x?xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x32x?xf32>
  // Top-3 key blocks per query block (t is the query block here).
  %w0 = tensor.empty(%b, %nb) : tensor<?x4x?x3xf32>
  %i0 = tensor.empty(%b, %nb) : tensor<?x4x?x3xi32>
  %w, %blocks = attn.route top(3) scoring(none)
      ins(%qs, %kst : tensor<?x4x?x32xf32>, tensor<?x4x32x?xf32>)
      outs(%w0, %i0 : tensor<?x4x?x3xf32>, tensor<?x4x?x3xi32>)
      score {
      ^bb0(%s: f32, %t: index, %e: index):
        %inf = arith.constant 0x7F800000 : f32
        %ninf = arith.constant 0xFF800000 : f32
        %future = arith.cmpi ugt, %e, %t : index
        %diag = arith.cmpi eq, %e, %t : index
        %a = arith.select %diag, %inf, %s : f32
        %r = arith.select %future, %ninf, %a : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x3xf32>, tensor<?x4x?x3xi32>
  // Every row takes its query block's selection.
  %sel0 = tensor.empty(%b, %l) : tensor<?x4x?x3xi32>
  %sel = linalg.generic {indexing_maps = [#rows],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%sel0 : tensor<?x4x?x3xi32>) {
  ^bb0(%unused: i32):
    %bi = linalg.index 0 : index
    %hi = linalg.index 1 : index
    %ii = linalg.index 2 : index
    %si = linalg.index 3 : index
    %blk = arith.constant 64 : index
    %qb = arith.divui %ii, %blk : index
    %x = tensor.extract %blocks[%bi, %hi, %qb, %si] : tensor<?x4x?x3xi32>
    linalg.yield %x : i32
  } -> tensor<?x4x?x3xi32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      blocks(%sel : tensor<?x4x?x3xi32>) block_size(64)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
