// RUN: attn-opt %s -split-input-file -attn-export-functions | FileCheck %s

// A paged attention's signature: the pools share their pages (?1), the
// table and the key lengths the query's batch (?0); a `pages:T:L:E:ps`
// clause per pool makes the runtime check every length against the table's
// capacity and every entry a request uses against the pool's pages (E =
// "A.d", dim d of argument A).
// CHECK-LABEL: func.func private @paged
// CHECK-SAME: attn.abi = "in:f16:?0,8,1,64;in:f16:?1,16,2,64;in:f16:?1,16,2,64;in:i32:?0;in:i32:?0,?2;out:f16:?0,8,1,64;pages:4:3:1.0:16;pages:4:3:2.0:16"
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

// Dense keys with per-request lengths: `lens:L:E` bounds each length by
// the key and value tensors' lengths (dim 2 of inputs 1 and 2).
// CHECK-LABEL: func.func private @dense_lens
// CHECK-SAME: attn.abi = "in:f32:?0,4,?1,16;in:f32:?0,2,?2,16;in:f32:?0,2,?2,16;in:i32:?0;out:f32:?0,4,?1,16;lens:3:1.2;lens:3:2.2"
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
// CHECK-SAME: pages:4:3:2.0:4;pages:4:3:1.0:4"
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

// -----

// attn.append_kv's pools, returned: updated in place. Each becomes an "io"
// input (writable, no destination argument of its own), its result an
// alias of it; the slots are checked against the key pool's pages.
// CHECK-LABEL: func.func private @append
// CHECK-SAME: %[[KP:[a-z0-9]+]]: tensor<?x4x2x8xf16> {bufferization.writable = true}, %[[VP:[a-z0-9]+]]: tensor<?x4x2x8xf16> {bufferization.writable = true}) -> (tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>)
// CHECK-SAME: attn.abi = "in:f32:?0,2,8;in:f32:?0,2,8;in:i32:?0;io:f16:?1,4,2,8;io:f16:?1,4,2,8;slots:2:3.0:4;slots:2:4.0:4;alias:0:3;alias:1:4"
// CHECK: %[[A:.*]]:2 = attn.append_kv {{.*}} outs(%[[KP]], %[[VP]] :
// CHECK: %[[M0:.*]] = bufferization.materialize_in_destination %[[A]]#0 in %[[KP]]
// CHECK: %[[M1:.*]] = bufferization.materialize_in_destination %[[A]]#1 in %[[VP]]
// CHECK: return %[[M0]], %[[M1]]
func.func @append(%k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %slots: tensor<?xi32>,
                  %kp: tensor<?x4x2x8xf16>, %vp: tensor<?x4x2x8xf16>) -> (tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>) {
  %a, %b = attn.append_kv ins(%k, %v : tensor<?x2x8xf32>, tensor<?x2x8xf32>) slots(%slots : tensor<?xi32>)
      outs(%kp, %vp : tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>) -> tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>
  return %a, %b : tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>
}

// -----

// A decode step (examples/serving/decode_step.mlir): in-place pools and a
// regular output in one signature.
// CHECK-LABEL: func.func private @step
// CHECK-SAME: attn.abi = "in:f16:?0,4,1,8;in:f16:?1,2,8;in:f16:?1,2,8;in:i32:?1;io:f16:?2,4,2,8;io:f16:?2,4,2,8;in:i32:?0;in:i32:?0,?3;out:f32:?0,4,1,8;pages:7:6:4.0:4;slots:3:4.0:4;slots:3:5.0:4;alias:1:4;alias:2:5"
func.func @step(%q: tensor<?x4x1x8xf16>, %k: tensor<?x2x8xf16>, %v: tensor<?x2x8xf16>, %slots: tensor<?xi32>,
                %kp: tensor<?x4x2x8xf16>, %vp: tensor<?x4x2x8xf16>, %lens: tensor<?xi32>, %table: tensor<?x?xi32>)
    -> (tensor<?x4x1x8xf32>, tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>) {
  %a, %b = attn.append_kv ins(%k, %v : tensor<?x2x8xf16>, tensor<?x2x8xf16>) slots(%slots : tensor<?xi32>)
      outs(%kp, %vp : tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>) -> tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %q, %c0 : tensor<?x4x1x8xf16>
  %init = tensor.empty(%n) : tensor<?x4x1x8xf32>
  %o = attn.attention ins(%q, %a, %b : tensor<?x4x1x8xf16>, tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>)
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>)
      outs(%init : tensor<?x4x1x8xf32>) -> tensor<?x4x1x8xf32>
  return %o, %a, %b : tensor<?x4x1x8xf32>, tensor<?x4x2x8xf16>, tensor<?x4x2x8xf16>
}

// -----

// A static pool's pages enter the clause as a number.
// CHECK-LABEL: func.func private @static_pool
// CHECK-SAME: pages:3:2:9:4"
func.func @static_pool(%q: tensor<2x2x1x8xf32>, %k: tensor<9x4x1x8xf32>, %lens: tensor<2xi32>, %table: tensor<2x3xi32>) -> tensor<2x2x1x8xf32> {
  %init = tensor.empty() : tensor<2x2x1x8xf32>
  %o = attn.attention ins(%q, %k, %k : tensor<2x2x1x8xf32>, tensor<9x4x1x8xf32>, tensor<9x4x1x8xf32>)
      kv_lens(%lens : tensor<2xi32>) pages(%table : tensor<2x3xi32>)
      outs(%init : tensor<2x2x1x8xf32>) -> tensor<2x2x1x8xf32>
  return %o : tensor<2x2x1x8xf32>
}
