// A decode step of three query rows (static Lq, the split-KV form of the
// tensor-core kernel) of examples/variants/sink_logit.mlir.
// Learned attention sink logit (gpt-oss; "When Attention Sink Emerges in
// Language Models"): causal attention where one learned logit per head,
// sinks[h], enters only the softmax denominator (its value vector is zero):
//   p_ij = exp(s_ij) / (exp(sinks[h]) + sum_j' exp(s_ij')).
func.func @main(%q: tensor<?x4x3x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %sinks: tensor<4xf32>) -> tensor<?x4x3x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x3x64xf32>
  %init = tensor.empty(%b) : tensor<?x4x3x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x3x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x3x64xf32>)
      sink {
      ^bb0(%bb: index, %h: index, %i: index):
        %s = tensor.extract %sinks[%h] : tensor<4xf32>
        attn.yield %s : f32
      } -> tensor<?x4x3x64xf32>
  return %o : tensor<?x4x3x64xf32>
}
