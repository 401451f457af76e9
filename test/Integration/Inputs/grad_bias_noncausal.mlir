// A non-causal attention whose score reads two captured tensors: a per-head
// scale (an index that does not vary across keys) and a bias [h, i, j] (one
// that does). Their gradients are accumulated in the tiled backward's
// elementwise step; with Lk below the key tile, the tile's padded keys must
// not be counted (grad-examples.test).
func.func @main(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>,
                %v: tensor<1x2x?x16xf32>, %sc: tensor<2xf32>,
                %bias: tensor<2x?x?xf32>) -> tensor<1x2x?x16xf32> {
  %c2 = arith.constant 2 : index
  %l = tensor.dim %q, %c2 : tensor<1x2x?x16xf32>
  %init = tensor.empty(%l) : tensor<1x2x?x16xf32>
  %o = attn.attention
      ins(%q, %k, %v : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>)
      outs(%init : tensor<1x2x?x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %a = tensor.extract %sc[%h] : tensor<2xf32>
        %t = tensor.extract %bias[%h, %i, %j] : tensor<2x?x?xf32>
        %m = arith.mulf %s, %a : f32
        %r = arith.addf %m, %t : f32
        attn.yield %r : f32
      } -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}
