// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Every verifier message of kv_lens, pages(...) and page_layout.

func.func @lens_rank(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %lens: tensor<2x1xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected the key lengths to be a rank-1 i32 [batch] buffer, got 'tensor<2x1xi32>'}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) kv_lens(%lens : tensor<2x1xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @lens_type(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %lens: tensor<2xi64>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected the key lengths to be a rank-1 i32 [batch] buffer, got 'tensor<2xi64>'}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) kv_lens(%lens : tensor<2xi64>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @lens_batch(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %lens: tensor<3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected key lengths batch (3) to match query batch (2)}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) kv_lens(%lens : tensor<3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @lens_second(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %lens: tensor<2xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{takes no second map with kv_lens}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) second(%q, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>) kv_lens(%lens : tensor<2xi32>) outs(%o : tensor<2x4x1x16xf32>)
      combine {
      ^bb0(%a: f32, %c: f32, %b: index, %h: index, %i: index, %d: index):
        attn.yield %a : f32
      } -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @lens_blocks(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %sel: tensor<2x4x1x1xi32>, %lens: tensor<2xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{takes no block selection with kv_lens}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) blocks(%sel : tensor<2x4x1x1xi32>) block_size(4) kv_lens(%lens : tensor<2xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @lens_columns(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %lens: tensor<2xi32>, %o: tensor<2x4x1x16xf32>, %s: tensor<2x2x8xf32>) -> (tensor<2x4x1x16xf32>, tensor<2x2x8xf32>) {
  // expected-error @+1 {{computes no column scores or row entropy with kv_lens}}
  %r:2 = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) kv_lens(%lens : tensor<2xi32>) outs(%o, %s : tensor<2x4x1x16xf32>, tensor<2x2x8xf32>) column_scores -> tensor<2x4x1x16xf32>, tensor<2x2x8xf32>
  return %r#0, %r#1 : tensor<2x4x1x16xf32>, tensor<2x2x8xf32>
}

// -----

func.func @table_without_lens(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x2x16xf32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected kv_lens with a page table (the keys of each request)}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<9x8x2x16xf32>, tensor<9x8x2x16xf32>) pages(%t : tensor<2x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @table_rank(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x2x16xf32>, %lens: tensor<2xi32>, %t: tensor<6xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected the page table to be a rank-2 i32 [batch, max_pages] buffer, got 'tensor<6xi32>'}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<9x8x2x16xf32>, tensor<9x8x2x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<6xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @table_batch(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x2x16xf32>, %lens: tensor<2xi32>, %t: tensor<4x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected page table batch (4) to match query batch (2)}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<9x8x2x16xf32>, tensor<9x8x2x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<4x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @page_size_dynamic(%q: tensor<2x4x1x16xf32>, %k: tensor<9x?x2x16xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected a static, positive page size (dim 1 of the key pool), got ?}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<9x?x2x16xf32>, tensor<9x?x2x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @page_size_zero(%q: tensor<2x4x1x16xf32>, %k: tensor<9x2x0x16xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected a static, positive page size (dim 2 of the key pool), got 0}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<9x2x0x16xf32>, tensor<9x2x0x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>) page_layout(hnd) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @layout_without_table(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x8x16xf32>, %lens: tensor<2xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{has a page_layout but no page table}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) kv_lens(%lens : tensor<2xi32>) page_layout(hnd) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @pool_pages(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x2x16xf32>, %v: tensor<7x8x2x16xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected value pages (7) to match key pages (9)}}
  %r = attn.attention ins(%q, %k, %v : tensor<2x4x1x16xf32>, tensor<9x8x2x16xf32>, tensor<7x8x2x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @pool_page_size(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x2x16xf32>, %v: tensor<9x4x2x16xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected value page size (4) to match key page size (8)}}
  %r = attn.attention ins(%q, %k, %v : tensor<2x4x1x16xf32>, tensor<9x8x2x16xf32>, tensor<9x4x2x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @pool_heads(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x3x16xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected the number of query heads (4) to be a multiple of the key/value heads (3)}}
  %r = attn.attention ins(%q, %k, %k : tensor<2x4x1x16xf32>, tensor<9x8x3x16xf32>, tensor<9x8x3x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}

// -----

func.func @value_page_size(%q: tensor<2x4x1x16xf32>, %k: tensor<9x8x2x16xf32>, %v: tensor<9x?x2x16xf32>, %lens: tensor<2xi32>, %t: tensor<2x3xi32>, %o: tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32> {
  // expected-error @+1 {{expected the value pool's page size (dim 1) to be static}}
  %r = attn.attention ins(%q, %k, %v : tensor<2x4x1x16xf32>, tensor<9x8x2x16xf32>, tensor<9x?x2x16xf32>) kv_lens(%lens : tensor<2xi32>) pages(%t : tensor<2x3xi32>) outs(%o : tensor<2x4x1x16xf32>) -> tensor<2x4x1x16xf32>
  return %r : tensor<2x4x1x16xf32>
}
