// examples/linear/gla.mlir with bf16 q, k, v and o (f32 log-decays): the
// chunkwise form widens rows to f32 as it loads them and rounds o once.
func.func @main(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x4x?x64xbf16>,
                %v: tensor<?x4x?x64xbf16>, %log_alpha: tensor<?x4x?x64xf32>)
    -> tensor<?x4x?x64xbf16> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xbf16>
  %o0 = tensor.empty(%b, %l) : tensor<?x4x?x64xbf16>
  %o = attn.scan decay(channel)
      ins(%q, %k, %v : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>)
      decays(%log_alpha : tensor<?x4x?x64xf32>)
      outs(%o0 : tensor<?x4x?x64xbf16>) -> tensor<?x4x?x64xbf16>
  return %o : tensor<?x4x?x64xbf16>
}
