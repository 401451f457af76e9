// h2o_scores where rows 2, 7, 12, ... see no key (a mask region): they
// output 0 and add nothing to the scores; LSE output too.
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %l0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %s0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %lse, %s = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %l0, %s0 : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>) column_scores
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %c5 = arith.constant 5 : index
        %r = arith.remui %i, %c5 : index
        %ne = arith.cmpi ne, %r, %c2 : index
        attn.yield %ne : i1
      } -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>
  return %o, %s : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
}
