// RUN: attn-opt %s --attn-gpu-emulate-launches --split-input-file --verify-diagnostics

func.func @thread_y(%x: memref<?xindex>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'gpu.launch' op uses GPU ids other than the x block and thread ids; it cannot be emulated}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    memref.store %ty, %x[%tx] : memref<?xindex>
    gpu.terminator
  }
  return
}

// -----

func.func @shuffle(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %w = arith.constant 32 : i32
  %o = arith.constant 1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.load %x[%tx] : memref<?xf32>
    // expected-error @+1 {{'gpu.shuffle' op cannot be emulated on the host}}
    %s, %v = gpu.shuffle xor %a, %o, %w : f32
    memref.store %s, %x[%tx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @shared_memory(%x: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %s = arith.constant 128 : i32
  // expected-error @+1 {{'gpu.launch' op with shared memory or async dependencies cannot be emulated}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1)
             dynamic_shared_memory_size %s {
    gpu.terminator
  }
  return
}
