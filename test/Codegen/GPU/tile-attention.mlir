// RUN: attn-opt %s --attn-gpu-tile-attention --split-input-file | FileCheck %s

// Causal GQA attention on bf16 with a score region: one CTA per (64-row
// query tile, head, batch), 128 threads, Q/K/V tiles in dynamic shared
// memory (64 rows of 64 + 8 bf16 each: 3 * 9216 bytes).
// CHECK-LABEL: func.func @causal_bf16
// CHECK:         %[[NQT:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[SMEM:.*]] = arith.constant 27648 : i32
// CHECK:         gpu.launch blocks(%[[QT:.*]], %[[H:.*]], %[[B:.*]]) in ({{.*}} = %[[NQT]], {{.*}} = %c8, {{.*}}) threads({{.*}}) in ({{.*}} = %[[C128]], {{.*}}) dynamic_shared_memory_size %[[SMEM]]
// CHECK:           gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK:           memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// Query tile: cp.async with zero fill past the end, then A fragments.
// CHECK:           nvgpu.device_async_copy {{.*}} 8, %{{.*}} {bypassL1}
// CHECK:           nvgpu.device_async_create_group
// CHECK:           nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK:           gpu.barrier
// CHECK:           nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// Key-tile loop with the online-softmax state (2 maxima, 2 sums, 8 x 4
// accumulators) in registers; the tile classification skips empty tiles.
// CHECK:           scf.for {{.*}} -> (f32, f32, f32, f32, f32
// CHECK:             scf.if %{{.*}} -> (f32, f32
// K then V in two groups; wait for K only.
// CHECK:               nvgpu.device_async_create_group
// CHECK:               nvgpu.device_async_create_group
// CHECK:               nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// CHECK:               nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false}
// CHECK:               vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK:               nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// The score region is inlined on every logit.
// CHECK:               math.tanh
// Full tiles skip the mask; partial ones apply causal + key end.
// CHECK:               scf.if %{{.*}} -> (f32
// CHECK:                 arith.cmpi sle
// CHECK:               gpu.shuffle  xor %{{.*}}, %c1_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK:               gpu.shuffle  xor %{{.*}}, %c2_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK:               math.exp2
// CHECK:               arith.truncf %{{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK:               nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK:               nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = true}
// CHECK:               nvvm.mma.sync
// CHECK:               gpu.barrier
// Finalize: rows past the end are not stored.
// CHECK:           scf.if
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[B]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x8x?x64xbf16>
// CHECK:           gpu.terminator
// CHECK-NOT:     attn.attention
func.func @causal_bf16(%q: memref<?x8x?x64xbf16>, %k: memref<?x2x?x64xbf16>,
                       %v: memref<?x2x?x64xbf16>, %o: memref<?x8x?x64xbf16>) {
  attn.attention causal
      ins(%q, %k, %v : memref<?x8x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>)
      outs(%o : memref<?x8x?x64xbf16>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        attn.yield %t : f32
      }
  return
}

// -----

// f32 operands: loaded, rounded to f16 and stored (no cp.async), f16 MMA;
// the LSE output is written by the first thread of each row quad.
// CHECK-LABEL: func.func @f32_lse
// CHECK:         gpu.launch
// CHECK-NOT:       nvgpu.device_async_copy
// CHECK:           vector.load {{.*}} : memref<?x4x?x32xf32>, vector<8xf32>
// CHECK:           arith.truncf %{{.*}} : vector<8xf32> to vector<8xf16>
// CHECK:           vector.store {{.*}} : memref<64x40xf16, #gpu.address_space<workgroup>>, vector<8xf16>
// CHECK:           nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:           math.log2
// CHECK:           memref.store %{{.*}}, %{{.*}} : memref<?x4x?xf32>
func.func @f32_lse(%q: memref<?x4x?x32xf32>, %k: memref<?x4x?x32xf32>,
                   %v: memref<?x4x?x32xf32>, %o: memref<?x4x?x32xf32>,
                   %lse: memref<?x4x?xf32>) {
  attn.attention
      ins(%q, %k, %v : memref<?x4x?x32xf32>, memref<?x4x?x32xf32>, memref<?x4x?x32xf32>)
      outs(%o, %lse : memref<?x4x?x32xf32>, memref<?x4x?xf32>)
  return
}

// -----

// Sigmoid attention: no maxima, no sums, no shuffles; weights by an
// approximate division (no branchy slow path before the next barrier).
// CHECK-LABEL: func.func @sigmoid
// CHECK:         gpu.launch
// CHECK-NOT:       gpu.shuffle
// CHECK:           arith.divf %cst{{.*}}, %{{.*}} fastmath<afn> : f32
// CHECK:           gpu.terminator
func.func @sigmoid(%q: memref<1x2x?x16xf16>, %k: memref<1x2x?x16xf16>,
                   %v: memref<1x2x?x16xf16>, %o: memref<1x2x?x16xf16>) {
  attn.attention normalizer(sigmoid)
      ins(%q, %k, %v : memref<1x2x?x16xf16>, memref<1x2x?x16xf16>, memref<1x2x?x16xf16>)
      outs(%o : memref<1x2x?x16xf16>)
  return
}

// -----

// Split-KV decode (a static query length of at most 16 whose GQA group fits
// in 64 rows): the grid runs over (key splits, KV heads, batch) with the
// splits from the run-time key length and batch; partial outputs and LSEs
// go to scratch buffers; a second launch merges them by LSE (max, then the
// weighted sum) and writes the output and the LSE.
// CHECK-LABEL: func.func @split_decode
// CHECK:         arith.constant 264 : index
// CHECK:         %[[OP:.*]] = memref.alloc(%{{.*}}, %[[SPLITS:.*]]) : memref<?x2x?x64x64xf32>
// CHECK:         %[[LP:.*]] = memref.alloc(%{{.*}}, %[[SPLITS]]) : memref<?x2x?x64xf32>
// CHECK:         gpu.launch blocks(%[[S:.*]], %[[HK:.*]], %[[B:.*]]) in (%{{.*}} = %[[SPLITS]], %{{.*}} = %c2{{.*}}
// CHECK:           nvvm.mma.sync
// CHECK:           memref.store %{{.*}}, %[[OP]][%[[B]], %[[HK]], %[[S]], %{{.*}}, %{{.*}}] : memref<?x2x?x64x64xf32>
// CHECK:           memref.store %{{.*}}, %[[LP]][%[[B]], %[[HK]], %[[S]], %{{.*}}] : memref<?x2x?x64xf32>
// CHECK:         gpu.launch
// CHECK:           scf.for
// CHECK:             memref.load %[[LP]]
// CHECK:             arith.maximumf
// CHECK:           scf.for
// CHECK:             memref.load %[[OP]]
// CHECK:           memref.store %{{.*}}, %{{.*}} : memref<?x8x1x64xf16>
// CHECK:           memref.store %{{.*}}, %{{.*}} : memref<?x8x1xf32>
// CHECK:         memref.dealloc %[[OP]]
// CHECK:         memref.dealloc %[[LP]]
func.func @split_decode(%q: memref<?x8x1x64xf16>, %k: memref<?x2x?x64xf16>,
                        %v: memref<?x2x?x64xf16>, %o: memref<?x8x1x64xf16>,
                        %lse: memref<?x8x1xf32>) {
  attn.attention causal
      ins(%q, %k, %v : memref<?x8x1x64xf16>, memref<?x2x?x64xf16>, memref<?x2x?x64xf16>)
      outs(%o, %lse : memref<?x8x1x64xf16>, memref<?x8x1xf32>)
  return
}

// -----

// What the tensor-core kernel does not take stays for the SIMT path
// (attn-tile-attention, attn-gpu-map-loops): head dims that are not
// multiples of 16, mixed element types, `rms_norm`, other attn ops.
// CHECK-LABEL: func.func @left_for_simt
// CHECK-NOT: gpu.launch
// CHECK: attn.attention
// CHECK: attn.attention
// CHECK: attn.attention
// CHECK: attn.cumsum
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @left_for_simt(%q: memref<1x2x?x72xf16>, %o: memref<1x2x?x72xf16>,
                         %qf: memref<1x2x?x64xf32>, %kb: memref<1x2x?x64xbf16>,
                         %of: memref<1x2x?x64xf32>, %h: memref<1x2x?x64xf16>,
                         %x: memref<?x8xf32>, %y: memref<?x8xf32>) {
  attn.attention
      ins(%q, %q, %q : memref<1x2x?x72xf16>, memref<1x2x?x72xf16>, memref<1x2x?x72xf16>)
      outs(%o : memref<1x2x?x72xf16>)
  attn.attention
      ins(%qf, %kb, %kb : memref<1x2x?x64xf32>, memref<1x2x?x64xbf16>, memref<1x2x?x64xbf16>)
      outs(%of : memref<1x2x?x64xf32>)
  attn.attention
      ins(%h, %h, %h : memref<1x2x?x64xf16>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>)
      outs(%h : memref<1x2x?x64xf16>)
      rms_norm(1.0e-5)
  attn.cumsum dim(0) ins(%x : memref<?x8xf32>) outs(%y : memref<?x8xf32>)
  return
}
