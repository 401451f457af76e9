// A score region reading a static [2, 4, 4] bias at the query and key
// indices of a dynamic length: the runtime rejects lengths above 4.
func.func @main(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>,
                %v: tensor<1x2x?x16xf32>, %bias: tensor<2x4x4xf32>) -> tensor<1x2x?x16xf32> {
  %c2 = arith.constant 2 : index
  %l = tensor.dim %q, %c2 : tensor<1x2x?x16xf32>
  %init = tensor.empty(%l) : tensor<1x2x?x16xf32>
  %o = attn.attention
      ins(%q, %k, %v : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>)
      outs(%init : tensor<1x2x?x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = tensor.extract %bias[%h, %i, %j] : tensor<2x4x4xf32>
        %r = arith.addf %s, %t : f32
        attn.yield %r : f32
      } -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}
