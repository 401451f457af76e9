// RUN: attn-opt %s --split-input-file --attn-generate-backward --verify-diagnostics

// An epilogue becomes a linalg.generic for the training forward; a tensor
// it reads must be indexed by the region's (b, h, i, d) or constants.
func.func @epilogue(%q: tensor<1x2x8x16xf32>, %t: tensor<3xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %o = attn.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      epilogue {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %d: index):
        %c1 = arith.constant 1 : index
        %n = arith.addi %h, %c1 : index
        // expected-error @+1 {{is differentiated only at indices that are the region's (b, h, i, d) or constants}}
        %g = tensor.extract %t[%n] : tensor<3xf32>
        %y = arith.mulf %x, %g : f32
        attn.yield %y : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// A fill whose value is computed (here read from an input) would pass the
// sum of its result's gradient to that value: refused.
#id2 = affine_map<(i, j) -> (i, j)>
func.func @fill_computed(%x: tensor<f32>) -> tensor<4x4xf32> {
  %s = tensor.extract %x[] : tensor<f32>
  %e = tensor.empty() : tensor<4x4xf32>
  // expected-error @+1 {{is differentiated only with a constant value (its gradient would be the sum of the result's)}}
  %f = linalg.fill ins(%s : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %e2 = tensor.empty() : tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%f : tensor<4x4xf32>) outs(%e2 : tensor<4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
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

func.func @pool(%x: tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32> {
  %init = tensor.empty() : tensor<1x2x2x16xf32>
  // expected-error @+1 {{cannot differentiate 'attn.pool': it has no adjoint (reverse-mode rule)}}
  %p = attn.pool block(4) kinds(["max"]) ins(%x : tensor<1x2x8x16xf32>) outs(%init : tensor<1x2x2x16xf32>) -> tensor<1x2x2x16xf32>
  return %p : tensor<1x2x2x16xf32>
}

// -----

// A reduction other than a sum (here a max) has no adjoint yet.
#id = affine_map<(b, d) -> (b, d)>
#row = affine_map<(b, d) -> (b)>
func.func @max_reduction(%x: tensor<2x8xf32>, %init: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{is differentiated only when elementwise (all loops parallel, one output at the identity map, its value unread) or a sum into its output (out + e yielded, the output at a projected permutation)}}
  %m = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<2x8xf32>) outs(%init : tensor<2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.maximumf %acc, %a : f32
    linalg.yield %y : f32
  } -> tensor<2xf32>
  return %m : tensor<2xf32>
}

// -----

#map = affine_map<(d) -> (d)>
func.func @two_outputs(%x: tensor<8xf32>) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  // expected-error @+1 {{is differentiated only with one output}}
  %r:2 = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e, %e : tensor<8xf32>, tensor<8xf32>) {
  ^bb0(%a: f32, %o1: f32, %o2: f32):
    %y = arith.mulf %a, %a : f32
    linalg.yield %y, %a : f32, f32
  } -> (tensor<8xf32>, tensor<8xf32>)
  return %r#0 : tensor<8xf32>
}

// -----

// An attention inside a loop is not differentiated (only ops at the top
// level of the function are).
func.func @nested(%q: tensor<1x2x8x16xf32>, %n: index) -> tensor<1x2x8x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %r = scf.for %it = %c0 to %n step %c1 iter_args(%acc = %q) -> tensor<1x2x8x16xf32> {
    // expected-error @+1 {{is differentiated only at the top level of a function}}
    %o = attn.attention ins(%acc, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
        outs(%init : tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
    scf.yield %o : tensor<1x2x8x16xf32>
  }
  return %r : tensor<1x2x8x16xf32>
}

// -----

// Buffers have no adjoints: the pass differentiates tensor programs.
func.func @on_memrefs(%q: memref<1x2x8x16xf32>, %o: memref<1x2x8x16xf32>) {
  // expected-error @+1 {{is differentiated on tensors only}}
  attn.attention ins(%q, %q, %q : memref<1x2x8x16xf32>, memref<1x2x8x16xf32>, memref<1x2x8x16xf32>)
      outs(%o : memref<1x2x8x16xf32>)
  return
}

// -----

// A function of several blocks.
// expected-error @+1 {{is differentiated only with a single-block body}}
func.func @blocks(%x: tensor<4xf32>, %c: i1) -> tensor<4xf32> {
  cf.cond_br %c, ^a, ^b
^a:
  return %x : tensor<4xf32>
^b:
  return %x : tensor<4xf32>
}

// -----

#id = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (0)>
// An input read at a constant index (not a projected permutation of the
// loops): its gradient would be a scatter the adjoint does not form.
func.func @constant_index(%x: tensor<4xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  // expected-error @+1 {{is differentiated only with inputs indexed by projected permutations}}
  %y = linalg.generic {indexing_maps = [#first, #id, #id], iterator_types = ["parallel"]}
      ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#id1 = affine_map<(d0) -> (d0)>
// A generic's body reading a float tensor (not an input) that the result
// depends on: that tensor's gradient is not formed.
func.func @generic_reads_tensor(%x: tensor<4xf32>, %w: tensor<2xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %y = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c0 = arith.constant 0 : index
    // expected-error @+1 {{cannot differentiate with respect to a tensor read in this region yet (its gradient is not supported)}}
    %s = tensor.extract %w[%c0] : tensor<2xf32>
    %m = arith.mulf %a, %s : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// The scan's parallel form needs static head dims.
func.func @scan_dynamic_head_dim(%q: tensor<1x2x4x?xf32>, %k: tensor<1x2x4x?xf32>, %v: tensor<1x2x4x?xf32>) -> tensor<1x2x4x?xf32> {
  %c3 = arith.constant 3 : index
  %d = tensor.dim %v, %c3 : tensor<1x2x4x?xf32>
  %o0 = tensor.empty(%d) : tensor<1x2x4x?xf32>
  // expected-error @+1 {{is differentiated with static head dims only}}
  %o = attn.scan decay(none) ins(%q, %k, %v : tensor<1x2x4x?xf32>, tensor<1x2x4x?xf32>, tensor<1x2x4x?xf32>)
      outs(%o0 : tensor<1x2x4x?xf32>) -> tensor<1x2x4x?xf32>
  return %o : tensor<1x2x4x?xf32>
}

// -----

// A reverse scan (the backward half of a bidirectional one) has no adjoint
// yet.
func.func @scan_reverse(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %o0 = tensor.empty() : tensor<1x2x4x8xf32>
  // expected-error @+1 {{cannot be differentiated yet in reverse (its parallel form is built for the forward recurrence)}}
  %o = attn.scan decay(none) reverse ins(%q, %k, %v : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>)
      outs(%o0 : tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Serving reads a paged cache; training takes dense keys.
func.func @paged(%q: tensor<2x2x1x8xf32>, %k: tensor<5x4x1x8xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>) -> tensor<2x2x1x8xf32> {
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  // expected-error @+1 {{cannot be differentiated yet: a paged key/value cache (serving reads it; training takes dense keys)}}
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<5x4x1x8xf32>, tensor<5x4x1x8xf32>)
      kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>)
      outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}

// -----

func.func @dense_lens(%q: tensor<2x2x1x8xf32>, %k: tensor<2x1x6x8xf32>, %lens: tensor<2xi32>) -> tensor<2x2x1x8xf32> {
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  // expected-error @+1 {{cannot be differentiated yet: per-request key lengths (kv_lens)}}
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<2x1x6x8xf32>, tensor<2x1x6x8xf32>)
      kv_lens(%lens : tensor<2xi32>) outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}

// -----

// A quantized cache is read, not trained: its codes have no gradient.
func.func @quantized(%q: tensor<1x2x3x8xf32>, %k: tensor<1x1x5x8xi8>, %v: tensor<1x1x5x8xf32>, %ks: tensor<1x1x5x1xf32>) -> tensor<1x2x3x8xf32> {
  %init = tensor.empty() : tensor<1x2x3x8xf32>
  // expected-error @+1 {{cannot be differentiated yet: a quantized key/value cache (its codes have no gradient)}}
  %o = attn.attention ins(%q, %k, %v : tensor<1x2x3x8xf32>, tensor<1x1x5x8xi8>, tensor<1x1x5x8xf32>)
      key_scale(%ks : tensor<1x1x5x1xf32>) outs(%init : tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %o : tensor<1x2x3x8xf32>
}

// -----

// A block selection keeps the op fused (it is not unfused for training),
// so an epilogue on it reaches the adjoint, which refuses it.
func.func @blocks_epilogue(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %sel: tensor<1x2x8x1xi32>) -> tensor<1x2x8x8xf32> {
  %init = tensor.empty() : tensor<1x2x8x8xf32>
  // expected-error @+1 {{cannot be differentiated yet: a second map, rms_norm, an epilogue or side outputs (the training forward unfuses them)}}
  %o = attn.attention ins(%q, %k, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>)
      blocks(%sel : tensor<1x2x8x1xi32>) block_size(4)
      outs(%init : tensor<1x2x8x8xf32>)
      epilogue {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %d: index):
        %two = arith.constant 2.0 : f32
        %y = arith.mulf %x, %two : f32
        attn.yield %y : f32
      } -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}

// -----

// The experts' norms are a statistic: a loss through them is refused.
func.func @experts_norms(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>, %w1: tensor<4x64x128xf32>,
                         %w3: tensor<4x64x128xf32>, %w2: tensor<4x128x64xf32>) -> tensor<4x2xf32> {
  %y0 = tensor.empty() : tensor<4x64xf32>
  %n0 = tensor.empty() : tensor<4x2xf32>
  // expected-error @+1 {{cannot be differentiated through its expert output norms yet (a statistic: use them outside the loss)}}
  %r:2 = attn.experts swish ins(%x, %w, %i, %w1, %w3, %w2 : tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>,
      tensor<4x64x128xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>) outs(%y0, %n0 : tensor<4x64xf32>, tensor<4x2xf32>)
      -> tensor<4x64xf32>, tensor<4x2xf32>
  return %r#1 : tensor<4x2xf32>
}
