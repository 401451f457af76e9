// RUN: attn-opt %s --pass-pipeline='builtin.module(gpu.module(attn-gpu-expand-math))' | FileCheck %s

// Scalar f32 math becomes NVVM intrinsics (exp through ex2 with the input
// scaled by log2 e), fma a multiply and an add, absf a sign-bit mask; math
// on vectors is unrolled to one scalar op per lane first; no math op is
// left for convert-gpu-to-nvvm (which would call libdevice).
gpu.module @kernels {
  // CHECK-LABEL: gpu.func @scalar
  // CHECK: %[[LOG2E:.*]] = arith.constant 1.44269502 : f32
  // CHECK: %[[S:.*]] = arith.mulf %{{.*}}, %[[LOG2E]]
  // CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"(%[[S]])
  // CHECK: llvm.call_intrinsic "llvm.nvvm.floor.f"
  // CHECK: arith.andi %{{.*}}, %c2147483647_i32
  // CHECK: arith.mulf
  // CHECK: arith.addf
  // CHECK-NOT: math.
  // CHECK: memref.store
  // CHECK: gpu.return
  gpu.func @scalar(%x: f32, %y: f32, %out: memref<f32>) kernel {
    %e = math.exp %x : f32
    %f = math.floor %e : f32
    %a = math.absf %f : f32
    %m = math.fma %a, %y, %x : f32
    memref.store %m, %out[] : memref<f32>
    gpu.return
  }

  // A division allowed to approximate (afn) is div.approx.f32: div.rn's
  // slow path branches, and lanes that took it met the next barrier apart
  // (the tensor-core sigmoid weights); a plain division stays.
  // CHECK-LABEL: gpu.func @approx_div
  // CHECK: %[[Q:.*]] = llvm.call_intrinsic "llvm.nvvm.div.approx.f"(%arg0, %arg1) : (f32, f32) -> f32
  // CHECK: %[[R:.*]] = arith.divf %[[Q]], %arg1 : f32
  // CHECK: memref.store %[[R]]
  gpu.func @approx_div(%x: f32, %y: f32, %out: memref<f32>) kernel {
    %q = arith.divf %x, %y fastmath<afn> : f32
    %r = arith.divf %q, %y : f32
    memref.store %r, %out[] : memref<f32>
    gpu.return
  }

  // CHECK-LABEL: gpu.func @vector
  // CHECK-COUNT-4: llvm.call_intrinsic "llvm.nvvm.floor.f"
  // CHECK-COUNT-4: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
  // CHECK: vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xf32>
  // CHECK-NOT: math.
  // CHECK: gpu.return
  gpu.func @vector(%x: vector<4xf32>, %out: memref<4xf32>) kernel {
    %f = math.floor %x : vector<4xf32>
    %e = math.exp2 %f : vector<4xf32>
    %c0 = arith.constant 0 : index
    vector.store %e, %out[%c0] : memref<4xf32>, vector<4xf32>
    gpu.return
  }
}
