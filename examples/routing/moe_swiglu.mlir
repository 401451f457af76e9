// A mixture-of-experts FFN layer as one program: the router computes its
// logits x Wr in the same kernel (softmax, top-2, renormalized), then the
// SwiGLU experts run grouped matmuls over the routed (token, expert) pairs
// only and combine them with the routing weights.
// x [T, 256], Wr [256, 8], W1, W3 [8, 256, 512], W2 [8, 512, 256] -> y [T, 256].
func.func @main(%x: tensor<?x256xf32>, %wr: tensor<256x8xf32>,
                %w1: tensor<8x256x512xf32>, %w3: tensor<8x256x512xf32>,
                %w2: tensor<8x512x256xf32>) -> tensor<?x256xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %w, %i = attn.route top(2) scoring(softmax) renormalize
      ins(%x, %wr : tensor<?x256xf32>, tensor<256x8xf32>)
      outs(%w0, %i0 : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  %y0 = tensor.empty(%t) : tensor<?x256xf32>
  %y = attn.experts swish
      ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x256xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
          tensor<8x256x512xf32>, tensor<8x256x512xf32>, tensor<8x512x256xf32>)
      outs(%y0 : tensor<?x256xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
