// Gated linear attention over several steps with a state in and out, for
// the gradient tests: log_alpha = log sigmoid(raw) = -log1p(exp(-raw))
// (decays in (0, 1), their gradient chained through a generic), and a
// decay of 0 (log -inf) where raw > 1.5: a full reset of that channel.
#id = affine_map<(b, h, t, c) -> (b, h, t, c)>
func.func @main(%q: tensor<?x2x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x16xf32>, %raw: tensor<?x2x?x16xf32>,
                %state: tensor<?x2x16x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x2x?x16xf32>
  %e = tensor.empty(%b, %l) : tensor<?x2x?x16xf32>
  %la = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%raw : tensor<?x2x?x16xf32>) outs(%e : tensor<?x2x?x16xf32>) {
  ^bb0(%x: f32, %o: f32):
    %n = arith.negf %x : f32
    %ex = math.exp %n : f32
    %sp = math.log1p %ex : f32
    %ls = arith.negf %sp : f32
    %lim = arith.constant 1.5 : f32
    %reset = arith.cmpf ogt, %x, %lim : f32
    %ninf = arith.constant 0xFF800000 : f32
    %r = arith.select %reset, %ninf, %ls : f32
    linalg.yield %r : f32
  } -> tensor<?x2x?x16xf32>
  %o0 = tensor.empty(%b, %l) : tensor<?x2x?x16xf32>
  %s0 = tensor.empty(%b) : tensor<?x2x16x16xf32>
  %o, %s = attn.scan decay(channel)
      ins(%q, %k, %v : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      decays(%la : tensor<?x2x?x16xf32>)
      state(%state : tensor<?x2x16x16xf32>)
      outs(%o0, %s0 : tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>)
      -> tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>
  return %o, %s : tensor<?x2x?x16xf32>, tensor<?x2x16x16xf32>
}
