// Document masking for packed sequences: causal attention within each
// document; doc [B,L] holds each position's document id (non-decreasing).
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %doc: tensor<?x?xi32>) -> tensor<?x4x?x64xf32> {
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
        %di = tensor.extract %doc[%bb, %i] : tensor<?x?xi32>
        %dj = tensor.extract %doc[%bb, %j] : tensor<?x?xi32>
        %same = arith.cmpi eq, %di, %dj : i32
        attn.yield %same : i1
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
