// Catalogue: attention_reweight_pasta (attention-core, P2).
// PASTA, Zhang et al., "Tell Your Model Where to Attend: Post-hoc Attention
// Steering for LLMs" (ICLR 2024).
//
// On the steered heads (steer[h] != 0), the attention probabilities of keys
// outside the user-emphasised span G (emph[b, j] == 0) are scaled by
// alpha = 0.01 and each row renormalised:
//   a~_ij = a_ij / C_i (j in G),  alpha * a_ij / C_i (j not in G).
// Renormalising a scaled softmax is the softmax of the logits plus log(alpha)
// on the scaled keys, so the steering is a score region adding
// log(0.01) = -4.60517 where steer[h] and not emph[b, j]: the same fused
// causal kernel, no second pass over the probabilities.
// q, k, v [B, 4, L, 64], emph [B, L] (1 inside G), steer [4] -> o [B, 4, L, 64].
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %emph: tensor<?x?xi32>,
                %steer: tensor<4xi32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %zero = arith.constant 0 : i32
        %log_alpha = arith.constant -4.60517019 : f32
        %st = tensor.extract %steer[%h] : tensor<4xi32>
        %in = tensor.extract %emph[%bb, %j] : tensor<?x?xi32>
        %steered = arith.cmpi ne, %st, %zero : i32
        %outside = arith.cmpi eq, %in, %zero : i32
        %down = arith.andi %steered, %outside : i1
        %biased = arith.addf %s, %log_alpha : f32
        %r = arith.select %down, %biased, %s : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
