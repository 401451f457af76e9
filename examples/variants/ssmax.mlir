// Scalable-Softmax (Nakanishi, "Scalable-Softmax Is Superior for Attention"):
// causal; the scaled logits of row i are multiplied by s_h * log(n_i), where
// n_i = i + 1 + (Lk - Lq) is the number of keys row i sees and s [4] holds a
// learned scalar per head.
func.func @main(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>,
                %v: tensor<?x4x?x64xf32>, %s: tensor<4xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
      outs(%init : tensor<?x4x?x64xf32>)
      score {
      ^bb0(%z: f32, %bb: index, %h: index, %i: index, %j: index):
        %c1 = arith.constant 1 : index
        %off = arith.subi %lk, %l : index
        %i1 = arith.addi %i, %c1 : index
        %n = arith.addi %i1, %off : index
        %ni = arith.index_cast %n : index to i64
        %nf = arith.sitofp %ni : i64 to f32
        %logn = math.log %nf : f32
        %sh = tensor.extract %s[%h] : tensor<4xf32>
        %f = arith.mulf %sh, %logn : f32
        %r = arith.mulf %z, %f : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
