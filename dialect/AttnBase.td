//===- AttnBase.td - attn dialect definition ---------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNBASE_TD
#define ATTN_DIALECT_ATTNBASE_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let useDefaultAttributePrinterParser = 1;
  let summary = "Attention, gating and routing operators and their tiled forms";
  let description = [{
    The `attn` dialect describes attention variants as a few ops with regions
    and attributes. `attn.attention` is the user-facing op: scaled dot-product
    attention over `[batch, heads, seq, head_dim]` tensors with GQA, causal
    masking, a score-modifier region, a mask region, an epilogue region and an
    optional log-sum-exp result. The tiling pass rewrites it into the
    FlashAttention-2 online-softmax form built from the tile-level ops
    `attn.tile_attend` and `attn.tile_finalize`, which each backend lowers to
    its own micro-kernels.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_ATTNBASE_TD
