// Plain non-causal MHA, 2 heads of dim 64 (used by harness.test).
func.func @main(%q: tensor<?x2x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                %v: tensor<?x2x?x64xf32>) -> tensor<?x2x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x2x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x2x?x64xf32>
  %o = attn.attention
      ins(%q, %k, %v : tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      outs(%init : tensor<?x2x?x64xf32>) -> tensor<?x2x?x64xf32>
  return %o : tensor<?x2x?x64xf32>
}
