// StreamingLLM attention sinks (Xiao et al.): causal; the first 4 keys are
// always visible, plus a sliding window of 64 keys.
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %sinks = arith.constant 4 : index
        %w = arith.constant 64 : index
        %is_sink = arith.cmpi slt, %j, %sinks : index
        %jw = arith.addi %j, %w : index
        %in_window = arith.cmpi slt, %i, %jw : index
        %vis = arith.ori %is_sink, %in_window : i1
        attn.yield %vis : i1
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
