// Benchmark kernel: noncausal multi-head attention, 8 heads, head dim 64, f32.
func.func @main(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>,
                %v: tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %o = attn.attention ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>)
      outs(%init : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}
