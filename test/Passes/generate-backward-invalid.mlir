// RUN: attn-opt %s --split-input-file --attn-generate-backward --verify-diagnostics

func.func @epilogue(%q: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  // expected-error @+1 {{cannot be differentiated yet: epilogue region}}
  %o = attn.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      epilogue {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %d: index):
        %y = arith.mulf %x, %x : f32
        attn.yield %y : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

func.func @entropy(%q: tensor<1x2x8x16xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8xf32>) {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %e = tensor.empty() : tensor<1x2x8xf32>
  // expected-error @+1 {{cannot be differentiated yet: side outputs (row_entropy, column_scores)}}
  %o:2 = attn.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init, %e : tensor<1x2x8x16xf32>, tensor<1x2x8xf32>) row_entropy -> tensor<1x2x8x16xf32>, tensor<1x2x8xf32>
  return %o#0, %o#1 : tensor<1x2x8x16xf32>, tensor<1x2x8xf32>
}

// -----

func.func @no_rule(%q: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %o = attn.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{cannot differentiate 'math.erf': it has no adjoint (reverse-mode rule)}}
        %y = math.erf %s : f32
        attn.yield %y : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

func.func @differential(%q: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  // expected-error @+1 {{cannot be differentiated yet: second map (differential attention)}}
  %o = attn.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      second(%q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        %y = arith.subf %a, %c : f32
        attn.yield %y : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

func.func @pool(%x: tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32> {
  %init = tensor.empty() : tensor<1x2x2x16xf32>
  // expected-error @+1 {{cannot differentiate 'attn.pool': it has no adjoint (reverse-mode rule)}}
  %p = attn.pool block(4) kinds(["max"]) ins(%x : tensor<1x2x8x16xf32>) outs(%init : tensor<1x2x2x16xf32>) -> tensor<1x2x2x16xf32>
  return %p : tensor<1x2x2x16xf32>
}
