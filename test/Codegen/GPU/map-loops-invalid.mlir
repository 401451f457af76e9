// RUN: attn-opt %s --attn-gpu-map-loops --split-input-file --verify-diagnostics

// The grid of the launch would need a value held in device memory.
func.func @bound_from_buffer(%x: memref<?xf32>, %len: memref<index>) {
  %f = arith.constant 1.0 : f32
  // expected-error @+1 {{'memref.load' op reads device memory for a value the host needs; this is not supported on the nvptx target}}
  %n = memref.load %len[] : memref<index>
  // expected-note @+1 {{used here}}
  scf.forall (%i) in (%n) {
    memref.store %f, %x[%i] : memref<?xf32>
  }
  return
}

// -----

func.func @reduction(%x: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  // expected-error @+1 {{'scf.parallel' op with reductions is not supported on the nvptx target}}
  %s = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%z) -> f32 {
    %a = memref.load %x[%i] : memref<?xf32>
    scf.reduce(%a : f32) {
    ^bb0(%l: f32, %r: f32):
      %t = arith.addf %l, %r : f32
      scf.reduce.return %t : f32
    }
  }
  return %s : f32
}

// -----

// Buffers are freed at the end of their block.
func.func @escapes(%c: i1) -> memref<4xf32> {
  %f = arith.constant 1.0 : f32
  %m = scf.if %c -> memref<4xf32> {
    // expected-error @+1 {{'memref.alloc' op escapes its block; this is not supported on the nvptx target}}
    %a = memref.alloc() : memref<4xf32>
    scf.forall (%i) in (4) {
      memref.store %f, %a[%i] : memref<4xf32>
    }
    // expected-note @+1 {{escapes here}}
    scf.yield %a : memref<4xf32>
  } else {
    %b = memref.alloc() : memref<4xf32>
    scf.yield %b : memref<4xf32>
  }
  return %m : memref<4xf32>
}

// -----

func.func @shared_outputs(%t: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'scf.forall' op with shared outputs is not supported on the nvptx target (run after bufferization)}}
  %r = scf.forall (%i) in (4) shared_outs(%o = %t) -> tensor<4xf32> {
    scf.forall.in_parallel {
    }
  }
  return %r : tensor<4xf32>
}
