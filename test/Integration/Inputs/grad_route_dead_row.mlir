// A softmax router whose score region forbids every expert for the tokens
// t = 2 mod 3 (-inf logits): those rows have index -1 and weight 0 in every
// slot and must get a zero gradient, the others a normal one. (The adjoint
// reads 1 / sum through a safe operand there; reverting that was not caught
// by this test on the CPU: the lowered code gave no NaN.)
func.func @main(%logits: tensor<?x6xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<6xi32>, tensor<6xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %logits, %c0 : tensor<?x6xf32>
  %w0 = tensor.empty(%t) : tensor<?x2xf32>
  %i0 = tensor.empty(%t) : tensor<?x2xi32>
  %n0 = tensor.empty() : tensor<6xi32>
  %p0 = tensor.empty() : tensor<6xf32>
  %w, %i, %n, %p = attn.route top(2) scoring(softmax) renormalize
      ins(%logits : tensor<?x6xf32>)
      outs(%w0, %i0, %n0, %p0 : tensor<?x2xf32>, tensor<?x2xi32>, tensor<6xi32>, tensor<6xf32>)
      score {
      ^bb0(%z: f32, %tok: index, %e: index):
        %c3 = arith.constant 3 : index
        %c2 = arith.constant 2 : index
        %r = arith.remui %tok, %c3 : index
        %dead = arith.cmpi eq, %r, %c2 : index
        %ninf = arith.constant 0xFF800000 : f32
        %y = arith.select %dead, %ninf, %z : f32
        attn.yield %y : f32
      }
      -> tensor<?x2xf32>, tensor<?x2xi32>, tensor<6xi32>, tensor<6xf32>
  return %w, %i, %n, %p : tensor<?x2xf32>, tensor<?x2xi32>, tensor<6xi32>, tensor<6xf32>
}
