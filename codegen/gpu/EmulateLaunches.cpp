//===- EmulateLaunches.cpp - attn-gpu-emulate-launches ----------*- C++ -*-===//
//
// Part of the attn project.
//
// The SIMT launches of attn-gpu-map-loops, run as CPU loops: the test
// harness of the NVPTX pipeline's target-independent half on machines
// without a GPU.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUEMULATELAUNCHESPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

LogicalResult emulate(gpu::LaunchOp launch) {
  // Only the x ids and size of a 1-D launch have a meaning here.
  Block &body = launch.getBody().front();
  for (unsigned i = 0; i < body.getNumArguments(); ++i) {
    BlockArgument arg = body.getArgument(i);
    bool allowed = arg == launch.getBlockIds().x ||
                   arg == launch.getThreadIds().x ||
                   arg == launch.getBlockSize().x;
    if (!allowed && !arg.use_empty())
      return launch.emitOpError("uses GPU ids other than the x block and "
                                "thread ids; it cannot be emulated");
  }
  WalkResult walk = launch.getBody().walk([](Operation *op) {
    if (isa<gpu::TerminatorOp>(op))
      return WalkResult::advance();
    StringRef ns = op->getDialect() ? op->getDialect()->getNamespace() : "";
    if (ns == "gpu" || ns == "nvvm" || ns == "nvgpu" || ns == "llvm") {
      op->emitOpError("cannot be emulated on the host");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (launch.getDynamicSharedMemorySize() || !launch.getAsyncDependencies().empty())
    return launch.emitOpError("with shared memory or async dependencies "
                              "cannot be emulated");

  OpBuilder b(launch);
  Location loc = launch.getLoc();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = launch.getBlockSizeX();
  auto blocks = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{launch.getGridSizeX()}, ValueRange{},
      std::nullopt);
  b.setInsertionPointToStart(blocks.getBody());
  auto loop = scf::ForOp::create(b, loc, c0, threads, c1);
  launch.getBlockIds().x.replaceAllUsesWith(blocks.getInductionVar(0));
  launch.getThreadIds().x.replaceAllUsesWith(loop.getInductionVar());
  launch.getBlockSize().x.replaceAllUsesWith(threads);
  body.getTerminator()->erase();
  Block *inner = loop.getBody();
  inner->getOperations().splice(inner->getTerminator()->getIterator(),
                                body.getOperations());
  launch.erase();
  return success();
}

struct EmulateLaunches
    : attn::impl::AttnGPUEmulateLaunchesPassBase<EmulateLaunches> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp op) { launches.push_back(op); });
    for (gpu::LaunchOp launch : launches)
      if (failed(emulate(launch)))
        return signalPassFailure();

    lowerDeviceMemoryToHost(getOperation());
  }
};

} // namespace

void mlir::attn::lowerDeviceMemoryToHost(Operation *root) {
  // Device memory is host memory; streams are gone.
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (isa<gpu::AllocOp, gpu::DeallocOp, gpu::WaitOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    OpBuilder b(op);
    if (auto alloc = dyn_cast<gpu::AllocOp>(op)) {
      Value m = memref::AllocOp::create(b, alloc.getLoc(), alloc.getType(),
                                        alloc.getDynamicSizes());
      alloc.getMemref().replaceAllUsesWith(m);
      if (Value token = alloc.getAsyncToken())
        token.replaceAllUsesWith(alloc.getAsyncDependencies().front());
    } else if (auto dealloc = dyn_cast<gpu::DeallocOp>(op)) {
      memref::DeallocOp::create(b, dealloc.getLoc(), dealloc.getMemref());
      if (Value token = dealloc.getAsyncToken())
        token.replaceAllUsesWith(dealloc.getAsyncDependencies().front());
    }
  }
  // Waits last (their tokens feed the allocations' dependencies).
  SmallVector<Operation *> waits;
  for (Operation *op : llvm::reverse(ops)) {
    if (isa<gpu::WaitOp>(op))
      waits.push_back(op);
    else
      op->erase();
  }
  for (Operation *op : waits) {
    op->dropAllUses();
    op->erase();
  }
}
