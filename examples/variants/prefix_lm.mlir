// Prefix LM (T5, UniLM, PaLI): bidirectional among the first P positions,
// causal after. Key j is visible to query i iff j <= i or j < P; P is a
// run-time value (an i32 tensor of shape [1]).
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %p: tensor<1xi32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %p32 = tensor.extract %p[%c0] : tensor<1xi32>
  %prefix = arith.index_cast %p32 : i32 to index
  %o = attn.attention
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %causal = arith.cmpi sle, %j, %i : index
        %in_prefix = arith.cmpi slt, %j, %prefix : index
        %vis = arith.ori %causal, %in_prefix : i1
        attn.yield %vis : i1
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
