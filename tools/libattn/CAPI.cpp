//===- CAPI.cpp - the C API of libattn --------------------------*- C++ -*-===//
//
// Part of the attn project.
//
// attn_compile: the IR parsed in its own MLIRContext (diagnostics collected
// into the error message), lowered by the same pipeline as attn-compile,
// translated and emitted as an object, which is kept on disk under a key
// (SHA-256 of this library's file, the options, the IR) with a manifest of
// its entry points, and loaded with ORC (createKernelJIT). A cached object
// skips everything but the load.
//
//===----------------------------------------------------------------------===//

#include "tools/libattn/attn.h"

#include "tools/Compiler.h"
#include "tools/KernelJIT.h"
#include "tools/Registration.h"

#include "attn/gpu_emulation.h"
#include "attn/runtime.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::attn;

struct attn_module {
  ~attn_module() {
    if (dl)
      dlclose(dl);
  }
  std::unique_ptr<llvm::orc::LLJIT> jit;
  /// A shared library attn_load opened, and its own libattnrt's
  /// attnrt_last_error.
  void *dl = nullptr;
  const char *(*dlLastError)(void) = nullptr;
  std::vector<ExportedFunction> functions;
  std::vector<std::string> roles; ///< comma-joined, per function
  std::vector<void *> entries;
  std::string key;
  bool fromCache = false;
  bool gpuEmulation = false;
};

static thread_local std::string lastError;

static int fail(int status, std::string message) {
  lastError = std::move(message);
  return status;
}

/// The version of the manifest format (part of every key).
static constexpr llvm::StringLiteral kCacheFormat = "attn-cache 1";

extern "C" const char *attn_compiler_id(void) {
  static std::string id = [] {
    Dl_info info;
    std::string contents = "unknown";
    if (dladdr(reinterpret_cast<void *>(&attn_compiler_id), &info) &&
        info.dli_fname)
      if (auto file = llvm::MemoryBuffer::getFile(info.dli_fname))
        contents = (*file)->getBuffer().str();
    return llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(contents)),
                       /*LowerCase=*/true);
  }();
  return id.c_str();
}

namespace {
/// What a cache entry's manifest says.
struct Manifest {
  std::vector<ExportedFunction> functions;

  std::string print() const {
    std::string text = kCacheFormat.str() + "\n";
    for (const ExportedFunction &f : functions) {
      text += "function\t" + f.name + "\t" + f.symbol + "\t" + f.signature +
              "\t" + llvm::join(f.roles, ",") + "\n";
    }
    return text;
  }

  static std::optional<Manifest> parse(llvm::StringRef text) {
    llvm::SmallVector<llvm::StringRef> lines;
    text.split(lines, '\n', -1, /*KeepEmpty=*/false);
    if (lines.empty() || lines[0] != kCacheFormat)
      return std::nullopt;
    Manifest m;
    for (llvm::StringRef line : llvm::drop_begin(lines)) {
      llvm::SmallVector<llvm::StringRef> fields;
      line.split(fields, '\t');
      if (fields.size() != 5 || fields[0] != "function")
        return std::nullopt;
      ExportedFunction f;
      f.name = fields[1].str();
      f.symbol = fields[2].str();
      f.signature = fields[3].str();
      f.args = parseSignature(f.signature);
      llvm::SmallVector<llvm::StringRef> roles;
      fields[4].split(roles, ',', -1, /*KeepEmpty=*/false);
      for (llvm::StringRef r : roles)
        f.roles.push_back(r.str());
      m.functions.push_back(std::move(f));
    }
    return m;
  }
};
} // namespace

/// Writes `data` to `path` through a temporary file and a rename, so that a
/// reader (another process) sees all of it or nothing.
static bool writeAtomically(const std::string &path, llvm::StringRef data) {
  // A unique name: threads of one process may write the same key.
  int fd = -1;
  llvm::SmallString<256> tmpName;
  if (llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%%%", fd, tmpName))
    return false;
  std::string tmp(tmpName);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << data;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      llvm::sys::fs::remove(tmp);
      return false;
    }
  }
  if (llvm::sys::fs::rename(tmp, path)) {
    llvm::sys::fs::remove(tmp);
    return false;
  }
  return true;
}

/// Loads `object` into a fresh JIT and looks the entry points up.
static int load(attn_module &m, llvm::StringRef object) {
  auto jit = createKernelJIT();
  if (!jit)
    return fail(ATTNRT_INTERNAL, llvm::toString(jit.takeError()));
  m.jit = std::move(*jit);
  if (llvm::Error err = m.jit->addObjectFile(
          llvm::MemoryBuffer::getMemBufferCopy(object, "attn-module.o")))
    return fail(ATTNRT_INTERNAL, llvm::toString(std::move(err)));
  for (const ExportedFunction &f : m.functions) {
    auto entry = m.jit->lookup(f.symbol);
    if (!entry)
      return fail(ATTNRT_INTERNAL, llvm::toString(entry.takeError()));
    m.entries.push_back(entry->toPtr<void *>());
    m.roles.push_back(llvm::join(f.roles, ","));
  }
  return ATTNRT_OK;
}

extern "C" int attn_compile(const char *source, size_t size,
                            const attn_compile_options *options,
                            attn_module **out) {
  if (!out)
    return fail(ATTNRT_INVALID_ARGUMENT, "attn_compile: out is null");
  *out = nullptr;
  if (!source)
    return fail(ATTNRT_INVALID_ARGUMENT, "attn_compile: source is null");
  attn_compile_options defaults{};
  const attn_compile_options &opts = options ? *options : defaults;
  std::string targetName =
      opts.target && *opts.target ? opts.target : "native";
  bool gpuEmulation = targetName == "gpu-emulation";
  llvm::Expected<CPUTarget> target =
      lookupCPUTarget(gpuEmulation ? "native" : targetName);
  if (!target)
    return fail(ATTNRT_INVALID_ARGUMENT,
                "target '" + targetName + "': " +
                    llvm::toString(target.takeError()) +
                    " (or gpu-emulation)");
  llvm::Expected<CPUTuning> tuning =
      CPUTuning::parse(opts.tune ? opts.tune : "");
  if (!tuning)
    return fail(ATTNRT_INVALID_ARGUMENT,
                "tune: " + llvm::toString(tuning.takeError()));
  llvm::StringRef text(source, size);

  // The key: everything that decides the object.
  llvm::SHA256 hasher;
  auto mix = [&](llvm::StringRef s) {
    hasher.update(llvm::arrayRefFromStringRef(s));
    hasher.update(llvm::ArrayRef<uint8_t>{0});
  };
  mix(kCacheFormat);
  mix(attn_compiler_id());
  mix(targetName);
  mix(target->cpu);
  mix(target->features);
  mix(opts.grad ? "grad" : "nograd");
  mix(opts.tune ? opts.tune : "");
  mix(text);
  auto m = std::make_unique<attn_module>();
  m->key = llvm::toHex(hasher.final(), /*LowerCase=*/true);
  m->gpuEmulation = gpuEmulation;

  std::string dir = opts.cache_dir ? opts.cache_dir : "";
  std::string objectPath, manifestPath;
  if (!dir.empty()) {
    llvm::SmallString<256> base(dir);
    llvm::sys::path::append(base, m->key);
    objectPath = (base + ".o").str();
    manifestPath = (base + ".manifest").str();
    auto object = llvm::MemoryBuffer::getFile(objectPath);
    auto manifestText = llvm::MemoryBuffer::getFile(manifestPath);
    if (object && manifestText)
      if (std::optional<Manifest> manifest =
              Manifest::parse((*manifestText)->getBuffer())) {
        m->functions = std::move(manifest->functions);
        m->fromCache = true;
        if (load(*m, (*object)->getBuffer()) == ATTNRT_OK) {
          *out = m.release();
          return ATTNRT_OK;
        }
        // A damaged object: compile it again (and replace it).
        m->jit.reset();
        m->functions.clear();
        m->entries.clear();
        m->roles.clear();
        m->fromCache = false;
      }
  }

  static std::once_flag registered;
  std::call_once(registered, [] {
    registerAttnPassesAndPipelines();
    // The pipelines apply these (defaults: no command line here).
    registerMLIRContextCLOptions();
    registerPassManagerCLOptions();
  });
  std::string diagnostics;
  llvm::raw_string_ostream diagStream(diagnostics);
  auto compileError = [&](llvm::StringRef what) {
    std::string message = diagnostics;
    if (message.empty())
      message = what.str();
    while (!message.empty() && message.back() == '\n')
      message.pop_back();
    return fail(ATTNRT_INVALID_ARGUMENT, message);
  };
  SourceModule parsed(
      llvm::MemoryBuffer::getMemBufferCopy(
          text, opts.filename && *opts.filename ? opts.filename : "<source>"),
      diagStream);
  ModuleOp module = parsed.get();
  if (!module)
    return compileError("the IR could not be parsed");
  if (opts.grad && failed(generateGradients(module)))
    return compileError("the gradients could not be generated");
  std::vector<ExportedFunction> functions;
  if (failed(gpuEmulation
                 ? lowerForGPUEmulation(module, "attn_", functions)
                 : lowerForCPU(module, *target, "attn_", functions, *tuning)))
    return compileError("the module could not be compiled");
  if (functions.empty())
    return fail(ATTNRT_INVALID_ARGUMENT,
                "the module has no public function to export");
  auto tm = createTargetMachine(*target);
  if (!tm)
    return fail(ATTNRT_INTERNAL, llvm::toString(tm.takeError()));
  llvm::LLVMContext llvmCtx;
  auto llvmModule = translateAndOptimize(module, llvmCtx, **tm, *target);
  if (!llvmModule)
    return fail(ATTNRT_INTERNAL, llvm::toString(llvmModule.takeError()));
  llvm::SmallVector<char> object;
  if (llvm::Error err = emitObject(**llvmModule, **tm, object))
    return fail(ATTNRT_INTERNAL, llvm::toString(std::move(err)));
  llvm::StringRef bytes(object.data(), object.size());
  m->functions = std::move(functions);
  // A cache that cannot be written is not an error: the module still runs.
  if (!dir.empty() && !llvm::sys::fs::create_directories(dir) &&
      writeAtomically(objectPath, bytes))
    writeAtomically(manifestPath, Manifest{m->functions}.print());
  if (int status = load(*m, bytes))
    return status;
  *out = m.release();
  return ATTNRT_OK;
}

extern "C" int attn_load(const char *path, const char *name,
                         attn_module **out) {
  if (!out || !path)
    return fail(ATTNRT_INVALID_ARGUMENT, "attn_load: null argument");
  *out = nullptr;
  std::string prefix =
      (name && *name ? std::string(name)
                     : sanitizeIdentifier(llvm::sys::path::stem(path))) +
      "_";
  auto binary = llvm::object::ObjectFile::createObjectFile(path);
  if (!binary)
    return fail(ATTNRT_INVALID_ARGUMENT,
                std::string(path) + ": " + llvm::toString(binary.takeError()));
  llvm::object::ObjectFile &file = *binary->getBinary();
  auto *elf = dyn_cast<llvm::object::ELFObjectFileBase>(&file);
  if (!elf)
    return fail(ATTNRT_INVALID_ARGUMENT,
                std::string(path) + ": not an ELF object or shared library");
  bool shared = elf->getEType() == llvm::ELF::ET_DYN;
  // The functions: defined <prefix><f> with a defined <prefix><f>_signature.
  std::vector<std::string> candidates, symbols;
  llvm::StringSet<> defined;
  auto collect = [&](auto range) {
    for (const llvm::object::SymbolRef &sym : range) {
      llvm::Expected<llvm::StringRef> n = sym.getName();
      if (!n) {
        llvm::consumeError(n.takeError());
        continue;
      }
      llvm::Expected<uint32_t> flags = sym.getFlags();
      if (!flags) {
        llvm::consumeError(flags.takeError());
        continue;
      }
      if (*flags & llvm::object::SymbolRef::SF_Undefined)
        continue;
      defined.insert(n->str());
      if (n->starts_with(prefix) && n->ends_with("_signature") &&
          n->size() > prefix.size() + strlen("_signature"))
        candidates.push_back(n->drop_back(strlen("_signature")).str());
    }
  };
  if (shared)
    collect(elf->getDynamicSymbolIterators());
  else
    collect(file.symbols());
  for (const std::string &c : candidates)
    if (defined.contains(c))
      symbols.push_back(c);
  llvm::sort(symbols);
  if (symbols.empty())
    return fail(ATTNRT_INVALID_ARGUMENT,
                std::string(path) + ": no attn function named " + prefix +
                    "* (compiled with another --name? pass name=)");
  auto m = std::make_unique<attn_module>();
  m->key = path;
  auto lookup = [&](const std::string &sym) -> void * {
    if (m->dl)
      return dlsym(m->dl, sym.c_str());
    auto addr = m->jit->lookup(sym);
    if (!addr) {
      llvm::consumeError(addr.takeError());
      return nullptr;
    }
    return addr->toPtr<void *>();
  };
  if (shared) {
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl)
      return fail(ATTNRT_INVALID_ARGUMENT, dlerror());
    m->dlLastError = reinterpret_cast<const char *(*)(void)>(
        dlsym(m->dl, "attnrt_last_error"));
  } else {
    auto object = llvm::MemoryBuffer::getFile(path);
    if (!object)
      return fail(ATTNRT_INVALID_ARGUMENT,
                  std::string(path) + ": " + object.getError().message());
    auto jit = createKernelJIT();
    if (!jit)
      return fail(ATTNRT_INTERNAL, llvm::toString(jit.takeError()));
    m->jit = std::move(*jit);
    if (llvm::Error err = m->jit->addObjectFile(std::move(*object)))
      return fail(ATTNRT_INVALID_ARGUMENT, llvm::toString(std::move(err)));
  }
  for (const std::string &sym : symbols) {
    void *entry = lookup(sym);
    auto *signature =
        static_cast<const char *>(lookup(sym + "_signature"));
    if (!entry || !signature)
      return fail(ATTNRT_INVALID_ARGUMENT,
                  std::string(path) + ": cannot resolve " + sym);
    ExportedFunction f;
    f.name = sym.substr(prefix.size());
    f.symbol = sym;
    f.signature = signature;
    f.args = parseSignature(f.signature);
    m->functions.push_back(std::move(f));
    m->entries.push_back(entry);
    m->roles.push_back("");
  }
  *out = m.release();
  return ATTNRT_OK;
}

extern "C" void attn_module_free(attn_module *module) { delete module; }

extern "C" int attn_module_from_cache(const attn_module *module) {
  return module && module->fromCache;
}

extern "C" const char *attn_module_key(const attn_module *module) {
  return module ? module->key.c_str() : nullptr;
}

extern "C" int attn_module_num_functions(const attn_module *module) {
  return module ? static_cast<int>(module->functions.size()) : 0;
}

static const ExportedFunction *function(const attn_module *module,
                                        int index) {
  if (!module || index < 0 ||
      index >= static_cast<int>(module->functions.size()))
    return nullptr;
  return &module->functions[index];
}

extern "C" const char *attn_module_function_name(const attn_module *module,
                                                 int index) {
  const ExportedFunction *f = function(module, index);
  return f ? f->name.c_str() : nullptr;
}

extern "C" const char *
attn_module_function_signature(const attn_module *module, int index) {
  const ExportedFunction *f = function(module, index);
  return f ? f->signature.c_str() : nullptr;
}

extern "C" const char *attn_module_function_roles(const attn_module *module,
                                                  int index) {
  return function(module, index) ? module->roles[index].c_str() : nullptr;
}

extern "C" int attn_module_lookup(const attn_module *module,
                                  const char *name) {
  if (!module || !name)
    return -1;
  for (size_t i = 0; i < module->functions.size(); ++i)
    if (module->functions[i].name == name)
      return static_cast<int>(i);
  return -1;
}

extern "C" int attn_module_infer_shape(const attn_module *module, int index,
                                       DLTensor *const *args, int32_t num_args,
                                       int32_t arg, int64_t *shape,
                                       int32_t *ndim, DLDataType *dtype) {
  const ExportedFunction *f = function(module, index);
  if (!f)
    return fail(ATTNRT_INVALID_ARGUMENT, "no function " +
                                             std::to_string(index) +
                                             " in the module");
  if (attnrt_infer_shape(f->signature.c_str(), args, num_args, arg, shape, ndim,
                         dtype) != ATTNRT_OK)
    return fail(ATTNRT_INVALID_ARGUMENT, attnrt_last_error());
  return ATTNRT_OK;
}

extern "C" int attn_module_call(attn_module *module, int index,
                                DLTensor **args, int32_t num_args) {
  const ExportedFunction *f = function(module, index);
  if (!f)
    return fail(ATTNRT_INVALID_ARGUMENT, "no function " +
                                             std::to_string(index) +
                                             " in the module");
  if (num_args != static_cast<int32_t>(f->args.size()) || !args)
    return fail(ATTNRT_INVALID_ARGUMENT,
                "@" + f->name + " takes " + std::to_string(f->args.size()) +
                    " tensors (inputs, then outputs), got " +
                    std::to_string(num_args));
  for (int32_t i = 0; i < num_args; ++i)
    if (!args[i])
      return fail(ATTNRT_INVALID_ARGUMENT,
                  "@" + f->name + ": tensor " + std::to_string(i) + " is null");
  int status = callEntryPoint(module->entries[index], args,
                              static_cast<size_t>(num_args));
  if (status != ATTNRT_OK)
    return fail(status, module->dlLastError ? module->dlLastError()
                                            : attnrt_last_error());
  if (module->gpuEmulation)
    if (const char *error = attnemu_take_error())
      return fail(ATTNRT_INTERNAL, std::string("gpu-emulation: ") + error);
  return ATTNRT_OK;
}

extern "C" const char *attn_last_error(void) { return lastError.c_str(); }

extern "C" int attn_set_num_threads(int num_threads) {
  if (attnrt_set_num_threads(num_threads) != ATTNRT_OK)
    return fail(ATTNRT_INVALID_ARGUMENT, attnrt_last_error());
  return ATTNRT_OK;
}

extern "C" int attn_get_num_threads(void) { return attnrt_get_num_threads(); }

extern "C" int attn_plan_ragged(const DLTensor *qo_indptr,
                                const DLTensor *kv_lens, int64_t heads,
                                int64_t decode_items, DLTensor *plan) {
  int status = attnrt_plan_ragged(qo_indptr, kv_lens, heads, decode_items,
                                  plan);
  if (status != ATTNRT_OK)
    return fail(status, attnrt_last_error());
  return ATTNRT_OK;
}
