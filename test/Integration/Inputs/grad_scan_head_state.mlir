// A normalized linear attention with a per-head decay and a state in and
// out, for the gradient tests: lambda = sigmoid(raw) (so the decay's
// gradient chains through a generic), phi(x) = exp(x / 4) (positive
// denominators), bf16 queries and keys.
#id = affine_map<(h) -> (h)>
func.func @main(%q: tensor<?x2x?x16xbf16>, %k: tensor<?x2x?x16xbf16>,
                %v: tensor<?x2x?x16xf32>, %raw: tensor<2xf32>,
                %state: tensor<?x2x16x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x?x16xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x2x?x16xbf16>
  %e = tensor.empty() : tensor<2xf32>
  %lambda = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%raw : tensor<2xf32>) outs(%e : tensor<2xf32>) {
  ^bb0(%x: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %x : f32
    %ex = math.exp %n : f32
    %d = arith.addf %one, %ex : f32
    %s = arith.divf %one, %d : f32
    linalg.yield %s : f32
  } -> tensor<2xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x2x?x16xf32>
  %s0 = tensor.empty(%b) : tensor<?x2x16x16xf32>
  %o, %s = attn.scan decay(head) normalize
      ins(%q, %k, %v : tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xf32>)
      decays(%lambda : tensor<2xf32>)
      state(%state : tensor<?x2x16x16xf32>)
      outs(%o0, %s0 : tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>)
      feature_map {
      ^bb0(%x: f32, %d: index):
        %c = arith.constant 0.25 : f32
        %y = arith.mulf %x, %c : f32
        %phi = math.exp %y : f32
        attn.yield %phi : f32
      } -> tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>
  return %o, %s : tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>
}
