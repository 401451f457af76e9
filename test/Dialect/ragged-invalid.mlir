// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of qo_indptr(...) and plan(...).

func.func @indptr_without_lens(%q: tensor<7x4x1x16xf32>, %k: tensor<7x2x8x16xf32>, %indptr: tensor<4xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected kv_lens with qo_indptr (the keys of each request)}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<7x2x8x16xf32>, tensor<7x2x8x16xf32>) qo_indptr(%indptr : tensor<4xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @indptr_type(%q: tensor<7x4x1x16xf32>, %k: tensor<3x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<4xi64>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected qo_indptr to be a rank-1 i32 [batch + 1] buffer, got 'tensor<4xi64>'}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi64>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @indptr_size(%q: tensor<7x4x1x16xf32>, %k: tensor<3x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<3xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected qo_indptr to have one entry more than the key lengths (4), got 3}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<3xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @query_rows(%q: tensor<7x4x2x16xf32>, %k: tensor<3x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<4xi32>, %o: tensor<7x4x2x16xf32>) -> tensor<7x4x2x16xf32> {
  // expected-error @+1 {{expected a ragged query [tokens, heads, 1, D] (query length 1) with qo_indptr, got length 2}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x2x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi32>) outs(%o : tensor<7x4x2x16xf32>) -> tensor<7x4x2x16xf32>
  return %r : tensor<7x4x2x16xf32>
}

// -----

func.func @key_batch(%q: tensor<7x4x1x16xf32>, %k: tensor<5x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<4xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected key batch (5) to match key lengths batch (3)}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<5x2x8x16xf32>, tensor<5x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @value_batch(%q: tensor<7x4x1x16xf32>, %k: tensor<3x2x8x16xf32>, %v: tensor<4x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<4xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected value batch (4) to match key batch (3)}}
  %r = attn.attention ins(%q, %k, %v : tensor<7x4x1x16xf32>, tensor<3x2x8x16xf32>, tensor<4x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @table_batch(%q: tensor<7x4x1x16xf32>, %k: tensor<9x16x2x16xf32>, %lens: tensor<3xi32>, %table: tensor<7x2xi32>, %indptr: tensor<4xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected page table batch (7) to match key lengths batch (3)}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<9x16x2x16xf32>, tensor<9x16x2x16xf32>) kv_lens(%lens : tensor<3xi32>) pages(%table : tensor<7x2xi32>) qo_indptr(%indptr : tensor<4xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @plan_without_indptr(%q: tensor<3x4x1x16xf32>, %k: tensor<3x2x8x16xf32>, %lens: tensor<3xi32>, %plan: tensor<2x4xi32>, %o: tensor<3x4x1x16xf32>) -> tensor<3x4x1x16xf32> {
  // expected-error @+1 {{has a plan but no qo_indptr (a plan partitions a ragged batch)}}
  %r = attn.attention ins(%q, %k, %k : tensor<3x4x1x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) plan(%plan : tensor<2x4xi32>) outs(%o : tensor<3x4x1x16xf32>) -> tensor<3x4x1x16xf32>
  return %r : tensor<3x4x1x16xf32>
}

// -----

func.func @plan_shape(%q: tensor<7x4x1x16xf32>, %k: tensor<3x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<4xi32>, %plan: tensor<3x4xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected the plan to be an i32 [2, batch + 1] buffer, got 'tensor<3x4xi32>'}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi32>) plan(%plan : tensor<3x4xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}

// -----

func.func @plan_length(%q: tensor<7x4x1x16xf32>, %k: tensor<3x2x8x16xf32>, %lens: tensor<3xi32>, %indptr: tensor<4xi32>, %plan: tensor<2x5xi32>, %o: tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32> {
  // expected-error @+1 {{expected plan length (5) to match qo_indptr length (4)}}
  %r = attn.attention ins(%q, %k, %k : tensor<7x4x1x16xf32>, tensor<3x2x8x16xf32>, tensor<3x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) qo_indptr(%indptr : tensor<4xi32>) plan(%plan : tensor<2x5xi32>) outs(%o : tensor<7x4x1x16xf32>) -> tensor<7x4x1x16xf32>
  return %r : tensor<7x4x1x16xf32>
}
