// Catalogue: deberta_disentangled_attention (attention-core, P2).
// He et al., "DeBERTa: Decoding-enhanced BERT with Disentangled Attention"
// (ICLR 2021).
//
// Bidirectional (encoder) attention whose logit adds a content-to-position
// and a position-to-content term:
//   A_ij = Qc_i . Kc_j + Qc_i . Kr_d(i,j) + Kc_j . Qr_d(j,i),
//   H = softmax(A / sqrt(3 D)) Vc,   d(i, j) = clip(i - j + k, 0, 2k - 1),
// with k = 16 (32 relative buckets) and Qr, Kr [H, 2k, D] the per-head
// projections of the shared relative-position table. The two side tables
// are computed once per call, C2P = Qc Kr^T [B, H, Lq, 2k] and
// P2C = Kc Qr^T [B, H, Lk, 2k] (linalg contractions), and gathered inside the
// score region at d(i, j) and d(j, i): the attention itself stays one fused
// kernel with no [L, L] tensor.
// q, k, v [B, 4, L, 64], qr, kr [4, 32, 64] -> o [B, 4, L, 64].
#row = affine_map<(b, h, n, r, d) -> (b, h, n, d)>
#rel = affine_map<(b, h, n, r, d) -> (h, r, d)>
#tab = affine_map<(b, h, n, r, d) -> (b, h, n, r)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %qr: tensor<4x32x64xf32>,
                %kr: tensor<4x32x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %lq = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  // C2P[b, h, i, r] = Qc[b, h, i, :] . Kr[h, r, :]
  %c2p0 = tensor.empty(%b, %lq) : tensor<?x4x?x32xf32>
  %c2pz = linalg.fill ins(%zero : f32) outs(%c2p0 : tensor<?x4x?x32xf32>) -> tensor<?x4x?x32xf32>
  %c2p = linalg.generic {indexing_maps = [#row, #rel, #tab],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kr : tensor<?x4x?x64xf32>, tensor<4x32x64xf32>) outs(%c2pz : tensor<?x4x?x32xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x?x32xf32>
  // P2C[b, h, j, r] = Kc[b, h, j, :] . Qr[h, r, :]
  %p2c0 = tensor.empty(%b, %lk) : tensor<?x4x?x32xf32>
  %p2cz = linalg.fill ins(%zero : f32) outs(%p2c0 : tensor<?x4x?x32xf32>) -> tensor<?x4x?x32xf32>
  %p2c = linalg.generic {indexing_maps = [#row, #rel, #tab],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %qr : tensor<?x4x?x64xf32>, tensor<4x32x64xf32>) outs(%p2cz : tensor<?x4x?x32xf32>) {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x4x?x32xf32>
  %init = tensor.empty(%b, %lq) : tensor<?x4x?x64xf32>
  // scale = 1 / sqrt(3 * 64)
  %o = attn.attention scale(0.0721687836)
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %kk = arith.constant 16 : index
        %zi = arith.constant 0 : index
        %top = arith.constant 31 : index
        %scale = arith.constant 0.0721687836 : f32
        // d(i, j) = clip(i - j + k, 0, 2k - 1), and d(j, i).
        %ij = arith.subi %i, %j : index
        %ij1 = arith.addi %ij, %kk : index
        %ij2 = arith.maxsi %ij1, %zi : index
        %dij = arith.minsi %ij2, %top : index
        %ji = arith.subi %j, %i : index
        %ji1 = arith.addi %ji, %kk : index
        %ji2 = arith.maxsi %ji1, %zi : index
        %dji = arith.minsi %ji2, %top : index
        %cp = tensor.extract %c2p[%bb, %h, %i, %dij] : tensor<?x4x?x32xf32>
        %pc = tensor.extract %p2c[%bb, %h, %j, %dji] : tensor<?x4x?x32xf32>
        %rel = arith.addf %cp, %pc : f32
        %rels = arith.mulf %rel, %scale : f32
        %r = arith.addf %s, %rels : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
