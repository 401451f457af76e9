// RUN: attn-opt %s -split-input-file -attn-export-functions | FileCheck %s

// A ragged batch's signature: queries, output and LSE per token (?0); pools
// per page (?1); lengths and table per request (?2); the pointer and the
// plan share their length (?4). `ragged:I:L:E` has the runtime check the
// pointer against the requests and the tokens (dim 0 of input 0),
// `plan:P:I:H:D` the plan against the pointer with 8 heads and 2 items per
// decode request (the KV heads: the kernel packs each group of 4 query
// heads).
// CHECK-LABEL: func.func private @ragged
// CHECK-SAME: attn.abi = "in:f16:?0,8,1,64;in:f16:?1,16,2,64;in:f16:?1,16,2,64;in:i32:?2;in:i32:?2,?3;in:i32:?4;in:i32:2,?4;out:f16:?0,8,1,64;out:f32:?0,8,1;pages:4:3:1.0:16;pages:4:3:2.0:16;ragged:5:3:0.0;plan:6:5:8:2"
func.func @ragged(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xf16>, %v: tensor<?x16x2x64xf16>,
                  %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %indptr: tensor<?xi32>,
                  %plan: tensor<2x?xi32>) -> (tensor<?x8x1x64xf16>, tensor<?x8x1xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %q, %c0 : tensor<?x8x1x64xf16>
  %init = tensor.empty(%t) : tensor<?x8x1x64xf16>
  %l = tensor.empty(%t) : tensor<?x8x1xf32>
  %o:2 = attn.attention causal ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      qo_indptr(%indptr : tensor<?xi32>) plan(%plan : tensor<2x?xi32>)
      outs(%init, %l : tensor<?x8x1x64xf16>, tensor<?x8x1xf32>) -> tensor<?x8x1x64xf16>, tensor<?x8x1xf32>
  return %o#0, %o#1 : tensor<?x8x1x64xf16>, tensor<?x8x1xf32>
}

// -----

// A score region that reads the head: a decode request's items are its 8
// query heads (plan:...:8:8).
// CHECK-LABEL: func.func private @ragged_heads
// CHECK-SAME: ragged:5:3:0.0;plan:6:5:8:8"
func.func @ragged_heads(%q: tensor<?x8x1x64xf16>, %k: tensor<?x16x2x64xf16>, %v: tensor<?x16x2x64xf16>,
                  %lens: tensor<?xi32>, %table: tensor<?x?xi32>, %indptr: tensor<?xi32>,
                  %plan: tensor<2x?xi32>) -> (tensor<?x8x1x64xf16>, tensor<?x8x1xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %q, %c0 : tensor<?x8x1x64xf16>
  %init = tensor.empty(%t) : tensor<?x8x1x64xf16>
  %l = tensor.empty(%t) : tensor<?x8x1xf32>
  %o:2 = attn.attention causal ins(%q, %k, %v : tensor<?x8x1x64xf16>, tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      qo_indptr(%indptr : tensor<?xi32>) plan(%plan : tensor<2x?xi32>)
      outs(%init, %l : tensor<?x8x1x64xf16>, tensor<?x8x1xf32>) 
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %hi = arith.index_cast %h : index to i32
        %hf = arith.sitofp %hi : i32 to f32
        %r = arith.addf %s, %hf : f32
        attn.yield %r : f32
      } -> tensor<?x8x1x64xf16>, tensor<?x8x1xf32>
  return %o#0, %o#1 : tensor<?x8x1x64xf16>, tensor<?x8x1xf32>
}

// -----

// Dense keys with lengths: the keys share the requests' symbol (?1).
// CHECK-LABEL: func.func private @ragged_dense
// CHECK-SAME: attn.abi = "in:f32:?0,4,1,16;in:f32:?1,2,?2,16;in:i32:?1;in:i32:?3;out:f32:?0,4,1,16;lens:2:1.2;ragged:3:2:0.0"
func.func @ragged_dense(%q: tensor<?x4x1x16xf32>, %k: tensor<?x2x?x16xf32>, %lens: tensor<?xi32>,
                        %indptr: tensor<?xi32>) -> tensor<?x4x1x16xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %q, %c0 : tensor<?x4x1x16xf32>
  %init = tensor.empty(%t) : tensor<?x4x1x16xf32>
  %o = attn.attention ins(%q, %k, %k : tensor<?x4x1x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      kv_lens(%lens : tensor<?xi32>) qo_indptr(%indptr : tensor<?xi32>)
      outs(%init : tensor<?x4x1x16xf32>) -> tensor<?x4x1x16xf32>
  return %o : tensor<?x4x1x16xf32>
}
