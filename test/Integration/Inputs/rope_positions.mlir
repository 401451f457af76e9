// attn.rope with explicit positions, for the run-time error tests.
func.func @main(%x: tensor<?x2x?x8xf32>, %p: tensor<?x?xi32>) -> tensor<?x2x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %x, %c0 : tensor<?x2x?x8xf32>
  %l = tensor.dim %x, %c2 : tensor<?x2x?x8xf32>
  %init = tensor.empty(%b, %l) : tensor<?x2x?x8xf32>
  %r = attn.rope <> ins(%x : tensor<?x2x?x8xf32>) positions(%p : tensor<?x?xi32>) outs(%init : tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  return %r : tensor<?x2x?x8xf32>
}
