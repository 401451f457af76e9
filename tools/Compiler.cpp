//===- Compiler.cpp - shared driver logic of the attn tools -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "tools/Compiler.h"

#include "codegen/cpu/Passes.h"
#include "codegen/gpu/Passes.h"
#include "passes/Passes.h"
#include "tools/Registration.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::attn;

std::vector<AbiArg> mlir::attn::parseSignature(llvm::StringRef signature) {
  std::vector<AbiArg> args;
  llvm::SmallVector<llvm::StringRef> fields;
  signature.split(fields, ';', -1, false);
  for (llvm::StringRef field : fields) {
    auto [dir, rest] = field.split(':');
    auto [dtype, dims] = rest.split(':');
    AbiArg arg;
    arg.isOutput = dir == "out";
    arg.dtype = dtype.str();
    llvm::SmallVector<llvm::StringRef> parts;
    dims.split(parts, ',', -1, false);
    for (llvm::StringRef p : parts) {
      int64_t v = 0;
      if (p.consume_front("?")) {
        p.getAsInteger(10, v);
        arg.dims.push_back(-v - 1);
      } else {
        p.getAsInteger(10, v);
        arg.dims.push_back(v);
      }
    }
    args.push_back(std::move(arg));
  }
  return args;
}

std::string mlir::attn::formatDims(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      s += ", ";
    s += dims[i] >= 0 ? std::to_string(dims[i])
                      : "?" + std::to_string(-dims[i] - 1);
  }
  return s + "]";
}

static DialectRegistry makeRegistry() {
  DialectRegistry registry;
  registerAttnDialects(registry);
  return registry;
}

SourceModule::SourceModule(llvm::StringRef path)
    : registry(makeRegistry()), ctx(registry), diagHandler(sourceMgr, &ctx) {
  ctx.printOpOnDiagnostic(false);
  ctx.loadAllAvailableDialects();
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!file) {
    llvm::errs() << "error: cannot open '" << path
                 << "': " << file.getError().message() << "\n";
    return;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  module = parseSourceFile<ModuleOp>(sourceMgr, &ctx);
}

/// The functions the pipeline exported, from their `attn.abi` attributes.
static LogicalResult collectExported(ModuleOp module, llvm::StringRef prefix,
                                     std::vector<ExportedFunction> &functions) {
  for (auto fn : module.getOps<LLVM::LLVMFuncOp>()) {
    auto abi = fn->getAttrOfType<StringAttr>(kAbiAttrName);
    if (!abi || fn.getSymName().starts_with("_mlir_ciface_"))
      continue;
    ExportedFunction f;
    f.name = fn.getSymName().str();
    f.symbol = (prefix + f.name).str();
    f.signature = abi.getValue().str();
    f.args = parseSignature(f.signature);
    functions.push_back(std::move(f));
  }
  if (functions.empty()) {
    module.emitError("the module has no public function to export");
    return failure();
  }
  return success();
}

/// Runs the pipeline `build` adds on `module`, then collects the exports.
static LogicalResult
lowerWith(ModuleOp module, llvm::StringRef prefix,
          std::vector<ExportedFunction> &functions,
          llvm::function_ref<void(OpPassManager &)> build) {
  PassManager pm(module.getContext());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  build(pm);
  if (failed(pm.run(module)))
    return failure();
  return collectExported(module, prefix, functions);
}

LogicalResult
mlir::attn::lowerForCPU(ModuleOp module, const CPUTarget &target,
                        llvm::StringRef prefix,
                        std::vector<ExportedFunction> &functions) {
  CPUPipelineOptions options;
  options.vectorWidth = target.vectorWidth;
  options.bf16Dot = target.bf16Dot;
  options.symbolPrefix = prefix.str();
  return lowerWith(module, prefix, functions,
                   [&](OpPassManager &pm) { buildCPUPipeline(pm, options); });
}

LogicalResult
mlir::attn::lowerForNVPTX(ModuleOp module, const NVPTXTarget &target,
                          llvm::StringRef prefix,
                          std::vector<ExportedFunction> &functions) {
  NVPTXPipelineOptions options;
  options.chip = target.chip;
  options.features = target.features;
  options.symbolPrefix = prefix.str();
  return lowerWith(module, prefix, functions,
                   [&](OpPassManager &pm) { buildNVPTXPipeline(pm, options); });
}

LogicalResult
mlir::attn::lowerForSIMTEmulation(ModuleOp module, llvm::StringRef prefix,
                                  std::vector<ExportedFunction> &functions) {
  SIMTEmulationPipelineOptions options;
  options.symbolPrefix = prefix.str();
  return lowerWith(module, prefix, functions, [&](OpPassManager &pm) {
    buildSIMTEmulationPipeline(pm, options);
  });
}

std::string mlir::attn::sanitizeIdentifier(llvm::StringRef name) {
  std::string s;
  for (char c : name)
    s.push_back(llvm::isAlnum(c) ? c : '_');
  if (s.empty() || llvm::isDigit(s[0]))
    s = "_" + s;
  return s;
}
