// Causal MHA that also returns the log-sum-exp of each row (natural log),
// the side output split-KV merging and backward passes need.
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %linit = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o:2 = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init, %linit : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o#0, %o#1 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}
