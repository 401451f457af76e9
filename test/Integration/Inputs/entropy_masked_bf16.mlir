// Row entropy of bf16 attention where rows 2, 7, 12, ... see no key (a
// mask region): their entropy is 0, not NaN.
func.func @main(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x4x?x64xbf16>,
                %v: tensor<?x4x?x64xbf16>)
    -> (tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xbf16>
  %lk = tensor.dim %k, %c2 : tensor<?x4x?x64xbf16>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xbf16>
  %e0 = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %o, %e = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>)
      outs(%o0, %e0 : tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>) row_entropy
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %c5 = arith.constant 5 : index
        %r = arith.remui %i, %c5 : index
        %ne = arith.cmpi ne, %r, %c2 : index
        attn.yield %ne : i1
      } -> tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
  return %o, %e : tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
}
