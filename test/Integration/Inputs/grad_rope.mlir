// Causal GQA with a fused rotary embedding (YaRN-scaled, GPT-J pairs on
// half the channels), for the gradient tests: attn-generate-backward
// turns the rope into attn.rope ops on the query and keys, whose adjoint
// is the inverse rotation of their gradients.
func.func @main(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %o = attn.attention causal rope <style = gptj, dims = 8, theta = 100.0, scaling = yarn, factor = 2.0, original_context = 4>
      ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%init : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
