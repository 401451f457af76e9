//===- Target.cpp - NVPTX targets and PTX extraction ------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Target.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::attn;

llvm::StringRef mlir::attn::getNVPTXChipNames() {
  return "sm_80, sm_86, sm_89, sm_90 or sm_90a";
}

llvm::Expected<NVPTXTarget> mlir::attn::lookupNVPTXTarget(llvm::StringRef chip) {
  // PTX ISA 8.0 (CUDA 12.0 drivers) covers every chip here, sm_90a included.
  bool known = llvm::StringSwitch<bool>(chip)
                   .Cases({"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"}, true)
                   .Default(false);
  if (!known)
    return llvm::createStringError("unknown --chip '" + chip + "' (expected " +
                                   getNVPTXChipNames() + ")");
  return NVPTXTarget{chip.str(), "+ptx80"};
}

llvm::Expected<std::string> mlir::attn::getEmbeddedPTX(ModuleOp module) {
  std::string ptx;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        ptx += object.getObject().getValue().str();
  if (ptx.empty())
    return llvm::createStringError("the module has no GPU kernel");
  // The object is NUL-terminated for the driver; the text is not.
  while (!ptx.empty() && ptx.back() == '\0')
    ptx.pop_back();
  return ptx;
}

void mlir::attn::registerNVPTXDialects(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, nvgpu::NVGPUDialect, NVVM::NVVMDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  registerNVVMDialectTranslation(registry);
}
