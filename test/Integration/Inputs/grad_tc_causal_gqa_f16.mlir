// The tensor-core backward (attn-gpu-tile-attention-backward) at lengths
// spanning several 64-row tiles: causal GQA (group 2) in f16 with the
// log-sum-exp as a second result (its gradient enters D).
func.func @main(%q: tensor<?x4x?x64xf16>, %k: tensor<?x2x?x64xf16>,
                %v: tensor<?x2x?x64xf16>) -> (tensor<?x4x?x64xf16>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf16>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf16>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf16>
  %linit = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o:2 = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x64xf16>)
      outs(%init, %linit : tensor<?x4x?x64xf16>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x64xf16>, tensor<?x4x?xf32>
  return %o#0, %o#1 : tensor<?x4x?x64xf16>, tensor<?x4x?xf32>
}
