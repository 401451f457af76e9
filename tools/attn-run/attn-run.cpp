//===- attn-run.cpp - run attn functions on .npy files ----------*- C++ -*-===//
//
// Part of the attn project.
//
// attn-run in.mlir [--function=main] --input=@q.npy ... --output=@o.npy ...
//   [--backend=cpu|cuda|gpu-emulation|simt-emulation|reference]
//   [--threads=N] [--race-check]
//   [--benchmark=N] [--count-flops]
//
// --backend=cpu compiles the module with the same pipeline and code
// generator as attn-compile (for this machine), loads the object in-process
// and calls it through libattnrt; --backend=cuda does the same for the
// NVPTX target on a CUDA device; --backend=gpu-emulation runs every launch
// of the NVPTX pipeline, tensor-core kernels included, on libattnrt's GPU
// emulator (one fiber per thread; --race-check adds the shared-memory race
// check); --backend=simt-emulation runs the NVPTX pipeline's SIMT kernels on
// the host as plain loops; --backend=reference interprets the module
// as written, in double precision. --benchmark=N times N calls of the kernel
// (after one warm-up call, buffers allocated once) and prints, last,
// `median_ms=<float> gflops=<float>`. --count-flops prints the attention
// work on these inputs with every mask evaluated (`flops=<N>`; bench/run
// divides it by the time) and runs nothing else.
//
//===----------------------------------------------------------------------===//

#include "tools/Compiler.h"
#include "tools/KernelJIT.h"
#include "tools/Registration.h"
#include "tools/attn-run/Npy.h"
#include "tools/attn-run/DType.h"
#include "tools/attn-run/HalideRun.h"
#include "tools/attn-run/Reference.h"

#include "attn/gpu_emulation.h"
#include "attn/runtime.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

using namespace mlir;
using namespace mlir::attn;
namespace cl = llvm::cl;

static cl::OptionCategory toolOptions("attn-run options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                                      cl::Required, cl::cat(toolOptions));
static cl::opt<std::string> functionName("function",
                                         cl::desc("Function to run"),
                                         cl::init("main"),
                                         cl::cat(toolOptions));
static cl::list<std::string> inputs("input",
                                    cl::desc("Input .npy file, as @path"),
                                    cl::cat(toolOptions));
static cl::list<std::string> outputs("output",
                                     cl::desc("Output .npy file, as @path"),
                                     cl::cat(toolOptions));
static cl::opt<bool> grad(
    "grad",
    cl::desc("Gradients: run the training forward and the backward that "
             "attn-generate-backward derives (--backend=cpu), or central "
             "finite differences of the reference interpreter in float64 "
             "(--backend=reference). Inputs: the function's inputs, then one "
             "gradient per floating-point result; outputs: the gradients of "
             "the floating-point inputs, in order"),
    cl::init(false), cl::cat(toolOptions));
static cl::opt<int64_t> fdStride(
    "fd-stride",
    cl::desc("--grad --backend=reference: differentiate only every N-th "
             "element of each input (the others are written as NaN)"),
    cl::init(1), cl::cat(toolOptions));
static cl::opt<std::string> backend(
    "backend",
    cl::desc("cpu (default), cuda (NVIDIA GPU, see --chip), gpu-emulation "
             "(the cuda backend's kernels, tensor cores included, on the "
             "host's GPU emulator), simt-emulation (its SIMT kernels as "
             "host loops) or reference"),
    cl::init("cpu"), cl::cat(toolOptions));
static cl::opt<std::string> cpuTarget(
    "target",
    cl::desc("--backend=cpu: the CPU to compile for, as attn-compile's "
             "--target: native (default), x86-64, x86-64-avx2 or "
             "x86-64-avx512 (a narrower target's code runs here too: the "
             "AVX2 kernels checked on an AVX-512 machine)"),
    cl::init("native"), cl::cat(toolOptions));
static cl::opt<bool> raceCheck(
    "race-check",
    cl::desc("--backend=gpu-emulation: report two threads of a block that "
             "touch the same shared-memory byte, one of them writing, "
             "between two barriers"),
    cl::init(false), cl::cat(toolOptions));
static cl::opt<std::string>
    chipName("chip", cl::desc("GPU architecture for --backend=cuda"),
             cl::init("sm_80"), cl::cat(toolOptions));
static cl::opt<int> deviceIndex("device",
                                cl::desc("CUDA device for --backend=cuda"),
                                cl::init(0), cl::cat(toolOptions));
/// --threads=N is parsed by hand: libLLVM already registers an option of
/// that name.
static int threads = 0;
static cl::opt<int> benchmark("benchmark",
                              cl::desc("Time N calls of the kernel"),
                              cl::init(0), cl::cat(toolOptions));

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

static cl::opt<int64_t> kvTile(
    "kv-tile",
    cl::desc("Keys per attention tile on the CPU (0: the default, 64)"),
    cl::init(0), cl::cat(toolOptions));

/// --tune with --scan-chunk and --kv-tile folded in.
static llvm::Expected<CPUTuning> tuningOverrides() {
  return CPUTuning::parse(
      tune,
      scanChunk.getNumOccurrences() ? std::optional<int64_t>(scanChunk)
                                    : std::nullopt,
      kvTile != 0 ? std::optional<int64_t>(kvTile) : std::nullopt);
}

static cl::opt<bool> countOnly(
    "count-flops",
    cl::desc("Print the attention work (flops=N: 2(D+Dv) per visible "
             "query-key pair, masks evaluated) and exit"),
    cl::init(false), cl::cat(toolOptions));

static int fail(const std::string &message) {
  llvm::errs() << "error: " << message << "\n";
  return 1;
}

static std::string stripAt(const std::string &arg) {
  return !arg.empty() && arg[0] == '@' ? arg.substr(1) : arg;
}

/// Checks an input array against the function's parameter type.
static std::string checkInput(::attn::HostArray &a, Type type,
                              size_t index, const std::string &path) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t)
    return fmt::format("input {} ({}): the function takes {}, which attn-run "
                       "cannot feed",
                       index, path, "a non-tensor");
  std::string want = dtypeOf(t.getElementType());
  // fp8 arrays are bytes in NumPy (|u1): their codes.
  if (a.dtype == "u8" && (want == "f8e4m3" || want == "f8e5m2"))
    a.dtype = want;
  if (a.dtype != want)
    return fmt::format("input {} ({}): expected element type {} (npy '{}'), "
                       "got {} (npy '{}')",
                       index, path, want, ::attn::npyDescr(want), a.dtype,
                       ::attn::npyDescr(a.dtype));
  if (static_cast<int64_t>(a.shape.size()) != t.getRank())
    return fmt::format("input {} ({}): expected rank {}, got shape {}", index,
                       path, t.getRank(), ::attn::shapeString(a.shape));
  for (int64_t d = 0; d < t.getRank(); ++d)
    if (!t.isDynamicDim(d) && t.getDimSize(d) != a.shape[d])
      return fmt::format("input {} ({}): dim {} is {}, expected {} (shape {})",
                         index, path, d, a.shape[d], t.getDimSize(d),
                         ::attn::shapeString(a.shape));
  return "";
}

/// Floating-point work of the attention ops whose query and key come from
/// function arguments: 2 * B * H * (visible query-key pairs) * (D + Dv).
static double countFlops(func::FuncOp fn,
                         const std::vector<::attn::HostArray> &in) {
  double flops = 0;
  // The run-time size of dim `d` of a tensor value, traced back to the
  // function's arguments through the ops that define shapes; -1 if unknown.
  std::function<int64_t(Value)> indexOf;
  std::function<int64_t(Value, int64_t)> dimOf = [&](Value v,
                                                     int64_t d) -> int64_t {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || d >= type.getRank())
      return -1;
    if (!type.isDynamicDim(d))
      return type.getDimSize(d);
    if (auto arg = dyn_cast<BlockArgument>(v))
      return arg.getParentRegion() == &fn.getBody()
                 ? in[arg.getArgNumber()].shape[d]
                 : -1;
    Operation *def = v.getDefiningOp();
    if (auto empty = dyn_cast<tensor::EmptyOp>(def))
      return indexOf(empty.getDynamicSize(d));
    if (auto insert = dyn_cast<tensor::InsertSliceOp>(def))
      return dimOf(insert.getDest(), d);
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(def)) {
      OpFoldResult size = expand.getMixedOutputShape()[d];
      if (auto value = dyn_cast<Value>(size))
        return indexOf(value);
      return cast<IntegerAttr>(cast<Attribute>(size)).getInt();
    }
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
      return dimOf(dps.getDpsInits()[cast<OpResult>(v).getResultNumber()], d);
    // Casts and elementwise ops keep the shape of their first operand.
    if (def->getNumOperands() > 0)
      if (auto t = dyn_cast<RankedTensorType>(def->getOperand(0).getType());
          t && t.getRank() == type.getRank())
        return dimOf(def->getOperand(0), d);
    return -1;
  };
  indexOf = [&](Value v) -> int64_t {
    if (auto c = getConstantIntValue(v))
      return *c;
    if (auto dim = v.getDefiningOp<tensor::DimOp>())
      if (auto index = dim.getConstantIndex())
        return dimOf(dim.getSource(), *index);
    if (auto cast = v.getDefiningOp<arith::IndexCastOp>())
      return indexOf(cast.getIn());
    return -1;
  };
  fn.walk([&](AttentionOp op) {
    int64_t b = dimOf(op.getQuery(), 0), h = dimOf(op.getQuery(), 1),
            lqi = dimOf(op.getQuery(), 2), lki = dimOf(op.getKey(), 2);
    if (b < 0 || h < 0 || lqi < 0 || lki < 0)
      return;
    // (query, key) pairs computed: all, or those the bottom-right aligned
    // causal mask leaves visible (Lq = Lk: L(L+1)/2; decode: Lk).
    double lq = static_cast<double>(lqi), lk = static_cast<double>(lki);
    double pairs = lq * lk;
    if (op.getCausal()) {
      double n = std::min(lq, lk);
      pairs = n * (n + 1) / 2 + n * (lk - n);
    }
    // A second map (differential attention) doubles the work.
    flops += (op.getQuery2() ? 2.0 : 1.0) * 2.0 * b * h * pairs *
             (op.getHeadDim() + op.getValueHeadDim());
  });
  return flops;
}

static DLTensor toDLTensor(::attn::HostArray &a) {
  DLTensor t{};
  t.data = a.data;
  t.device.device_type = kDLCPU;
  t.ndim = static_cast<int32_t>(a.shape.size());
  t.shape = a.shape.data();
  t.dtype.lanes = 1;
  t.dtype.bits =
      static_cast<uint8_t>(::attn::HostArray::elementSize(a.dtype) * 8);
  // (fp8 codes are bytes, kDLUInt/8: DLPack 0.6 has no fp8 codes.)
  bool bytes = a.dtype == "i1" || a.dtype == "u8" ||
               a.dtype.rfind("f8", 0) == 0;
  t.dtype.code = a.dtype == "bf16"   ? kDLBfloat
                 : bytes             ? kDLUInt
                 : a.dtype[0] == 'f' ? kDLFloat
                                     : kDLInt;
  return t;
}

static bool isFloatTensor(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && isa<FloatType>(r.getElementType());
}

/// --grad --backend=reference: the inputs are the function's, then one
/// gradient per float result; central differences in float64.
static int runGradReference(func::FuncOp fn) {
  std::vector<Type> resultTypes;
  for (Type t : fn.getResultTypes())
    if (isFloatTensor(t))
      resultTypes.push_back(t);
  size_t numIn = fn.getNumArguments();
  if (inputs.size() != numIn + resultTypes.size())
    return fail(fmt::format("--grad: @{} takes {} inputs and {} result "
                            "gradients, got {} --input",
                            fn.getSymName().str(), numIn, resultTypes.size(),
                            inputs.size()));
  size_t numGrads = llvm::count_if(fn.getArgumentTypes(), isFloatTensor);
  if (!outputs.empty() && outputs.size() != numGrads)
    return fail(fmt::format("--grad: @{} has {} floating-point inputs, got {} "
                            "--output",
                            fn.getSymName().str(), numGrads, outputs.size()));
  std::vector<::attn::HostArray> in(numIn), dys;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string path = stripAt(inputs[i]), error;
    ::attn::HostArray a;
    if (!::attn::readNpy(path, a, error))
      return fail(error);
    Type want = i < numIn ? fn.getArgumentTypes()[i] : resultTypes[i - numIn];
    std::string bad = checkInput(a, want, i, path);
    if (!bad.empty())
      return fail(bad);
    if (i < numIn)
      in[i] = std::move(a);
    else
      dys.push_back(std::move(a));
  }
  std::vector<::attn::HostArray> grads;
  if (fdStride < 1)
    return fail("--fd-stride must be >= 1");
  if (failed(gradReference(fn, in, dys, grads, fdStride)))
    return 1;
  for (size_t k = 0; k < outputs.size(); ++k) {
    std::string error;
    if (!::attn::writeNpy(stripAt(outputs[k]), grads[k], error))
      return fail(error);
  }
  if (outputs.empty())
    for (size_t k = 0; k < grads.size(); ++k)
      llvm::outs() << fmt::format("gradient {}: {}{}\n", k, grads[k].dtype,
                                  ::attn::shapeString(grads[k].shape));
  return 0;
}

static int run() {
  if (backend != "cpu" && backend != "reference" && backend != "cuda" &&
      backend != "simt-emulation" && backend != "gpu-emulation" &&
      backend != "halide")
    return fail("unknown backend '" + backend +
                "' (expected cpu, cuda, gpu-emulation, halide, "
                "simt-emulation or reference)");
  bool cuda = backend == "cuda";
  bool emulation = backend == "simt-emulation";
  bool gpuEmulation = backend == "gpu-emulation";
  if (raceCheck && !gpuEmulation)
    return fail("--race-check needs --backend=gpu-emulation");
  if (cpuTarget != "native" && backend != "cpu")
    return fail("--target=" + std::string(cpuTarget) +
                ": only --backend=cpu compiles for a chosen CPU");
  std::optional<NVPTXTarget> gpu;
  if (cuda) {
    llvm::Expected<NVPTXTarget> chip = lookupNVPTXTarget(chipName);
    if (!chip)
      return fail(llvm::toString(chip.takeError()));
    gpu = *chip;
  }
  if (threads < 0)
    return fail("--threads must be >= 0");
  if (benchmark < 0)
    return fail("--benchmark must be >= 0");

  SourceModule source(inputFile);
  ModuleOp module = source.get();
  if (!module)
    return 1;
  auto fn = module.lookupSymbol<func::FuncOp>(functionName);
  if (!fn || fn.isExternal()) {
    std::string names;
    for (auto f : module.getOps<func::FuncOp>())
      names += (names.empty() ? "@" : ", @") + f.getSymName().str();
    return fail("no function @" + functionName + " in " + inputFile +
                " (functions: " + (names.empty() ? "none" : names) + ")");
  }
  std::string fnName = functionName;
  if (grad) {
    if (backend == "reference")
      return runGradReference(fn);
    if (backend == "halide")
      return fail("--grad runs on --backend=cpu, cuda, gpu-emulation or "
                  "simt-emulation (the derived backward) or "
                  "--backend=reference (finite differences)");
    if (benchmark > 0 || countOnly)
      return fail("--grad does not combine with --benchmark or --count-flops");
    FailureOr<func::FuncOp> g = generateGradients(module, fnName);
    if (failed(g))
      return 1;
    fn = *g;
    fnName = fn.getSymName().str();
  }
  if (inputs.size() != fn.getNumArguments())
    return fail(fmt::format("@{} takes {} inputs, got {} --input", fnName,
                            fn.getNumArguments(), inputs.size()));
  if (!outputs.empty() && outputs.size() != fn.getNumResults())
    return fail(fmt::format("@{} returns {} results, got {} --output",
                            fnName, fn.getNumResults(), outputs.size()));

  std::vector<::attn::HostArray> in(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string path = stripAt(inputs[i]), error;
    if (!::attn::readNpy(path, in[i], error))
      return fail(error);
    std::string bad = checkInput(in[i], fn.getArgumentTypes()[i], i, path);
    if (!bad.empty())
      return fail(bad);
  }
  if (countOnly) {
    FailureOr<double> exact = countAttentionFlops(fn, in);
    if (failed(exact))
      return 1;
    llvm::outs() << fmt::format("flops={:.0f}\n", *exact);
    return 0;
  }
  double flops = countFlops(fn, in);

  std::vector<::attn::HostArray> out;
  if (backend == "reference") {
    if (benchmark > 0)
      return fail("--benchmark needs --backend=cpu");
    if (failed(runReference(fn, in, out)))
      return 1;
  } else if (backend == "halide") {
    double medianMs = 0;
    if (failed(runHalide(fn, in, out, benchmark, medianMs)))
      return 1;
    if (benchmark > 0)
      llvm::outs() << fmt::format("median_ms={:.4f} gflops={:.2f}\n",
                                  medianMs, flops / (medianMs * 1e6));
  } else {
    int device = deviceIndex;
    if (cuda) {
      // Fail early and clearly without a driver or device.
      int count = 0;
      if (attnrt_cuda_device_count(&count) != ATTNRT_OK)
        return fail(std::string("--backend=cuda: ") + attnrt_last_error());
      if (device < 0 || device >= count)
        return fail(fmt::format("--device={}: this machine has {} CUDA "
                                "device(s)",
                                device, count));
    }
    llvm::Expected<CPUTuning> overrides = tuningOverrides();
    if (!overrides)
      return fail("--tune: " + llvm::toString(overrides.takeError()));
    // Compile exactly as attn-compile --target=native (or nvptx) does.
    llvm::Expected<CPUTarget> target =
        lookupCPUTarget(cuda ? "x86-64" : std::string(cpuTarget));
    if (!target)
      return fail(llvm::toString(target.takeError()));
    OwningOpRef<ModuleOp> lowered = module.clone();
    std::vector<ExportedFunction> functions;
    if (failed(cuda ? lowerForNVPTX(*lowered, *gpu, "attnrun_", functions)
               : emulation
                   ? lowerForSIMTEmulation(*lowered, "attnrun_", functions)
               : gpuEmulation
                   ? lowerForGPUEmulation(*lowered, "attnrun_", functions)
                   : lowerForCPU(*lowered, *target, "attnrun_", functions,
                                 *overrides)))
      return 1;
    auto tm = createTargetMachine(*target);
    if (!tm)
      return fail(llvm::toString(tm.takeError()));
    auto llvmCtx = std::make_unique<llvm::LLVMContext>();
    auto llvmModule = translateAndOptimize(*lowered, *llvmCtx, **tm, *target);
    if (!llvmModule)
      return fail(llvm::toString(llvmModule.takeError()));
    llvm::SmallVector<char> object;
    if (!cuda)
      if (llvm::Error err = emitObject(**llvmModule, **tm, object))
        return fail(llvm::toString(std::move(err)));

    auto jit = createKernelJIT();
    if (!jit)
      return fail(llvm::toString(jit.takeError()));
    llvm::orc::JITDylib &lib = (*jit)->getMainJITDylib();
    // Runs the destructors too (they release the registered kernel images).
    llvm::scope_exit deinitialize([&] {
      if (cuda)
        llvm::consumeError((*jit)->deinitialize(lib));
    });
    if (cuda) {
      // As IR, so that initialize() runs the constructor that registers the
      // embedded PTX.
      llvm::orc::ThreadSafeModule tsm(std::move(*llvmModule),
                                      std::move(llvmCtx));
      if (llvm::Error err = (*jit)->addIRModule(std::move(tsm)))
        return fail(llvm::toString(std::move(err)));
      if (llvm::Error err = (*jit)->initialize(lib))
        return fail(llvm::toString(std::move(err)));
    } else if (llvm::Error err =
                   (*jit)->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(
                       llvm::StringRef(object.data(), object.size()),
                       "attn-run.o"))) {
      return fail(llvm::toString(std::move(err)));
    }
    const ExportedFunction *exported = nullptr;
    for (const ExportedFunction &f : functions)
      if (f.name == fnName)
        exported = &f;
    if (!exported)
      return fail("@" + fnName + " was not exported");
    auto entry = (*jit)->lookup(exported->symbol);
    if (!entry)
      return fail(llvm::toString(entry.takeError()));

    if (threads > 0 && attnrt_set_num_threads(threads) != ATTNRT_OK)
      return fail(attnrt_last_error());
    // Allocate the outputs once, with shapes inferred from the inputs.
    std::vector<DLTensor> tensors;
    for (auto &a : in)
      tensors.push_back(toDLTensor(a));
    std::vector<DLTensor *> args;
    for (auto &t : tensors)
      args.push_back(&t);
    size_t numOut = exported->args.size() - in.size();
    for (size_t k = 0; k < numOut; ++k) {
      int64_t shape[ATTNRT_MAX_RANK];
      int32_t ndim = 0;
      DLDataType dtype;
      args.push_back(nullptr);
      if (attnrt_infer_shape(exported->signature.c_str(), args.data(),
                             static_cast<int32_t>(args.size()),
                             static_cast<int32_t>(in.size() + k), shape, &ndim,
                             &dtype) != ATTNRT_OK)
        return fail(attnrt_last_error());
      out.push_back(::attn::HostArray::allocate(
          exported->args[in.size() + k].dtype,
          std::vector<int64_t>(shape, shape + ndim)));
    }
    // Re-point every argument: the vectors above may have reallocated.
    tensors.clear();
    for (auto &a : in)
      tensors.push_back(toDLTensor(a));
    for (auto &a : out)
      tensors.push_back(toDLTensor(a));
    // On the GPU: device copies of every tensor, freed at exit.
    std::vector<void *> deviceBuffers;
    llvm::scope_exit freeDevice([&] {
      for (void *p : deviceBuffers)
        attnrt_cuda_free(device, p);
    });
    if (cuda)
      for (size_t k = 0; k < tensors.size(); ++k) {
        DLTensor &t = tensors[k];
        size_t bytes = k < in.size() ? in[k].bytes
                                     : out[k - in.size()].bytes;
        void *p = nullptr;
        if (attnrt_cuda_malloc(device, bytes, &p) != ATTNRT_OK)
          return fail(attnrt_last_error());
        deviceBuffers.push_back(p);
        if (k < in.size() &&
            attnrt_cuda_copy_to_device(device, p, t.data, bytes) != ATTNRT_OK)
          return fail(attnrt_last_error());
        t.data = p;
        t.device = DLDevice{kDLCUDA, device};
      }
    args.clear();
    for (auto &t : tensors)
      args.push_back(&t);
    void *fnPtr = entry->toPtr<void *>();
    attnemu_set_race_check(raceCheck);
    if (callEntryPoint(fnPtr, args.data(), args.size()) != ATTNRT_OK)
      return fail(attnrt_last_error());
    if (const char *error = attnemu_take_error())
      return fail(std::string("--backend=gpu-emulation: ") + error);
    if (cuda)
      for (size_t k = 0; k < out.size(); ++k)
        if (attnrt_cuda_copy_to_host(device, out[k].data,
                                     deviceBuffers[in.size() + k],
                                     out[k].bytes) != ATTNRT_OK)
          return fail(attnrt_last_error());
    // Results returned by updating an in/out argument (alias:K:A): that
    // argument, after the call, in the results' order.
    if (!exported->aliases.empty()) {
      std::vector<::attn::HostArray> results;
      size_t next = 0;
      for (unsigned k = 0; k < fn.getNumResults(); ++k) {
        auto alias = llvm::find_if(exported->aliases,
                                   [&](auto &p) { return p.first == k; });
        if (alias == exported->aliases.end()) {
          results.push_back(std::move(out[next++]));
          continue;
        }
        ::attn::HostArray &a = in[alias->second];
        if (cuda && attnrt_cuda_copy_to_host(device, a.data,
                                             deviceBuffers[alias->second],
                                             a.bytes) != ATTNRT_OK)
          return fail(attnrt_last_error());
        results.push_back(a);
      }
      out = std::move(results);
    }
    if (benchmark > 0) {
      std::vector<double> ms;
      for (int r = 0; r < benchmark; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        callEntryPoint(fnPtr, args.data(), args.size());
        auto t1 = std::chrono::steady_clock::now();
        ms.push_back(
            std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      double median = ms[ms.size() / 2];
      llvm::outs() << fmt::format("threads={} runs={} min_ms={:.4f}\n",
                                  attnrt_get_num_threads(), benchmark, ms[0]);
      llvm::outs() << fmt::format("median_ms={:.4f} gflops={:.2f}\n", median,
                                  flops / (median * 1e6));
    }
  }

  // Without --output, summarize each result on stdout (not when
  // benchmarking: the timing line stays last).
  if (outputs.empty() && benchmark == 0)
    for (size_t k = 0; k < out.size(); ++k) {
      double sum = 0, maxAbs = 0;
      int64_t n = out[k].numElements();
      for (int64_t e = 0; e < n; ++e) {
        double x = ::attn::loadElement(out[k], e);
        sum += x;
        maxAbs = std::max(maxAbs, std::fabs(x));
      }
      llvm::outs() << fmt::format(
          "result {}: {}{} sum={:.6g} max_abs={:.6g}\n", k, out[k].dtype,
          ::attn::shapeString(out[k].shape), sum, maxAbs);
    }
  for (size_t k = 0; k < outputs.size(); ++k) {
    std::string error;
    if (!::attn::writeNpy(stripAt(outputs[k]), out[k], error))
      return fail(error);
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  std::vector<char *> rest;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    if (i > 0 &&
        (arg.starts_with("--threads") || arg.starts_with("-threads"))) {
      llvm::StringRef value = arg.drop_while([](char c) { return c == '-'; })
                                  .drop_front(strlen("threads"));
      if (value.consume_front("=")) {
      } else if (value.empty() && i + 1 < argc) {
        value = argv[++i];
      }
      if (value.getAsInteger(10, threads)) {
        llvm::errs() << "error: --threads expects an integer, got '" << value
                     << "'\n";
        return 1;
      }
      continue;
    }
    rest.push_back(argv[i]);
  }
  argc = static_cast<int>(rest.size());
  argv = rest.data();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerAttnPassesAndPipelines();
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(
      argc, argv,
      "attn-run: run attn functions on .npy files\n\n"
      "  --threads=N    worker threads of the cpu backend "
      "(default: ATTN_NUM_THREADS or all cores)\n");
  return run();
}
