//===- Passes.td - attn NVPTX backend passes ----------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_GPU_PASSES_TD
#define ATTN_CODEGEN_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnGPUTileAttentionPass
    : Pass<"attn-gpu-tile-attention", "func::FuncOp"> {
  let summary = "Lower memref attn.attention to a FlashAttention-2 gpu.launch";
  let description = [{
    Replaces every `attn.attention` on memrefs with a `gpu.launch` of one
    CTA per (64-row query tile, query head, batch) and 128 threads (4 warps
    of 16 query rows). The kernel body:
    * stages the query tile, then each 64-key K and V tile, in shared
      memory with asynchronous copies (`nvgpu.device_async_copy`, i.e.
      `cp.async`, zero-filled past the sequence end; f32 operands are
      loaded, rounded to f16 and stored instead), rows padded by 16 bytes so
      that `ldmatrix` is free of bank conflicts; V is copied while Q K^T of
      the tile runs;
    * computes `S = Q K^T` and `O += P V` on tensor cores: `ldmatrix`
      (`.trans` for V) into the m16n8k16 fragment layout and `nvvm.mma.sync`
      with f16/bf16 multiplicands and f32 accumulators (bf16 inputs use bf16,
      f16 and f32 inputs f16);
    * keeps the online-softmax state (row maxima, row sums, the output
      accumulators) in registers; the four threads of a row combine their
      maxima with `gpu.shuffle xor`;
    * inlines the `score` region on every logit, and classifies each key
      tile with the same mask analysis as the CPU tiling: tiles the mask
      hides from the whole query tile are skipped, tiles it shows entirely
      run without evaluating the mask, the others evaluate `mask` per
      element (with the causal bound and the sequence end);
    * finalizes with the `sink` logit, the row sums (or none for
      `normalizer(sigmoid)`), the `epilogue` region and the optional LSE.
    The grid is computed from the run-time shapes. Head dims must be
    multiples of 16 up to 256; `second`, `rms_norm` and `blocks` are not
    supported on this target yet (a clear error).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnGPUTileAttentionBackwardPass
    : Pass<"attn-gpu-tile-attention-backward", "func::FuncOp"> {
  let summary = "Lower memref attn.attention_backward to FlashAttention-2 "
                "backward launches on tensor cores";
  let description = [{
    Replaces every `attn.attention_backward` on memrefs whose query, key and
    value share an f32, f16 or bf16 element type and whose head dims are
    multiples of 16 up to 256 (others are left to
    `attn-lower-attention-backward`'s SIMT nests) with:
    * a launch computing `D = rowsum(dO * O) - dLSE` per row (softmax only);
    * a dK/dV launch of one CTA per (64-key tile, KV head, batch) and 128
      threads (4 warps of 16 keys): K and V stay in shared memory; for each
      head of the GQA group and each 64-row query tile that can see a key of
      the tile (the causal start, then the forward's mask classification:
      hidden tiles skipped, fully visible ones without mask evaluation), Q,
      dO and the rows' LSE and D are staged (`cp.async`), `S^T = K Q^T` and
      `dP^T = V dO^T` run on tensor cores (`ldmatrix`, `mma.sync.m16n8k16`),
      `P^T` is recomputed from the LSE through the `score` region, `dS^T =
      P^T (dP^T - D)` goes through `score_grad`, and `dV += P^T dO`,
      `dK += dR^T Q` accumulate in f32 registers across the whole group (the
      GQA reduction, without atomics);
    * a dQ launch of one CTA per (64-row query tile, query head, batch):
      Q and dO stay in shared memory, each visible 64-key tile is staged,
      and `dQ += dR K` accumulates in registers;
    * `attn-lower-attention-backward`'s nest for the gradients of tensors
      the regions read (`attn.grad_accumulate` in `score_grad` and
      `sink_grad`), which the SIMT lowering maps to threads.
    Every gradient element is written by one CTA in a fixed order, so two
    runs give bit-identical results. Multiplicands are f16 (bf16 for bf16
    inputs; f32 inputs are rounded to f16 as in the forward kernel), and P
    and dR are rounded to them before their products; accumulators and the
    f32 gradients are exact f32 sums. Sigmoid attention (`normalizer(sigmoid)`)
    takes `dS = dP P (1 - P)` and no D.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnGPUExpandMathPass : Pass<"attn-gpu-expand-math"> {
  let summary = "Lower math ops in GPU kernels to PTX approximations";
  let description = [{
    Rewrites `math` ops on f32 inside GPU kernels so that no libdevice
    function is needed (kernels are compiled without the CUDA toolkit):
    `exp2`/`exp` become `ex2.approx.ftz.f32`, `log2`/`log` become
    `lg2.approx.ftz.f32`, `sqrt` becomes `sqrt.rn.f32`, `rsqrt` becomes
    `rsqrt.approx.ftz.f32`, `floor`/`ceil`/`trunc`/`roundeven` the `cvt`
    roundings, `absf`/`copysign`/`fma` integer and float arithmetic, and the
    others (`tanh`, `erf`, `log1p`, ...) MLIR's polynomial approximations,
    built from arithmetic and the above (applied to a fixpoint, so the
    approximations' own helpers are lowered too). Math ops on 1-D vectors
    (the SIMT kernels' 4-wide tiles) are unrolled to one scalar op per lane
    first.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnGPUMergeModulesPass : Pass<"attn-gpu-merge-modules", "ModuleOp"> {
  let summary = "Put every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` creates one `gpu.module` per launch. This pass
    moves every kernel into a single `gpu.module @attn_kernels` and updates
    the `gpu.launch_func` ops, so that a program becomes one PTX module
    (one `--emit=ptx` file, one module load at run time).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def AttnGPUExternDynamicSharedPass
    : Pass<"attn-gpu-extern-dynamic-shared", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Declare dynamic shared memory as the PTX .extern array";
  let description = [{
    `convert-gpu-to-nvvm` lowers `gpu.dynamic_shared_memory` to an internal
    zero-sized global in address space 3, which the NVPTX backend demotes to
    a one-byte static `.shared` variable: the kernel would then address the
    dynamic window through a static variable. This pass makes those globals
    external, which the backend prints as
    `.extern .shared .align 16 .b8 name[];`, the PTX form of dynamic shared
    memory (CUDA's `extern __shared__`).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def AttnGPUMapLoopsPass : Pass<"attn-gpu-map-loops", "func::FuncOp"> {
  let summary = "Run the target-independent loop lowerings on GPU threads";
  let description = [{
    Everything except tensor-core attention reaches the GPU through the
    same lowerings as the CPU (`attn-lower-route`, `attn-lower-experts`,
    `attn-lower-pool`, `attn-lower-evict`, `attn-lower-cumsum`, `attn-tile-attention` with
    `convert-attn-to-vector`, `convert-linalg-to-parallel-loops`): their
    parallel loops become SIMT kernels here, and the host keeps only shape
    arithmetic, allocation and launches.
    * Each outermost `scf.forall` or `scf.parallel` becomes a `gpu.launch`
      with one thread per iteration of the collapsed iteration space
      (`block-size` threads per block, the grid computed from the run-time
      trip counts, the last block guarded); nested parallel loops run
      sequentially in their thread.
    * Host operations that read or write buffer contents outside such loops
      (a sequential scan, a capacity counter) are gathered, in order, into
      single-thread launches.
    * Scalars that a kernel needs and the host read from a buffer are
      recomputed inside the kernel (the loads and the pure operations
      leading to them are cloned in).
    * `memref.alloc`/`memref.dealloc` of the host become `gpu.alloc` and
      `gpu.dealloc`: intermediate buffers live in device memory.
    A value read from device memory that the host itself needs (a loop
    bound around a launch, say) is refused with its location.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "128",
           "Threads per block of the generated launches">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnGPUEmulateLaunchesPass
    : Pass<"attn-gpu-emulate-launches", "func::FuncOp"> {
  let summary = "Run SIMT launches as CPU loops (testing without a GPU)";
  let description = [{
    Rewrites the launches that `attn-gpu-map-loops` produces into an
    `scf.forall` over the blocks whose body loops over the threads, and the
    device allocations into `memref.alloc`/`memref.dealloc` (the `gpu.wait`
    ops disappear). With the CPU pipeline's tail, this compiles the NVPTX
    pipeline's SIMT kernels (everything but the tensor-core attention) for
    the host: `attn-run --backend=simt-emulation` checks their numerics on
    machines without a GPU. Launches that use anything but the x block and
    thread ids and block size (shuffles, barriers, shared memory, NVVM
    intrinsics) are refused.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnGPUEmulateThreadsPass
    : Pass<"attn-gpu-emulate-threads", "ModuleOp"> {
  let summary = "Run every GPU launch on the host's GPU emulator";
  let description = [{
    Turns each `gpu.launch` that the NVPTX pipeline's GPU-specific passes
    produced (the tensor-core attention kernel as well as the SIMT kernels)
    into a private host function `@<func>_kernel<N>(!llvm.ptr)` and a call
    of libattnrt's `attnemu_launch`, which runs every thread of a block on
    its own fiber (see runtime/include/attn/gpu_emulation.h). In the kernel:
    * captured values arrive in a struct on the host's stack (memrefs as
      their descriptors);
    * thread, block, grid and block-size ids come from `attnemu_id`;
    * `gpu.barrier`, `gpu.shuffle`, `nvgpu.device_async_copy` /
      `device_async_create_group` / `device_async_wait` (cp.async and its
      groups), `nvgpu.ldmatrix` and `nvvm.mma.sync` (m16n8k16, f16/bf16
      multiplicands, f32 accumulators) become calls whose semantics the
      runtime implements from the PTX ISA manual (runtime/src/ptx_warp.c),
      not from the kernel generator's layout code;
    * dynamic shared memory and workgroup attributions are views of the
      emulator's per-block buffer; every load and store of it is reported
      to the runtime (bounds, and the race check);
    * every `memref.load`/`store` and `vector.load`/`store` of global memory
      is bounds-checked against its memref and reports the indices and
      shape through `attnemu_global_oob` instead of running.
    Device allocations become host allocations. GPU operations without a
    host semantics here are refused with their location.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // ATTN_CODEGEN_GPU_PASSES_TD
