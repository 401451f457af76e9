// tensor_loop.mlir's rounds yielding into the loop-carried buffers
// (linalg.copy), a fixed 3 of them: the form the GPU path takes
// (tensor-loops.test).
#id = affine_map<(t, e) -> (t, e)>
func.func @copies(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %t = tensor.dim %x, %c0 : tensor<?x8xf32>
  %a0 = tensor.empty(%t) : tensor<?x8xf32>
  %a1 = linalg.copy ins(%x : tensor<?x8xf32>) outs(%a0 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %r:2 = scf.for %it = %c0 to %c3 step %c1 iter_args(%acc = %a1, %sel = %i0) -> (tensor<?x8xf32>, tensor<?x2xi32>) {
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
    %y2 = linalg.copy ins(%y : tensor<?x8xf32>) outs(%acc : tensor<?x8xf32>) -> tensor<?x8xf32>
    scf.yield %y2, %i : tensor<?x8xf32>, tensor<?x2xi32>
  }
  return %r#0, %r#1 : tensor<?x8xf32>, tensor<?x2xi32>
}
