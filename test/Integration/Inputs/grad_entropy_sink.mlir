// Row entropy with a sink of -inf on head 0 (no sink there) and 0.5 on
// head 1: the entropy's sink term p_sink (LSE - sink) must contribute a
// zero gradient, not 0 * inf, where the sink is -inf.
func.func @main(%q: tensor<?x2x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x2x?x16xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x2x?x16xf32>
  %e0 = tensor.empty(%b, %l) : tensor<?x2x?xf32>
  %o, %e = attn.attention causal
      ins(%q, %k, %v : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%o0, %e0 : tensor<?x2x?x16xf32>, tensor<?x2x?xf32>) row_entropy
      sink {
      ^bb0(%bb: index, %h: index, %i: index):
        %c0i = arith.constant 0 : index
        %none = arith.cmpi eq, %h, %c0i : index
        %ninf = arith.constant 0xFF800000 : f32
        %half = arith.constant 0.5 : f32
        %s = arith.select %none, %ninf, %half : f32
        attn.yield %s : f32
      }
      -> tensor<?x2x?x16xf32>, tensor<?x2x?xf32>
  return %o, %e : tensor<?x2x?x16xf32>, tensor<?x2x?xf32>
}
