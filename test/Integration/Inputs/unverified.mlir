// 8 query heads cannot share 3 key/value heads.
func.func @main(%q: tensor<?x8x?x64xf32>, %k: tensor<?x3x?x64xf32>,
                %v: tensor<?x3x?x64xf32>, %o: tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %r = attn.attention ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x3x?x64xf32>, tensor<?x3x?x64xf32>)
      outs(%o : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
  return %r : tensor<?x8x?x64xf32>
}
