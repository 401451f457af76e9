// RUN: attn-opt %s -split-input-file -attn-export-functions -verify-diagnostics -o /dev/null

// expected-error @+1 {{exported functions take and return ranked tensors of f32, f16, bf16, f64, i1, i8, f8E4M3FN, f8E5M2, i32 or i64; got 'f32'}}
func.func @scalar_arg(%a: f32) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  return %e : tensor<4xf32>
}

// -----

func.func @region_reads_past_a_static_bias(%q: tensor<1x2x8x16xf32>, %bias: tensor<2x4x8xf32>) -> tensor<1x2x8x16xf32> {
  %init = tensor.empty() : tensor<1x2x8x16xf32>
  %o = attn.attention
      ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
      outs(%init : tensor<1x2x8x16xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        // expected-error @+1 {{'tensor.extract' op reads dim 1 (size 4) at the query index, which goes up to 7}}
        %t = tensor.extract %bias[%h, %i, %j] : tensor<2x4x8xf32>
        %r = arith.addf %s, %t : f32
        attn.yield %r : f32
      } -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// The runtime checks a page table's entries before a call: it must be an
// argument, not computed inside the function.
func.func @computed_table(%q: tensor<2x2x1x8xf32>, %k: tensor<5x4x1x8xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>) -> tensor<2x2x1x8xf32> {
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  %t2 = arith.addi %t, %t : tensor<2x3xi32>
  // expected-error @+1 {{takes its page table from an argument of the exported function (the runtime checks its entries before a call)}}
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<5x4x1x8xf32>, tensor<5x4x1x8xf32>)
      kv_lens(%lens : tensor<2xi32>) pages(%t2 : tensor<2x3xi32>)
      outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}

// -----

func.func @computed_lens(%q: tensor<2x2x1x8xf32>, %k: tensor<2x1x6x8xf32>, %lens: tensor<2xi32>) -> tensor<2x2x1x8xf32> {
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  %l2 = arith.addi %lens, %lens : tensor<2xi32>
  // expected-error @+1 {{takes its key lengths from an argument of the exported function (the runtime checks its entries before a call)}}
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<2x1x6x8xf32>, tensor<2x1x6x8xf32>)
      kv_lens(%l2 : tensor<2xi32>) outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}

// -----

func.func @computed_slots(%k: tensor<2x1x8xf32>, %s: tensor<2xi32>, %p: tensor<3x4x1x8xf32>) -> (tensor<3x4x1x8xf32>, tensor<3x4x1x8xf32>) {
  %s2 = arith.addi %s, %s : tensor<2xi32>
  // expected-error @+1 {{takes its slots from an argument of the exported function (the runtime checks them before a call)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<2x1x8xf32>, tensor<2x1x8xf32>) slots(%s2 : tensor<2xi32>)
      outs(%p, %p : tensor<3x4x1x8xf32>, tensor<3x4x1x8xf32>) -> tensor<3x4x1x8xf32>, tensor<3x4x1x8xf32>
  return %a, %b : tensor<3x4x1x8xf32>, tensor<3x4x1x8xf32>
}

// -----

// Lengths, tables and slots are checked at an exported function's call:
// a paged attention in a callee is refused.
func.func private @callee(%q: tensor<2x2x1x8xf32>, %k: tensor<9x4x1x8xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>) -> tensor<2x2x1x8xf32> {
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  // expected-error @+1 {{must be in an exported (public) function: the runtime checks its lengths, page table or slots at that function's call}}
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<9x4x1x8xf32>, tensor<9x4x1x8xf32>)
      kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>)
      outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}
func.func @caller(%q: tensor<2x2x1x8xf32>, %k: tensor<9x4x1x8xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>) -> tensor<2x2x1x8xf32> {
  %o = func.call @callee(%q, %k, %lens, %t) : (tensor<2x2x1x8xf32>, tensor<9x4x1x8xf32>, tensor<2xi32>, tensor<2x3xi32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}

// -----

// A pool built inside the function with a size no argument carries: the
// runtime could not bound the table's entries.
func.func @unbounded_pool(%q: tensor<2x2x1x8xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %n: tensor<?xf32>) -> tensor<2x2x1x8xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %d = tensor.dim %n, %c0 : tensor<?xf32>
  %p = arith.muli %d, %c2 : index
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%p) : tensor<?x4x1x8xf32>
  %k = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4x1x8xf32>) -> tensor<?x4x1x8xf32>
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  // expected-error @+1 {{reads a pool whose pages no argument of the exported function gives (the runtime checks the key lengths against it)}}
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<?x4x1x8xf32>, tensor<?x4x1x8xf32>)
      kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>)
      outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}

// -----

// (Not returned, so no destination argument carries its size either.)
func.func @unbounded_append(%k: tensor<2x1x8xf32>, %s: tensor<2xi32>, %n: tensor<?xf32>) -> tensor<2x1x8xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %d = tensor.dim %n, %c0 : tensor<?xf32>
  %p = arith.muli %d, %c2 : index
  %e = tensor.empty(%p) : tensor<?x4x1x8xf32>
  // expected-error @+1 {{writes a pool whose pages no argument of the exported function gives (the runtime checks the slots against it)}}
  %a, %b = attn.append_kv ins(%k, %k : tensor<2x1x8xf32>, tensor<2x1x8xf32>) slots(%s : tensor<2xi32>)
      outs(%e, %e : tensor<?x4x1x8xf32>, tensor<?x4x1x8xf32>) -> tensor<?x4x1x8xf32>, tensor<?x4x1x8xf32>
  return %k : tensor<2x1x8xf32>
}

// -----

func.func @computed_indptr(%q: tensor<5x2x1x8xf32>, %k: tensor<2x1x6x8xf32>, %lens: tensor<2xi32>, %p: tensor<3xi32>) -> tensor<5x2x1x8xf32> {
  %init = tensor.empty() : tensor<5x2x1x8xf32>
  %p2 = arith.addi %p, %p : tensor<3xi32>
  // expected-error @+1 {{takes its qo_indptr from an argument of the exported function (the runtime checks it before a call)}}
  %o = attn.attention ins(%q, %k, %k : tensor<5x2x1x8xf32>, tensor<2x1x6x8xf32>, tensor<2x1x6x8xf32>)
      kv_lens(%lens : tensor<2xi32>) qo_indptr(%p2 : tensor<3xi32>) outs(%init : tensor<5x2x1x8xf32>) -> tensor<5x2x1x8xf32>
  return %o : tensor<5x2x1x8xf32>
}

// -----

func.func @computed_plan(%q: tensor<5x2x1x8xf32>, %k: tensor<2x1x6x8xf32>, %lens: tensor<2xi32>, %p: tensor<3xi32>, %plan: tensor<2x3xi32>) -> tensor<5x2x1x8xf32> {
  %init = tensor.empty() : tensor<5x2x1x8xf32>
  %plan2 = arith.addi %plan, %plan : tensor<2x3xi32>
  // expected-error @+1 {{takes its plan from an argument of the exported function (the runtime checks it before a call)}}
  %o = attn.attention ins(%q, %k, %k : tensor<5x2x1x8xf32>, tensor<2x1x6x8xf32>, tensor<2x1x6x8xf32>)
      kv_lens(%lens : tensor<2xi32>) qo_indptr(%p : tensor<3xi32>) plan(%plan2 : tensor<2x3xi32>) outs(%init : tensor<5x2x1x8xf32>) -> tensor<5x2x1x8xf32>
  return %o : tensor<5x2x1x8xf32>
}

// -----

// The tokens come from a concatenation and no result carries them: the
// runtime could not check the pointer's last entry.
func.func @computed_tokens(%q0: tensor<?x2x1x8xf32>, %k: tensor<2x1x6x8xf32>, %lens: tensor<2xi32>, %p: tensor<3xi32>) -> tensor<1x2x1x8xf32> {
  %q = tensor.concat dim(0) %q0, %q0 : (tensor<?x2x1x8xf32>, tensor<?x2x1x8xf32>) -> tensor<?x2x1x8xf32>
  %c0 = arith.constant 0 : index
  %t = tensor.dim %q, %c0 : tensor<?x2x1x8xf32>
  %init = tensor.empty(%t) : tensor<?x2x1x8xf32>
  // expected-error @+1 {{reads a ragged query whose token count no argument of the exported function gives}}
  %o = attn.attention ins(%q, %k, %k : tensor<?x2x1x8xf32>, tensor<2x1x6x8xf32>, tensor<2x1x6x8xf32>)
      kv_lens(%lens : tensor<2xi32>) qo_indptr(%p : tensor<3xi32>) outs(%init : tensor<?x2x1x8xf32>) -> tensor<?x2x1x8xf32>
  %s = tensor.extract_slice %o[0, 0, 0, 0] [1, 2, 1, 8] [1, 1, 1, 1] : tensor<?x2x1x8xf32> to tensor<1x2x1x8xf32>
  return %s : tensor<1x2x1x8xf32>
}
