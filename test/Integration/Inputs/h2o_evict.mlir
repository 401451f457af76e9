// H2O end to end in one program: causal attention with column_scores, then
// eviction by those scores (4 sinks, 16 heavy hitters, 8 recent).
// q, k, v [B, 4, L, 64] -> o, indices [B, 4, 28], k', v' [B, 4, 28, 64].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x28xi32>, tensor<?x4x28x64xf32>,
        tensor<?x4x28x64xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %s0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %s = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) column_scores
      -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  %i0 = tensor.empty(%b) : tensor<?x4x28xi32>
  %k0 = tensor.empty(%b) : tensor<?x4x28x64xf32>
  %v0 = tensor.empty(%b) : tensor<?x4x28x64xf32>
  %i, %k1, %v1 = attn.evict budget(16) sink(4) recent(8)
      scores(%s : tensor<?x4x?xf32>)
      ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%i0, %k0, %v0 : tensor<?x4x28xi32>, tensor<?x4x28x64xf32>, tensor<?x4x28x64xf32>)
      -> tensor<?x4x28xi32>, tensor<?x4x28x64xf32>, tensor<?x4x28x64xf32>
  return %o, %i, %k1, %v1 : tensor<?x4x?x64xf32>, tensor<?x4x28xi32>, tensor<?x4x28x64xf32>,
      tensor<?x4x28x64xf32>
}
