// A decode step of three query rows (static Lq, the split-KV form of the
// tensor-core kernel) of examples/variants/sigmoid_attn.mlir.
// Sigmoid attention (Ramapuram et al., "Theory, Analysis, and Best Practices
// for Sigmoid Self-Attention"; "When Attention Sink Emerges"): causal,
//   o_i = sum_{j visible} sigmoid(s_ij - log(Lk)) v_j,  no normalization,
// Lk the key length. The bias is a score region; the normalizer an attribute.
func.func @main(%q: tensor<?x4x3x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> tensor<?x4x3x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x3x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %lk64 = arith.index_cast %lk : index to i64
  %lkf = arith.sitofp %lk64 : i64 to f32
  %bias = math.log %lkf : f32
  %init = tensor.empty(%b) : tensor<?x4x3x64xf32>
  %o = attn.attention causal normalizer(sigmoid)
      ins(%q, %k, %v : tensor<?x4x3x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x3x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %r = arith.subf %s, %bias : f32
        attn.yield %r : f32
      } -> tensor<?x4x3x64xf32>
  return %o : tensor<?x4x3x64xf32>
}
