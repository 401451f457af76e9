//===- MmaKernelBuilder.h - Building blocks of tensor-core kernels -*- C++ -*-===//
//
// Part of the attn project.
//
// What the FlashAttention-2 kernels (attn-gpu-tile-attention, the forward;
// attn-gpu-tile-attention-backward, the backward) share: CTAs of 128 threads
// (4 warps of 16 rows) working on 64-row tiles staged in shared memory with
// cp.async, ldmatrix into the fragment layout of mma.sync.m16n8k16 and the
// MMA itself with f16/bf16 multiplicands and f32 accumulators.
//
// Fragment layouts are those of mma.sync.m16n8k16: lane = 4 g + c holds
// rows g and g + 8 and columns 2c, 2c + 1 of each 16x8 accumulator tile,
// which is also, packed in pairs, the A-operand layout of the same 16 rows
// for a product over those columns (P V, dS K).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_GPU_MMAKERNELBUILDER_H
#define ATTN_CODEGEN_GPU_MMAKERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

#include <cmath>
#include <string>

namespace mlir::attn {

inline constexpr int64_t kMmaRows = 64;    // rows of a CTA's tile
inline constexpr int64_t kMmaThreads = 128; // 4 warps of 16 rows
inline constexpr int64_t kMmaPad = 8;      // 16 bytes of padding per row

/// Why q, k and v cannot be the operands of the tensor-core kernels (empty
/// if they can): one f32, f16 or bf16 element type, head dims multiples of
/// 16 up to 256.
std::string mmaOperandMismatch(Value q, Value k, Value v);

class MmaKernelBuilder {
public:
  MmaKernelBuilder(OpBuilder &b, Location loc)
      : b(b), loc(loc), f32(b.getF32Type()) {}

protected:
  // Small arithmetic helpers (index unless noted).
  Value cst(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value fcst(double v) {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, cst(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, cst(y));
  }
  Value minu(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value ule(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value boolCst(bool v) {
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), v);
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value exp2(Value x) { return math::Exp2Op::create(b, loc, x); }
  Value isNegInf(Value x) {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x,
                                 fcst(-INFINITY));
  }
  /// exp(x - m) for a row maximum m that may be -inf (then exp(x)).
  Value expShifted(Value x, Value m) {
    Value safe = select(isNegInf(m), fcst(0.0), m);
    return exp2(fmul(fsub(x, safe), fcst(M_LOG2E)));
  }
  Value shuffleXor(Value x, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, x, offset, 32,
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }

  /// A launch of one thread per index in [0, total) (blocks of 128); the
  /// builder is left inside the thread's `idx < total` guard. Returns idx.
  Value launchPerElement(Value total);

  /// Where row r of a staged tile comes from: src[bb, head, row] if valid,
  /// zeros otherwise.
  struct RowSource {
    Value head, row, valid;
  };
  /// Copies the 64 rows `rowOf` gives into the shared tile `dst`. Returns
  /// the cp.async group token, or null for sources of another element type
  /// than the MMA's (synchronous load, convert, store).
  Value stage(Value src, llvm::function_ref<RowSource(Value)> rowOf,
              int64_t dim, Value dst);
  /// Rows [r0, r0 + 64) of src[bb, head], rows >= nValid as zeros.
  Value stage(Value src, Value head, Value r0, Value nValid, int64_t dim,
              Value dst) {
    return stage(
        src,
        [&](Value r) {
          Value row = add(r0, r);
          return RowSource{head, row, ult(row, nValid)};
        },
        dim, dst);
  }
  /// Waits until at most `pending` cp.async groups are in flight (nothing
  /// for a synchronous stage).
  void waitGroups(Value token, int32_t pending);
  /// The kernel's dynamic shared memory, as bytes.
  Value dynamicShared();
  /// A [64, dim + pad] MMA-typed view at byte `offset` of the dynamic
  /// shared memory `smem`.
  Value sharedTile(Value smem, int64_t offset, int64_t dim);
  /// ldmatrix of `tiles` 8x8 matrices at (row, col) of a shared tile; the
  /// fragments as vector<2xT>.
  SmallVector<Value> ldmatrix(Value tile, Value row, Value col, int tiles,
                              bool transpose);
  /// The A fragments of the warp's 16 rows [row0, row0 + 16), columns
  /// [col0, col0 + 16) of a shared tile.
  SmallVector<Value> aFragment(Value tile, Value row0, int64_t col0);
  /// The B fragments of a product with a shared tile whose rows are the
  /// product's columns (K in Q K^T): rows [row0, row0 + 8), columns
  /// [col0, col0 + 16).
  SmallVector<Value> bFragmentRows(Value tile, int64_t row0, int64_t col0);
  /// The B fragments of a product with a shared tile whose rows are the
  /// reduction (V in P V): rows [row0, row0 + 16), columns [col0, col0 + 8).
  SmallVector<Value> bFragmentCols(Value tile, int64_t row0, int64_t col0);
  /// acc += A B with mma.sync.m16n8k16 (A: 4 fragments, B: 2, acc: 4 f32).
  SmallVector<Value> mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                         ArrayRef<Value> acc);
  /// Packs two f32 into a vector<2xT> fragment.
  Value pack(Value lo, Value hi);
  /// The A fragments of 16 rows x 16 columns given as the f32 elements of
  /// two accumulator tiles (columns [0, 8) and [8, 16)).
  SmallVector<Value> packA(ArrayRef<Value> lo, ArrayRef<Value> hi) {
    return {pack(lo[0], lo[1]), pack(lo[2], lo[3]), pack(hi[0], hi[1]),
            pack(hi[2], hi[3])};
  }
  /// Converts an f32 to the output element type.
  Value toOutput(Value x, Type type);

  OpBuilder &b;
  Location loc;
  Type f32, mmaType;
  /// The thread, its lane and the batch index of the CTA.
  Value tid, lane, bb;
};

} // namespace mlir::attn

#endif // ATTN_CODEGEN_GPU_MMAKERNELBUILDER_H
