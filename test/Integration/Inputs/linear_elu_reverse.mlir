// examples/linear/linear_elu.mlir scanning in reverse (linear.test).
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.scan decay(none) reverse normalize
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xf32>)
      feature_map {
      ^bb0(%x: f32, %d: index):
        %zero = arith.constant 0.0 : f32
        %one = arith.constant 1.0 : f32
        %pos = arith.cmpf ogt, %x, %zero : f32
        %e = math.exp %x : f32
        %neg = arith.subf %e, %one : f32
        %elu = arith.select %pos, %x, %neg : f32
        %phi = arith.addf %elu, %one : f32
        attn.yield %phi : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
