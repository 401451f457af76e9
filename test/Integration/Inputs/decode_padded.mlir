// Decode through the split-KV path with everything it must carry: a key
// padding mask (valid[b, j] != 0; the last batch row has no valid key), an
// output gate in the epilogue and the LSE. GQA 8:2, head dim 64.
func.func @main(%q: tensor<?x8x1x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>,
                %valid: tensor<?x?xi8>, %g: tensor<?x8x1x64xf32>)
    -> (tensor<?x8x1x64xf32>, tensor<?x8x1xf32>) {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x1x64xf32>
  %init = tensor.empty(%b) : tensor<?x8x1x64xf32>
  %linit = tensor.empty(%b) : tensor<?x8x1xf32>
  %o:2 = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x1x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      outs(%init, %linit : tensor<?x8x1x64xf32>, tensor<?x8x1xf32>)
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %x = tensor.extract %valid[%bb, %j] : tensor<?x?xi8>
        %zero = arith.constant 0 : i8
        %vis = arith.cmpi ne, %x, %zero : i8
        attn.yield %vis : i1
      }
      epilogue {
      ^bb0(%x: f32, %bb: index, %h: index, %i: index, %d: index):
        %gv = tensor.extract %g[%bb, %h, %i, %d] : tensor<?x8x1x64xf32>
        %y = arith.mulf %x, %gv : f32
        attn.yield %y : f32
      } -> tensor<?x8x1x64xf32>, tensor<?x8x1xf32>
  return %o#0, %o#1 : tensor<?x8x1x64xf32>, tensor<?x8x1xf32>
}
