//===- Target.cpp - CPU targets and object emission -------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Target.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <mutex>

using namespace mlir;
using namespace mlir::attn;

static constexpr llvm::StringLiteral kTriple = "x86_64-unknown-linux-gnu";

llvm::StringRef mlir::attn::getCPUTargetNames() {
  return "x86-64, x86-64-avx2, x86-64-avx512, native";
}

llvm::Expected<CPUTarget> mlir::attn::lookupCPUTarget(llvm::StringRef name) {
  if (name == "x86-64")
    return CPUTarget{name.str(), "x86-64", "", 4};
  if (name == "x86-64-avx2")
    return CPUTarget{name.str(), "x86-64-v3", "", 8};
  if (name == "x86-64-avx512")
    return CPUTarget{name.str(), "x86-64-v4", "", 16};
  if (name == "native") {
    llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
    std::string features;
    for (auto &f : host) {
      if (!features.empty())
        features += ",";
      features += (f.second ? "+" : "-") + f.first().str();
    }
    auto has = [&](llvm::StringRef f) {
      auto it = host.find(f);
      return it != host.end() && it->second;
    };
    int64_t width = has("avx512f") ? 16 : (has("avx2") && has("fma")) ? 8 : 4;
    CPUTarget target{name.str(), llvm::sys::getHostCPUName().str(), features,
                     width};
    target.bf16Dot = width == 16 && has("avx512bf16");
    return target;
  }
  return llvm::createStringError("unknown target '" + name +
                                 "' (expected one of: " +
                                 getCPUTargetNames() + ")");
}

void mlir::attn::initializeNativeTarget() {
  // Once per process: LLVM's target registration is not thread-safe (the
  // Python package compiles from several threads).
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // Inline assembly in linked code (Halide's runtime) needs the parser.
    llvm::InitializeNativeTargetAsmParser();
  });
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
mlir::attn::createTargetMachine(const CPUTarget &target) {
  initializeNativeTarget();
  llvm::Triple triple(kTriple);
  std::string error;
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!t)
    return llvm::createStringError("no LLVM target for " + kTriple + ": " +
                                   error);
  llvm::TargetOptions opts;
  std::unique_ptr<llvm::TargetMachine> tm(t->createTargetMachine(
      triple, target.cpu, target.features, opts, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return llvm::createStringError("could not create a target machine for " +
                                   target.cpu);
  return tm;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
mlir::attn::translateAndOptimize(ModuleOp module, llvm::LLVMContext &ctx,
                                 llvm::TargetMachine &tm,
                                 const CPUTarget &target) {
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, ctx, "attn");
  if (!llvmModule)
    return llvm::createStringError("translation to LLVM IR failed");
  llvmModule->setDataLayout(tm.createDataLayout());
  llvmModule->setTargetTriple(tm.getTargetTriple());
  std::string width = std::to_string(target.vectorWidth * 32);
  for (llvm::Function &f : *llvmModule) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty())
      f.addFnAttr("target-features", target.features);
    // Keep the kernels' explicit 512-bit vectors in zmm registers even on
    // CPUs whose tuning prefers 256-bit vectors.
    f.addFnAttr("prefer-vector-width", width);
    f.addFnAttr("min-legal-vector-width", width);
  }

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder pb(&tm, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm =
      pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(*llvmModule, mam);
  return llvmModule;
}

llvm::Error mlir::attn::emitObject(llvm::Module &module,
                                   llvm::TargetMachine &tm,
                                   llvm::SmallVectorImpl<char> &object) {
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::ObjectFile))
    return llvm::createStringError("the target cannot emit object files");
  pm.run(module);
  return llvm::Error::success();
}
