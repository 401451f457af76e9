// Catalogue: sliding_tile_attention (sparse-attention, P2).
// Zhang et al., "Fast Video Generation with Sliding Tile Attention" (2025).
//
// Video tokens of a T x 16 x 16 latent are stored tile-contiguously: tiles
// of 4 x 4 x 4 tokens (64), a grid of nT x 4 x 4 tiles (nT = ceil(Lk / 1024)),
// token n in tile n / 64 at tile coordinates
//   t = (n / 64) / 16,  y = (n / 64) / 4 % 4,  x = (n / 64) % 4.
// A query tile attends to the key tiles in a 3 x 3 x 3 window of tiles
// centred on it, the centre clamped at the borders so that every query tile
// sees 27 key tiles (bidirectional, as in video diffusion transformers):
//   visible(i, j) = |t_j - c_t(i)| <= 1 and |y_j - c_y(i)| <= 1 and
//                   |x_j - c_x(i)| <= 1,
//   c_t = min(max(t_i, 1), nT - 2),  c_y = min(max(y_i, 1), 2),  c_x likewise.
// The mask is tile-granular: the tiling pass bounds each side's tile
// coordinates over a 64 x 64 tile by interval arithmetic and finds every
// aligned tile full or empty, so no mask is evaluated per element and the
// skipped tiles cost a few scalar operations each (21% of the pairs at
// L = 8192).
// q, k, v [B, 4, L, 64] -> o [B, 4, L, 64].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1024 = arith.constant 1024 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %nt = arith.ceildivui %lk, %c1024 : index
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %one = arith.constant 1 : index
        %two = arith.constant 2 : index
        %four = arith.constant 4 : index
        %sixteen = arith.constant 16 : index
        %tile = arith.constant 64 : index
        // The query's tile coordinates and its window's clamped centre.
        %qi = arith.divui %i, %tile : index
        %qt = arith.divui %qi, %sixteen : index
        %qy0 = arith.divui %qi, %four : index
        %qy = arith.remui %qy0, %four : index
        %qx = arith.remui %qi, %four : index
        %ntop = arith.subi %nt, %two : index
        %ct0 = arith.maxsi %qt, %one : index
        %ct = arith.minsi %ct0, %ntop : index
        %cy0 = arith.maxsi %qy, %one : index
        %cy = arith.minsi %cy0, %two : index
        %cx0 = arith.maxsi %qx, %one : index
        %cx = arith.minsi %cx0, %two : index
        // The key's tile coordinates.
        %kj = arith.divui %j, %tile : index
        %kt = arith.divui %kj, %sixteen : index
        %ky0 = arith.divui %kj, %four : index
        %ky = arith.remui %ky0, %four : index
        %kx = arith.remui %kj, %four : index
        // |k - c| <= 1 on each axis: k <= c + 1 and c <= k + 1.
        %ct1 = arith.addi %ct, %one : index
        %kt1 = arith.addi %kt, %one : index
        %t_hi = arith.cmpi sle, %kt, %ct1 : index
        %t_lo = arith.cmpi sle, %ct, %kt1 : index
        %cy1 = arith.addi %cy, %one : index
        %ky1 = arith.addi %ky, %one : index
        %y_hi = arith.cmpi sle, %ky, %cy1 : index
        %y_lo = arith.cmpi sle, %cy, %ky1 : index
        %cx1 = arith.addi %cx, %one : index
        %kx1 = arith.addi %kx, %one : index
        %x_hi = arith.cmpi sle, %kx, %cx1 : index
        %x_lo = arith.cmpi sle, %cx, %kx1 : index
        %t = arith.andi %t_hi, %t_lo : i1
        %y = arith.andi %y_hi, %y_lo : i1
        %x = arith.andi %x_hi, %x_lo : i1
        %ty = arith.andi %t, %y : i1
        %vis = arith.andi %ty, %x : i1
        attn.yield %vis : i1
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
