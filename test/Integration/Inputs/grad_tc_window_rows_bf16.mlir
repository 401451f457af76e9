// The tensor-core backward with 150 query rows against fewer keys (causal
// aligned bottom-right: the first 150 - Lk rows see nothing and must get
// zero gradients), a window (tiles the mask hides are skipped, tiles it
// shows partly evaluate it per pair), a soft-cap (score_grad), D = 128 and
// GQA (group 2) in bf16.
func.func @main(%q: tensor<?x2x150x128xbf16>, %k: tensor<?x1x?x128xbf16>,
                %v: tensor<?x1x?x128xbf16>) -> tensor<?x2x150x128xbf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x150x128xbf16>
  %init = tensor.empty(%b) : tensor<?x2x150x128xbf16>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x2x150x128xbf16>, tensor<?x1x?x128xbf16>, tensor<?x1x?x128xbf16>)
      outs(%init : tensor<?x2x150x128xbf16>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %cap = arith.constant 20.0 : f32
        %x = arith.divf %s, %cap : f32
        %t = math.tanh %x : f32
        %y = arith.mulf %t, %cap : f32
        attn.yield %y : f32
      }
      mask {
      ^bb0(%bb: index, %h: index, %i: index, %j: index):
        %w = arith.constant 100 : index
        %jw = arith.addi %j, %w : index
        %vis = arith.cmpi ult, %i, %jw : index
        attn.yield %vis : i1
      } -> tensor<?x2x150x128xbf16>
  return %o : tensor<?x2x150x128xbf16>
}
