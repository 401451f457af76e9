//===- ExpandMath.cpp - math ops to PTX approximations ----------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUEXPANDMATHPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

Value callIntrinsic(PatternRewriter &rewriter, Location loc, StringRef name,
                    Value x) {
  return LLVM::CallIntrinsicOp::create(rewriter, loc, x.getType(),
                                       rewriter.getStringAttr(name),
                                       ValueRange{x})
      .getResult(0);
}

Value scaled(PatternRewriter &rewriter, Location loc, Value x, double s) {
  Value c = arith::ConstantOp::create(rewriter, loc, x.getType(),
                                      rewriter.getF32FloatAttr(s));
  return arith::MulFOp::create(rewriter, loc, x, c);
}

/// One f32 math op to an NVVM intrinsic, with the input and output scaled
/// by constants (exp(x) = ex2(x log2 e), log(x) = lg2(x) ln 2).
template <typename Op>
struct ToIntrinsic : OpRewritePattern<Op> {
  ToIntrinsic(MLIRContext *ctx, StringRef name, double inScale,
              double outScale)
      : OpRewritePattern<Op>(ctx, /*benefit=*/2), name(name.str()),
        inScale(inScale), outScale(outScale) {}
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    Value x = op->getOperand(0);
    if (!x.getType().isF32())
      return rewriter.notifyMatchFailure(op, "not f32");
    Location loc = op.getLoc();
    if (inScale != 1.0)
      x = scaled(rewriter, loc, x, inScale);
    Value y = callIntrinsic(rewriter, loc, name, x);
    if (outScale != 1.0)
      y = scaled(rewriter, loc, y, outScale);
    rewriter.replaceOp(op, y);
    return success();
  }
  std::string name;
  double inScale, outScale;
};

/// An f32 arith.divf allowed to approximate (fastmath `afn`) as
/// div.approx.f32: no slow path, hence no branch (div.rn.f32 branches to a
/// subroutine for special operands).
struct ApproxDiv : OpRewritePattern<arith::DivFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::DivFOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32() ||
        !arith::bitEnumContainsAll(op.getFastmath(),
                                   arith::FastMathFlags::afn))
      return rewriter.notifyMatchFailure(op, "not an approximable f32 divf");
    rewriter.replaceOp(
        op, LLVM::CallIntrinsicOp::create(
                rewriter, op.getLoc(), op.getType(),
                rewriter.getStringAttr("llvm.nvvm.div.approx.f"),
                ValueRange{op.getLhs(), op.getRhs()})
                .getResult(0));
    return success();
  }
};

/// fma(a, b, c) as a multiply and an add (contracted again by the backend):
/// math.fma would become a libdevice call.
struct ExpandFma : OpRewritePattern<math::FmaOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::FmaOp op,
                                PatternRewriter &rewriter) const override {
    Value m = arith::MulFOp::create(rewriter, op.getLoc(), op.getA(), op.getB());
    rewriter.replaceOpWithNewOp<arith::AddFOp>(op, m, op.getC());
    return success();
  }
};

/// absf and copysign on f32 as sign-bit operations.
struct ExpandSignOps : OpRewritePattern<math::AbsFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::AbsFOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    Value bits = arith::BitcastOp::create(rewriter, loc, i32, op.getOperand());
    Value mask = arith::ConstantIntOp::create(rewriter, loc, i32, 0x7fffffff);
    Value abs = arith::AndIOp::create(rewriter, loc, bits, mask);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, op.getType(), abs);
    return success();
  }
};

struct ExpandCopySign : OpRewritePattern<math::CopySignOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::CopySignOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    Value a = arith::BitcastOp::create(rewriter, loc, i32, op.getLhs());
    Value b = arith::BitcastOp::create(rewriter, loc, i32, op.getRhs());
    Value magnitude = arith::AndIOp::create(
        rewriter, loc, a,
        arith::ConstantIntOp::create(rewriter, loc, i32, 0x7fffffff));
    Value sign = arith::AndIOp::create(
        rewriter, loc, b,
        arith::ConstantIntOp::create(rewriter, loc, i32, 0x80000000LL));
    Value bits = arith::OrIOp::create(rewriter, loc, magnitude, sign);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, op.getType(), bits);
    return success();
  }
};

/// A math op on a 1-D vector, one scalar op per lane: the intrinsics and
/// bit tricks above are scalar, and vector math ops would otherwise reach
/// convert-gpu-to-nvvm, which calls libdevice for them.
struct UnrollVectorMath : RewritePattern {
  UnrollVectorMath(MLIRContext *ctx)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/3, ctx) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<math::MathDialect>(op->getDialect()) || op->getNumResults() != 1 ||
        op->getNumRegions() != 0)
      return failure();
    auto type = dyn_cast<VectorType>(op->getResult(0).getType());
    if (!type || type.getRank() != 1 || type.isScalable())
      return failure();
    for (Type t : op->getOperandTypes())
      if (t != type && !(isa<VectorType>(t) &&
                         cast<VectorType>(t).getShape() == type.getShape()))
        return failure();
    Location loc = op->getLoc();
    SmallVector<Value> lanes;
    for (int64_t i = 0; i < type.getDimSize(0); ++i) {
      SmallVector<Value> operands;
      for (Value v : op->getOperands())
        operands.push_back(vector::ExtractOp::create(rewriter, loc, v, i));
      OperationState state(loc, op->getName());
      state.addOperands(operands);
      state.addTypes(type.getElementType());
      state.addAttributes(op->getAttrs());
      lanes.push_back(rewriter.create(state)->getResult(0));
    }
    rewriter.replaceOpWithNewOp<vector::FromElementsOp>(op, type, lanes);
    return success();
  }
};

struct ExpandMath : attn::impl::AttnGPUExpandMathPassBase<ExpandMath> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<ToIntrinsic<math::Exp2Op>>(ctx, "llvm.nvvm.ex2.approx.ftz.f",
                                            1.0, 1.0);
    patterns.add<ToIntrinsic<math::ExpOp>>(ctx, "llvm.nvvm.ex2.approx.ftz.f",
                                           M_LOG2E, 1.0);
    patterns.add<ToIntrinsic<math::Log2Op>>(ctx, "llvm.nvvm.lg2.approx.ftz.f",
                                            1.0, 1.0);
    patterns.add<ToIntrinsic<math::LogOp>>(ctx, "llvm.nvvm.lg2.approx.ftz.f",
                                           1.0, M_LN2);
    patterns.add<ToIntrinsic<math::SqrtOp>>(ctx, "llvm.nvvm.sqrt.rn.f", 1.0,
                                            1.0);
    patterns.add<ToIntrinsic<math::RsqrtOp>>(
        ctx, "llvm.nvvm.rsqrt.approx.ftz.f", 1.0, 1.0);
    patterns.add<ToIntrinsic<math::FloorOp>>(ctx, "llvm.nvvm.floor.f", 1.0,
                                             1.0);
    patterns.add<ToIntrinsic<math::CeilOp>>(ctx, "llvm.nvvm.ceil.f", 1.0, 1.0);
    patterns.add<ToIntrinsic<math::TruncOp>>(ctx, "llvm.nvvm.trunc.f", 1.0,
                                             1.0);
    // cvt.rni: to nearest, ties to even.
    patterns.add<ToIntrinsic<math::RoundEvenOp>>(ctx, "llvm.nvvm.round.f", 1.0,
                                                 1.0);
    patterns.add<ApproxDiv, ExpandFma, ExpandSignOps, ExpandCopySign,
                 UnrollVectorMath>(ctx);
    populateMathPolynomialApproximationPatterns(
        patterns, MathPolynomialApproximationOptions{});
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
