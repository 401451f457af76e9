//===- BufferizableOpInterfaceImpl.cpp - attn bufferization -----*- C++ -*-===//
//
// Part of the attn project.
//
// attn.attention is destination-passing: its outputs bufferize in place into
// its `outs` buffers, its inputs are only read. The regions move into the
// memref form of the op unchanged; the tensor.extract ops inside them are
// bufferized by their own models afterwards.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::bufferization;

namespace {
/// Every destination-passing attn op: the same op on the operands' buffers
/// (outputs are written, never read, unless `ReadsInits`: an update in
/// place such as attn.append_kv's keeps what it does not write), regions
/// moved over, no results.
template <typename OpTy, bool ReadsInits = false>
struct GenericDstInterface
    : public DstBufferizableOpInterfaceExternalModel<
          GenericDstInterface<OpTy, ReadsInits>, OpTy> {
  bool bufferizesToMemoryRead(Operation *op, OpOperand &opOperand,
                              const AnalysisState &state) const {
    return ReadsInits ||
           !cast<DestinationStyleOpInterface>(op).isDpsInit(&opOperand);
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto dps = cast<DestinationStyleOpInterface>(op);
    SmallVector<Value> buffers, outs;
    for (OpOperand &operand : op->getOpOperands()) {
      FailureOr<Value> buffer =
          getBuffer(rewriter, operand.get(), options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
      if (dps.isDpsInit(&operand))
        outs.push_back(*buffer);
    }
    rewriter.setInsertionPoint(op);
    OperationState newState(op->getLoc(), op->getName());
    newState.addOperands(buffers);
    newState.addAttributes(op->getAttrs());
    for (Region &region : op->getRegions()) {
      Region *r = newState.addRegion();
      rewriter.inlineRegionBefore(region, *r, r->end());
    }
    rewriter.create(newState);
    replaceOpWithBufferizedValues(rewriter, op, outs);
    return success();
  }
};
} // namespace

void mlir::attn::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, AttnDialect *dialect) {
    AttentionOp::attachInterface<GenericDstInterface<AttentionOp>>(*ctx);
    AttentionBackwardOp::attachInterface<
        GenericDstInterface<AttentionBackwardOp>>(*ctx);
    CumsumOp::attachInterface<GenericDstInterface<CumsumOp>>(*ctx);
    AppendKVOp::attachInterface<
        GenericDstInterface<AppendKVOp, /*ReadsInits=*/true>>(*ctx);
    RouteOp::attachInterface<GenericDstInterface<RouteOp>>(*ctx);
    ExpertsOp::attachInterface<GenericDstInterface<ExpertsOp>>(*ctx);
    GateOp::attachInterface<GenericDstInterface<GateOp>>(*ctx);
    PoolOp::attachInterface<GenericDstInterface<PoolOp>>(*ctx);
    EvictOp::attachInterface<GenericDstInterface<EvictOp>>(*ctx);
    ScanOp::attachInterface<GenericDstInterface<ScanOp>>(*ctx);
  });
}
