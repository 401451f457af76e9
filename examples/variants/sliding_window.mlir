// Sliding-window causal attention (Mistral, StreamingLLM, SWAT): query i sees
// keys i-64 < j <= i. The window is a mask region linear in i and j, so the
// tiling pass skips key tiles outside the band and evaluates the mask only on
// the band's edges.
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
        %w = arith.constant 64 : index
        %jw = arith.addi %j, %w : index
        %vis = arith.cmpi slt, %i, %jw : index
        attn.yield %vis : i1
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
