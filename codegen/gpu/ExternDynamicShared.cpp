//===- ExternDynamicShared.cpp - dynamic shared memory as .extern -*- C++ -*-=//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUEXTERNDYNAMICSHAREDPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// NVVM's shared address space.
constexpr unsigned kSharedAddressSpace = 3;

struct ExternDynamicShared
    : attn::impl::AttnGPUExternDynamicSharedPassBase<ExternDynamicShared> {
  void runOnOperation() override {
    getOperation().walk([](LLVM::GlobalOp global) {
      auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
      if (global.getAddrSpace() != kSharedAddressSpace || !array ||
          array.getNumElements() != 0)
        return;
      global.setLinkage(LLVM::Linkage::External);
    });
  }
};

} // namespace
