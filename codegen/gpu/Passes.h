//===- Passes.h - attn NVPTX backend passes and pipeline --------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_GPU_PASSES_H
#define ATTN_CODEGEN_GPU_PASSES_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace func {
class FuncOp;
} // namespace func
namespace attn {

#define GEN_PASS_DECL
#include "codegen/gpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/gpu/Passes.h.inc"

/// Options of attn-nvptx-pipeline.
struct NVPTXPipelineOptions
    : public PassPipelineOptions<NVPTXPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("sm_80, sm_90 or sm_90a"),
                           llvm::cl::init("sm_80")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX ISA feature (+ptx80)"),
                               llvm::cl::init("+ptx80")};
  Option<std::string> symbolPrefix{
      *this, "symbol-prefix", llvm::cl::desc("Prefix of the public C symbols"),
      llvm::cl::init("attn_")};
  Option<std::string> cubinToolkit{
      *this, "cubin-toolkit",
      llvm::cl::desc("Embed cubins assembled by this CUDA toolkit's ptxas "
                     "instead of PTX (empty: PTX, JIT-compiled by the driver)"),
      llvm::cl::init("")};
  Option<bool> serialize{
      *this, "serialize",
      llvm::cl::desc("Compile the kernels to PTX and the host code to the "
                     "LLVM dialect (false: stop after the GPU dialect)"),
      llvm::cl::init(true)};
};

/// The whole NVPTX lowering, from attn on tensors to an LLVM-dialect host
/// module with C entry points and the kernels' PTX embedded (gpu.binary).
void buildNVPTXPipeline(OpPassManager &pm, const NVPTXPipelineOptions &options);

/// Options of attn-simt-emulation-pipeline.
struct SIMTEmulationPipelineOptions
    : public PassPipelineOptions<SIMTEmulationPipelineOptions> {
  Option<std::string> symbolPrefix{
      *this, "symbol-prefix", llvm::cl::desc("Prefix of the public C symbols"),
      llvm::cl::init("attn_")};
};

/// The NVPTX pipeline's middle: bufferized attn to gpu.launch ops (the
/// tensor-core attention kernel when `tensorCores`, SIMT kernels from the
/// target-independent loop lowerings for the rest).
void buildSIMTLowerings(OpPassManager &pm, bool tensorCores);

/// buildSIMTLowerings without tensor cores, launches emulated by loops, then
/// the CPU back end: the SIMT kernels' numerics on a host.
void buildSIMTEmulationPipeline(OpPassManager &pm,
                                const SIMTEmulationPipelineOptions &options);

/// Options of attn-gpu-emulation-pipeline.
struct GPUEmulationPipelineOptions
    : public PassPipelineOptions<GPUEmulationPipelineOptions> {
  Option<std::string> symbolPrefix{
      *this, "symbol-prefix", llvm::cl::desc("Prefix of the public C symbols"),
      llvm::cl::init("attn_")};
};

/// buildSIMTLowerings with tensor cores (exactly the launches the NVPTX
/// pipeline outlines into kernels), every launch run by libattnrt's GPU
/// emulator (attn-gpu-emulate-threads), then the CPU back end.
void buildGPUEmulationPipeline(OpPassManager &pm,
                               const GPUEmulationPipelineOptions &options);

/// Rewrites gpu.alloc/gpu.dealloc under `root` into memref.alloc/dealloc and
/// drops the gpu.wait ops (device memory is host memory when emulating).
void lowerDeviceMemoryToHost(Operation *root);

/// Registers `attn-nvptx-pipeline`, `attn-simt-emulation-pipeline` and
/// `attn-gpu-emulation-pipeline`.
void registerNVPTXPipeline();

} // namespace attn
} // namespace mlir

#endif // ATTN_CODEGEN_GPU_PASSES_H
