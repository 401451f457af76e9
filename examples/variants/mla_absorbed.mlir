// Multi-head latent attention in absorbed form (DeepSeek-V2, "DeepSeek-V2:
// A Strong, Economical, and Efficient Mixture-of-Experts Language Model"):
// 16 query heads attend to one shared latent KV head. The logits are
// (q_lat . c_kv + q_rope . k_rope) / sqrt(192): one dot product over the
// concatenation [q_lat, q_rope] . [c_kv, k_rope] (head dim 576), and the
// values are the latents themselves (head dim 512) -- MQA with Dv != D.
func.func @main(%q_lat: tensor<?x16x?x512xf32>, %q_rope: tensor<?x16x?x64xf32>,
                %c_kv: tensor<?x?x512xf32>, %k_rope: tensor<?x?x64xf32>)
    -> tensor<?x16x?x512xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q_lat, %c0 : tensor<?x16x?x512xf32>
  %l = tensor.dim %q_lat, %c2 : tensor<?x16x?x512xf32>
  %s = tensor.dim %c_kv, %c1 : tensor<?x?x512xf32>
  // q = [q_lat, q_rope] along the head dim.
  %q0 = tensor.empty(%b, %l) : tensor<?x16x?x576xf32>
  %q1 = tensor.insert_slice %q_lat into %q0[0, 0, 0, 0] [%b, 16, %l, 512] [1, 1, 1, 1]
      : tensor<?x16x?x512xf32> into tensor<?x16x?x576xf32>
  %q = tensor.insert_slice %q_rope into %q1[0, 0, 0, 512] [%b, 16, %l, 64] [1, 1, 1, 1]
      : tensor<?x16x?x64xf32> into tensor<?x16x?x576xf32>
  // k = [c_kv, k_rope] with a unit head axis; v = c_kv.
  %k0 = tensor.empty(%b, %s) : tensor<?x1x?x576xf32>
  %c_kv4 = tensor.expand_shape %c_kv [[0], [1, 2], [3]] output_shape [%b, 1, %s, 512]
      : tensor<?x?x512xf32> into tensor<?x1x?x512xf32>
  %k_rope4 = tensor.expand_shape %k_rope [[0], [1, 2], [3]] output_shape [%b, 1, %s, 64]
      : tensor<?x?x64xf32> into tensor<?x1x?x64xf32>
  %k1 = tensor.insert_slice %c_kv4 into %k0[0, 0, 0, 0] [%b, 1, %s, 512] [1, 1, 1, 1]
      : tensor<?x1x?x512xf32> into tensor<?x1x?x576xf32>
  %k = tensor.insert_slice %k_rope4 into %k1[0, 0, 0, 512] [%b, 1, %s, 64] [1, 1, 1, 1]
      : tensor<?x1x?x64xf32> into tensor<?x1x?x576xf32>
  %init = tensor.empty(%b, %l) : tensor<?x16x?x512xf32>
  // scale = 1/sqrt(192)
  %o = attn.attention causal scale(0.0721687836)
      ins(%q, %k, %c_kv4 : tensor<?x16x?x576xf32>, tensor<?x1x?x576xf32>, tensor<?x1x?x512xf32>)
      outs(%init : tensor<?x16x?x512xf32>) -> tensor<?x16x?x512xf32>
  return %o : tensor<?x16x?x512xf32>
}
