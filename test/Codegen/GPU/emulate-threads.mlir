// RUN: attn-opt %s --attn-gpu-emulate-threads --split-input-file | FileCheck %s

// A launch becomes a private kernel function taking its captures in a
// struct, and a call of the emulator with the grid, the block and the
// shared bytes. Ids come from attnemu_id; barriers, shuffles and shared
// accesses are runtime calls; global accesses are bounds-checked inline.
// CHECK-LABEL: func.func @shuffle_and_barrier
// CHECK-SAME: (%[[X:.*]]: memref<?xf32>)
// CHECK: %[[ENV:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>)>
// CHECK: %[[D:.*]] = builtin.unrealized_conversion_cast %[[X]] : memref<?xf32> to !llvm.struct
// CHECK: %[[F:.*]] = llvm.getelementptr %[[ENV]][0, 0]
// CHECK: llvm.store %[[D]], %[[F]]
// CHECK: %[[NAME:.*]] = llvm.mlir.addressof @__attnemu_name_shuffle_and_barrier_kernel0
// CHECK: %[[FN:.*]] = constant @shuffle_and_barrier_kernel0 : (!llvm.ptr) -> ()
// CHECK: call @attnemu_launch(%[[FN]], %[[ENV]], %[[NAME]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK-NOT: gpu.launch
// CHECK-LABEL: func.func private @shuffle_and_barrier_kernel0(%{{.*}}: !llvm.ptr)
// CHECK: llvm.load
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<{{.*}}> to memref<?xf32>
// CHECK: call @attnemu_id(%c0_i32{{[_0-9]*}})
// CHECK: memref.dim
// CHECK: arith.cmpi ult
// CHECK: scf.if
// CHECK:   call @attnemu_global_oob
// CHECK: memref.load
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: call @attnemu_shfl(%c3_i32
// CHECK: call @attnemu_barrier()
// CHECK: memref.store
// CHECK: return
func.func @shuffle_and_barrier(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %w = arith.constant 32 : i32
  %o = arith.constant 1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %a = memref.load %x[%tx] : memref<?xf32>
    %s, %v = gpu.shuffle xor %a, %o, %w : f32
    gpu.barrier
    memref.store %s, %x[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

// Tensor-core operations: dynamic shared memory is the emulator's block
// buffer (shared accesses reported), cp.async and its groups, ldmatrix and
// mma.sync become calls; the launch passes its dynamic shared bytes.
// CHECK-LABEL: func.func @tensor_core
// CHECK: %[[SH:.*]] = arith.extui %{{.*}} : i32 to i64
// CHECK: %[[BYTES:.*]] = arith.addi %{{.*}}, %[[SH]] : i64
// CHECK: call @attnemu_launch({{.*}}, %[[BYTES]])
// CHECK-LABEL: func.func private @tensor_core_kernel0
// CHECK: call @attnemu_shared_base() : () -> !llvm.ptr
// CHECK: call @attnemu_shared_size() : () -> i64
// CHECK: builtin.unrealized_conversion_cast %{{.*}} to memref<?xi8>
// CHECK: memref.view %{{.*}} : memref<?xi8> to memref<64x72xf16>
// CHECK: call @attnemu_cp_async(%{{.*}}, %{{.*}}, %c16_i64{{[_0-9]*}}, %{{.*}})
// CHECK: call @attnemu_cp_async_commit()
// CHECK: call @attnemu_cp_async_wait(%c0_i32{{[_0-9]*}})
// CHECK: call @attnemu_shared_access(%{{.*}}, %c16_i64{{[_0-9]*}}, %c1_i32{{[_0-9]*}})
// CHECK: vector.store
// CHECK: call @attnemu_ldmatrix(%{{.*}}, %c4_i32{{[_0-9]*}}, %c0_i32{{[_0-9]*}}, %{{.*}})
// CHECK: vector.bitcast %{{.*}} : vector<4x1xi32> to vector<4x2xf16>
// CHECK: call @attnemu_mma_m16n8k16(%c0_i32{{[_0-9]*}},
// CHECK: llvm.insertvalue
// CHECK-NOT: nvgpu.
// CHECK-NOT: nvvm.
// CHECK: return
func.func @tensor_core(%q: memref<?x64xf16>, %o: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %c8 = arith.constant 8 : index
  %bytes = arith.constant 18432 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
             dynamic_shared_memory_size %bytes {
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %qs = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64x72xf16, #gpu.address_space<workgroup>>
    %t = nvgpu.device_async_copy %q[%c0, %c0], %qs[%c0, %c0], 8, %c8 {bypassL1} : memref<?x64xf16> to memref<64x72xf16, #gpu.address_space<workgroup>>
    %g = nvgpu.device_async_create_group %t
    nvgpu.device_async_wait %g {numGroups = 0 : i32}
    %z = arith.constant dense<0.0> : vector<8xf16>
    vector.store %z, %qs[%c1, %c0] : memref<64x72xf16, #gpu.address_space<workgroup>>, vector<8xf16>
    gpu.barrier
    %m = nvgpu.ldmatrix %qs[%c0, %c0] {numTiles = 4 : i32, transpose = false} : memref<64x72xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
    %a0 = vector.extract %m[0] : vector<2xf16> from vector<4x2xf16>
    %a1 = vector.extract %m[1] : vector<2xf16> from vector<4x2xf16>
    %a2 = vector.extract %m[2] : vector<2xf16> from vector<4x2xf16>
    %a3 = vector.extract %m[3] : vector<2xf16> from vector<4x2xf16>
    %f = arith.constant 0.0 : f32
    %d = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%a0, %a1] C[%f, %f, %f, %f]
         {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
          shape = #nvvm.shape<m = 16, n = 8, k = 16>}
         : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
    memref.store %d0, %o[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

// Static shared memory: workgroup attributions are views of the block's
// buffer, placed at its end (after the dynamic window, rounded up to 16
// bytes), 16-byte aligned each; the launch counts their bytes.
// CHECK-LABEL: func.func @attributions
// CHECK: %[[DYN:.*]] = arith.extui %{{.*}} : i32 to i64
// CHECK: %[[UP:.*]] = arith.addi %[[DYN]], %c15_i64
// CHECK: %[[AL:.*]] = arith.andi %[[UP]], %c-16_i64
// CHECK: %[[TOTAL:.*]] = arith.addi %c528_i64, %[[AL]] : i64
// CHECK: call @attnemu_launch({{.*}}, %[[TOTAL]])
// CHECK-LABEL: func.func private @attributions_kernel0
// CHECK: %[[SMEM:.*]] = builtin.unrealized_conversion_cast %{{.*}} to memref<?xi8>
// CHECK: %[[END:.*]] = memref.dim %[[SMEM]], %c0
// CHECK: %[[A:.*]] = arith.subi %[[END]], %c528{{.*}}
// CHECK: %[[A0:.*]] = arith.addi %[[A]], %c0{{.*}}
// CHECK: %[[W:.*]] = memref.view %{{.*}}[%[[A0]]][] : memref<?xi8> to memref<128xf32>
// CHECK: %[[B:.*]] = arith.subi %[[END]], %c528{{.*}}
// CHECK: %[[B0:.*]] = arith.addi %[[B]], %c512
// CHECK: %[[W2:.*]] = memref.view %{{.*}}[%[[B0]]][] : memref<?xi8> to memref<3xf32>
// CHECK: %[[P:.*]] = memref.alloca() : memref<4xf32>
// Accesses of attributions are shared accesses (bounds, race check); the
// private one is the fiber's own.
// CHECK: call @attnemu_shared_access(%{{.*}}, %c4_i64{{.*}}, %c0_i32{{.*}})
// CHECK: memref.load %[[W]]
// CHECK: call @attnemu_shared_access(%{{.*}}, %c4_i64{{.*}}, %c1_i32{{.*}})
// CHECK: memref.store %{{.*}}, %[[W2]]
// CHECK-NOT: attnemu_global_oob
// CHECK: memref.store %{{.*}}, %[[P]]
// CHECK: attnemu_global_oob
// CHECK: memref.store
func.func @attributions(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %bytes = arith.constant 100 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1)
             dynamic_shared_memory_size %bytes
             workgroup(%w: memref<128xf32, #gpu.address_space<workgroup>>,
                       %w2: memref<3xf32, #gpu.address_space<workgroup>>)
             private(%p: memref<4xf32, #gpu.address_space<private>>) {
    %a = memref.load %w[%tx] : memref<128xf32, #gpu.address_space<workgroup>>
    memref.store %a, %w2[%c0] : memref<3xf32, #gpu.address_space<workgroup>>
    memref.store %a, %p[%c0] : memref<4xf32, #gpu.address_space<private>>
    memref.store %a, %x[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}
