// Gradients of a decode step (a static query length of 1, GQA 4:2: the
// backward packs the group's heads into one tile) with a learned per-key,
// per-head, per-batch bias read by the score region: its gradient is accumulated from
// the packed rows, each at its own head.
func.func @main(%q: tensor<?x4x1x16xf32>, %k: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x16xf32>, %bias: tensor<?x4x?xf32>)
    -> tensor<?x4x1x16xf32> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x1x16xf32>
  %init = tensor.empty(%b) : tensor<?x4x1x16xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x1x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%init : tensor<?x4x1x16xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %x = tensor.extract %bias[%bb, %h, %j] : tensor<?x4x?xf32>
        %r = arith.addf %s, %x : f32
        attn.yield %r : f32
      } -> tensor<?x4x1x16xf32>
  return %o : tensor<?x4x1x16xf32>
}
