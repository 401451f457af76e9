// Every side output at once, in order: o, LSE, row entropy, column scores
// (GQA: 8 query heads, 4 KV heads; entropy per query head, scores per KV head),
// with a soft cap (score region, inlined into both second passes) and a
// constant sink logit 0.5 (its share enters the entropy).
func.func @main(%q: tensor<?x8x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>)
    -> (tensor<?x8x?x64xf32>, tensor<?x8x?xf32>, tensor<?x8x?xf32>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %l0 = tensor.empty(%b, %l) : tensor<?x8x?xf32>
  %e0 = tensor.empty(%b, %l) : tensor<?x8x?xf32>
  %s0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %lse, %e, %s = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%o0, %l0, %e0, %s0 : tensor<?x8x?x64xf32>, tensor<?x8x?xf32>, tensor<?x8x?xf32>, tensor<?x4x?xf32>)
      row_entropy column_scores
      score {
      ^bb0(%x: f32, %bb: index, %h: index, %i: index, %j: index):
        %cap = arith.constant 2.0 : f32
        %d = arith.divf %x, %cap : f32
        %t = math.tanh %d : f32
        %r = arith.mulf %t, %cap : f32
        attn.yield %r : f32
      }
      sink {
      ^bb0(%bb: index, %h: index, %i: index):
        %c = arith.constant 0.5 : f32
        attn.yield %c : f32
      } -> tensor<?x8x?x64xf32>, tensor<?x8x?xf32>, tensor<?x8x?xf32>, tensor<?x4x?xf32>
  return %o, %lse, %e, %s : tensor<?x8x?x64xf32>, tensor<?x8x?xf32>, tensor<?x8x?xf32>, tensor<?x4x?xf32>
}
