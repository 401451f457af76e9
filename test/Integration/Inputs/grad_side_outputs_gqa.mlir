// Row entropy, column scores (A2SF's decay and VATP's value norm) and the
// LSE of one GQA attention (4 query heads over 2 KV heads) with a
// soft-capped score and a sliding-window mask, for the gradient tests:
// every side output's gradient flows through the second attentions that
// compute it in the training forward.
func.func @main(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x16xf32>)
    -> (tensor<?x4x?x16xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x2x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %l0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %e0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %s0 = tensor.empty(%b, %l) : tensor<?x2x?xf32>
  %o, %lse, %e, %s = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%o0, %l0, %e0, %s0 : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x2x?xf32>)
      row_entropy column_scores score_decay(0.8) value_norm
      score {
      ^bb0(%x: f32, %bb: index, %h: index, %i: index, %j: index):
        %cap = arith.constant 5.0 : f32
        %y = arith.divf %x, %cap : f32
        %t = math.tanh %y : f32
        %r = arith.mulf %t, %cap : f32
        attn.yield %r : f32
      }
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %w = arith.constant 3 : index
        %jw = arith.addi %j, %w : index
        %m = arith.cmpi ult, %i, %jw : index
        attn.yield %m : i1
      }
      -> tensor<?x4x?x16xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x2x?xf32>
  return %o, %lse, %e, %s : tensor<?x4x?x16xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x2x?xf32>
}
