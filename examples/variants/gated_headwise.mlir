// Gated Attention, head-wise: one gate per (batch, head, query), g [B,4,L],
// broadcast over the head dim. Fused into the epilogue like the elementwise
// form.
#id = affine_map<(b, h, i, d) -> (b, h, i, d)>
#row = affine_map<(b, h, i, d) -> (b, h, i)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %g: tensor<?x4x?xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  %init2 = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o, %g : tensor<?x4x?x64xf32>, tensor<?x4x?xf32>) outs(%init2 : tensor<?x4x?x64xf32>) {
  ^bb0(%x: f32, %gv: f32, %unused: f32):
    %one = arith.constant 1.0 : f32
    %ng = arith.negf %gv : f32
    %e = math.exp %ng : f32
    %den = arith.addf %one, %e : f32
    %r = arith.divf %x, %den : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?x64xf32>
  return %y : tensor<?x4x?x64xf32>
}
