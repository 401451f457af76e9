// Catalogue: vig_bidirectional_gla (linear-recurrent, P2).
// Liao et al., "ViG: Linear-complexity Visual Sequence Learning with Gated
// Linear Attention" (2024).
//
// Gated linear attention over a flattened image in both directions, each
// with its own data-dependent forget gates (log decays <= 0 per key
// channel), summed, and mixed with a local depth-wise 3 x 3 convolution of
// the values on the image grid by a data-dependent gate (ViG's 2-D gating
// locality injection):
//   S^f_t = diag(a^f_t) S^f_{t-1} + k_t^T v_t,   o^f_t = q_t S^f_t
//   S^b_t = diag(a^b_t) S^b_{t+1} + k_t^T v_t,   o^b_t = q_t S^b_t
//   y_t   = sigmoid(u_t) * (o^f_t + o^b_t) + (1 - sigmoid(u_t)) * DWConv3x3(v)_t
// The image is 16 tokens wide (row r = t / 16, column c = t % 16; a last
// partial row is allowed), zero padded. The backward direction is
// `attn.scan ... reverse` (the forward scan over step-reversed views); the
// convolution is one linalg reduction over the 3 x 3 taps. Whether ViG sums
// or gates the two directions is open in the catalogue: summed here.
// q, k, v, log_af, log_ab, u [B, 4, L, 64], cw [64, 3, 3] -> y [B, 4, L, 64].
#x4 = affine_map<(b, h, t, e) -> (b, h, t, e)>
#cv = affine_map<(b, h, t, e, r, c) -> (e, r, c)>
#co = affine_map<(b, h, t, e, r, c) -> (b, h, t, e)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %log_af: tensor<?x4x?x64xf32>,
                %log_ab: tensor<?x4x?x64xf32>, %u: tensor<?x4x?x64xf32>,
                %cw: tensor<64x3x3xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %f0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %of = attn.scan decay(channel)
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      decays(%log_af : tensor<?x4x?x64xf32>)
      outs(%f0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %b0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %ob = attn.scan decay(channel) reverse
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      decays(%log_ab : tensor<?x4x?x64xf32>)
      outs(%b0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  // DWConv3x3(v) on the 16-wide grid: a reduction over the taps (r, c).
  %cz0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %cz = linalg.fill ins(%zero : f32) outs(%cz0 : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %conv = linalg.generic {indexing_maps = [#cv, #co],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%cw : tensor<64x3x3xf32>) outs(%cz : tensor<?x4x?x64xf32>) {
  ^bb0(%w: f32, %acc: f32):
    %bi = linalg.index 0 : index
    %hi = linalg.index 1 : index
    %t = linalg.index 2 : index
    %e = linalg.index 3 : index
    %dr = linalg.index 4 : index
    %dc = linalg.index 5 : index
    %zi = arith.constant 0 : index
    %one = arith.constant 1 : index
    %width = arith.constant 16 : index
    %z = arith.constant 0.0 : f32
    %row = arith.divui %t, %width : index
    %col = arith.remui %t, %width : index
    // The neighbour (row + dr - 1, col + dc - 1) and whether it exists.
    %nr0 = arith.addi %row, %dr : index
    %nr = arith.subi %nr0, %one : index
    %nc0 = arith.addi %col, %dc : index
    %nc = arith.subi %nc0, %one : index
    %nrow = arith.muli %nr, %width : index
    %n = arith.addi %nrow, %nc : index
    %cin0 = arith.cmpi sge, %nc, %zi : index
    %cin1 = arith.cmpi slt, %nc, %width : index
    %rin0 = arith.cmpi sge, %nr, %zi : index
    %nin = arith.cmpi slt, %n, %l : index
    %ok0 = arith.andi %cin0, %cin1 : i1
    %ok1 = arith.andi %ok0, %rin0 : i1
    %ok = arith.andi %ok1, %nin : i1
    %nsafe = arith.select %ok, %n, %t : index
    %x = tensor.extract %v[%bi, %hi, %nsafe, %e] : tensor<?x4x?x64xf32>
    %wm = arith.select %ok, %w, %z : f32
    %m = arith.mulf %wm, %x : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  // y = sigmoid(u) (o_f + o_b) + (1 - sigmoid(u)) conv
  %y0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %y = linalg.generic {indexing_maps = [#x4, #x4, #x4, #x4, #x4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%of, %ob, %u, %conv : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>,
          tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) outs(%y0 : tensor<?x4x?x64xf32>) {
  ^bb0(%a: f32, %c: f32, %g: f32, %loc: f32, %unused: f32):
    %one = arith.constant 1.0 : f32
    %ng = arith.negf %g : f32
    %eg = math.exp %ng : f32
    %den = arith.addf %one, %eg : f32
    %s = arith.divf %one, %den : f32
    %glob = arith.addf %a, %c : f32
    %d = arith.subf %glob, %loc : f32
    %sd = arith.mulf %s, %d : f32
    %r = arith.addf %loc, %sd : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  return %y : tensor<?x4x?x64xf32>
}
