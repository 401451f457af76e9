// RUN: attn-opt %s --attn-gpu-tile-attention --split-input-file --verify-diagnostics

func.func @head_dim(%q: memref<1x2x?x72xf16>, %k: memref<1x2x?x72xf16>,
                    %v: memref<1x2x?x72xf16>, %o: memref<1x2x?x72xf16>) {
  // expected-error @+1 {{'attn.attention' op on the nvptx target needs head dims that are multiples of 16 up to 256, got 72}}
  attn.attention
      ins(%q, %k, %v : memref<1x2x?x72xf16>, memref<1x2x?x72xf16>, memref<1x2x?x72xf16>)
      outs(%o : memref<1x2x?x72xf16>)
  return
}

// -----

func.func @mixed(%q: memref<1x2x?x64xf32>, %k: memref<1x2x?x64xbf16>,
                 %v: memref<1x2x?x64xbf16>, %o: memref<1x2x?x64xf32>) {
  // expected-error @+1 {{'attn.attention' op on the nvptx target needs query, key and value of one element type (f32, f16 or bf16)}}
  attn.attention
      ins(%q, %k, %v : memref<1x2x?x64xf32>, memref<1x2x?x64xbf16>, memref<1x2x?x64xbf16>)
      outs(%o : memref<1x2x?x64xf32>)
  return
}

// -----

func.func @rms(%q: memref<1x2x?x64xf16>, %k: memref<1x2x?x64xf16>,
               %v: memref<1x2x?x64xf16>, %o: memref<1x2x?x64xf16>) {
  // expected-error @+1 {{'attn.attention' op with `second`, `rms_norm` or `blocks` is not supported on the nvptx target yet}}
  attn.attention
      ins(%q, %k, %v : memref<1x2x?x64xf16>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>)
      outs(%o : memref<1x2x?x64xf16>)
      rms_norm(1.0e-5)
  return
}

// -----

func.func @cumsum(%x: memref<?x8xf32>, %y: memref<?x8xf32>) {
  // expected-error @+1 {{'attn.cumsum' op is not supported on the nvptx target yet (attn lowers attn.attention to GPU kernels so far)}}
  attn.cumsum dim(0) ins(%x : memref<?x8xf32>) outs(%y : memref<?x8xf32>)
  return
}

// -----

// Host-side buffer work would touch device memory from the CPU.
func.func @host_loop(%x: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %f = arith.constant 1.0 : f32
  // expected-error @+1 {{'memref.store' op is not supported on the nvptx target yet (only attn.attention and what fuses into it runs on the GPU)}}
  memref.store %f, %x[%c0] : memref<?xf32>
  return
}

// -----

func.func @tensors(%q: tensor<1x2x8x16xf16>, %o: tensor<1x2x8x16xf16>) -> tensor<1x2x8x16xf16> {
  // expected-error @+1 {{'attn.attention' op must be bufferized before attn-gpu-tile-attention}}
  %r = attn.attention
      ins(%q, %q, %q : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>)
      outs(%o : tensor<1x2x8x16xf16>) -> tensor<1x2x8x16xf16>
  return %r : tensor<1x2x8x16xf16>
}
