// Catalogue: attention_gate_kv_eviction (kv-scoring, P2).
// Zeng et al., "In-context KV-Cache Eviction for LLMs via Attention-Gate"
// (2024).
//
// A small gate attention over the context (1 head of width 16, causal)
// gives every token a representation u_j; a per-head linear map turns it
// into a keep logit,
//   g[b, h, j] = u[b, j, :] . w[h, :] + c[h],   evicted iff sigmoid(g) < 0.5,
// and the main attention (4 heads, causal) then skips the evicted keys of
// each head. Which queries still see an evicted token is open in the paper;
// here only the token itself does (so no row is empty). The flags are an
// output: the cache keeps only the unevicted keys per head.
// q, k, v [B, 4, L, 64], qg, kg, vg [B, 1, L, 16], w [4, 16], c [4]
// -> o [B, 4, L, 64], keep [B, 4, L] i32.
#u = affine_map<(b, h, j, d) -> (b, 0, j, d)>
#w = affine_map<(b, h, j, d) -> (h, d)>
#c = affine_map<(b, h, j, d) -> (h)>
#g = affine_map<(b, h, j, d) -> (b, h, j)>
#e = affine_map<(b, h, j) -> (b, h, j)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %qg: tensor<?x1x?x16xf32>,
                %kg: tensor<?x1x?x16xf32>, %vg: tensor<?x1x?x16xf32>,
                %w: tensor<4x16xf32>, %c: tensor<4xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xi32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  // The gate attention.
  %u0 = tensor.empty(%b, %l) : tensor<?x1x?x16xf32>
  %u = attn.attention causal
      ins(%qg, %kg, %vg : tensor<?x1x?x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?x16xf32>)
      outs(%u0 : tensor<?x1x?x16xf32>) -> tensor<?x1x?x16xf32>
  // Per-head keep logits g = u . w_h (+ c_h below).
  %g0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %gz = linalg.fill ins(%zero : f32) outs(%g0 : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %g = linalg.generic {indexing_maps = [#u, #w, #g],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%u, %w : tensor<?x1x?x16xf32>, tensor<4x16xf32>) outs(%gz : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  // keep iff sigmoid(g + c) >= 0.5, i.e. g + c >= 0.
  %k0 = tensor.empty(%b, %l) : tensor<?x4x?xi32>
  %keep = linalg.generic {indexing_maps = [#e, #e],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g : tensor<?x4x?xf32>) outs(%k0 : tensor<?x4x?xi32>) {
  ^bb0(%x: f32, %unused: i32):
    %h = linalg.index 1 : index
    %ch = tensor.extract %c[%h] : tensor<4xf32>
    %z = arith.addf %x, %ch : f32
    %zf = arith.constant 0.0 : f32
    %ge = arith.cmpf oge, %z, %zf : f32
    %r = arith.extui %ge : i1 to i32
    linalg.yield %r : i32
  } -> tensor<?x4x?xi32>
  // The main attention over each head's kept keys (and the row's own).
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %zi = arith.constant 0 : i32
        %kj = tensor.extract %keep[%bb, %h, %j] : tensor<?x4x?xi32>
        %kept = arith.cmpi ne, %kj, %zi : i32
        %self = arith.cmpi eq, %i, %j : index
        %vis = arith.ori %kept, %self : i1
        attn.yield %vis : i1
      } -> tensor<?x4x?x64xf32>
  return %o, %keep : tensor<?x4x?x64xf32>, tensor<?x4x?xi32>
}
