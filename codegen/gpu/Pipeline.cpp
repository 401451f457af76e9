//===- Pipeline.cpp - attn-nvptx-pipeline -----------------------*- C++ -*-===//
//
// Part of the attn project.
//
// The whole NVPTX lowering as one readable list of passes. attn-compile and
// attn-run build exactly this pipeline; lit tests run it by name.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"
#include "codegen/gpu/Passes.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::attn;

/// f32 lanes of the SIMT path's vectors (each thread owns a query tile of
/// this many rows).
static constexpr int64_t kSimtVectorWidth = 4;

/// Appends an upstream pipeline given as text (pass names and options are
/// those of mlir-opt).
static void addText(OpPassManager &pm, StringRef text) {
  if (failed(parsePassPipeline(text, pm, llvm::errs())))
    llvm::report_fatal_error(llvm::Twine("bad pipeline: ") + text);
}

void mlir::attn::buildSIMTLowerings(OpPassManager &pm, bool tensorCores) {
  pm.addNestedPass<func::FuncOp>(createAttnLowerCopiesPass());

  // Attention that fits the tensor-core kernel becomes FlashAttention-2
  // launches.
  // The derived backward's attention likewise (attn-compile --grad).
  if (tensorCores) {
    pm.addNestedPass<func::FuncOp>(createAttnGPUTileAttentionPass());
    pm.addNestedPass<func::FuncOp>(createAttnGPUTileAttentionBackwardPass());
  }

  // Everything else takes the CPU's target-independent lowerings to
  // parallel loops (scans, pooling, routers, experts, the remaining
  // attention tiled with one thread per query tile and 4-wide vectors,
  // unfused elementwise ops), whose loops become SIMT kernels.
  pm.addNestedPass<func::FuncOp>(createAttnLowerCumsumPass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerAppendKVPass());
  // The rest of the derived backward (attn-compile --grad; without tensor
  // cores, all of it): its loop nests (D per row, dK/dV per KV head, dQ per
  // head, captured gradients) become SIMT kernels.
  pm.addNestedPass<func::FuncOp>(
      createAttnLowerAttentionBackwardPass({kSimtVectorWidth}));
  // Scans in their recurrent form: one thread per (batch, head) keeps its
  // state without the chunkwise form's scratch.
  pm.addNestedPass<func::FuncOp>(createAttnLowerScanPass({/*chunkSize=*/0}));
  pm.addNestedPass<func::FuncOp>(createAttnLowerPoolPass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerEvictPass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerRoutePass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerExpertsPass());
  pm.addNestedPass<func::FuncOp>(createAttnTileAttentionPass(
      {/*qTile=*/kSimtVectorWidth, /*blockQTile=*/kSimtVectorWidth,
       /*kvTile=*/16, /*decodeSplitKeys=*/64}));
  // The split-KV decode's merge, on buffers.
  pm.addNestedPass<func::FuncOp>(createAttnDecomposeMergePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(
      createConvertAttnToVectorPass({kSimtVectorWidth, /*bf16Dot=*/false}));
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createAttnGPUMapLoopsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::attn::buildNVPTXPipeline(OpPassManager &pm,
                                    const NVPTXPipelineOptions &options) {
  // Tensor level and bufferization exactly as for the CPU.
  buildBufferizedFrontEnd(pm);
  buildSIMTLowerings(pm, /*tensorCores=*/true);

  // One gpu.module for all kernels.
  addText(pm, "gpu-kernel-outlining");
  pm.addPass(createAttnGPUMergeModulesPass());
  if (!options.serialize)
    return;

  // Device code to NVVM (the order of upstream's gpu-lower-to-nvvm-pipeline:
  // host functions reach the LLVM dialect before the kernels do).
  addText(pm, "gpu.module(attn-gpu-expand-math)");
  addText(pm, "convert-nvgpu-to-nvvm");
  addText(pm, llvm::formatv("convert-vector-to-scf,convert-scf-to-cf,"
                            "convert-nvvm-to-llvm,convert-func-to-llvm,"
                            "expand-strided-metadata,"
                            "nvvm-attach-target{{chip={0} features={1} O=3},"
                            "lower-affine,convert-arith-to-llvm,"
                            "convert-index-to-llvm,canonicalize,cse",
                            options.chip, options.features)
                  .str());
  // convert-vector-to-llvm after the NVVM conversion: the latter has no
  // pattern for vector.constant_mask (SIMT tiles of narrow value dims).
  addText(pm, "gpu.module(convert-gpu-to-nvvm,convert-vector-to-llvm,"
              "canonicalize,cse,"
              "reconcile-unrealized-casts,attn-gpu-extern-dynamic-shared)");

  // Host code: kernel launches to the mgpu* ABI that libattnrt implements;
  // host loops may hold masked vector ops too (small gradient reductions).
  addText(pm, "convert-vector-to-llvm,"
              "finalize-memref-to-llvm,convert-math-to-llvm,"
              "convert-cf-to-llvm,gpu-to-llvm,canonicalize,cse,"
              "reconcile-unrealized-casts");
  // PTX in-process (the NVPTX backend; no CUDA toolkit), embedded; or, on
  // request, cubins from the toolkit's ptxas (no JIT at load time).
  if (options.cubinToolkit.empty())
    addText(pm, "gpu-module-to-binary{format=isa}");
  else
    addText(pm, llvm::formatv("gpu-module-to-binary{{format=bin toolkit={0}}",
                              options.cubinToolkit.getValue())
                    .str());
  AttnCPUEmitEntryPointsPassOptions entry;
  entry.symbolPrefix = options.symbolPrefix;
  entry.invokeFunction = "attnrt_cuda_invoke";
  pm.addPass(createAttnCPUEmitEntryPointsPass(entry));
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::buildSIMTEmulationPipeline(
    OpPassManager &pm, const SIMTEmulationPipelineOptions &options) {
  buildBufferizedFrontEnd(pm);
  buildSIMTLowerings(pm, /*tensorCores=*/false);
  pm.addNestedPass<func::FuncOp>(createAttnGPUEmulateLaunchesPass());
  CPUPipelineOptions cpu;
  cpu.symbolPrefix = options.symbolPrefix;
  buildCPUBackEnd(pm, cpu);
}

void mlir::attn::buildGPUEmulationPipeline(
    OpPassManager &pm, const GPUEmulationPipelineOptions &options) {
  buildBufferizedFrontEnd(pm);
  buildSIMTLowerings(pm, /*tensorCores=*/true);
  pm.addPass(createAttnGPUEmulateThreadsPass());
  pm.addPass(createCanonicalizerPass());
  CPUPipelineOptions cpu;
  cpu.symbolPrefix = options.symbolPrefix;
  buildCPUBackEnd(pm, cpu);
}

void mlir::attn::registerNVPTXPipeline() {
  PassPipelineRegistration<GPUEmulationPipelineOptions>(
      "attn-gpu-emulation-pipeline",
      "The NVPTX pipeline's launches, tensor-core kernels included, compiled "
      "for the host and run by libattnrt's GPU emulator (one fiber per "
      "thread, PTX warp semantics)",
      buildGPUEmulationPipeline);
  PassPipelineRegistration<SIMTEmulationPipelineOptions>(
      "attn-simt-emulation-pipeline",
      "The NVPTX pipeline's SIMT kernels (all but tensor-core attention) "
      "compiled for the host, launches run as loops (testing without a GPU)",
      buildSIMTEmulationPipeline);
  PassPipelineRegistration<NVPTXPipelineOptions>(
      "attn-nvptx-pipeline",
      "Lower attn programs to NVPTX kernels with host launch code and C "
      "entry points",
      buildNVPTXPipeline);
}
