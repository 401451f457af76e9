//===- OutlineParallel.cpp - parallel bodies to runtime calls ---*- C++ -*-===//
//
// Part of the attn project.
//
// Runs on the LLVM dialect. Each attn.parallel_for becomes
//
//   %ctx = alloca {captures}; store captures
//   llvm.call @attnrt_parallel_for(%count, @body, %ctx)
//
//   llvm.func internal @body(%ctx: !llvm.ptr, %begin: i64, %end: i64) {
//     load captures; allocas (hoisted)
//     for (%i = %begin; %i < %end; ++%i) { <original body> }
//     (with stacksave/stackrestore around each iteration if the body has
//     allocas of run-time size)
//   }
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCPUOUTLINEPARALLELPASS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

static LLVM::LLVMFuncOp getOrDeclareRuntimeFn(ModuleOp module) {
  constexpr StringLiteral name = "attnrt_parallel_for";
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  MLIRContext *ctx = module.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                          {IntegerType::get(ctx, 64), ptr, ptr});
  return LLVM::LLVMFuncOp::create(b, module.getLoc(), name, type);
}

static LogicalResult outline(ParallelForOp par, ModuleOp module,
                             unsigned &counter) {
  MLIRContext *ctx = par.getContext();
  Location loc = par.getLoc();
  auto parent = par->getParentOfType<LLVM::LLVMFuncOp>();
  if (!parent)
    return par.emitOpError("expected to be inside an llvm.func; run the "
                           "conversion to the LLVM dialect first");
  Region &region = par.getBody();
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(region, captured);
  SmallVector<Type> types;
  for (Value v : captured) {
    if (!LLVM::isCompatibleType(v.getType()))
      return par.emitOpError() << "captures a value of non-LLVM type "
                               << v.getType();
    types.push_back(v.getType());
  }
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto i32 = IntegerType::get(ctx, 32);
  auto ctxType = LLVM::LLVMStructType::getLiteral(
      ctx, types.empty() ? SmallVector<Type>{i64} : types);

  // The outlined function.
  OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
  std::string name =
      (parent.getSymName() + "_parallel_" + Twine(counter++)).str();
  auto fnType = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                            {ptr, i64, i64});
  auto fn = LLVM::LLVMFuncOp::create(mb, loc, name, fnType,
                                     LLVM::Linkage::Internal);
  Block *entry = fn.addEntryBlock(mb);
  Value ctxArg = entry->getArgument(0), begin = entry->getArgument(1),
        end = entry->getArgument(2);
  Block *header = new Block();
  header->addArgument(i64, loc);
  Block *exit = new Block();
  Block *latch = new Block();
  latch->addArgument(i64, loc);

  OpBuilder b = OpBuilder::atBlockEnd(entry);
  SmallVector<Value> loaded;
  for (auto [k, type] : llvm::enumerate(types)) {
    Value addr = LLVM::GEPOp::create(
        b, loc, ptr, ctxType, ctxArg,
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(k)});
    loaded.push_back(LLVM::LoadOp::create(b, loc, type, addr));
  }

  // Move the body in; the region's entry block takes the iteration index.
  Block *bodyEntry = &region.front();
  Region &fnBody = fn.getBody();
  fnBody.getBlocks().splice(fnBody.end(), region.getBlocks());
  fnBody.push_back(header);
  fnBody.push_back(latch);
  fnBody.push_back(exit);
  LLVM::BrOp::create(b, loc, ValueRange{begin}, header);

  b.setInsertionPointToEnd(header);
  Value iv = header->getArgument(0);
  Value more = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt, iv, end);
  LLVM::CondBrOp::create(b, loc, more, bodyEntry, ValueRange{iv}, exit,
                         ValueRange{});
  b.setInsertionPointToEnd(latch);
  Value one = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1));
  Value next = LLVM::AddOp::create(b, loc, latch->getArgument(0), one);
  LLVM::BrOp::create(b, loc, ValueRange{next}, header);
  b.setInsertionPointToEnd(exit);
  LLVM::ReturnOp::create(b, loc, ValueRange{});

  // attn.yield -> branch to the latch with the current index.
  SmallVector<YieldOp> yields;
  for (Block &block : fnBody)
    if (auto y = dyn_cast<YieldOp>(block.getTerminator()))
      yields.push_back(y);
  for (YieldOp y : yields) {
    OpBuilder yb(y);
    LLVM::BrOp::create(yb, y.getLoc(), ValueRange{bodyEntry->getArgument(0)},
                       latch);
    y.erase();
  }

  // Captured values -> loads from the context.
  for (auto [captive, l] : llvm::zip(captured, loaded)) {
    Value v = captive;
    v.replaceUsesWithIf(l, [&](OpOperand &use) {
      return fn->isProperAncestor(use.getOwner());
    });
  }

  // Hoist constant-size allocas to the entry block: one per chunk, not per
  // iteration.
  SmallVector<LLVM::AllocaOp> allocas;
  fn.walk([&](LLVM::AllocaOp a) {
    if (a->getBlock() != entry && matchPattern(a.getArraySize(), m_Constant()))
      allocas.push_back(a);
  });
  OpBuilder hb(entry, entry->begin());
  for (LLVM::AllocaOp a : allocas) {
    Operation *size = hb.clone(*a.getArraySize().getDefiningOp());
    a->moveAfter(size);
    a.getArraySizeMutable().assign(size->getResult(0));
    hb.setInsertionPointAfter(a);
  }

  // Allocas of run-time size stay in the body: release them at the end of
  // each iteration, or a chunk of iterations would grow the stack.
  bool dynamicAlloca = false;
  fn.walk([&](LLVM::AllocaOp a) { dynamicAlloca |= a->getBlock() != entry; });
  if (dynamicAlloca) {
    OpBuilder sb(header, header->begin());
    Value sp = LLVM::StackSaveOp::create(sb, loc, ptr);
    sb.setInsertionPoint(latch->getTerminator());
    LLVM::StackRestoreOp::create(sb, loc, sp);
  }

  // The call site.
  OpBuilder cb(par);
  Block &parentEntry = parent.getBody().front();
  OpBuilder ab(&parentEntry, parentEntry.begin());
  Value oneI32 = LLVM::ConstantOp::create(ab, loc, i32, ab.getI32IntegerAttr(1));
  Value ctxBuf = LLVM::AllocaOp::create(ab, loc, ptr, ctxType, oneI32);
  for (auto [k, v] : llvm::enumerate(captured)) {
    Value addr = LLVM::GEPOp::create(
        cb, loc, ptr, ctxType, ctxBuf,
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(k)});
    LLVM::StoreOp::create(cb, loc, v, addr);
  }
  Value fnAddr = LLVM::AddressOfOp::create(cb, loc, ptr, fn.getSymName());
  LLVM::CallOp::create(cb, loc, getOrDeclareRuntimeFn(module),
                       ValueRange{par.getCount(), fnAddr, ctxBuf});
  par.erase();
  return success();
}

struct OutlineParallel
    : attn::impl::AttnCPUOutlineParallelPassBase<OutlineParallel> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<ParallelForOp> ops;
    module.walk<WalkOrder::PostOrder>(
        [&](ParallelForOp op) { ops.push_back(op); });
    unsigned counter = 0;
    for (ParallelForOp op : ops)
      if (failed(outline(op, module, counter)))
        return signalPassFailure();
  }
};
} // namespace
