// Catalogue: loki_lowrank_key_topk (sparse-attention, P2).
// Singhania et al., "Loki: Low-Rank Keys for Efficient Sparse Attention"
// (NeurIPS 2024).
//
// Keys live in a low-dimensional subspace: with P_h [D, r] the top-r
// principal directions of head h's keys (calibrated offline), the
// approximate logits
//   s~[b, h, i, j] = (q_i P_h) . (k_j P_h)
// pick the k = 32 keys a query attends to, and exact causal softmax
// attention runs over those keys only:
//   o_i = sum_{j in top32(s~_i)} softmax_j(q_i . k_j / sqrt(D)) v_j.
// Three ops, no new mechanism: the projections are linalg contractions,
// attn.route (scoring(none), its score region forbidding future keys) is
// the top-k over the Lk "experts" s~ = (qP) (kP)^T, and the exact attention
// is block-sparse with blocks of one key (blocks(sel) block_size(1)).
// A row with fewer than 32 visible keys attends to all of them (the route
// leaves the rest of its slots -1). r = 16 of D = 64.
// q [B, 4, Lq, 64], k, v [B, 4, Lk, 64], p [4, 64, 16] -> o [B, 4, Lq, 64].
#x = affine_map<(b, h, n, r, d) -> (b, h, n, d)>
#p = affine_map<(b, h, n, r, d) -> (h, d, r)>
#xp = affine_map<(b, h, n, r, d) -> (b, h, n, r)>
#kpt = affine_map<(b, h, n, r, d) -> (b, h, r, n)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %p: tensor<4x64x16xf32>)
    -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  // The bottom-right alignment of the causal mask: row i sees j <= i + off.
  %off = arith.subi %lk, %lq : index
  // qP [B, 4, Lq, 16] and (kP)^T [B, 4, 16, Lk].
  %qp0 = tensor.empty(%b, %lq) : tensor<?x4x?x16xf32>
  %qpz = linalg.fill ins(%zero : f32) outs(%qp0 : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %qp = linalg.generic {indexing_maps = [#x, #p, #xp],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %p : tensor<?x4x?x64xf32>, tensor<4x64x16xf32>) outs(%qpz : tensor<?x4x?x16xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x?x16xf32>
  %kp0 = tensor.empty(%b, %lk) : tensor<?x4x16x?xf32>
  %kpz = linalg.fill ins(%zero : f32) outs(%kp0 : tensor<?x4x16x?xf32>) -> tensor<?x4x16x?xf32>
  %kp = linalg.generic {indexing_maps = [#x, #p, #kpt],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %p : tensor<?x4x?x64xf32>, tensor<4x64x16xf32>) outs(%kpz : tensor<?x4x16x?xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x16x?xf32>
  // The 32 best visible keys of every query row by s~.
  %w0 = tensor.empty(%b, %lq) : tensor<?x4x?x32xf32>
  %i0 = tensor.empty(%b, %lq) : tensor<?x4x?x32xi32>
  %w, %sel = attn.route top(32) scoring(none)
      ins(%qp, %kp : tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>)
      outs(%w0, %i0 : tensor<?x4x?x32xf32>, tensor<?x4x?x32xi32>)
      score {
      ^bb0(%s: f32, %t: index, %j: index):
        %ninf = arith.constant 0xFF800000 : f32
        %last = arith.addi %t, %off : index
        %future = arith.cmpi sgt, %j, %last : index
        %r = arith.select %future, %ninf, %s : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x32xf32>, tensor<?x4x?x32xi32>
  // Exact attention over the selected keys.
  %o0 = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      blocks(%sel : tensor<?x4x?x32xi32>) block_size(1)
      outs(%o0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
