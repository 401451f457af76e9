// The tensor-core backward on f32 inputs (rounded to f16 for the MMAs)
// without a causal bound, key and value head dims that differ (32 and 48),
// and a learned bias and per-head scale read by the score region: their
// gradients come from the capture nest after the tensor-core kernels.
func.func @main(%q: tensor<2x2x?x32xf32>, %k: tensor<2x2x?x32xf32>,
                %v: tensor<2x2x?x48xf32>, %sc: tensor<2xf32>,
                %bias: tensor<2x?x?xf32>) -> tensor<2x2x?x48xf32> {
  %c2 = arith.constant 2 : index
  %l = tensor.dim %q, %c2 : tensor<2x2x?x32xf32>
  %init = tensor.empty(%l) : tensor<2x2x?x48xf32>
  %o = attn.attention
      ins(%q, %k, %v : tensor<2x2x?x32xf32>, tensor<2x2x?x32xf32>, tensor<2x2x?x48xf32>)
      outs(%init : tensor<2x2x?x48xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %a = tensor.extract %sc[%h] : tensor<2xf32>
        %t = tensor.extract %bias[%h, %i, %j] : tensor<2x?x?xf32>
        %m = arith.mulf %s, %a : f32
        %r = arith.addf %m, %t : f32
        attn.yield %r : f32
      } -> tensor<2x2x?x48xf32>
  return %o : tensor<2x2x?x48xf32>
}
