//===- MapLoops.cpp - attn-gpu-map-loops ------------------------*- C++ -*-===//
//
// Part of the attn project.
//
// The target-independent lowerings (routers, experts, pooling, scans, the
// SIMT attention tiles, unfused elementwise loops) produce parallel loops
// over buffers. On the NVPTX target those loops become kernels: one thread
// per iteration of the collapsed iteration space. What the host would
// otherwise do with buffer contents runs in single-thread kernels, so that
// the host never dereferences device memory.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUMAPLOOPSPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Per-thread scratch of at least this size lives in global memory.
constexpr int64_t kMaxLocalScratchBytes = 16 * 1024;

/// Ops the host may run on buffers: they handle descriptors, never the
/// contents.
bool isDescriptorOp(Operation *op) {
  return isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
             memref::DimOp,
             memref::CastOp, memref::AssumeAlignmentOp, memref::SubViewOp,
             memref::ReinterpretCastOp, memref::ExtractStridedMetadataOp,
             memref::CollapseShapeOp, memref::ExpandShapeOp, memref::ViewOp,
             memref::ExtractAlignedPointerAsIndexOp, gpu::AllocOp,
             gpu::DeallocOp, gpu::LaunchOp, func::ReturnOp>(op);
}

bool isParallelLoop(Operation *op) {
  return isa<scf::ForallOp, scf::ParallelOp>(op);
}

/// True if `op` (or an op nested in it) reads or writes buffer contents.
bool touchesBuffers(Operation *op) {
  auto isBuffer = [](Type t) { return isa<BaseMemRefType>(t); };
  WalkResult result = op->walk([&](Operation *inner) {
    if (isDescriptorOp(inner))
      return WalkResult::advance();
    if (llvm::any_of(inner->getOperandTypes(), isBuffer) ||
        llvm::any_of(inner->getResultTypes(), isBuffer))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

bool containsParallelLoop(Operation *op) {
  return op
      ->walk([](Operation *inner) {
        return isParallelLoop(inner) ? WalkResult::interrupt()
                                     : WalkResult::advance();
      })
      .wasInterrupted();
}

/// A launch of grid (gx, 1, 1) x block (bx, 1, 1) before `at`, its body
/// ending in gpu.terminator; the builder is left at the body's start.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, Value gx, Value bx) {
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, gx, c1, c1, bx, c1, c1);
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  return launch;
}

/// Replaces the outermost parallel loop `par` (no reductions) by a launch
/// with one thread per iteration; nested parallel loops become sequential.
LogicalResult mapParallel(scf::ParallelOp par, int64_t blockSize) {
  if (par.getNumResults() != 0)
    return par.emitOpError("with reductions is not supported on the nvptx "
                           "target");
  IRRewriter rewriter(par.getContext());
  SmallVector<scf::ParallelOp> nested;
  par.getBody()->walk([&](scf::ParallelOp op) { nested.push_back(op); });
  for (scf::ParallelOp op : llvm::reverse(nested)) {
    if (op.getNumResults() != 0)
      return op.emitOpError("with reductions is not supported on the nvptx "
                            "target");
    rewriter.setInsertionPoint(op);
    if (failed(scf::parallelForToNestedFors(rewriter, op)))
      return failure();
  }

  OpBuilder b(par);
  Location loc = par.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> trips;
  Value total = one;
  for (auto [lb, ub, step] :
       llvm::zip(par.getLowerBound(), par.getUpperBound(), par.getStep())) {
    Value span = arith::MaxSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, ub, lb), zero);
    Value n = arith::CeilDivUIOp::create(b, loc, span, step);
    trips.push_back(n);
    total = arith::MulIOp::create(b, loc, total, n);
  }
  // Large per-iteration scratch (an expert's gathered rows, say) would be
  // reserved as local memory for every thread the GPU can hold; it goes to
  // one device buffer instead, a slice per iteration.
  SmallVector<std::pair<memref::AllocaOp, int64_t>> hoisted;
  Value scratch;
  int64_t sliceBytes = 0;
  SmallVector<memref::AllocaOp> allocas;
  par.getBody()->walk([&](memref::AllocaOp alloca) {
    // Once per iteration: not inside a loop of the body.
    for (Operation *p = alloca->getParentOp(); p != par; p = p->getParentOp())
      if (isa<LoopLikeOpInterface>(p))
        return;
    allocas.push_back(alloca);
  });
  for (memref::AllocaOp alloca : allocas) {
    if (!alloca.getType().hasStaticShape() ||
        !alloca.getType().getLayout().isIdentity() ||
        !alloca.getType().getElementType().isIntOrFloat())
      continue;
    MemRefType type = alloca.getType();
    int64_t bytes = type.getNumElements() *
                    llvm::divideCeil(type.getElementTypeBitWidth(), 8);
    if (bytes < kMaxLocalScratchBytes)
      continue;
    hoisted.push_back({alloca, sliceBytes});
    sliceBytes += llvm::alignTo(bytes, 64);
  }
  if (!hoisted.empty())
    scratch = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
        ValueRange{arith::MulIOp::create(
            b, loc, total,
            arith::ConstantIndexOp::create(b, loc, sliceBytes))});

  Value threads = arith::ConstantIndexOp::create(b, loc, blockSize);
  Value blocks = arith::CeilDivUIOp::create(b, loc, total, threads);
  gpu::LaunchOp launch = createLaunch(b, loc, blocks, threads);
  Value linear = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            launch.getBlockSize().x),
      launch.getThreadIds().x);
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        linear, total);
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  b.setInsertionPointToStart(guard.thenBlock());
  for (auto [alloca, offset] : hoisted) {
    Value shift = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(
            b, loc, linear,
            arith::ConstantIndexOp::create(b, loc, sliceBytes)),
        arith::ConstantIndexOp::create(b, loc, offset));
    Value view = memref::ViewOp::create(b, loc, alloca.getType(), scratch,
                                        shift, ValueRange{});
    alloca.replaceAllUsesWith(view);
    alloca.erase();
  }
  // Delinearize, the first dimension slowest (the innermost dimension is
  // contiguous across neighbouring threads: coalesced accesses).
  SmallVector<Value> ivs(trips.size());
  for (int64_t dim = trips.size() - 1; dim >= 0; --dim) {
    Value idx = dim == 0 ? linear
                         : arith::RemUIOp::create(b, loc, linear, trips[dim])
                               .getResult();
    if (dim != 0)
      linear = arith::DivUIOp::create(b, loc, linear, trips[dim]);
    ivs[dim] = arith::AddIOp::create(
        b, loc, par.getLowerBound()[dim],
        arith::MulIOp::create(b, loc, idx, par.getStep()[dim]));
  }
  Block *old = par.getBody();
  old->getTerminator()->erase();
  for (auto [arg, iv] : llvm::zip(old->getArguments(), ivs))
    arg.replaceAllUsesWith(iv);
  Block *then = guard.thenBlock();
  then->getOperations().splice(then->getTerminator()->getIterator(),
                               old->getOperations());
  par.erase();
  return success();
}

/// Host-side scalars a kernel reads (a run-time prefix length read from a
/// tensor, say) are computed from device buffers: recompute them inside the
/// kernel instead, cloning the loads and the pure ops that lead to them.
void sinkScalarReads(gpu::LaunchOp launch) {
  Region &body = launch.getBody();
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(body, captured);
  OpBuilder b = OpBuilder::atBlockBegin(&body.front());
  IRMapping map;
  std::function<bool(Value)> sinkable = [&](Value v) -> bool {
    if (map.contains(v) || isa<BlockArgument>(v) ||
        isa<BaseMemRefType>(v.getType()))
      return true;
    Operation *def = v.getDefiningOp();
    if (!def || def->getNumRegions() != 0 ||
        !(isa<memref::LoadOp>(def) || isPure(def)))
      return false;
    return llvm::all_of(def->getOperands(), sinkable);
  };
  std::function<void(Operation *)> cloneChain = [&](Operation *def) {
    for (Value operand : def->getOperands())
      if (Operation *inner = operand.getDefiningOp();
          inner && !map.contains(operand) &&
          !isa<BaseMemRefType>(operand.getType()))
        cloneChain(inner);
    if (!map.contains(def->getResult(0)))
      b.clone(*def, map);
  };
  // Scalars whose computation reads a buffer move in; the others stay
  // kernel arguments.
  std::function<bool(Value)> readsBuffer = [&](Value v) -> bool {
    Operation *def = v.getDefiningOp();
    return def && (isa<memref::LoadOp>(def) ||
                   llvm::any_of(def->getOperands(), readsBuffer));
  };
  for (Value v : captured) {
    Operation *def = v.getDefiningOp();
    if (!def || !sinkable(v) || !readsBuffer(v))
      continue;
    cloneChain(def);
    replaceAllUsesInRegionWith(v, map.lookup(v), body);
  }
}

/// Erases host loads and pure ops left without uses (after sinking).
void eraseDeadHostReads(Block &block) {
  for (bool changed = true; changed;) {
    changed = false;
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
      if (op.use_empty() && op.getNumRegions() == 0 &&
          !op.hasTrait<OpTrait::IsTerminator>() &&
          (isa<memref::LoadOp>(op) || isPure(&op))) {
        op.erase();
        changed = true;
      }
  }
}

/// gpu.alloc and gpu.dealloc in the form gpu-to-llvm lowers (on a stream,
/// waited for): `mgpuMemAlloc`/`mgpuMemFree` of libattnrt.
Value deviceAlloc(OpBuilder &b, Location loc, MemRefType type,
                  ValueRange sizes) {
  Type token = b.getType<gpu::AsyncTokenType>();
  Value stream = gpu::WaitOp::create(b, loc, token, ValueRange()).getResult(0);
  auto alloc = gpu::AllocOp::create(b, loc, type, token, ValueRange{stream},
                                    sizes, ValueRange(), /*hostShared=*/false);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{alloc.getAsyncToken()});
  return alloc.getMemref();
}

void deviceFree(OpBuilder &b, Location loc, Value buffer) {
  Type token = b.getType<gpu::AsyncTokenType>();
  Value stream = gpu::WaitOp::create(b, loc, token, ValueRange()).getResult(0);
  auto dealloc =
      gpu::DeallocOp::create(b, loc, token, ValueRange{stream}, buffer);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{dealloc.getAsyncToken()});
}

struct MapLoops : attn::impl::AttnGPUMapLoopsPassBase<MapLoops> {
  using Base::Base;

  /// Maps the outermost parallel loops in `block` (recursively through host
  /// control flow) to launches.
  LogicalResult mapLoops(Block &block) {
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (isa<gpu::LaunchOp>(op))
        continue;
      if (auto forall = dyn_cast<scf::ForallOp>(op)) {
        if (forall.getNumResults() != 0)
          return forall.emitOpError("with shared outputs is not supported on "
                                    "the nvptx target (run after "
                                    "bufferization)");
        IRRewriter rewriter(&getContext());
        rewriter.setInsertionPoint(forall);
        scf::ParallelOp par;
        // Nested foralls first, so that they become nested parallel loops.
        SmallVector<scf::ForallOp> inner;
        forall.getBody()->walk([&](scf::ForallOp f) { inner.push_back(f); });
        for (scf::ForallOp f : llvm::reverse(inner)) {
          rewriter.setInsertionPoint(f);
          if (failed(scf::forallToParallelLoop(rewriter, f)))
            return failure();
        }
        rewriter.setInsertionPoint(forall);
        if (failed(scf::forallToParallelLoop(rewriter, forall, &par)) ||
            failed(mapParallel(par, blockSize)))
          return failure();
        continue;
      }
      if (auto par = dyn_cast<scf::ParallelOp>(op)) {
        if (failed(mapParallel(par, blockSize)))
          return failure();
        continue;
      }
      if (op.getNumRegions() != 0 && containsParallelLoop(&op))
        for (Region &region : op.getRegions())
          for (Block &inner : region)
            if (failed(mapLoops(inner)))
              return failure();
    }
    return success();
  }

  /// Gathers the host ops of `block` that touch buffer contents into
  /// single-thread launches, keeping their order relative to the other
  /// launches and to deallocation.
  LogicalResult gatherSerial(Block &block) {
    SmallVector<Operation *> group;
    llvm::SmallPtrSet<Operation *, 16> inGroup;
    auto flush = [&]() -> LogicalResult {
      if (group.empty())
        return success();
      // The read a value escaping to the host comes from.
      std::function<Operation *(Operation *)> readOf =
          [&](Operation *op) -> Operation * {
        if (!isPure(op))
          return op;
        for (Value operand : op->getOperands())
          if (Operation *def = operand.getDefiningOp();
              def && inGroup.contains(def))
            return readOf(def);
        return op;
      };
      for (Operation *op : group)
        for (Value result : op->getResults())
          for (Operation *user : result.getUsers()) {
            Operation *top = block.findAncestorOpInBlock(*user);
            if (!top || !inGroup.contains(top))
              return readOf(op)->emitOpError(
                         "reads device memory for a value the host needs; "
                         "this is not supported on the nvptx target")
                         .attachNote(user->getLoc())
                     << "used here";
          }
      Operation *last = group.back();
      OpBuilder b(last->getContext());
      b.setInsertionPointAfter(last);
      Location loc = group.front()->getLoc();
      Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
      gpu::LaunchOp launch = createLaunch(b, loc, c1, c1);
      Operation *terminator = launch.getBody().front().getTerminator();
      for (Operation *op : group)
        op->moveBefore(terminator);
      group.clear();
      inGroup.clear();
      return success();
    };
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (isa<gpu::LaunchOp>(op)) {
        if (failed(flush()))
          return failure();
        continue;
      }
      bool dependsOnGroup = llvm::any_of(op.getOperands(), [&](Value v) {
        Operation *def = v.getDefiningOp();
        return def && inGroup.contains(def);
      });
      if (op.getNumRegions() != 0 && !isPure(&op) &&
          op.walk([](gpu::LaunchOp) { return WalkResult::interrupt(); })
              .wasInterrupted()) {
        // Host control flow around launches: its serial parts are handled
        // inside.
        if (failed(flush()))
          return failure();
        for (Region &region : op.getRegions())
          for (Block &inner : region)
            if (failed(gatherSerial(inner)))
              return failure();
        continue;
      }
      if (op.hasTrait<OpTrait::IsTerminator>() ||
          isa<memref::DeallocOp, func::CallOp>(op)) {
        if (failed(flush()))
          return failure();
        continue;
      }
      if (touchesBuffers(&op) || (dependsOnGroup && isPure(&op))) {
        group.push_back(&op);
        inGroup.insert(&op);
        continue;
      }
      if (!isPure(&op) && !isDescriptorOp(&op)) {
        if (failed(flush()))
          return failure();
      }
    }
    return flush();
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    for (Block &block : func.getBody())
      if (failed(mapLoops(block)))
        return signalPassFailure();

    // Host scalar reads that kernels need move into the kernels.
    func.walk([](gpu::LaunchOp launch) { sinkScalarReads(launch); });
    for (Block &block : func.getBody())
      eraseDeadHostReads(block);

    for (Block &block : func.getBody())
      if (failed(gatherSerial(block)))
        return signalPassFailure();

    // Buffers of the host (intermediate tensors, the lowerings' scratch)
    // live in device memory, freed at the end of their block.
    SmallVector<Operation *> allocs;
    func.walk([&](Operation *op) {
      if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(op) &&
          !op->getParentOfType<gpu::LaunchOp>())
        allocs.push_back(op);
    });
    for (Operation *op : allocs) {
      OpBuilder b(op);
      if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        deviceFree(b, dealloc.getLoc(), dealloc.getMemref());
        dealloc.erase();
        continue;
      }
      auto type = cast<MemRefType>(op->getResult(0).getType());
      if (!type.getLayout().isIdentity() || type.getMemorySpace())
        continue;
      for (Operation *user : op->getResult(0).getUsers())
        if (user->hasTrait<OpTrait::IsTerminator>()) {
          op->emitOpError("escapes its block; this is not supported on the "
                          "nvptx target")
                  .attachNote(user->getLoc())
              << "escapes here";
          return signalPassFailure();
        }
      // A buffer the host frees itself keeps its dealloc (converted when
      // the walk reaches it); the others are freed at the end of the block.
      bool freed = llvm::any_of(op->getResult(0).getUsers(), [](Operation *u) {
        return isa<memref::DeallocOp>(u);
      });
      Value buffer = deviceAlloc(b, op->getLoc(), type, op->getOperands());
      op->getResult(0).replaceAllUsesWith(buffer);
      if (!freed) {
        b.setInsertionPoint(op->getBlock()->getTerminator());
        deviceFree(b, op->getLoc(), buffer);
      }
      op->erase();
    }
  }
};

} // namespace
