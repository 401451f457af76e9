//===- KernelJIT.cpp - load compiled kernels in-process ---------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "tools/KernelJIT.h"

#include "codegen/cpu/Target.h"

#include "attn/gpu_emulation.h"
#include "attn/runtime.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"

#include <type_traits>
#include <utility>

using namespace mlir;
using namespace mlir::attn;

llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>>
mlir::attn::createKernelJIT() {
  initializeNativeTarget();
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return jit.takeError();
  llvm::orc::JITDylib &lib = (*jit)->getMainJITDylib();
  llvm::orc::SymbolMap runtime;
  auto add = [&](const char *name, auto *ptr) {
    runtime[(*jit)->mangleAndIntern(name)] = {
        llvm::orc::ExecutorAddr::fromPtr(ptr), llvm::JITSymbolFlags::Exported};
  };
  add("attnrt_invoke", &attnrt_invoke);
  add("attnrt_cuda_invoke", &attnrt_cuda_invoke);
  add("mgpuModuleLoad", &mgpuModuleLoad);
  add("mgpuModuleLoadJIT", &mgpuModuleLoadJIT);
  add("mgpuModuleUnload", &mgpuModuleUnload);
  add("mgpuModuleGetFunction", &mgpuModuleGetFunction);
  add("mgpuLaunchKernel", &mgpuLaunchKernel);
  add("mgpuStreamCreate", &mgpuStreamCreate);
  add("mgpuStreamDestroy", &mgpuStreamDestroy);
  add("mgpuStreamSynchronize", &mgpuStreamSynchronize);
  add("mgpuMemAlloc", &mgpuMemAlloc);
  add("mgpuMemFree", &mgpuMemFree);
  add("attnrt_parallel_for", &attnrt_parallel_for);
  add("attnemu_launch", &attnemu_launch);
  add("attnemu_id", &attnemu_id);
  add("attnemu_shared_base", &attnemu_shared_base);
  add("attnemu_shared_size", &attnemu_shared_size);
  add("attnemu_barrier", &attnemu_barrier);
  add("attnemu_shfl", &attnemu_shfl);
  add("attnemu_ldmatrix", &attnemu_ldmatrix);
  add("attnemu_mma_m16n8k16", &attnemu_mma_m16n8k16);
  add("attnemu_cp_async", &attnemu_cp_async);
  add("attnemu_cp_async_commit", &attnemu_cp_async_commit);
  add("attnemu_cp_async_wait", &attnemu_cp_async_wait);
  add("attnemu_shared_access", &attnemu_shared_access);
  add("attnemu_global_oob", &attnemu_global_oob);
  add("_mlir_memref_to_llvm_alloc", &_mlir_memref_to_llvm_alloc);
  add("_mlir_memref_to_llvm_aligned_alloc",
      &_mlir_memref_to_llvm_aligned_alloc);
  add("_mlir_memref_to_llvm_free", &_mlir_memref_to_llvm_free);
  if (llvm::Error err = lib.define(llvm::orc::absoluteSymbols(runtime)))
    return std::move(err);
  auto host = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!host)
    return host.takeError();
  lib.addGenerator(std::move(*host));
  return std::move(*jit);
}

/// Calls `fn` as `int f(DLTensor *, ... n times)`.
template <size_t... I>
static int callWith(void *fn, DLTensor **args, std::index_sequence<I...>) {
  using F = int (*)(std::enable_if_t<(I, true), DLTensor *>...);
  return reinterpret_cast<F>(fn)(args[I]...);
}

template <size_t... N>
static int callEntryTable(void *fn, DLTensor **args, size_t n,
                          std::index_sequence<N...>) {
  using Caller = int (*)(void *, DLTensor **);
  static constexpr Caller callers[] = {+[](void *f, DLTensor **a) {
    return callWith(f, a, std::make_index_sequence<N>());
  }...};
  return callers[n](fn, args);
}

int mlir::attn::callEntryPoint(void *fn, DLTensor **args, size_t n) {
  if (n == 0 || n > kMaxEntryPointTensors)
    return attnrt_set_error(ATTNRT_UNSUPPORTED,
                            "an entry point takes 1 to %zu tensors, not %zu",
                            kMaxEntryPointTensors, n);
  return callEntryTable(fn, args, n,
                        std::make_index_sequence<kMaxEntryPointTensors + 1>());
}
