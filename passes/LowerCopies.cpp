//===- LowerCopies.cpp - memref.copy to linalg.copy -------------*- C++ -*-===//
//
// Part of the attn project.
//
// Bufferization turns tensor.insert_slice and friends into memref.copy
// between strided views. The LLVM lowering of a non-contiguous memref.copy
// is a call to `memrefCopy` from MLIR's C runner utilities, a library that
// attn-compiled objects must not need. As linalg.copy the same copy becomes
// plain loops (convert-linalg-to-loops), compiled into the kernel.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERCOPIESPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct LowerCopies : mlir::attn::impl::AttnLowerCopiesPassBase<LowerCopies> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), op.getSource(), op.getTarget());
      op.erase();
    }
  }
};
} // namespace
