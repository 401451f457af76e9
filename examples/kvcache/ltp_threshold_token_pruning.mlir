// Catalogue: ltp_threshold_token_pruning (kv-scoring, P2).
// Kim et al., "Learned Token Pruning for Transformers" (KDD 2022).
//
// Encoder (bidirectional) attention whose tokens are scored by the mean
// attention they receive, over heads and query rows,
//   s[b, j] = 1 / (H N) * sum_h sum_i p[b, h, i, j],
// and kept for the next layer when s[b, j] >= theta (a learned per-layer
// threshold, a run-time value here). The column sums are the attention
// kernel's fused `column_scores` side output; the mean and the threshold
// are one reduction over heads. Outputs the keep flags and the kept count
// per sequence (the next layer's length); the compaction of the kept rows
// is left to the caller.
// q, k, v [B, 4, L, 64], theta [1] -> o [B, 4, L, 64], s [B, L],
// keep [B, L] i32, kept [B] i32.
#bhj = affine_map<(b, j, h) -> (b, h, j)>
#bj3 = affine_map<(b, j, h) -> (b, j)>
#bj = affine_map<(b, j) -> (b, j)>
#b_ = affine_map<(b, j) -> (b)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %theta: tensor<1xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x?xf32>, tensor<?x?xi32>, tensor<?xi32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %zi = arith.constant 0 : i32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %th = tensor.extract %theta[%c0] : tensor<1xf32>
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %c0s = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %o, %cols = attn.attention
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %c0s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  // s = sum_h cols / (H N).
  %lqi = arith.index_cast %lq : index to i64
  %lqf = arith.sitofp %lqi : i64 to f32
  %four = arith.constant 4.0 : f32
  %hn = arith.mulf %four, %lqf : f32
  %s0 = tensor.empty(%b, %lk) : tensor<?x?xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<?x?xf32>) -> tensor<?x?xf32>
  %s = linalg.generic {indexing_maps = [#bhj, #bj3],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%cols : tensor<?x4x?xf32>) outs(%sz : tensor<?x?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %w = arith.divf %x, %hn : f32
    %r = arith.addf %acc, %w : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %k0 = tensor.empty(%b, %lk) : tensor<?x?xi32>
  %keep = linalg.generic {indexing_maps = [#bj, #bj], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<?x?xf32>) outs(%k0 : tensor<?x?xi32>) {
  ^bb0(%x: f32, %unused: i32):
    %ge = arith.cmpf oge, %x, %th : f32
    %r = arith.extui %ge : i1 to i32
    linalg.yield %r : i32
  } -> tensor<?x?xi32>
  %n0 = tensor.empty(%b) : tensor<?xi32>
  %nz = linalg.fill ins(%zi : i32) outs(%n0 : tensor<?xi32>) -> tensor<?xi32>
  %kept = linalg.generic {indexing_maps = [#bj, #b_], iterator_types = ["parallel", "reduction"]}
      ins(%keep : tensor<?x?xi32>) outs(%nz : tensor<?xi32>) {
  ^bb0(%x: i32, %acc: i32):
    %r = arith.addi %acc, %x : i32
    linalg.yield %r : i32
  } -> tensor<?xi32>
  return %o, %s, %keep, %kept : tensor<?x4x?x64xf32>, tensor<?x?xf32>, tensor<?x?xi32>, tensor<?xi32>
}
