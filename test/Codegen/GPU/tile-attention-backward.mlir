// RUN: attn-opt %s --attn-gpu-tile-attention-backward --split-input-file | FileCheck %s

// Causal GQA (H = 4, Hkv = 2) on bf16 with a soft cap, D = 64, and the
// LSE's gradient: D per row (dO . O - dLSE), then the dK/dV launch (one CTA
// per 64-key tile, KV head and batch; K, V, Q, dO tiles of 64 x 72 bf16 and
// the rows' LSE and D: 4 * 9216 + 512 bytes), then the dQ launch (one CTA
// per 64-row tile, head and batch: 4 * 9216 bytes).
// CHECK-LABEL: func.func @causal_gqa_bf16
// CHECK:         %[[D:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?xf32>
// CHECK:         gpu.launch
// CHECK:           scf.for {{.*}} = %c0{{.*}} to %c64{{.*}} step %c1{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32)
// CHECK:             math.fma
// CHECK:           arith.subf
// CHECK:           memref.store %{{.*}}, %[[D]]
// CHECK:         %[[NKT:.*]] = arith.ceildivui %{{.*}}, %c64{{.*}}
// CHECK:         gpu.launch blocks(%{{.*}}, %[[HK:.*]], %[[B:.*]]) in ({{.*}} = %[[NKT]], {{.*}} = %c2{{.*}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}}) dynamic_shared_memory_size %c37376_i32{{.*}}
// K and V staged once, with A fragments read per product.
// CHECK:           nvgpu.device_async_copy
// CHECK:           nvgpu.device_async_wait
// CHECK:           gpu.barrier
// The group's heads, then the query tiles from the causal start; dK and dV
// (8 x 4 + 8 x 4 f32) stay in registers across both loops.
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c2{{.*}} step %c1{{.*}} iter_args({{.*}}) -> (f32, f32
// CHECK:             scf.for {{.*}} -> (f32, f32
// CHECK:               scf.if %{{.*}} -> (f32, f32
// CHECK:                 nvgpu.device_async_copy
// The rows' LSE and D into shared memory (threads 0 to 63).
// CHECK:                 memref.store %{{.*}}, %{{.*}}[%c0{{.*}}, %{{.*}}] : memref<2x64xf32, #gpu.address_space<workgroup>>
// CHECK:                 memref.store %{{.*}}, %{{.*}}[%c1{{.*}}, %{{.*}}] : memref<2x64xf32, #gpu.address_space<workgroup>>
// CHECK:                 gpu.barrier
// S^T = K Q^T, dP^T = V dO^T.
// CHECK:                 nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK:                 nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false}
// CHECK:                 nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>
// Partial tiles evaluate the causal mask; the score and its derivative.
// CHECK:                 scf.if %{{.*}} -> (i1, i1
// CHECK:                   arith.cmpi sle
// CHECK:                 math.tanh
// CHECK:                 math.exp2
// CHECK:                 math.tanh
// dV += P^T dO and dK += dR^T Q.
// CHECK:                 arith.truncf %{{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK:                 nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = true}
// CHECK:                 nvvm.mma.sync
// CHECK:                 gpu.barrier
// dK scaled, for keys before the end.
// CHECK:           scf.if
// CHECK:             arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[B]], %[[HK]], %{{.*}}, %{{.*}}] : memref<?x2x?x64xf32>
// CHECK:           memref.store %{{.*}}, %{{.*}}[%[[B]], %[[HK]], %{{.*}}, %{{.*}}] : memref<?x2x?x64xf32>
// CHECK:         gpu.launch blocks(%{{.*}}, %[[H:.*]], %[[BQ:.*]]) in ({{.*}}, {{.*}} = %c4{{.*}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}}) dynamic_shared_memory_size %c36864_i32{{.*}}
// CHECK:           scf.for {{.*}} -> (f32, f32
// CHECK:             nvvm.mma.sync
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = true}
// CHECK:           memref.store %{{.*}}, %{{.*}}[%[[BQ]], %[[H]], %{{.*}}, %{{.*}}] : memref<?x4x?x64xf32>
// CHECK:         memref.dealloc %[[D]]
// CHECK-NOT:     attn.attention_backward
func.func @causal_gqa_bf16(%q: memref<?x4x?x64xbf16>, %k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x64xbf16>,
                           %o: memref<?x4x?x64xbf16>, %lse: memref<?x4x?xf32>, %do: memref<?x4x?x64xbf16>,
                           %dlse: memref<?x4x?xf32>,
                           %dq: memref<?x4x?x64xf32>, %dk: memref<?x2x?x64xf32>, %dv: memref<?x2x?x64xf32>) {
  attn.attention_backward causal scale(0.125)
      ins(%q, %k, %v : memref<?x4x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>)
      saved(%o : memref<?x4x?x64xbf16>) lse(%lse : memref<?x4x?xf32>)
      grads(%do : memref<?x4x?x64xbf16>) grad_lse(%dlse : memref<?x4x?xf32>)
      outs(%dq, %dk, %dv : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        attn.yield %t : f32
      }
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        %t = math.tanh %s : f32
        %one = arith.constant 1.0 : f32
        %t2 = arith.mulf %t, %t : f32
        %d = arith.subf %one, %t2 : f32
        %r = arith.mulf %g, %d : f32
        attn.yield %r : f32
      }
  return
}

// -----

// Sigmoid attention on f16 with a captured per-head bias: no D (and no
// LSE), dS = dP P (1 - P); the tensor-core kernels drop score_grad's
// accumulation, which the capture nest after them does (zeroed, then one
// accumulation per visible pair, in parallel over the heads it is indexed
// by).
// CHECK-LABEL: func.func @sigmoid_capture_f16
// CHECK-NOT:     memref.alloc
// CHECK:         gpu.launch
// CHECK:           arith.divf %{{.*}}, %{{.*}} fastmath<afn> : f32
// CHECK-NOT:       attn.grad_accumulate
// CHECK:         gpu.launch
// CHECK-NOT:       attn.grad_accumulate
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : memref<8xf32>)
// CHECK:         scf.forall
// CHECK:           memref.load %{{.*}} : memref<8xf32>
// CHECK:           arith.addf
// CHECK:           memref.store %{{.*}} : memref<8xf32>
// CHECK-NOT:     attn.attention_backward
func.func @sigmoid_capture_f16(%q: memref<?x8x?x32xf16>, %k: memref<?x8x?x32xf16>, %v: memref<?x8x?x32xf16>,
                               %bias: memref<8xf32>, %o: memref<?x8x?x32xf16>, %do: memref<?x8x?x32xf16>,
                               %dq: memref<?x8x?x32xf32>, %dk: memref<?x8x?x32xf32>, %dv: memref<?x8x?x32xf32>,
                               %dbias: memref<8xf32>) {
  attn.attention_backward scale(0.176) normalizer(sigmoid)
      ins(%q, %k, %v : memref<?x8x?x32xf16>, memref<?x8x?x32xf16>, memref<?x8x?x32xf16>)
      saved(%o : memref<?x8x?x32xf16>)
      grads(%do : memref<?x8x?x32xf16>)
      outs(%dq, %dk, %dv, %dbias : memref<?x8x?x32xf32>, memref<?x8x?x32xf32>, memref<?x8x?x32xf32>, memref<8xf32>)
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = memref.load %bias[%h] : memref<8xf32>
        %r = arith.addf %s, %c : f32
        attn.yield %r : f32
      }
      score_grad {
      ^bb0(%s: f32, %g: f32, %b: index, %h: index, %i: index, %j: index):
        attn.grad_accumulate %g, capture(0) [%h] : f32
        attn.yield %g : f32
      }
  return
}

// -----

// A head dim that is not a multiple of 16 stays for the SIMT nests.
// CHECK-LABEL: func.func @negative_head_dim_24
// CHECK-NOT:     gpu.launch
// CHECK:         attn.attention_backward
func.func @negative_head_dim_24(%q: memref<?x2x?x24xf16>, %o: memref<?x2x?x24xf16>, %lse: memref<?x2x?xf32>,
                                %dq: memref<?x2x?x24xf32>) {
  attn.attention_backward scale(0.2)
      ins(%q, %q, %q : memref<?x2x?x24xf16>, memref<?x2x?x24xf16>, memref<?x2x?x24xf16>)
      saved(%o : memref<?x2x?x24xf16>) lse(%lse : memref<?x2x?xf32>)
      grads(%o : memref<?x2x?x24xf16>)
      outs(%dq, %dq, %dq : memref<?x2x?x24xf32>, memref<?x2x?x24xf32>, memref<?x2x?x24xf32>)
  return
}
