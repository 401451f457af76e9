// A reverse GLA scan from an initial state S_L, returning the output and
// the final state S_0 (linear.test: check_linear.py --example gla_state
// --reverse).
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %log_alpha: tensor<?x4x?x64xf32>,
                %s0: tensor<?x4x64x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %s1 = tensor.empty(%b) : tensor<?x4x64x64xf32>
  %o, %s = attn.scan decay(channel) reverse
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      decays(%log_alpha : tensor<?x4x?x64xf32>) state(%s0 : tensor<?x4x64x64xf32>)
      outs(%o0, %s1 : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>)
      -> tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>
  return %o, %s : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>
}
