//===- MergeModules.cpp - one gpu.module per program ------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUMERGEMODULESPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

struct MergeModules : attn::impl::AttnGPUMergeModulesPassBase<MergeModules> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.empty())
      return;
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), "attn_kernels");
    SymbolTable mergedTable(merged);
    // Kernel name changes (a clash renames the kernel) per old module.
    DenseMap<StringAttr, DenseMap<StringAttr, StringAttr>> renamed;
    for (gpu::GPUModuleOp old : modules) {
      auto &names = renamed[old.getSymNameAttr()];
      for (Operation &op :
           llvm::make_early_inc_range(old.getBody()->without_terminator())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        StringAttr before = symbol ? symbol.getNameAttr() : StringAttr();
        op.moveBefore(merged.getBody(), merged.getBody()->end());
        if (symbol) {
          StringAttr after = mergedTable.insert(&op);
          names[before] = after;
        }
      }
      old.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr kernel = launch.getKernelName();
      StringAttr after = renamed[launch.getKernelModuleName()].lookup(kernel);
      launch.setKernelAttr(SymbolRefAttr::get(
          merged.getSymNameAttr(),
          {FlatSymbolRefAttr::get(after ? after : kernel)}));
    });
  }
};

} // namespace
