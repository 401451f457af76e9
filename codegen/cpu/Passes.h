//===- Passes.h - attn CPU backend passes and pipeline ----------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_CPU_PASSES_H
#define ATTN_CODEGEN_CPU_PASSES_H

#include "passes/Passes.h"

#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace func {
class FuncOp;
} // namespace func
namespace attn {

#define GEN_PASS_DECL
#include "codegen/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/cpu/Passes.h.inc"

/// Options of attn-cpu-pipeline. The defaults are those of AVX-512.
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::desc("f32 lanes per vector (4/8/16)"),
                              llvm::cl::init(16)};
  Option<int64_t> qTile{*this, "q-tile",
                        llvm::cl::desc("Query rows per tile (0: 4 vectors)"),
                        llvm::cl::init(0)};
  Option<int64_t> kvTile{*this, "kv-tile", llvm::cl::desc("Keys per tile"),
                         llvm::cl::init(64)};
  Option<int64_t> stripRows{
      *this, "strip-rows",
      llvm::cl::desc("Rows per strip of a partially visible tile (0: whole "
                     "tiles; -1: 2 vectors)"),
      llvm::cl::init(-1)};
  Option<int64_t> decodeSplitKeys{
      *this, "decode-split-keys",
      llvm::cl::desc("Keys per split of the split-KV decode form (0: off)"),
      llvm::cl::init(512)};
  Option<int64_t> scanChunk{
      *this, "scan-chunk",
      llvm::cl::desc("Steps per chunk of attn.scan (0: recurrent form)"),
      llvm::cl::init(kDefaultScanChunk)};
  Option<bool> bf16Dot{
      *this, "bf16-dot",
      llvm::cl::desc("Use AVX512-BF16 dot products for bf16 Q K^T"),
      llvm::cl::init(false)};
  Option<std::string> symbolPrefix{
      *this, "symbol-prefix", llvm::cl::desc("Prefix of the public C symbols"),
      llvm::cl::init("attn_")};
};

/// The target-independent front of every pipeline: side outputs expanded into
/// attention ops (column scores and row entropy left to attn-tile-attention's
/// fused forms with `fuseSideOutputs`, the CPU), elementwise fusion, the C ABI
/// of public functions, and one-shot bufferization with outputs written in
/// place into the caller's buffers.
void buildBufferizedFrontEnd(OpPassManager &pm, bool fuseSideOutputs = false);

/// The whole CPU lowering, from attn on tensors to the LLVM dialect with C
/// entry points. attn-compile, attn-run and the lit tests run exactly this.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// The CPU pipeline from parallel loops over buffers (no attn op left) to
/// the LLVM dialect: scf.forall to the runtime's thread pool, math
/// approximations, LLVM lowering and the C entry points.
void buildCPUBackEnd(OpPassManager &pm, const CPUPipelineOptions &options);

/// Registers `attn-cpu-pipeline`.
void registerCPUPipeline();

} // namespace attn
} // namespace mlir

#endif // ATTN_CODEGEN_CPU_PASSES_H
