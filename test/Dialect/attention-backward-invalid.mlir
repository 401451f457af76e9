// RUN: attn-opt %s --split-input-file --verify-diagnostics

func.func @lse_type(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xbf16>) {
  // expected-error @+1 {{expected saved log-sum-exp element type to be f32, got 'bf16'}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xbf16>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @grad_type(%q: tensor<1x4x8x16xbf16>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected query gradient element type to be f32, got 'bf16'}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xbf16>, tensor<1x4x8x16xbf16>, tensor<1x4x8x16xbf16>)
      saved(%q : tensor<1x4x8x16xbf16>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xbf16>)
      outs(%q, %q, %q : tensor<1x4x8x16xbf16>, tensor<1x4x8x16xbf16>, tensor<1x4x8x16xbf16>)
      -> tensor<1x4x8x16xbf16>, tensor<1x4x8x16xbf16>, tensor<1x4x8x16xbf16>
  return
}

// -----

func.func @outputs(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected at least 3 outputs (query, key and value gradients, then capture gradients), got 2}}
  %a:2 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @dk_shape(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected key gradient dim 1 (4) to match key dim 1 (2)}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %k, %k : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %k : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

func.func @lse_rows(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x9xf32>) {
  // expected-error @+1 {{expected saved log-sum-exp dim 2 (9) to match query dim 2 (8)}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x9xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @heads(%q: tensor<1x4x8x16xf32>, %k: tensor<1x3x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected static head counts with the query heads a multiple of the key/value heads}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %k, %k : tensor<1x4x8x16xf32>, tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %k, %k : tensor<1x4x8x16xf32>, tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>
  return
}

// -----

func.func @score_grad_alone(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected a score_grad region exactly when there is a score region}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %g : f32
      }
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @score_grad_args(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected the score_grad region to take (f32, f32, index, index, index, index)}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      }
      score_grad {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      }
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @results(%q: memref<1x4x8x16xf32>, %l: memref<1x4x8xf32>) {
  // expected-error @+1 {{expected 0 results, got 3}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : memref<1x4x8x16xf32>, memref<1x4x8x16xf32>, memref<1x4x8x16xf32>)
      saved(%q : memref<1x4x8x16xf32>) lse(%l : memref<1x4x8xf32>) grads(%q : memref<1x4x8x16xf32>)
      outs(%q, %q, %q : memref<1x4x8x16xf32>, memref<1x4x8x16xf32>, memref<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @capture_index(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>, %c: tensor<4xf32>) {
  %a:4 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q, %c : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<4xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      }
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{names capture 1 but the op has 1 capture gradient(s)}}
        attn.grad_accumulate %g, capture(1) [%h] : f32
        attn.yield %g : f32
      }
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<4xf32>
  return
}

// -----

func.func @capture_rank(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>, %c: tensor<4xf32>) {
  %a:4 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q, %c : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<4xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %s : f32
      }
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{expected 1 indices for capture 0, got 2}}
        attn.grad_accumulate %g, capture(0) [%h, %i] : f32
        attn.yield %g : f32
      }
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<4xf32>
  return
}

// -----

func.func @capture_type(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>, %c: tensor<4xbf16>) {
  // expected-error @+1 {{expected capture gradients to be ranked f32, got 'tensor<4xbf16>'}}
  %a:4 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q, %c : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<4xbf16>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<4xbf16>
  return
}

// -----

func.func @sink_grad_alone(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{has a sink_grad region but no sink region}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      sink_grad {
      ^bb0(%g: f32, %b: index, %h: index, %i: index):
        attn.yield
      }
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @sink_grad_yield(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected the sink_grad region to take (f32, index, index, index) and yield nothing}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      sink {
      ^bb0(%b: index, %h: index, %i: index):
        %c = arith.constant 1.0 : f32
        attn.yield %c : f32
      }
      sink_grad {
      ^bb0(%g: f32, %b: index, %h: index, %i: index):
        attn.yield %g : f32
      }
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @sigmoid_lse(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected no log-sum-exp with the sigmoid normalizer}}
  %a:3 = attn.attention_backward scale(0.25) normalizer(sigmoid) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @sigmoid_grad_lse(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected no grad_lse and no sink_grad with the sigmoid normalizer}}
  %a:3 = attn.attention_backward scale(0.25) normalizer(sigmoid) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) grads(%q : tensor<1x4x8x16xf32>) grad_lse(%l : tensor<1x4x8xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @softmax_no_lse(%q: tensor<1x4x8x16xf32>) {
  // expected-error @+1 {{expected a saved log-sum-exp (lse) with the softmax normalizer}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%q : tensor<1x4x8x16xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}

// -----

func.func @saved_rank(%q: tensor<1x4x8x16xf32>, %l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{expected saved output to be of rank 4, got 'tensor<1x4x8xf32>'}}
  %a:3 = attn.attention_backward scale(0.25) ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      saved(%l : tensor<1x4x8xf32>) lse(%l : tensor<1x4x8xf32>) grads(%q : tensor<1x4x8x16xf32>)
      outs(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  return
}
