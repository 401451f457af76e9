// Row entropy where key 0 dominates the odd rows (+25 on its logit): the
// other keys' probabilities (~1e-11) leave LSE - s_0 = 0 in f32 while the
// entropy's second attention still has finite logits, so the backward
// evaluates the derivative of log(LSE - s) at LSE - s = 0 (it must read
// a safe argument there, not compute 0 / 0).
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
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %c0i = arith.constant 0 : index
        %c1i = arith.constant 1 : index
        %c2i = arith.constant 2 : index
        %key0 = arith.cmpi eq, %j, %c0i : index
        %par = arith.remui %i, %c2i : index
        %odd = arith.cmpi eq, %par, %c1i : index
        %first = arith.andi %key0, %odd : i1
        %big = arith.constant 25.0 : f32
        %zero = arith.constant 0.0 : f32
        %add = arith.select %first, %big, %zero : f32
        %r = arith.addf %s, %add : f32
        attn.yield %r : f32
      }
      -> tensor<?x2x?x16xf32>, tensor<?x2x?xf32>
  return %o, %e : tensor<?x2x?x16xf32>, tensor<?x2x?xf32>
}
