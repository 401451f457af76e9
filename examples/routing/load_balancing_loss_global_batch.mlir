// Catalogue: load_balancing_loss_global_batch (routing, P2).
// Qiu et al., "Demons in the Detail: On Implementing Load Balancing Loss for
// Training Specialized Mixture-of-Expert Models" (2025).
//
// The auxiliary loss LBL = E * sum_i f_i p_i with the expert frequencies f
// taken over the global batch and the mean probabilities p per micro-batch:
//   f_i    = (n_i + n'_i) / sum_e (n_e + n'_e),  n = the (token, slot) pairs
//            routed to each expert by this call's top-2 over its M
//            micro-batches, n' = the counts of the other data-parallel ranks
//            and accumulation steps (all-reduced by the caller; zeros alone);
//   p_m,i  = (1 / T) sum_t softmax(l[m, t])_i;
//   LBL_m  = E * sum_i f_i p_m,i   for each micro-batch m.
// The router's counts come out of the routing kernel (attn.route); the
// per-micro-batch probability means are a softmax and a reduction over
// tokens (linalg).
// logits [M, T, 8], other [8] i32 -> weights [M, T, 2], indices [M, T, 2]
// i32, counts [8] i32 (this call's), lbl [M].
#mte = affine_map<(m, t, e) -> (m, t, e)>
#mt = affine_map<(m, t, e) -> (m, t)>
#me = affine_map<(m, t, e) -> (m, e)>
#e1 = affine_map<(e) -> (e)>
#s1 = affine_map<(e) -> ()>
#m_e = affine_map<(m, e) -> (m, e)>
#e_ = affine_map<(m, e) -> (e)>
#s2 = affine_map<(m, e) -> ()>
#m_ = affine_map<(m, e) -> (m)>
func.func @main(%l: tensor<?x?x8xf32>, %other: tensor<8xi32>)
    -> (tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8xi32>, tensor<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %m = tensor.dim %l, %c0 : tensor<?x?x8xf32>
  %t = tensor.dim %l, %c1 : tensor<?x?x8xf32>
  %w0 = tensor.empty(%m, %t) : tensor<?x?x2xf32>
  %i0 = tensor.empty(%m, %t) : tensor<?x?x2xi32>
  %n0 = tensor.empty() : tensor<8xi32>
  %p0 = tensor.empty() : tensor<8xf32>
  %w, %i, %n, %psum = attn.route top(2) scoring(softmax)
      ins(%l : tensor<?x?x8xf32>)
      outs(%w0, %i0, %n0, %p0 : tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8xi32>, tensor<8xf32>)
      -> tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8xi32>, tensor<8xf32>
  // Global frequencies f = (n + n') / sum(n + n').
  %g0 = tensor.empty() : tensor<8xf32>
  %g = linalg.generic {indexing_maps = [#e1, #e1, #e1], iterator_types = ["parallel"]}
      ins(%n, %other : tensor<8xi32>, tensor<8xi32>) outs(%g0 : tensor<8xf32>) {
  ^bb0(%a: i32, %b: i32, %unused: f32):
    %s = arith.addi %a, %b : i32
    %f = arith.sitofp %s : i32 to f32
    linalg.yield %f : f32
  } -> tensor<8xf32>
  %tot0 = tensor.empty() : tensor<f32>
  %totz = linalg.fill ins(%zero : f32) outs(%tot0 : tensor<f32>) -> tensor<f32>
  %tot = linalg.generic {indexing_maps = [#e1, #s1], iterator_types = ["reduction"]}
      ins(%g : tensor<8xf32>) outs(%totz : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  // Row softmax of every micro-batch's logits, summed over its tokens.
  %mx0 = tensor.empty(%m, %t) : tensor<?x?xf32>
  %mxi = linalg.fill ins(%ninf : f32) outs(%mx0 : tensor<?x?xf32>) -> tensor<?x?xf32>
  %mx = linalg.generic {indexing_maps = [#mte, #mt],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%l : tensor<?x?x8xf32>) outs(%mxi : tensor<?x?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %sum0 = tensor.empty(%m, %t) : tensor<?x?xf32>
  %sumz = linalg.fill ins(%zero : f32) outs(%sum0 : tensor<?x?xf32>) -> tensor<?x?xf32>
  %sum = linalg.generic {indexing_maps = [#mte, #mt, #mt],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%l, %mx : tensor<?x?x8xf32>, tensor<?x?xf32>) outs(%sumz : tensor<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %x = math.exp %d : f32
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %pm0 = tensor.empty(%m) : tensor<?x8xf32>
  %pmz = linalg.fill ins(%zero : f32) outs(%pm0 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %pm = linalg.generic {indexing_maps = [#mte, #mt, #mt, #me],
      iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%l, %mx, %sum : tensor<?x?x8xf32>, tensor<?x?xf32>, tensor<?x?xf32>)
      outs(%pmz : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %s: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %x = math.exp %d : f32
    %p = arith.divf %x, %s : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  // LBL_m = E / T * sum_e f_e * psum[m, e].
  %ti = arith.index_cast %t : index to i64
  %tf = arith.sitofp %ti : i64 to f32
  %eight = arith.constant 8.0 : f32
  %coef = arith.divf %eight, %tf : f32
  %lb0 = tensor.empty(%m) : tensor<?xf32>
  %lbz = linalg.fill ins(%zero : f32) outs(%lb0 : tensor<?xf32>) -> tensor<?xf32>
  %lbl = linalg.generic {indexing_maps = [#m_e, #e_, #s2, #m_],
      iterator_types = ["parallel", "reduction"]}
      ins(%pm, %g, %tot : tensor<?x8xf32>, tensor<8xf32>, tensor<f32>)
      outs(%lbz : tensor<?xf32>) {
  ^bb0(%p: f32, %ge: f32, %gt: f32, %acc: f32):
    %f = arith.divf %ge, %gt : f32
    %fp = arith.mulf %f, %p : f32
    %c = arith.mulf %fp, %coef : f32
    %r = arith.addf %acc, %c : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  return %w, %i, %n, %lbl : tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8xi32>, tensor<?xf32>
}
