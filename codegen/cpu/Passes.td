//===- Passes.td - attn CPU backend passes -----------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_CPU_PASSES_TD
#define ATTN_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertAttnToVectorPass : Pass<"convert-attn-to-vector", "func::FuncOp"> {
  let summary = "Lower attn tile ops to register-blocked vector micro-kernels";
  let description = [{
    Lowers `attn.tile_attend` and `attn.tile_finalize` to `vector` dialect
    code for a CPU with `vector-width` f32 lanes (4 for SSE, 8 for AVX2, 16
    for AVX-512):
    * the query tile is packed once per query tile, transposed to
      `[D, TQ]`, converted to f32 and pre-multiplied by `scale * log2(e)`
      (the packing is hoisted out of the key/value loop);
    * `S^T = K Q^T` is computed with register blocking: `R` keys times
      `TQ / vector-width` vectors of accumulators, one broadcast key element
      and `TQ / vector-width` packed query loads per head-dim step;
    * the score and mask regions are vectorized over the query lanes
      (uniform values stay scalar) and applied in registers; row maxima and
      sums stay in vectors, so the softmax needs no horizontal reductions;
    * exponentials use a vectorized `exp2` polynomial that returns exactly 0
      for masked (-inf) logits;
    * `acc = alpha * acc + P V` is register-blocked over rows and
      `Dv / vector-width` value vectors;
    * `attn.tile_finalize` divides by the row sums, applies the epilogue
      region vectorized over the head dim, converts and stores.
    Scratch buffers are stack allocations placed at the start of the
    enclosing parallel body.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", "16",
           "f32 lanes of the target's vectors (4, 8 or 16)">,
    Option<"bf16Dot", "bf16-dot", "bool", "false",
           "With 16 lanes and bf16 queries and keys, compute Q K^T with "
           "AVX512-BF16 dot products (x86vector.avx512.dot, vdpbf16ps) on "
           "pairs of head-dim elements instead of widening every key element">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::x86vector::X86VectorDialect"];
}

def AttnCPUParallelizePass : Pass<"attn-cpu-parallelize", "func::FuncOp"> {
  let summary = "Turn scf.forall into attn.parallel_for over a linear index";
  let description = [{
    Rewrites each outermost `scf.forall` into an `attn.parallel_for` over the
    product of its bounds; the body delinearizes the index (first dimension
    slowest). Nested `scf.forall` ops become sequential loops.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::attn::AttnDialect",
                           "::mlir::scf::SCFDialect"];
}

def AttnCPUExpandMathPass : Pass<"attn-cpu-expand-math", "func::FuncOp"> {
  let summary = "Replace math ops by vectorizable polynomial approximations";
  let description = [{
    Applies MLIR's polynomial approximations (exp, exp2, log, tanh, erf, ...)
    so that math in score and epilogue regions stays vectorized instead of
    becoming per-lane libm calls. With `expand-bf16` (targets without
    AVX512-BF16), also rewrites bf16 `arith.extf` / `arith.truncf` into
    integer arithmetic (round to nearest even, NaN kept): LLVM would call
    `__truncsfbf2` for a scalar truncation, which Debian 12's libgcc lacks
    and the JIT cannot resolve (the backward's bf16 gradients on AVX2).
  }];
  let options = [
    Option<"expandBf16", "expand-bf16", "bool", "false",
           "Expand bf16 conversions into integer arithmetic">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect"];
}

def AttnCPUOutlineParallelPass : Pass<"attn-cpu-outline-parallel", "ModuleOp"> {
  let summary = "Outline attn.parallel_for bodies into calls of attnrt_parallel_for";
  let description = [{
    Runs after the conversion to the LLVM dialect. Each `attn.parallel_for`
    body becomes an `llvm.func` `void body(ptr ctx, i64 begin, i64 end)` that
    loops over its chunk of iterations; the values it captures are packed
    into a stack struct passed as `ctx`, and the op becomes a call to
    `attnrt_parallel_for(count, body, ctx)`. Constant-size allocas of the
    body are hoisted to the outlined function's entry block, so scratch
    buffers are allocated once per chunk, not per iteration.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def AttnCPUEmitEntryPointsPass
    : Pass<"attn-cpu-emit-entry-points", "ModuleOp"> {
  let summary = "Emit DLPack C entry points for the exported functions";
  let description = [{
    Runs after the conversion to the LLVM dialect. For every function with an
    `attn.abi` signature it emits
    * `__attn_sig_<name>`: the signature string;
    * `__attn_kernel_<name>(ptr descs)`: unpacks an array of memref
      descriptor pointers and calls the function's C interface;
    * `<prefix><name>(DLTensor *...) -> i32`: the public C function, which
      calls `attnrt_invoke` to validate the tensors against the signature,
      build the descriptors and run the kernel.
  }];
  let options = [
    Option<"symbolPrefix", "symbol-prefix", "std::string", "\"attn_\"",
           "Prefix of the public C symbols">,
    Option<"invokeFunction", "invoke", "std::string", "\"attnrt_invoke\"",
           "The libattnrt function the entry points call (attnrt_invoke for "
           "CPU tensors, attnrt_cuda_invoke for CUDA device tensors)">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // ATTN_CODEGEN_CPU_PASSES_TD
