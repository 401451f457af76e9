// A GeGLU channel mixer's gate: h = (x W3) * gelu(x W1) on the two
// projections [T, F] (the matmuls run as their own loops: the gate is not
// yet fused into a matmul epilogue; inside attn.experts it is).
func.func @main(%a: tensor<?x512xf32>, %g: tensor<?x512xf32>) -> tensor<?x512xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %a, %c0 : tensor<?x512xf32>
  %h0 = tensor.empty(%t) : tensor<?x512xf32>
  %h = attn.gate gelu ins(%a, %g : tensor<?x512xf32>, tensor<?x512xf32>)
      outs(%h0 : tensor<?x512xf32>) -> tensor<?x512xf32>
  return %h : tensor<?x512xf32>
}
