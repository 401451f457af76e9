// Causal grouped-query attention: 8 query heads share 2 key/value heads,
// head dim 64, f32. Batch and sequence length are dynamic.
//
//   attn-compile examples/causal_gqa.mlir -o causal_gqa.o --header causal_gqa.h
//   attn-run examples/causal_gqa.mlir --input=@q.npy --input=@k.npy \
//            --input=@v.npy --output=@o.npy
func.func @main(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                %v: tensor<?x2x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      outs(%init : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}
