//===- Compiler.cpp - shared driver logic of the attn tools -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "tools/Compiler.h"

#include "codegen/cpu/Passes.h"
#include "dialect/AttnOps.h"
#include "codegen/gpu/Passes.h"
#include "codegen/halide/AOT.h"
#include "passes/Passes.h"
#include "tools/Registration.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
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
    if (dir != "in" && dir != "out" && dir != "io")
      continue; // a bound (ge:...), checked by the runtime
    auto [dtype, dims] = rest.split(':');
    AbiArg arg;
    arg.isOutput = dir == "out";
    arg.isInOut = dir == "io";
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

std::vector<std::pair<unsigned, unsigned>>
mlir::attn::parseAliases(llvm::StringRef signature) {
  std::vector<std::pair<unsigned, unsigned>> aliases;
  llvm::SmallVector<llvm::StringRef> fields;
  signature.split(fields, ';', -1, false);
  for (llvm::StringRef field : fields) {
    if (!field.consume_front("alias:"))
      continue;
    auto [r, a] = field.split(':');
    unsigned result = 0, arg = 0;
    if (!r.getAsInteger(10, result) && !a.getAsInteger(10, arg))
      aliases.emplace_back(result, arg);
  }
  return aliases;
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

SourceModule::SourceModule(std::unique_ptr<llvm::MemoryBuffer> source,
                           llvm::raw_ostream &os)
    : registry(makeRegistry()), ctx(registry),
      diagHandler(sourceMgr, &ctx, os) {
  ctx.printOpOnDiagnostic(false);
  ctx.loadAllAvailableDialects();
  sourceMgr.AddNewSourceBuffer(std::move(source), llvm::SMLoc());
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
    f.aliases = parseAliases(f.signature);
    if (auto roles = fn->getAttrOfType<ArrayAttr>("attn.arg_roles"))
      for (Attribute r : roles)
        if (auto s = dyn_cast<StringAttr>(r))
          f.roles.push_back(s.getValue().str());
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

static constexpr llvm::StringLiteral kTuningAttr = "attn.cpu_tuning";

void CPUTuning::override(const CPUTuning &other) {
  for (auto [mine, theirs] :
       {std::pair{&qTile, &other.qTile}, {&kvTile, &other.kvTile},
        {&decodeSplitKeys, &other.decodeSplitKeys},
        {&scanChunk, &other.scanChunk}, {&stripRows, &other.stripRows}})
    if (*theirs)
      *mine = *theirs;
}

/// The entry of `tuning` named `key` (with '_' or '-'), or null.
static std::optional<int64_t> *tuningEntry(CPUTuning &tuning,
                                           llvm::StringRef key) {
  std::string k = key.str();
  std::replace(k.begin(), k.end(), '-', '_');
  if (k == "q_tile")
    return &tuning.qTile;
  if (k == "kv_tile")
    return &tuning.kvTile;
  if (k == "decode_split_keys")
    return &tuning.decodeSplitKeys;
  if (k == "scan_chunk")
    return &tuning.scanChunk;
  if (k == "strip_rows")
    return &tuning.stripRows;
  return nullptr;
}

static constexpr llvm::StringLiteral kTuningKeys =
    "q_tile, kv_tile, decode_split_keys, scan_chunk, strip_rows";

llvm::Expected<CPUTuning> CPUTuning::parse(llvm::StringRef text,
                                           std::optional<int64_t> scanChunk,
                                           std::optional<int64_t> kvTile) {
  llvm::Expected<CPUTuning> t = parse(text);
  if (!t)
    return t.takeError();
  if (scanChunk)
    t->scanChunk = scanChunk;
  if (kvTile)
    t->kvTile = kvTile;
  return t;
}

llvm::Expected<CPUTuning> CPUTuning::parse(llvm::StringRef text) {
  CPUTuning tuning;
  llvm::SmallVector<llvm::StringRef> items;
  text.split(items, ',', -1, false);
  for (llvm::StringRef item : items) {
    auto [key, value] = item.trim().split('=');
    std::optional<int64_t> *entry = tuningEntry(tuning, key.trim());
    if (!entry)
      return llvm::createStringError(
          "unknown tuning entry '%s' (expected %s)", key.str().c_str(),
          kTuningKeys.data());
    int64_t v;
    if (value.trim().getAsInteger(10, v))
      return llvm::createStringError("tuning entry '%s' needs an integer, got '%s'",
                                     key.str().c_str(), value.str().c_str());
    *entry = v;
  }
  return tuning;
}

FailureOr<CPUTuning> CPUTuning::fromModule(ModuleOp module) {
  CPUTuning tuning;
  Attribute attr = module->getAttr(kTuningAttr);
  if (!attr)
    return tuning;
  auto dict = dyn_cast<DictionaryAttr>(attr);
  if (!dict)
    return module.emitError() << kTuningAttr << " must be a dictionary, got "
                              << attr;
  for (NamedAttribute entry : dict) {
    std::optional<int64_t> *slot = tuningEntry(tuning, entry.getName());
    auto value = dyn_cast<IntegerAttr>(entry.getValue());
    if (!slot || !value || !value.getType().isSignlessInteger())
      return module.emitError()
             << kTuningAttr << ": expected integer entries among "
             << kTuningKeys << ", got " << entry.getName().getValue() << " = "
             << entry.getValue();
    *slot = value.getInt();
  }
  return tuning;
}

DictionaryAttr CPUTuning::toAttr(MLIRContext *ctx) const {
  Builder b(ctx);
  SmallVector<NamedAttribute> entries;
  for (auto [name, v] :
       {std::pair{"q_tile", qTile}, {"kv_tile", kvTile},
        {"decode_split_keys", decodeSplitKeys}, {"scan_chunk", scanChunk},
        {"strip_rows", stripRows}})
    if (v)
      entries.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(*v)));
  return b.getDictionaryAttr(entries);
}

LogicalResult
mlir::attn::lowerForCPU(ModuleOp module, const CPUTarget &target,
                        llvm::StringRef prefix,
                        std::vector<ExportedFunction> &functions,
                        const CPUTuning &overrides) {
  FailureOr<CPUTuning> tuning = CPUTuning::fromModule(module);
  if (failed(tuning))
    return failure();
  tuning->override(overrides);
  CPUPipelineOptions options;
  options.vectorWidth = target.vectorWidth;
  // Sizes out of range are the passes' errors, with their ranges.
  if (tuning->qTile)
    options.qTile = *tuning->qTile;
  if (tuning->kvTile)
    options.kvTile = *tuning->kvTile;
  if (tuning->decodeSplitKeys)
    options.decodeSplitKeys = *tuning->decodeSplitKeys;
  if (tuning->scanChunk)
    options.scanChunk = *tuning->scanChunk;
  if (tuning->stripRows)
    options.stripRows = *tuning->stripRows;
  options.bf16Dot = target.bf16Dot;
  options.symbolPrefix = prefix.str();
  return lowerWith(module, prefix, functions,
                   [&](OpPassManager &pm) { buildCPUPipeline(pm, options); });
}

LogicalResult
mlir::attn::lowerForNVPTX(ModuleOp module, const NVPTXTarget &target,
                          llvm::StringRef prefix,
                          std::vector<ExportedFunction> &functions,
                          llvm::StringRef cubinToolkit) {
  NVPTXPipelineOptions options;
  options.cubinToolkit = cubinToolkit.str();
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

LogicalResult
mlir::attn::lowerForGPUEmulation(ModuleOp module, llvm::StringRef prefix,
                                 std::vector<ExportedFunction> &functions) {
  GPUEmulationPipelineOptions options;
  options.symbolPrefix = prefix.str();
  return lowerWith(module, prefix, functions, [&](OpPassManager &pm) {
    buildGPUEmulationPipeline(pm, options);
  });
}

void mlir::attn::buildHalideTensorPasses(OpPassManager &pm) {
  // (attn.quantize_kv stays: the halide backend rejects it with its
  // location.)
  pm.addNestedPass<func::FuncOp>(createAttnMaterializeKVQuantPass());
  pm.addNestedPass<func::FuncOp>(createAttnMaterializeRopePass());
  pm.addNestedPass<func::FuncOp>(createAttnMaterializePagesPass());
  pm.addNestedPass<func::FuncOp>(createAttnExpandSideOutputsPass());
  pm.addNestedPass<func::FuncOp>(createAttnFuseElementwisePass());
  pm.addNestedPass<func::FuncOp>(createAttnDecomposeMergePass());
  pm.addPass(createCanonicalizerPass());
}

LogicalResult
mlir::attn::lowerForHalide(ModuleOp module, llvm::StringRef prefix,
                           std::vector<ExportedFunction> &functions,
                           std::vector<std::string> &bitcode) {
  // Halide takes the fused tensor program; the signatures come from the
  // same attn-export-functions as on the MLIR path.
  OwningOpRef<ModuleOp> fused = module.clone();
  {
    PassManager pm(module.getContext());
    buildHalideTensorPasses(pm);
    if (failed(pm.run(*fused)))
      return failure();
    pm.addPass(createAttnExportFunctionsPass());
    if (failed(pm.run(module)))
      return failure();
  }
  struct Entry {
    std::string name, signature, halideName;
  };
  std::vector<Entry> entries;
  for (auto fn : module.getOps<func::FuncOp>()) {
    auto abi = fn->getAttrOfType<StringAttr>(kAbiAttrName);
    if (!abi)
      continue;
    Entry e{fn.getSymName().str(), abi.getValue().str(),
            // Named after the C symbol (--name), so that objects of the same
            // function under different names link into one program.
            "__attn_halide_" + prefix.str() + sanitizeIdentifier(fn.getSymName())};
    auto source = fused->lookupSymbol<func::FuncOp>(fn.getSymName());
    if (!source)
      return fn.emitOpError("has no fused form for the halide backend");
    FailureOr<std::string> code =
        halide::compileToBitcode(source, e.halideName);
    if (failed(code))
      return failure();
    bitcode.push_back(std::move(*code));
    entries.push_back(std::move(e));
  }
  if (entries.empty())
    return module.emitError("the module has no public function to export");

  // The entry points, in the LLVM dialect:
  //   int <prefix>f(DLTensor *a0, ...) {
  //     DLTensor *args[] = {a0, ...};
  //     return attnrt_halide_invoke(signature, args, n, <halide>_argv);
  //   }
  module.getBody()->clear();
  MLIRContext *ctx = module.getContext();
  Location loc = module.getLoc();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type();
  auto invoke = LLVM::LLVMFuncOp::create(
      b, loc, "attnrt_halide_invoke",
      LLVM::LLVMFunctionType::get(i32, {ptr, ptr, i32, ptr}));
  for (const Entry &e : entries) {
    ExportedFunction f;
    f.name = e.name;
    f.symbol = (prefix + e.name).str();
    f.signature = e.signature;
    f.args = parseSignature(e.signature);
    int32_t n = static_cast<int32_t>(f.args.size());
    b.setInsertionPointToEnd(module.getBody());
    std::string text = e.signature + '\0';
    auto sigType = LLVM::LLVMArrayType::get(b.getI8Type(), text.size());
    auto sig = LLVM::GlobalOp::create(
        b, loc, sigType, /*isConstant=*/true, LLVM::Linkage::External,
        f.symbol + "_signature", b.getStringAttr(text));
    auto argv = LLVM::LLVMFuncOp::create(
        b, loc, e.halideName + "_argv", LLVM::LLVMFunctionType::get(i32, {ptr}));
    auto entry = LLVM::LLVMFuncOp::create(
        b, loc, f.symbol,
        LLVM::LLVMFunctionType::get(i32, SmallVector<Type>(n, ptr)));
    Block *body = entry.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    Value count = LLVM::ConstantOp::create(b, loc, i32, n);
    Value array = LLVM::AllocaOp::create(b, loc, ptr, ptr, count);
    for (int32_t k = 0; k < n; ++k) {
      Value slot = LLVM::GEPOp::create(b, loc, ptr, ptr, array,
                                       ArrayRef<LLVM::GEPArg>{k});
      LLVM::StoreOp::create(b, loc, body->getArgument(k), slot);
    }
    Value sigPtr = LLVM::AddressOfOp::create(b, loc, sig);
    Value fnPtr = LLVM::AddressOfOp::create(b, loc, argv);
    Value r = LLVM::CallOp::create(b, loc, invoke,
                                   ValueRange{sigPtr, array, count, fnPtr})
                  .getResult();
    LLVM::ReturnOp::create(b, loc, r);
    functions.push_back(std::move(f));
  }
  return success();
}

llvm::Error mlir::attn::linkBitcode(llvm::Module &module,
                                    const std::vector<std::string> &bitcode) {
  for (const std::string &code : bitcode) {
    auto parsed = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(code, "halide.bc"), module.getContext());
    if (!parsed)
      return parsed.takeError();
    (*parsed)->setDataLayout(module.getDataLayout());
    (*parsed)->setTargetTriple(module.getTargetTriple());
    if (llvm::Linker::linkModules(module, std::move(*parsed)))
      return llvm::createStringError("cannot link the Halide code");
  }
  return llvm::Error::success();
}

std::string mlir::attn::sanitizeIdentifier(llvm::StringRef name) {
  std::string s;
  for (char c : name)
    s.push_back(llvm::isAlnum(c) ? c : '_');
  if (s.empty() || llvm::isDigit(s[0]))
    s = "_" + s;
  return s;
}

FailureOr<func::FuncOp> mlir::attn::generateGradients(ModuleOp module,
                                                      StringRef combine) {
  PassManager pm(module.getContext());
  AttnGenerateBackwardPassOptions options;
  options.combined = !combine.empty();
  pm.addPass(createAttnGenerateBackwardPass(options));
  if (failed(pm.run(module)))
    return failure();
  if (combine.empty())
    return func::FuncOp();
  auto grad = module.lookupSymbol<func::FuncOp>((combine + "_grad").str());
  if (!grad)
    return module.emitError("no @") << combine << " to differentiate",
           failure();
  return grad;
}
