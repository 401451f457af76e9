// Loops over tensors (tensor-loops.test): n (a run-time input) rounds of
// x <- 2 x, each yielding a fresh tensor, and the top-2 columns of the last
// round. tensor_loop_copies.mlir is the form the GPU path takes.
#id = affine_map<(t, e) -> (t, e)>
func.func @fresh(%x: tensor<?x8xf32>, %n: tensor<1xi32>) -> (tensor<?x8xf32>, tensor<?x2xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = tensor.dim %x, %c0 : tensor<?x8xf32>
  %n32 = tensor.extract %n[%c0] : tensor<1xi32>
  %ni = arith.index_cast %n32 : i32 to index
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %r:2 = scf.for %it = %c0 to %ni step %c1 iter_args(%acc = %x, %sel = %i0) -> (tensor<?x8xf32>, tensor<?x2xi32>) {
    %o0 = tensor.empty(%t) : tensor<?x8xf32>
    %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%acc : tensor<?x8xf32>) outs(%o0 : tensor<?x8xf32>) {
    ^bb0(%a: f32, %u: f32):
      %two = arith.constant 2.0 : f32
      %m = arith.mulf %a, %two : f32
      linalg.yield %m : f32
    } -> tensor<?x8xf32>
    %w, %i = attn.route top(2) scoring(none) ins(%y : tensor<?x8xf32>)
        outs(%w0, %sel : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
    scf.yield %y, %i : tensor<?x8xf32>, tensor<?x2xi32>
  }
  return %r#0, %r#1 : tensor<?x8xf32>, tensor<?x2xi32>
}
