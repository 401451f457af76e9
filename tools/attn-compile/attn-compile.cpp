//===- attn-compile.cpp - ahead-of-time compiler for attn -------*- C++ -*-===//
//
// Part of the attn project.
//
// attn-compile in.mlir -o out.o --header out.h [--target=native]
//   [--emit=obj|lib|shared|llvm|mlir] [--name=PREFIX] [--backend=mlir|halide]
// attn-compile in.mlir -o out.o --header out.h --target=nvptx --chip=sm_90
//   [--emit=obj|lib|ptx|llvm|mlir]
//
// Writes an object (or static library) exporting one C function per public
// function of the module, `<name>_<function>(DLTensor *...)`, which links
// against libattnrt; and a header declaring them. For --target=nvptx the
// kernels are compiled to PTX in-process and embedded in the object, whose
// entry points take CUDA device tensors and launch them through the driver
// API that libattnrt loads at run time; --emit=ptx writes the PTX itself.
//
//===----------------------------------------------------------------------===//

#include "tools/Compiler.h"
#include "tools/Registration.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"

#include <fmt/format.h>

#include <cstdlib>

#include <optional>

using namespace mlir;
using namespace mlir::attn;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("attn-compile options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                                      cl::Required, cl::cat(toolOptions));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("file"), cl::Required,
                                       cl::cat(toolOptions));
static cl::opt<std::string> headerFile("header",
                                       cl::desc("Write a C header here"),
                                       cl::value_desc("file"),
                                       cl::cat(toolOptions));
static cl::opt<std::string>
    targetName("target",
               cl::desc("x86-64, x86-64-avx2, x86-64-avx512, native (CPU) "
                        "or nvptx (NVIDIA GPUs, see --chip)"),
               cl::init("native"), cl::cat(toolOptions));
static cl::opt<std::string> backendName(
    "backend",
    cl::desc("Code generator: mlir (default: the MLIR pipelines) or halide "
             "(a Halide 14 pipeline per function, for this machine)"),
    cl::init("mlir"), cl::cat(toolOptions));
static cl::opt<std::string>
    chipName("chip",
             cl::desc("GPU architecture for --target=nvptx: sm_80, sm_86, "
                      "sm_89, sm_90 or sm_90a"),
             cl::init("sm_80"), cl::cat(toolOptions));
static cl::opt<std::string> gpuBinary(
    "gpu-binary",
    cl::desc("--target=nvptx: embed ptx (default; the driver JIT-compiles it "
             "on first use) or cubin (assembled now by the CUDA toolkit's "
             "ptxas, see --cuda-path)"),
    cl::init("ptx"), cl::cat(toolOptions));
static cl::opt<std::string> cudaPath(
    "cuda-path",
    cl::desc("CUDA toolkit for --gpu-binary=cubin (default: $CUDA_HOME, else "
             "/usr/local/cuda)"),
    cl::init(""), cl::cat(toolOptions));
static cl::opt<std::string>
    emitKind("emit",
             cl::desc("obj (default), lib (static archive), shared (a "
                      "shared library with libattnrt linked in, which "
                      "attn.load opens; links with the system's cc), llvm "
                      "(LLVM IR), mlir (LLVM dialect) or ptx (the kernels' "
                      "PTX, --target=nvptx only)"),
             cl::init("obj"), cl::cat(toolOptions));
static cl::opt<std::string>
    symbolName("name",
               cl::desc("Module name: function @f becomes the C symbol "
                        "<name>_f (default: the output file's stem; attn "
                        "for -o -)"),
               cl::value_desc("name"), cl::cat(toolOptions));

static cl::opt<bool> gradients(
    "grad",
    cl::desc("Also export, for every public function @f, its training "
             "forward @f_train (results, then each attention's output and "
             "log-sum-exp) and its backward @f_backward (inputs, saved "
             "state, one gradient per float result -> one gradient per float "
             "input); docs/training.md"),
    cl::init(false), cl::cat(toolOptions));

static cl::opt<std::string> tune(
    "tune",
    cl::desc("CPU tile sizes over the module's attn.cpu_tuning: "
             "q_tile=N,kv_tile=N,decode_split_keys=N,scan_chunk=N,strip_rows=N (any of them)"),
    cl::value_desc("entries"), cl::cat(toolOptions));

static cl::opt<int64_t> scanChunk(
    "scan-chunk",
    cl::desc("Steps per chunk of attn.scan on the CPU: 0 for the recurrent "
             "form, at most 16, or a multiple of 16"),
    cl::init(kDefaultScanChunk), cl::cat(toolOptions));

/// --tune with --scan-chunk folded in.
static llvm::Expected<CPUTuning> tuningOverrides() {
  return CPUTuning::parse(
      tune,
      scanChunk.getNumOccurrences() ? std::optional<int64_t>(scanChunk)
                                    : std::nullopt,
      std::nullopt);
}

static std::string cType(const AbiArg &arg) {
  return arg.isOutput || arg.isInOut ? "DLTensor *" : "const DLTensor *";
}

static std::string makeHeader(llvm::StringRef guard,
                              const std::vector<ExportedFunction> &functions,
                              bool cuda) {
  std::string h = fmt::format(
      "/* Generated by attn-compile from {}. Do not edit. */\n"
      "#ifndef {}\n#define {}\n\n#include <attn/runtime.h>\n"
      "#include <dlpack/dlpack.h>\n\n#ifdef __cplusplus\nextern \"C\" {{\n"
      "#endif\n",
      llvm::sys::path::filename(inputFile).str(), guard.str(), guard.str());
  for (const ExportedFunction &f : functions) {
    h += fmt::format("\n/* {}: attention kernel compiled from @{}.\n", f.symbol,
                     f.name);
    int in = 0, out = 0;
    std::vector<std::string> params;
    for (const AbiArg &a : f.args) {
      std::string pname =
          a.isOutput ? fmt::format("out{}", out++) : fmt::format("in{}", in++);
      size_t k = in + out - 1;
      std::string role = k < f.roles.size() ? "  " + f.roles[k] : "";
      if (a.isInOut)
        role += "  (updated in place)";
      h += fmt::format(" *   {:<6} {:<5} {}{}\n", pname, a.dtype,
                       formatDims(a.dims), role);
      params.push_back(cType(a) + pname);
    }
    // A ragged batch's plan: which call computes it (runtime.h).
    std::map<std::string, std::string> lensOf; // qo_indptr arg -> kv_lens arg
    llvm::SmallVector<llvm::StringRef> clauses;
    llvm::StringRef(f.signature).split(clauses, ';');
    for (llvm::StringRef c : clauses) {
      llvm::SmallVector<llvm::StringRef> parts;
      c.split(parts, ':');
      if (parts.size() == 4 && parts[0] == "ragged")
        lensOf[parts[1].str()] = parts[2].str();
      if (parts.size() == 5 && parts[0] == "plan")
        h += fmt::format(" * in{} is the plan of the ragged batch in{}: "
                         "attnrt_plan_ragged(in{}, in{},\n *   {}, {}, in{}), "
                         "once per step for every layer (runtime.h).\n",
                         parts[1].str(), parts[2].str(), parts[2].str(),
                         lensOf[parts[2].str()], parts[3].str(),
                         parts[4].str(), parts[1].str());
    }
    h += cuda ? " * Dims written ?N are dynamic; equal N must be equal sizes. "
                "Inputs and\n * caller-allocated outputs are compact row-major "
                "CUDA device tensors\n * (kDLCUDA). The kernels run on the "
                "stream attnrt_cuda_set_stream() set;\n * the call returns when "
                "they are done. Returns an attnrt_status;\n * "
                "attnrt_last_error() has the message. */\n"
              : " * Dims written ?N are dynamic; equal N must be equal sizes. "
                "Inputs and\n * caller-allocated outputs are compact row-major "
                "CPU tensors. Returns an\n * attnrt_status; attnrt_last_error() "
                "has the message. */\n";
    std::string joined;
    for (size_t i = 0; i < params.size(); ++i)
      joined += (i ? ", " : "") + params[i];
    h += fmt::format("int {}({});\n", f.symbol, joined);
    h += fmt::format("/* The signature string {} checks calls against. */\n"
                     "extern const char {}_signature[];\n",
                     f.symbol, f.symbol);
  }
  h += fmt::format("\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {} */\n",
                   guard.str());
  return h;
}

static LogicalResult writeFile(llvm::StringRef path, llvm::StringRef data) {
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out) {
    llvm::errs() << "error: " << error << "\n";
    return failure();
  }
  out->os() << data;
  out->keep();
  return success();
}

/// The libattnrt.a a shared library links: $ATTN_RUNTIME_LIB, else next to
/// this tool (an installed prefix's lib/, or the build tree's runtime/).
static std::string findRuntimeArchive() {
  if (const char *env = std::getenv("ATTN_RUNTIME_LIB"); env && *env)
    return env;
  std::string exe = llvm::sys::fs::getMainExecutable(
      "attn-compile", reinterpret_cast<void *>(&findRuntimeArchive));
  llvm::SmallString<256> bin = llvm::sys::path::parent_path(exe);
  for (const char *rel : {"../lib/libattnrt.a", "../runtime/libattnrt.a"}) {
    llvm::SmallString<256> p = bin;
    llvm::sys::path::append(p, rel);
    if (llvm::sys::fs::exists(p))
      return std::string(p);
  }
  return "";
}

/// --emit=shared: the object linked with libattnrt.a into a shared library
/// by the system's C compiler driver ($CC, else cc).
static int linkShared(llvm::StringRef object, llvm::StringRef output) {
  std::string runtime = findRuntimeArchive();
  if (runtime.empty()) {
    llvm::errs() << "error: --emit=shared: libattnrt.a not found next to "
                    "attn-compile (set ATTN_RUNTIME_LIB)\n";
    return 1;
  }
  const char *ccEnv = std::getenv("CC");
  llvm::ErrorOr<std::string> cc =
      llvm::sys::findProgramByName(ccEnv && *ccEnv ? ccEnv : "cc");
  if (!cc) {
    llvm::errs() << "error: --emit=shared: no C compiler driver ("
                 << (ccEnv && *ccEnv ? ccEnv : "cc")
                 << ") on PATH to link with\n";
    return 1;
  }
  llvm::SmallString<128> tmp;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("attn-shared", "o", tmp)) {
    llvm::errs() << "error: --emit=shared: " << ec.message() << "\n";
    return 1;
  }
  llvm::FileRemover remove(tmp);
  if (failed(writeFile(tmp, object)))
    return 1;
  std::string out = output.str(), objPath = tmp.str().str();
  llvm::SmallVector<llvm::StringRef> args = {
      *cc, "-shared", "-o", out, objPath, runtime, "-lpthread", "-lm", "-ldl"};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0,
                                     &message);
  if (rc != 0) {
    llvm::errs() << "error: --emit=shared: " << *cc << " failed"
                 << (message.empty() ? "" : ": " + message) << "\n";
    return 1;
  }
  return 0;
}

static int run() {
  bool nvptx = targetName == "nvptx";
  bool halideBackend = backendName == "halide";
  if (backendName != "mlir" && !halideBackend) {
    llvm::errs() << "error: unknown --backend '" << backendName
                 << "' (expected mlir or halide)\n";
    return 1;
  }
  if (halideBackend && targetName != "native") {
    llvm::errs() << "error: --backend=halide compiles for this machine only "
                    "(--target=native)\n";
    return 1;
  }
  // Host code of GPU programs is plain x86-64.
  llvm::Expected<CPUTarget> target =
      lookupCPUTarget(nvptx ? "x86-64" : targetName.getValue());
  if (!target) {
    llvm::errs() << "error: " << llvm::toString(target.takeError()) << "\n";
    return 1;
  }
  if (emitKind != "obj" && emitKind != "lib" && emitKind != "llvm" &&
      emitKind != "mlir" && emitKind != "ptx" && emitKind != "shared") {
    llvm::errs() << "error: unknown --emit kind '" << emitKind
                 << "' (expected obj, lib, shared, llvm, mlir or ptx)\n";
    return 1;
  }
  if (emitKind == "shared" && (nvptx || halideBackend || outputFile == "-")) {
    llvm::errs() << "error: --emit=shared makes a library for this machine's "
                    "CPU from the MLIR backend, into a file (-o)\n";
    return 1;
  }
  if (emitKind == "ptx" && !nvptx) {
    llvm::errs() << "error: --emit=ptx needs --target=nvptx\n";
    return 1;
  }
  std::string toolkit;
  if (gpuBinary != "ptx" && gpuBinary != "cubin") {
    llvm::errs() << "error: unknown --gpu-binary '" << gpuBinary
                 << "' (expected ptx or cubin)\n";
    return 1;
  }
  if (gpuBinary == "cubin") {
    const char *home = std::getenv("CUDA_HOME");
    toolkit = !cudaPath.empty() ? cudaPath.getValue()
              : home && *home   ? std::string(home)
                                : std::string("/usr/local/cuda");
    if (!nvptx || emitKind == "ptx") {
      llvm::errs() << "error: --gpu-binary=cubin needs --target=nvptx and an "
                      "object, library, LLVM or MLIR output\n";
      return 1;
    }
    if (!llvm::sys::fs::can_execute(toolkit + "/bin/ptxas")) {
      llvm::errs() << "error: --gpu-binary=cubin: no ptxas in " << toolkit
                   << "/bin (set --cuda-path or CUDA_HOME)\n";
      return 1;
    }
  }
  std::optional<NVPTXTarget> gpu;
  if (nvptx) {
    llvm::Expected<NVPTXTarget> chip = lookupNVPTXTarget(chipName);
    if (!chip) {
      llvm::errs() << "error: " << llvm::toString(chip.takeError()) << "\n";
      return 1;
    }
    gpu = *chip;
  }
  std::string prefix =
      sanitizeIdentifier(!symbolName.empty() ? symbolName.getValue()
                         : outputFile == "-"
                             ? std::string("attn")
                             : llvm::sys::path::stem(outputFile).str()) +
      "_";

  llvm::Expected<CPUTuning> overrides = tuningOverrides();
  if (!overrides) {
    llvm::errs() << "error: --tune: " << llvm::toString(overrides.takeError())
                 << "\n";
    return 1;
  }

  SourceModule source(inputFile);
  ModuleOp module = source.get();
  if (!module)
    return 1;
  if (gradients) {
    if (halideBackend) {
      llvm::errs() << "error: --grad: the backward is compiled by "
                      "--backend=mlir only (for a CPU or --target=nvptx)\n";
      return 1;
    }
    if (failed(generateGradients(module)))
      return 1;
  }
  std::vector<ExportedFunction> functions;
  std::vector<std::string> halideBitcode;
  if (failed(halideBackend
                 ? lowerForHalide(module, prefix, functions, halideBitcode)
             : gpu ? lowerForNVPTX(module, *gpu, prefix, functions, toolkit)
                   : lowerForCPU(module, *target, prefix, functions, *overrides)))
    return 1;

  if (!headerFile.empty()) {
    std::string guard =
        "ATTN_GENERATED_" +
        llvm::StringRef(
            sanitizeIdentifier(llvm::sys::path::filename(headerFile)))
            .upper();
    if (failed(writeFile(headerFile,
                         makeHeader(guard, functions, gpu.has_value()))))
      return 1;
  }
  if (emitKind == "ptx") {
    llvm::Expected<std::string> ptx = getEmbeddedPTX(module);
    if (!ptx) {
      llvm::errs() << "error: " << llvm::toString(ptx.takeError()) << "\n";
      return 1;
    }
    return failed(writeFile(outputFile, *ptx));
  }
  if (emitKind == "mlir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    module.print(os);
    return failed(writeFile(outputFile, text));
  }

  auto tm = createTargetMachine(*target);
  if (!tm) {
    llvm::errs() << "error: " << llvm::toString(tm.takeError()) << "\n";
    return 1;
  }
  llvm::LLVMContext llvmCtx;
  auto llvmModule = translateAndOptimize(module, llvmCtx, **tm, *target);
  if (!llvmModule) {
    llvm::errs() << "error: " << llvm::toString(llvmModule.takeError()) << "\n";
    return 1;
  }
  if (llvm::Error err = linkBitcode(**llvmModule, halideBitcode)) {
    llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  if (emitKind == "llvm") {
    std::string text;
    llvm::raw_string_ostream os(text);
    (*llvmModule)->print(os, nullptr);
    return failed(writeFile(outputFile, text));
  }
  llvm::SmallVector<char> object;
  if (llvm::Error err = emitObject(**llvmModule, **tm, object)) {
    llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  llvm::StringRef bytes(object.data(), object.size());
  if (emitKind == "obj")
    return failed(writeFile(outputFile, bytes));

  if (emitKind == "shared")
    return linkShared(bytes, outputFile);

  std::string memberName = llvm::sys::path::stem(outputFile).str() + ".o";
  llvm::NewArchiveMember member(llvm::MemoryBufferRef(bytes, memberName));
  member.MemberName = memberName;
  std::vector<llvm::NewArchiveMember> members;
  members.push_back(std::move(member));
  if (llvm::Error err = llvm::writeArchive(
          outputFile, members, llvm::SymtabWritingMode::NormalSymtab,
          llvm::object::Archive::K_GNU, /*Deterministic=*/true,
          /*Thin=*/false)) {
    llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerAttnPassesAndPipelines();
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "attn-compile: ahead-of-time compiler for attn "
                              "programs\n");
  return run();
}
