//===- EmitEntryPoints.cpp - DLPack C entry points ---------------*- C++ -*-===//
//
// Part of the attn project.
//
// For each exported function @f (with an `attn.abi` signature):
//
//   llvm.mlir.global external constant @<prefix>f_signature("...")
//   llvm.func internal @__attn_kernel_f(%descs: !llvm.ptr)   // unpack, call
//   llvm.func @<prefix>f(%t0: !llvm.ptr, ...) -> i32 {        // DLTensor*s
//     return attnrt_invoke(@<prefix>f_signature, [%t0, ...], n, @__attn_kernel_f)
//   }
//
// Everything else becomes internal, so an object exports only these symbols
// (a function named @main never collides with C's main).
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"
#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCPUEMITENTRYPOINTSPASS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

static LLVM::LLVMFuncOp declareInvoke(ModuleOp module, StringRef name) {
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto type = LLVM::LLVMFunctionType::get(
      IntegerType::get(ctx, 32), {ptr, ptr, IntegerType::get(ctx, 32), ptr});
  return LLVM::LLVMFuncOp::create(b, module.getLoc(), name, type);
}

struct EmitEntryPoints
    : attn::impl::AttnCPUEmitEntryPointsPassBase<EmitEntryPoints> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<LLVM::LLVMFuncOp> exported;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (fn->hasAttr(kAbiAttrName) &&
          !fn.getSymName().starts_with("_mlir_ciface_"))
        exported.push_back(fn);
    // Internalize every definition first; the entry points stay external.
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (!fn.isExternal())
        fn.setLinkage(LLVM::Linkage::Internal);

    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i32 = IntegerType::get(ctx, 32);
    for (LLVM::LLVMFuncOp fn : exported) {
      Location loc = fn.getLoc();
      StringRef name = fn.getSymName();
      std::string sig =
          cast<StringAttr>(fn->getAttr(kAbiAttrName)).getValue().str();
      auto ciface = module.lookupSymbol<LLVM::LLVMFuncOp>(
          ("_mlir_ciface_" + name).str());
      if (!ciface) {
        fn.emitOpError("has no C interface; the function needs "
                       "llvm.emit_c_interface");
        return signalPassFailure();
      }
      unsigned numArgs = ciface.getNumArguments();

      OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
      std::string publicName = symbolPrefix + name.str();
      std::string sigName = publicName + "_signature";
      sig.push_back('\0');
      auto sigType = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8),
                                              sig.size());
      LLVM::GlobalOp::create(b, loc, sigType, /*isConstant=*/true,
                             LLVM::Linkage::External, sigName,
                             b.getStringAttr(sig));

      // __attn_kernel_<name>(ptr descs): unpack descriptor pointers, call.
      auto kernelType =
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr});
      auto kernel = LLVM::LLVMFuncOp::create(
          b, loc, ("__attn_kernel_" + name).str(), kernelType,
          LLVM::Linkage::Internal);
      {
        Block *entry = kernel.addEntryBlock(b);
        OpBuilder kb = OpBuilder::atBlockEnd(entry);
        SmallVector<Value> descs;
        for (unsigned k = 0; k < numArgs; ++k) {
          Value addr = LLVM::GEPOp::create(
              kb, loc, ptr, ptr, entry->getArgument(0),
              ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(k)});
          descs.push_back(LLVM::LoadOp::create(kb, loc, ptr, addr));
        }
        LLVM::CallOp::create(kb, loc, ciface, descs);
        LLVM::ReturnOp::create(kb, loc, ValueRange{});
      }

      // <prefix><name>(DLTensor *...) -> i32.
      auto publicType = LLVM::LLVMFunctionType::get(
          i32, SmallVector<Type>(numArgs, ptr));
      auto entryFn = LLVM::LLVMFuncOp::create(b, loc, publicName, publicType,
                                              LLVM::Linkage::External);
      Block *entry = entryFn.addEntryBlock(b);
      OpBuilder eb = OpBuilder::atBlockEnd(entry);
      auto arrayType = LLVM::LLVMArrayType::get(ptr, std::max(numArgs, 1u));
      Value one = LLVM::ConstantOp::create(eb, loc, i32, eb.getI32IntegerAttr(1));
      Value array = LLVM::AllocaOp::create(eb, loc, ptr, arrayType, one);
      for (unsigned k = 0; k < numArgs; ++k) {
        Value addr = LLVM::GEPOp::create(
            eb, loc, ptr, ptr, array,
            ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(k)});
        LLVM::StoreOp::create(eb, loc, entry->getArgument(k), addr);
      }
      Value sigAddr = LLVM::AddressOfOp::create(eb, loc, ptr, sigName);
      Value kernelAddr =
          LLVM::AddressOfOp::create(eb, loc, ptr, kernel.getSymName());
      Value n = LLVM::ConstantOp::create(eb, loc, i32,
                                         eb.getI32IntegerAttr(numArgs));
      auto call = LLVM::CallOp::create(eb, loc, declareInvoke(module, invokeFunction),
                                       ValueRange{sigAddr, array, n, kernelAddr});
      LLVM::ReturnOp::create(eb, loc, call.getResult());
    }
  }
};
} // namespace
