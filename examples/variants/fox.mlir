// Forgetting Transformer (Lin et al., "Forgetting Transformer: Softmax
// Attention with a Forget Gate"): causal attention with the logits biased by
// the cumulative log forget gates, s_ij + (c_i - c_j), where
// c = cumsum over the sequence of log sigmoid(f) and f [B,4,L] holds the
// forget-gate logits. The gate and the scan are part of the program.
#map = affine_map<(b, h, t) -> (b, h, t)>
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %f: tensor<?x4x?xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %f, %c2 : tensor<?x4x?xf32>
  // log sigmoid(f) = -(max(-f, 0) + log1p(exp(-|f|))), stable for any f.
  %ginit = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %logf = linalg.generic {indexing_maps = [#map, #map],
                          iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%f : tensor<?x4x?xf32>) outs(%ginit : tensor<?x4x?xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %zero = arith.constant 0.0 : f32
    %nx = arith.negf %x : f32
    %relu = arith.maximumf %nx, %zero : f32
    %ax = math.absf %x : f32
    %nax = arith.negf %ax : f32
    %e = math.exp %nax : f32
    %sp = math.log1p %e : f32
    %softplus = arith.addf %relu, %sp : f32
    %r = arith.negf %softplus : f32
    linalg.yield %r : f32
  } -> tensor<?x4x?xf32>
  %cinit = tensor.empty(%b, %lk) : tensor<?x4x?xf32>
  %c = attn.cumsum dim(2) ins(%logf : tensor<?x4x?xf32>) outs(%cinit : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        // Queries are the last Lq positions of the Lk-long sequence.
        %off = arith.subi %lk, %l : index
        %ip = arith.addi %i, %off : index
        %ci = tensor.extract %c[%bb, %h, %ip] : tensor<?x4x?xf32>
        %cj = tensor.extract %c[%bb, %h, %j] : tensor<?x4x?xf32>
        %d = arith.subf %ci, %cj : f32
        %r = arith.addf %s, %d : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
