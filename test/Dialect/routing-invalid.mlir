// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of attn.route, attn.experts, attn.gate, attn.pool
// and the block selection of attn.attention.

func.func @case0(%l: tensor<8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the input to be [..., tokens, experts] of f32, f16 or bf16, got 'tensor<8xf32>'}}
  %r:2 = attn.route top(2) ins(%l : tensor<8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case1(%x: tensor<?x16xf32>, %m: tensor<16x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the router weight to have the input's element type 'f32', got 'tensor<16x8xf16>'}}
  %r:2 = attn.route top(2) ins(%x, %m : tensor<?x16xf32>, tensor<16x8xf16>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case2(%x: tensor<?x16xf32>, %m: tensor<2x3x16x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the router weight to be [model dim, experts] or to have the input's leading dims, got [2, 3, 16, 8] for input [?, 16]}}
  %r:2 = attn.route top(2) ins(%x, %m : tensor<?x16xf32>, tensor<2x3x16x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case3(%x: tensor<?x16xf32>, %m: tensor<12x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected router weight rows (12) to match input model dim (16)}}
  %r:2 = attn.route top(2) ins(%x, %m : tensor<?x16xf32>, tensor<12x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case4(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected k (9) to be in [1, 8]}}
  %r:2 = attn.route top(9) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case5(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected 2 outputs (weights, indices) or 4 (weights, indices, counts, prob_sums), got 1}}
  %r = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w : tensor<?x2xf32>) -> tensor<?x2xf32>
  return
}

// -----

func.func @case6(%l: tensor<?x8xf32>, %w: tensor<?x2xf16>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the weights output to be [..., tokens, 2] of 'f32', got 'tensor<?x2xf16>'}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf16>, tensor<?x2xi32>) -> tensor<?x2xf16>, tensor<?x2xi32>
  return
}

// -----

func.func @case7(%l: tensor<5x8xf32>, %w: tensor<4x2xf32>, %i: tensor<5x2xi32>) {
  // expected-error @+1 {{expected weights dim (4) to match input dim (5)}}
  %r:2 = attn.route top(2) ins(%l : tensor<5x8xf32>) outs(%w, %i : tensor<4x2xf32>, tensor<5x2xi32>) -> tensor<4x2xf32>, tensor<5x2xi32>
  return
}

// -----

func.func @case8(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x3xi32>) {
  // expected-error @+1 {{expected the indices output to have k (2) columns, got 3}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x3xi32>) -> tensor<?x2xf32>, tensor<?x3xi32>
  return
}

// -----

func.func @case9(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %n: tensor<8xi64>, %p: tensor<8xf32>) {
  // expected-error @+1 {{expected the counts to be [experts] of 'i32', got 'tensor<8xi64>'}}
  %r:4 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i, %n, %p : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi64>, tensor<8xf32>) -> tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi64>, tensor<8xf32>
  return
}

// -----

func.func @case10(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %n: tensor<8xi32>, %p: tensor<7xf32>) {
  // expected-error @+1 {{expected prob_sums length (7) to match the number of experts (8)}}
  %r:4 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i, %n, %p : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<7xf32>) -> tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xi32>, tensor<7xf32>
  return
}

// -----

func.func @case11(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %bias: tensor<8xf16>) {
  // expected-error @+1 {{expected the bias to be [experts] of 'f32', got 'tensor<8xf16>'}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) bias(%bias : tensor<8xf16>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case12(%l: tensor<?x?xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected a static number of experts with groups, keep, capacity or load statistics}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x?xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {capacity_factor = 1.0 : f32} -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case13(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected groups = [number of groups, groups kept], got 3 values}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {groups = array<i64: 2, 1, 1>} -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case14(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the number of groups (3) to divide the number of experts (8)}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {groups = array<i64: 3, 1>} -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case15(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the groups kept (5) to be in [1, 4]}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {groups = array<i64: 4, 5>} -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case16(%l: tensor<?x8xf32>, %w: tensor<?x3xf32>, %i: tensor<?x3xi32>) {
  // expected-error @+1 {{expected k (3) to be at most the 2 experts of the kept groups}}
  %r:2 = attn.route top(3) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x3xf32>, tensor<?x3xi32>) {groups = array<i64: 4, 1>} -> tensor<?x3xf32>, tensor<?x3xi32>
  return
}

// -----

func.func @case17(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected keep to have one entry per expert (8), got 2}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {keep = array<i1: true, false>} -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case18(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected a finite, positive temperature, got 0}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) {temperature = 0.0 : f32} -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case19(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{renormalize has no meaning with scoring(topk_softmax)}}
  %r:2 = attn.route top(2) scoring(topk_softmax) renormalize ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case20(%l: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected the score region to take (f32, index, index)}}
  %r:2 = attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) score {
  ^bb0(%s: f32, %t: index):
    attn.yield %s : f32
  } -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case21(%l: tensor<?x8xf32>, %w: memref<?x2xf32>, %i: memref<?x2xi32>) {
  // expected-error @+1 {{expected all operands to be tensors or all to be memrefs}}
  attn.route top(2) ins(%l : tensor<?x8xf32>) outs(%w, %i : memref<?x2xf32>, memref<?x2xi32>)
  return
}

// -----

func.func @case22(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x32xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected W2 to be [4, 128, 64] (experts, hidden, model), got [4, 128, 32]}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x32xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case23(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected the routing indices to be [tokens, k] i32, got 'tensor<?x2xi64>'}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case24(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x64xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected W1 and W3 to have the same type, got 'tensor<4x64x128xf32>' and 'tensor<4x64x64xf32>'}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x64xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case25(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<?x64x128xf32>, %w3: tensor<?x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected W1 to be a static rank-3 f32 buffer, got 'tensor<?x64x128xf32>'}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<?x64x128xf32>, tensor<?x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case26(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x3xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected routing index columns (3) to match routing weight columns (2)}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x3xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case27(%x: tensor<?x4x?x64xf32>, %g: tensor<?x4xf32>, %y: tensor<?x4x?x64xf32>) {
  // expected-error @+1 {{expected the gate rank (2) to equal the number of gated dims (3)}}
  %r = attn.gate sigmoid ins(%x, %g : tensor<?x4x?x64xf32>, tensor<?x4xf32>) outs(%y : tensor<?x4x?x64xf32>) dims([0, 1, 2]) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case28(%x: tensor<?x4x?x64xf32>, %g: tensor<?x4xf32>, %y: tensor<?x4x?x64xf32>) {
  // expected-error @+1 {{expected dims to be increasing input dims in [0, 4)}}
  %r = attn.gate sigmoid ins(%x, %g : tensor<?x4x?x64xf32>, tensor<?x4xf32>) outs(%y : tensor<?x4x?x64xf32>) dims([1, 0]) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case29(%x: tensor<?x4x?x64xf32>, %g: tensor<8xf32>, %y: tensor<?x4x?x64xf32>) {
  // expected-error @+1 {{expected gate dim 0 (8) to match input dim 1 (4)}}
  %r = attn.gate sigmoid ins(%x, %g : tensor<?x4x?x64xf32>, tensor<8xf32>) outs(%y : tensor<?x4x?x64xf32>) dims([1]) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case30(%x: tensor<?x64xf32>, %g: tensor<?x64xi32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected f32, f16 or bf16 operands}}
  %r = attn.gate swish ins(%x, %g : tensor<?x64xf32>, tensor<?x64xi32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case31(%x: tensor<?x64xf32>, %g: tensor<?x64xf32>, %y: tensor<?x32xf32>) {
  // expected-error @+1 {{expected output dim 1 (32) to match input dim 1 (64)}}
  %r = attn.gate swish ins(%x, %g : tensor<?x64xf32>, tensor<?x64xf32>) outs(%y : tensor<?x32xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @case32(%k: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  // expected-error @+1 {{expected pooling kinds among "max", "min", "mean", got "sum"}}
  attn.pool block(64) kinds(["sum"]) ins(%k : memref<?x4x?x64xf32>) outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

func.func @case33(%k: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  // expected-error @+1 {{expected a positive block, got 0}}
  attn.pool block(0) kinds(["mean"]) ins(%k : memref<?x4x?x64xf32>) outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

func.func @case34(%k: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  // expected-error @+1 {{expected the output's last dim to be 128 (kinds x dim), got 64}}
  attn.pool block(64) kinds(["max", "mean"]) ins(%k : memref<?x4x?x64xf32>) outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

func.func @case35(%k: memref<1x4x100x64xf32>, %o: memref<1x4x1x64xf32>) {
  // expected-error @+1 {{expected 2 pooled rows (ceil(100 / 64)), got 1}}
  attn.pool block(64) kinds(["mean"]) ins(%k : memref<1x4x100x64xf32>) outs(%o : memref<1x4x1x64xf32>)
  return
}

// -----

func.func @case36(%k: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf16>) {
  // expected-error @+1 {{expected the output to be f32 of rank 4, got 'memref<?x4x?x64xf16>'}}
  attn.pool block(64) kinds(["mean"]) ins(%k : memref<?x4x?x64xf32>) outs(%o : memref<?x4x?x64xf16>)
  return
}

// -----

func.func @case37(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>, %o: tensor<?x4x?x64xf32>, %s: tensor<?x4x?x3xi64>) {
  // expected-error @+1 {{expected the block selection to be a rank-4 i32 [batch, heads, query length, k] buffer, got 'tensor<?x4x?x3xi64>'}}
  %r = attn.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) blocks(%s : tensor<?x4x?x3xi64>) block_size(64) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case38(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>, %o: tensor<?x4x?x64xf32>, %s: tensor<?x8x?x3xi32>) {
  // expected-error @+1 {{expected block selection heads (8) to match query heads (4)}}
  %r = attn.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) blocks(%s : tensor<?x8x?x3xi32>) block_size(64) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case39(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>, %o: tensor<?x4x?x64xf32>, %s: tensor<?x4x?x?xi32>) {
  // expected-error @+1 {{expected a static number of selected blocks}}
  %r = attn.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) blocks(%s : tensor<?x4x?x?xi32>) block_size(64) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case40(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>, %o: tensor<?x4x?x64xf32>, %s: tensor<?x4x?x3xi32>) {
  // expected-error @+1 {{expected a positive block_size with a block selection}}
  %r = attn.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) blocks(%s : tensor<?x4x?x3xi32>) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case41(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>, %o: tensor<?x4x?x64xf32>) {
  // expected-error @+1 {{has a block_size but no block selection}}
  %r = attn.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) block_size(64) outs(%o : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return
}

// -----

func.func @case42(%l: tensor<*xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{expected ranked tensors or memrefs, got 'tensor<*xf32>'}}
  %r:2 = attn.route top(2) ins(%l : tensor<*xf32>) outs(%w, %i : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @case43(%x: tensor<?x64xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected the input to be [tokens, model dim] f32, got 'tensor<?x64xf16>'}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case44(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xbf16>) {
  // expected-error @+1 {{expected the output to be [tokens, model dim] f32, got 'tensor<?x64xbf16>'}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @case45(%x: tensor<?x64xf32>, %w: tensor<?x2xf16>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>) {
  // expected-error @+1 {{expected the routing weights to be [tokens, k] f32, got 'tensor<?x2xf16>'}}
  %r = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf16>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y : tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @case46(%x: tensor<?x64xf32>, %g: tensor<?x64xf32>, %y: tensor<64xf32>) {
  // expected-error @+1 {{expected the output rank (1) to match the input rank (2)}}
  %r = attn.gate swish ins(%x, %g : tensor<?x64xf32>, tensor<?x64xf32>) outs(%y : tensor<64xf32>) -> tensor<64xf32>
  return
}

// -----

func.func @case47(%k: memref<64xf32>, %o: memref<1x64xf32>) {
  // expected-error @+1 {{expected the input to be [..., length, dim] of f32, f16 or bf16, got 'memref<64xf32>'}}
  attn.pool block(64) kinds(["mean"]) ins(%k : memref<64xf32>) outs(%o : memref<1x64xf32>)
  return
}

// -----

func.func @case48(%k: memref<?x4x?x64xf32>, %o: memref<?x4x?x64xf32>) {
  // expected-error @+1 {{expected at least one pooling kind}}
  attn.pool block(64) kinds([]) ins(%k : memref<?x4x?x64xf32>) outs(%o : memref<?x4x?x64xf32>)
  return
}

// -----

func.func @experts_norms_type(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>, %n: tensor<?x2xf16>) {
  // expected-error @+1 {{expected the norms to be [tokens, k] f32, got 'tensor<?x2xf16>'}}
  %r:2 = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y, %n : tensor<?x64xf32>, tensor<?x2xf16>) -> tensor<?x64xf32>, tensor<?x2xf16>
  return
}

// -----

func.func @experts_norms_slots(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>, %n: tensor<?x3xf32>) {
  // expected-error @+1 {{expected norm columns (3) to match routing weight columns (2)}}
  %r:2 = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y, %n : tensor<?x64xf32>, tensor<?x3xf32>) -> tensor<?x64xf32>, tensor<?x3xf32>
  return
}

// -----

func.func @experts_outputs(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %w1: tensor<4x64x128xf32>, %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>, %y: tensor<?x64xf32>, %n: tensor<?x2xf32>) {
  // expected-error @+1 {{expected an output and optionally the norms, got 3 outputs}}
  %r:3 = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y, %n, %n : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xf32>
  return
}
