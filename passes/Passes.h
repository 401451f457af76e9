//===- Passes.h - attn target-independent passes ----------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
namespace attn {

/// Steps per chunk of attn.scan's chunkwise form unless a tool or pipeline
/// option says otherwise (measured best on AVX-512; docs/linear-attention.md).
inline constexpr int64_t kDefaultScanChunk = 32;

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Name of the function attribute holding the C ABI signature string.
inline constexpr llvm::StringLiteral kAbiAttrName = "attn.abi";

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_PASSES_H
