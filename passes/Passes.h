//===- Passes.h - attn target-independent passes ----------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewriterBase;
namespace func {
class FuncOp;
} // namespace func
namespace attn {
class AttentionOp;

/// Steps per chunk of attn.scan's chunkwise form unless a tool or pipeline
/// option says otherwise (measured best on AVX-512; docs/linear-attention.md).
inline constexpr int64_t kDefaultScanChunk = 32;

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Rewrites `op`'s row_entropy and column_scores outputs as second
/// attentions from its log-sum-exp and elementwise generics (what
/// attn-expand-side-outputs does when nothing is fused): the training
/// forward differentiates that form.
void expandSideOutputs(RewriterBase &b, AttentionOp op);

/// Name of the function attribute holding the C ABI signature string.
inline constexpr llvm::StringLiteral kAbiAttrName = "attn.abi";

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_PASSES_H
