//===- KernelJIT.h - load compiled kernels in-process -----------*- C++ -*-===//
//
// Part of the attn project.
//
// attn-run and libattn (the Python package's library) load the objects the
// CPU and GPU-emulation pipelines emit into the running process with ORC,
// their references to libattnrt resolved to the copy linked into the
// process, and call their DLPack entry points.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_KERNELJIT_H
#define ATTN_TOOLS_KERNELJIT_H

#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/Error.h"

#include <dlpack/dlpack.h>

#include <cstddef>
#include <memory>

namespace mlir::attn {

/// An LLJIT whose main library resolves libattnrt's entry points (the
/// runtime, the CUDA driver shim, the GPU emulator, MLIR's allocation ABI)
/// to this process's copy, then anything else the process exports.
llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> createKernelJIT();

/// The most tensors callEntryPoint passes.
constexpr size_t kMaxEntryPointTensors = 64;

/// Calls an entry point `int f(DLTensor *, ...)` of `n` tensors (1 to
/// kMaxEntryPointTensors; otherwise an ATTNRT_UNSUPPORTED status).
int callEntryPoint(void *fn, DLTensor **args, size_t n);

} // namespace mlir::attn

#endif // ATTN_TOOLS_KERNELJIT_H
