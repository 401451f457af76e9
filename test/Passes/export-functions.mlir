// RUN: attn-opt %s -split-input-file -attn-export-functions | FileCheck %s

// The result gets a destination argument that the attention writes in place;
// the signature ties the batch of q, k, v and o (?0), the query length of q
// and o (?1) and the key length of k and v (?2).
// CHECK-LABEL: func.func private @causal_gqa
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: tensor<?x8x?x64xf32> {bufferization.writable = true}
// CHECK-SAME: attn.abi = "in:f32:?0,8,?1,64;in:f32:?0,2,?2,64;in:f32:?0,2,?2,64;out:f32:?0,8,?1,64"
// CHECK-SAME: llvm.emit_c_interface
// CHECK: attn.attention causal ins
// CHECK-SAME: outs(%[[OUT]] :
// CHECK-NOT: materialize_in_destination
func.func @causal_gqa(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                      %v: tensor<?x2x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x8x?x64xf32>
  %init = tensor.empty(%b, %l) : tensor<?x8x?x64xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
      outs(%init : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}

// -----

// Elementwise ops tie all their dims; a result that is not written by a DPS
// op is copied into its destination.
// CHECK-LABEL: func.func private @elementwise
// CHECK-SAME: attn.abi = "in:f32:?0,?1;in:f32:?0,?1;out:f32:?0,?1"
// CHECK: %[[SUM:.+]] = arith.addf
// CHECK: %[[M:.+]] = bufferization.materialize_in_destination %[[SUM]] in %arg2
// CHECK: return %[[M]]
func.func @elementwise(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %s = arith.addf %a, %b : tensor<?x?xf32>
  return %s : tensor<?x?xf32>
}

// -----

// LSE results and unrelated dims get their own symbols.
// CHECK-LABEL: func.func private @lse
// CHECK-SAME: attn.abi = "in:bf16:?0,4,?1,32;in:bf16:?0,4,?2,32;in:bf16:?0,4,?2,16;out:bf16:?0,4,?1,16;out:f32:?0,4,?1"
func.func @lse(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x4x?x32xbf16>, %v: tensor<?x4x?x16xbf16>)
    -> (tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x32xbf16>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x32xbf16>
  %o = tensor.empty(%b, %l) : tensor<?x4x?x16xbf16>
  %s = tensor.empty(%b, %l) : tensor<?x4x?xf32>
  %r:2 = attn.attention ins(%q, %k, %v : tensor<?x4x?x32xbf16>, tensor<?x4x?x32xbf16>, tensor<?x4x?x16xbf16>)
      outs(%o, %s : tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>) -> tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>
  return %r#0, %r#1 : tensor<?x4x?x16xbf16>, tensor<?x4x?xf32>
}

// -----

// Private functions are not exported.
// CHECK-LABEL: func.func private @negative_private
// CHECK-NOT: attn.abi
func.func private @negative_private(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// A run-time dispatch (as attn-expand-side-outputs emits for Lq = 1): each
// branch builds the result in a tensor.empty of its own, one through casts
// to one query row. Both empties become the destination (cast in the
// branch), the dims are tied through the scf.if, and the materialization
// that remains copies the destination onto itself.
// CHECK-LABEL: func.func private @dispatched
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: tensor<?x4x?x64xf32> {bufferization.writable = true}
// CHECK-SAME: attn.abi = "in:f32:?0,4,?1,64;in:f32:?0,4,?2,64;out:f32:?0,4,?1,64"
// CHECK: scf.if
// CHECK: %[[ONE:.+]] = tensor.cast %[[OUT]] : tensor<?x4x?x64xf32> to tensor<?x4x1x64xf32>
// CHECK: attn.attention {{.*}}outs(%[[ONE]] :
// CHECK: } else {
// CHECK: attn.attention {{.*}}outs(%[[OUT]] :
// CHECK-NOT: tensor.empty
// CHECK: bufferization.materialize_in_destination %{{.+}} in %[[OUT]]
func.func @dispatched(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x64xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x64xf32>
  %one = arith.cmpi eq, %l, %c1 : index
  %r = scf.if %one -> (tensor<?x4x?x64xf32>) {
    %q1 = tensor.cast %q : tensor<?x4x?x64xf32> to tensor<?x4x1x64xf32>
    %e1 = tensor.empty(%b) : tensor<?x4x1x64xf32>
    %o1 = attn.attention ins(%q1, %k, %k : tensor<?x4x1x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
        outs(%e1 : tensor<?x4x1x64xf32>) -> tensor<?x4x1x64xf32>
    %back = tensor.cast %o1 : tensor<?x4x1x64xf32> to tensor<?x4x?x64xf32>
    scf.yield %back : tensor<?x4x?x64xf32>
  } else {
    %e = tensor.empty(%b, %l) : tensor<?x4x?x64xf32>
    %o = attn.attention causal ins(%q, %k, %k : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
        outs(%e : tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
    scf.yield %o : tensor<?x4x?x64xf32>
  }
  return %r : tensor<?x4x?x64xf32>
}

// -----

// A tensor a region reads at its iteration indices gets bounds: the bias's
// dims 1 and 2 must reach the query and key lengths (dim 2 of q and k),
// its dim 0 the 4 heads; the slopes read at a computed index get none.
// CHECK-LABEL: func.func private @region_bounds
// CHECK-SAME: attn.abi = "in:f32:?0,4,?1,16;in:f32:?0,4,?2,16;in:f32:?0,4,?2,16;in:f32:?3,?4,?5;in:f32:?6;out:f32:?0,4,?1,16;ge:3.0:4:head;ge:3.1:0.2:query;ge:3.2:1.2:key"
func.func @region_bounds(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                         %bias: tensor<?x?x?xf32>, %slopes: tensor<?xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %o = attn.attention
      ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
      outs(%init : tensor<?x4x?x16xf32>)
      score {
      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):
        %t = tensor.extract %bias[%h, %i, %j] : tensor<?x?x?xf32>
        %c1 = arith.constant 1 : index
        %h1 = arith.addi %h, %c1 : index
        %m = tensor.extract %slopes[%h1] : tensor<?xf32>
        %x = arith.mulf %s, %m : f32
        %r = arith.addf %x, %t : f32
        attn.yield %r : f32
      } -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// A loop over tensors keeps its init's shape when the body yields tensors of
// the shape it received (by induction): the output is [?0, 8].
// CHECK-LABEL: func.func private @loop
// CHECK-SAME: attn.abi = "in:f32:?0,8;out:f32:?0,8"
#id = affine_map<(t, e) -> (t, e)>
func.func @loop(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %t = tensor.dim %x, %c0 : tensor<?x8xf32>
  %r = scf.for %it = %c0 to %c3 step %c1 iter_args(%acc = %x) -> (tensor<?x8xf32>) {
    %o0 = tensor.empty(%t) : tensor<?x8xf32>
    %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%acc : tensor<?x8xf32>) outs(%o0 : tensor<?x8xf32>) {
    ^bb0(%a: f32, %u: f32):
      linalg.yield %a : f32
    } -> tensor<?x8xf32>
    scf.yield %y : tensor<?x8xf32>
  }
  return %r : tensor<?x8xf32>
}

// -----

// One that grows its tensor each iteration does not: the output's rows are
// not determined by the inputs (?1).
// CHECK-LABEL: func.func private @growing
// CHECK-SAME: attn.abi = "in:f32:?0,8;out:f32:?1,8"
func.func @growing(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %r = scf.for %it = %c0 to %c3 step %c1 iter_args(%acc = %x) -> (tensor<?x8xf32>) {
    %t = tensor.dim %acc, %c0 : tensor<?x8xf32>
    %t1 = arith.addi %t, %c1 : index
    %o0 = tensor.empty(%t1) : tensor<?x8xf32>
    scf.yield %o0 : tensor<?x8xf32>
  }
  return %r : tensor<?x8xf32>
}
