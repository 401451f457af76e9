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
class OpBuilder;
namespace func {
class FuncOp;
} // namespace func
namespace attn {
class AttentionOp;
class AttentionBackwardOp;
class RopeOp;

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

/// For a target whose own kernels compute dQ, dK and dV of the memref
/// `op` (attn-gpu-tile-attention-backward): emits, before `op`,
/// attn-lower-attention-backward's nest for the gradients of the tensors
/// its regions read (zeroed, then accumulated per visible pair and sink in
/// a fixed order), given `dBuf` = D [B, Hq, Lq] f32 (null for sigmoid
/// attention). Leaves `op` in place.
void buildAttentionBackwardCaptures(AttentionBackwardOp op, Value dBuf,
                                    int64_t vectorWidth);

/// Whether attn-tile-attention reads `op`'s per-request key lengths and
/// page table itself (attn-materialize-pages keep-fused leaves such ops).
bool tilesThroughPages(AttentionOp op);

/// The dense [B, Hkv, max_pages * page_size, D] tensor of `op`'s paged
/// `pool` (its keys or values), zero past each request's length. With
/// `requests` (an i32 [N] tensor of request indices), [N, ...]: entry n
/// holds request requests[n]'s keys.
Value gatherPagedPool(OpBuilder &b, Location loc, AttentionOp op, Value pool,
                      Value requests = {});

/// The request of every token of a ragged `op` (qo_indptr): an i32 [T]
/// tensor, the number of r in [1, B] with indptr[r] <= t.
Value raggedRequests(OpBuilder &b, Location loc, AttentionOp op);

/// The request of dense batch entry `bi`: requests[bi] (raggedRequests'
/// tensor) clamped into [0, `last`] (lastRequest: in range by construction;
/// the clamp bounds the reads for Halide's inference), or `bi` itself
/// without `requests`.
Value requestOf(OpBuilder &b, Location loc, Value requests, Value last,
                Value bi);

/// B - 1, the last request index of `op` (its kv_lens' size), at `b`.
Value lastRequest(OpBuilder &b, Location loc, AttentionOp op);

/// Whether attn-tile-attention dequantizes `op`'s 8-bit key and value
/// tiles itself (attn-materialize-kv-quant keep-fused leaves such ops).
bool tilesQuantized(AttentionOp op);

/// Replaces `op`'s quantized keys/values (those with a scale) by
/// linalg.generics that dequantize them into the query's element type, and
/// drops the scales. No-op for an op that is not quantized.
void dequantizeKV(OpBuilder &b, AttentionOp op);

/// The work items of a decode request of ragged `op` on the CPU: its KV
/// heads when attn-tile-attention packs a group's query heads into one
/// tile, else its query heads (the plan's `decode_items`, runtime.h).
int64_t raggedDecodeItems(AttentionOp op);

/// Whether attn-tile-attention rotates `op`'s query and key tiles itself
/// (attn-materialize-rope keep-fused leaves such ops).
bool tilesRope(AttentionOp op);

/// Rewrites `op`'s `rope` into attn.rope ops on its query and keys at their
/// logical positions (gathering a paged pool first); no-op without rope.
LogicalResult materializeRope(OpBuilder &b, AttentionOp op);

/// The linalg.generic form of an attn.rope (its result); leaves `op`.
Value lowerRope(OpBuilder &b, RopeOp op);

/// Name of the function attribute holding the C ABI signature string.
inline constexpr llvm::StringLiteral kAbiAttrName = "attn.abi";

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_PASSES_H
