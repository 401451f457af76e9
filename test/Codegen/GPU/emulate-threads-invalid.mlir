// RUN: attn-opt %s --attn-gpu-emulate-threads --split-input-file --verify-diagnostics

func.func @subgroup_reduce(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.load %x[%tx] : memref<?xf32>
    // expected-error @+1 {{'gpu.subgroup_reduce' op cannot be emulated on the host}}
    %s = gpu.subgroup_reduce add %a : (f32) -> f32
    memref.store %s, %x[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @shuffle_f64(%x: memref<?xf64>) {
  %c1 = arith.constant 1 : index
  %w = arith.constant 32 : i32
  %o = arith.constant 1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.load %x[%tx] : memref<?xf64>
    // expected-error @+1 {{'gpu.shuffle' op on 'f64' cannot be emulated}}
    %s, %v = gpu.shuffle xor %a, %o, %w : f64
    memref.store %s, %x[%tx] : memref<?xf64>
    gpu.terminator
  }
  return
}

// -----

func.func @mma_m16n8k8(%x: memref<?xf32>, %a: vector<2xf16>) {
  %c1 = arith.constant 1 : index
  %f = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{'nvvm.mma.sync' op cannot be emulated (only m16n8k16.row.col with f16/bf16 multiplicands and f32 accumulators)}}
    %d = nvvm.mma.sync A[%a, %a] B[%a] C[%f, %f, %f, %f]
         {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
          shape = #nvvm.shape<m = 16, n = 8, k = 8>}
         : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
    memref.store %d0, %x[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @async(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %t0 = gpu.wait async
  // expected-error @+1 {{'gpu.launch' op with async dependencies cannot be emulated}}
  %t = gpu.launch async [%t0] blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.terminator
  }
  return
}

// -----

func.func @two_blocks(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'gpu.launch' op with more than one block cannot be emulated}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    cf.br ^bb1
  ^bb1:
    gpu.terminator
  }
  return
}

// -----

func.func @captures_tensor(%x: memref<?xf32>, %t: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'gpu.launch' op captures a value of type 'tensor<4xf32>' that cannot be passed to an emulated kernel}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = tensor.extract %t[%c0] : tensor<4xf32>
    memref.store %a, %x[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @dynamic_attribution(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'gpu.launch' op with a dynamic or strided shared attribution cannot be emulated}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1)
             workgroup(%w: memref<4xf32, strided<[2]>, #gpu.address_space<workgroup>>) {
    gpu.terminator
  }
  return
}

// -----

func.func @clusters() {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'gpu.launch' op with clusters cannot be emulated}}
  gpu.launch clusters(%cx, %cy, %cz) in (%nx = %c1, %ny = %c1, %nz = %c1)
             blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.terminator
  }
  return
}
