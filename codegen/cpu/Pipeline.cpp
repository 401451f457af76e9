//===- Pipeline.cpp - attn-cpu-pipeline -------------------------*- C++ -*-===//
//
// Part of the attn project.
//
// The whole CPU lowering as one readable list of passes. attn-compile and
// attn-run build exactly this pipeline; lit tests run it by name.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"
#include "passes/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildBufferizedFrontEnd(OpPassManager &pm,
                                         bool fuseSideOutputs) {
  // Tensor level: side outputs as attention ops (column scores left to the
  // tiled loop where the backend fuses them), fuse, then give public
  // functions the C ABI.
  // Rotary embeddings as explicit ops first (paged ones once the table's
  // checks are recorded, below).
  pm.addNestedPass<func::FuncOp>(createAttnMaterializeRopePass(
      {/*skipPaged=*/true, /*keepFused=*/fuseSideOutputs}));
  pm.addNestedPass<func::FuncOp>(
      createAttnExpandSideOutputsPass({fuseSideOutputs, fuseSideOutputs}));
  pm.addNestedPass<func::FuncOp>(createAttnFuseElementwisePass());
  pm.addNestedPass<func::FuncOp>(createAttnDecomposeMergePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createAttnExportFunctionsPass());
  // Paged caches the tiler does not read through their tables (on the CPU,
  // those it does stay) become dense, once the signature has recorded the
  // checks of the tables' entries.
  // Quantized caches likewise: attn.quantize_kv as generics, and the
  // caches the tiler does not dequantize as it stages tiles (on the CPU:
  // none; elsewhere: all) dequantized into tensors.
  pm.addNestedPass<func::FuncOp>(createAttnLowerQuantizeKVPass());
  pm.addNestedPass<func::FuncOp>(
      createAttnMaterializeKVQuantPass({/*keepFused=*/fuseSideOutputs}));
  pm.addNestedPass<func::FuncOp>(createAttnMaterializeRopePass(
      {/*skipPaged=*/false, /*keepFused=*/fuseSideOutputs}));
  pm.addNestedPass<func::FuncOp>(
      createAttnMaterializePagesPass({/*keepFused=*/fuseSideOutputs}));

  // Bufferize: outputs are written in place into the caller's buffers.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  // Loops over tensors (scf.for with tensor iter_args: hierarchical
  // selection, multi-step programs) may yield new buffers each iteration.
  bufferize.allowReturnAllocsFromLoops = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  bufferize.unknownTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
}

void mlir::attn::buildCPUPipeline(OpPassManager &pm,
                                  const CPUPipelineOptions &options) {
  int64_t qTile = options.qTile ? options.qTile : 4 * options.vectorWidth;

  buildBufferizedFrontEnd(pm, /*fuseSideOutputs=*/true);
  pm.addNestedPass<func::FuncOp>(createAttnLowerCopiesPass());

  // Scans, pooling, routers and experts to loops; tile into the online-softmax form, then emit the
  // micro-kernels.
  pm.addNestedPass<func::FuncOp>(createAttnLowerCumsumPass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerAppendKVPass());
  pm.addNestedPass<func::FuncOp>(
      createAttnLowerAttentionBackwardPass(
          {options.vectorWidth, /*tiled=*/true}));
  pm.addNestedPass<func::FuncOp>(
      createAttnLowerScanPass({options.scanChunk}));
  pm.addNestedPass<func::FuncOp>(createAttnLowerPoolPass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerEvictPass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerRoutePass());
  pm.addNestedPass<func::FuncOp>(createAttnLowerExpertsPass());
  pm.addNestedPass<func::FuncOp>(
      createAttnTileAttentionPass(
          {qTile, /*blockQTile=*/options.vectorWidth, options.kvTile,
           options.decodeSplitKeys,
           options.stripRows >= 0 ? options.stripRows
                                  : 2 * options.vectorWidth}));
  // The split-KV decode's merge, on buffers.
  pm.addNestedPass<func::FuncOp>(createAttnDecomposeMergePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(
      createConvertAttnToVectorPass({options.vectorWidth, options.bf16Dot}));
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // Heap buffers only appear for unfused intermediate tensors; free them.
  // (Runs once no attn op with regions is left.)
  bufferization::buildBufferDeallocationPipeline(pm);
  buildCPUBackEnd(pm, options);
}

void mlir::attn::buildCPUBackEnd(OpPassManager &pm,
                                 const CPUPipelineOptions &options) {
  pm.addNestedPass<func::FuncOp>(createAttnCPUParallelizePass());
  pm.addNestedPass<func::FuncOp>(
      createAttnCPUExpandMathPass({/*expandBf16=*/!options.bf16Dot}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // To the LLVM dialect.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.x86Vector = options.bf16Dot;
  // attn.scan's chunks transpose keys in 16x16 register tiles.
  vectorToLLVM.vectorTransposeLowering =
      vector::VectorTransposeLowering::Shuffle16x16;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  // Heap buffers come from libattnrt (cached across calls; see
  // attn/runtime.h), not straight from malloc.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());

  // Runtime interface: thread pool and DLPack entry points.
  pm.addPass(createAttnCPUOutlineParallelPass());
  pm.addPass(createAttnCPUEmitEntryPointsPass({options.symbolPrefix}));
  pm.addPass(createCanonicalizerPass());
}

void mlir::attn::registerCPUPipeline() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "attn-cpu-pipeline",
      "Lower attn programs to LLVM dialect CPU kernels with C entry points",
      buildCPUPipeline);
}
