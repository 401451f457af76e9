// RUN: attn-opt %s -split-input-file -attn-export-functions | FileCheck %s

// A paged attention's signature: the pools share their pages (?1), the
// table and the key lengths the query's batch (?0); a `pages:T:L:P.d:ps`
// clause makes the runtime check every length against the table's
// capacity and every entry a request uses against the pool's pages.
// CHECK-LABEL: func.func private @paged
// CHECK-SAME: attn.abi = "in:f16:?0,8,1,64;in:f16:?1,16,2,64;in:f16:?1,16,2,64;in:i32:?0;in:i32:?0,?2;out:f16:?0,8,1,64;pages:4:3:1.0:16"
func.func @paged(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xf16>, %v: tensor<?x16x2x64xf16>,
                 %lens: tensor<?xi32>, %table: tensor<?x?xi32>) -> tensor<?x8x1x64xf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x1x64xf16>
  %init = tensor.empty(%b) : tensor<?x8x1x64xf16>
  %o = attn.attention causal ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%init : tensor<?x8x1x64xf16>) -> tensor<?x8x1x64xf16>
  return %o : tensor<?x8x1x64xf16>
}

// -----

// Dense keys with per-request lengths: `lens:L:A.d` bounds each length by
// the key tensor's length (dim 2 of input 1). The hnd pool's page size is
// its dim 2.
// CHECK-LABEL: func.func private @dense_lens
// CHECK-SAME: attn.abi = "in:f32:?0,4,?1,16;in:f32:?0,2,?2,16;in:f32:?0,2,?2,16;in:i32:?0;out:f32:?0,4,?1,16;lens:3:1.2"
func.func @dense_lens(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>,
                      %lens: tensor<?xi32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %o = attn.attention ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      kv_lens(%lens : tensor<?xi32>) outs(%init : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// CHECK-LABEL: func.func private @hnd
// CHECK-SAME: pages:4:3:2.0:4"
func.func @hnd(%q: tensor<?x2x1x8xf32>, %k: tensor<?x1x4x8xf32>, %v: tensor<?x1x4x8xf32>,
               %lens: tensor<?xi32>, %table: tensor<?x?xi32>) -> tensor<?x2x1x8xf32> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x1x8xf32>
  %init = tensor.empty(%b) : tensor<?x2x1x8xf32>
  %o = attn.attention ins(%q, %v, %k : tensor<?x2x1x8xf32>, tensor<?x1x4x8xf32>, tensor<?x1x4x8xf32>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>) page_layout(hnd)
      outs(%init : tensor<?x2x1x8xf32>) -> tensor<?x2x1x8xf32>
  return %o : tensor<?x2x1x8xf32>
}
