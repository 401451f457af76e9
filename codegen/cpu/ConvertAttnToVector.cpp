//===- ConvertAttnToVector.cpp - CPU micro-kernels for tile ops -*- C++ -*-===//
//
// Part of the attn project.
//
// Lowers attn.tile_attend / attn.tile_finalize to register-blocked vector
// code. The query tile is packed transposed ([D, TQ], f32, pre-scaled), so the
// logits are computed as S^T = K Q^T with the query rows in the vector lanes:
// row maxima, sums and the rescale factors are then lane-wise vector ops and
// the softmax needs no horizontal reduction. The value product is blocked
// over rows and head-dim vectors.
//
//===----------------------------------------------------------------------===//

#include "codegen/common/RegionVectorizer.h"
#include "codegen/cpu/Passes.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/bit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTATTNTOVECTORPASS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;
/// Keys processed per softmax update inside one tile_attend.
constexpr int64_t kKeyChunk = 64;
/// Head dims of at most this many vectors take the key-major dot products
/// of the row-vector form (the query's vectors stay in registers when the
/// rows times this fit).
constexpr int64_t kKeyMajorVectors = 8;

class KernelEmitter {
public:
  KernelEmitter(int64_t lanes, bool bf16Dot)
      : lanes(lanes), numRegs(lanes >= 16 ? 32 : 16), bf16Dot(bf16Dot) {}

  LogicalResult lowerAttend(TileAttendOp op);
  LogicalResult lowerFinalize(TileFinalizeOp op);
  LogicalResult lowerColumnScores(TileColumnScoresOp op);
  void lowerFill(linalg::FillOp op);

  /// Query tiles of at most this many static rows (decode: one row per head
  /// of a GQA group) take the row-vector form.
  static constexpr int64_t kMaxRowVectorRows = 8;

private:
  // Small builders.
  Value idx(OpBuilder &b, Location loc, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value f32(OpBuilder &b, Location loc, double v) {
    return arith::ConstantOp::create(b, loc, b.getF32Type(),
                                     b.getF32FloatAttr(static_cast<float>(v)));
  }
  VectorType vecType(OpBuilder &b, Type elem = nullptr) {
    return VectorType::get({lanes}, elem ? elem : b.getF32Type());
  }
  Value splat(OpBuilder &b, Location loc, double v) {
    return arith::ConstantOp::create(
        b, loc, vecType(b),
        DenseElementsAttr::get(vecType(b), b.getF32FloatAttr(v)));
  }
  Value toF32(OpBuilder &b, Location loc, Value v) {
    Type t = getElementTypeOrSelf(v.getType());
    if (t.isF32())
      return v;
    Type f = isa<VectorType>(v.getType()) ? Type(vecType(b)) : b.getF32Type();
    return arith::ExtFOp::create(b, loc, f, v);
  }
  Value maxf(OpBuilder &b, Location loc, Value a, Value c) {
    Value gt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, a, c);
    return arith::SelectOp::create(b, loc, gt, a, c);
  }
  /// The lane indices base + [0, lanes), clamped to `last`.
  Value laneIndices(OpBuilder &b, Location loc, Value base, Value last) {
    VectorType t = vecType(b, b.getIndexType());
    SmallVector<Attribute> iota;
    for (int64_t l = 0; l < lanes; ++l)
      iota.push_back(b.getIndexAttr(l));
    Value offsets =
        arith::ConstantOp::create(b, loc, t, DenseElementsAttr::get(t, iota));
    Value v = arith::AddIOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, t, base), offsets);
    return arith::MinSIOp::create(b, loc, v,
                                  vector::BroadcastOp::create(b, loc, t, last));
  }
  /// Loads `count` (<= lanes) contiguous elements as an f32 vector.
  Value loadVec(OpBuilder &b, Location loc, Value mem, ValueRange indices,
                int64_t count) {
    Type elem = cast<MemRefType>(mem.getType()).getElementType();
    VectorType t = vecType(b, elem);
    Value v;
    if (count == lanes) {
      v = vector::LoadOp::create(b, loc, t, mem, indices);
    } else {
      Value mask = vector::ConstantMaskOp::create(
          b, loc, VectorType::get({lanes}, b.getI1Type()),
          ArrayRef<int64_t>{count});
      Value pass = arith::ConstantOp::create(
          b, loc, t, DenseElementsAttr::get(t, b.getZeroAttr(elem)));
      v = vector::MaskedLoadOp::create(b, loc, t, mem, indices, mask, pass);
    }
    return toF32(b, loc, v);
  }
  /// Transposes `lanes` vectors of `lanes` elements in place: at each
  /// distance h = lanes/2, ..., 1 the rows r and r + h (r & h == 0) swap
  /// their off-diagonal blocks of h elements, two shuffles per pair.
  void transposeInRegisters(OpBuilder &b, Location loc,
                            MutableArrayRef<Value> rows) {
    int64_t n = rows.size();
    for (int64_t h = n / 2; h >= 1; h /= 2)
      for (int64_t r = 0; r < n; ++r) {
        if (r & h)
          continue;
        SmallVector<int64_t> lo, hi;
        for (int64_t c = 0; c < n; ++c) {
          // Operands: x = rows[r] (0..n-1), y = rows[r + h] (n..2n-1).
          lo.push_back(c & h ? n + c - h : c);
          hi.push_back(c & h ? n + c : c + h);
        }
        Value x = rows[r], y = rows[r + h];
        rows[r] = vector::ShuffleOp::create(b, loc, x, y, lo);
        rows[r + h] = vector::ShuffleOp::create(b, loc, x, y, hi);
      }
  }
  void storeVec(OpBuilder &b, Location loc, Value v, Value mem,
                ValueRange indices, int64_t count) {
    Type elem = cast<MemRefType>(mem.getType()).getElementType();
    if (!elem.isF32())
      v = arith::TruncFOp::create(b, loc, vecType(b, elem), v);
    if (count == lanes) {
      vector::StoreOp::create(b, loc, v, mem, indices);
      return;
    }
    Value mask = vector::ConstantMaskOp::create(
        b, loc, VectorType::get({lanes}, b.getI1Type()),
        ArrayRef<int64_t>{count});
    vector::MaskedStoreOp::create(b, loc, mem, indices, mask, v);
  }

  /// A key chunk loop: an scf.for over the `nk` keys of a tile in steps of
  /// kKeyChunk, a builder at the start of its body, the chunk's first key
  /// and its key count min(kKeyChunk, nk - first).
  struct KeyChunks {
    OpBuilder body;
    Value first, count;
  };
  KeyChunks keyChunks(OpBuilder &b, Location loc, Value nk) {
    auto loop = scf::ForOp::create(b, loc, idx(b, loc, 0), nk,
                                   idx(b, loc, kKeyChunk));
    OpBuilder cb = OpBuilder::atBlockBegin(loop.getBody());
    Value first = loop.getInductionVar();
    Value count = arith::MinSIOp::create(
        cb, loc, idx(cb, loc, kKeyChunk),
        arith::SubIOp::create(cb, loc, nk, first));
    return {cb, first, count};
  }

  /// The bf16 pair mem[i0][i1], mem[i0][i1 + 1] broadcast to all 2 x lanes
  /// bf16 lanes as one 32-bit word (the b operand of a vdpbf16ps).
  Value broadcastPair(OpBuilder &b, Location loc, Value mem, Value i0,
                      Value i1) {
    Value pair = vector::LoadOp::create(
        b, loc, VectorType::get({2}, b.getBF16Type()), mem, ValueRange{i0, i1});
    Value word = vector::ExtractOp::create(
        b, loc,
        vector::BitCastOp::create(b, loc, VectorType::get({1}, b.getI32Type()),
                                  pair),
        0);
    return vector::BitCastOp::create(
        b, loc, VectorType::get({2 * lanes}, b.getBF16Type()),
        vector::BroadcastOp::create(b, loc, vecType(b, b.getI32Type()), word));
  }

  /// Prefetches the `width` elements of row `row` of `mem`, one cache line at
  /// a time (prefetches never fault: `row` may be past the end).
  void prefetchRow(OpBuilder &b, Location loc, Value mem, Value row,
                   int64_t width) {
    Type elem = cast<MemRefType>(mem.getType()).getElementType();
    int64_t perLine = 64 * 8 / elem.getIntOrFloatBitWidth();
    for (int64_t c = 0; c < width; c += perLine)
      memref::PrefetchOp::create(b, loc, mem, ValueRange{row, idx(b, loc, c)},
                                 /*isWrite=*/false, /*localityHint=*/3,
                                 /*isDataCache=*/true);
  }

  /// The lane sums of `vs` (at most `lanes` vectors) as the first
  /// vs.size() lanes of one vector, by a transposing tree: each level adds
  /// the low and high halves of two vectors' lane groups, so n sums take
  /// about 3n shuffles and adds instead of n log2(lanes) horizontal steps
  /// (the lanes past vs.size() hold zero).
  Value transposedSums(OpBuilder &b, Location loc, ArrayRef<Value> vs) {
    SmallVector<Value> level(vs.begin(), vs.end());
    Value zero = splat(b, loc, 0.0);
    // Lane groups of width w hold one vector's partial sums each; a level
    // pairs vectors (a missing partner is zero), halves w and doubles the
    // groups per vector, x's groups before y's.
    for (int64_t w = lanes; w > 1; w /= 2) {
      if (level.size() % 2)
        level.push_back(zero);
      SmallVector<int64_t> lo, hi;
      for (int64_t src = 0; src < 2; ++src)
        for (int64_t g = 0; g < lanes / w; ++g)
          for (int64_t l = 0; l < w / 2; ++l) {
            lo.push_back(src * lanes + g * w + l);
            hi.push_back(src * lanes + g * w + w / 2 + l);
          }
      SmallVector<Value> next;
      for (size_t i = 0; i < level.size(); i += 2)
        next.push_back(arith::AddFOp::create(
            b, loc,
            vector::ShuffleOp::create(b, loc, level[i], level[i + 1], lo),
            vector::ShuffleOp::create(b, loc, level[i], level[i + 1], hi)));
      level = std::move(next);
    }
    return level.front();
  }

  /// 2^t for a vector of f32, exact 0 below -126 (masked logits are -inf).
  Value exp2(OpBuilder &b, Location loc, Value t) {
    VectorType vf = vecType(b);
    VectorType vi = vecType(b, b.getI32Type());
    Value lo = splat(b, loc, -126.0), hi = splat(b, loc, 127.0);
    Value underflow =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, t, lo);
    Value x = maxf(b, loc, t, lo);
    Value over =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, hi);
    x = arith::SelectOp::create(b, loc, over, hi, x);
    Value n = math::FloorOp::create(
        b, loc, arith::AddFOp::create(b, loc, x, splat(b, loc, 0.5)));
    Value f = arith::SubFOp::create(b, loc, x, n); // f in [-0.5, 0.5]
    // 2^f = e^(f ln2): Taylor coefficients ln2^k / k!, degree 6 (rel. err
    // ~1e-7).
    static const double coeffs[] = {1.0,
                                    0.6931471805599453,
                                    0.2402265069591007,
                                    0.05550410866482158,
                                    0.009618129107628477,
                                    0.0013333558146428443,
                                    0.00015403530393381606};
    Value p = splat(b, loc, coeffs[6]);
    for (int k = 5; k >= 0; --k)
      p = math::FmaOp::create(b, loc, p, f, splat(b, loc, coeffs[k]));
    Value ni = arith::FPToSIOp::create(b, loc, vi, n);
    Value bias = arith::ConstantOp::create(
        b, loc, vi, DenseElementsAttr::get(vi, b.getI32IntegerAttr(127)));
    Value shift = arith::ConstantOp::create(
        b, loc, vi, DenseElementsAttr::get(vi, b.getI32IntegerAttr(23)));
    Value bits = arith::ShLIOp::create(
        b, loc, arith::AddIOp::create(b, loc, ni, bias), shift);
    Value pow2n = arith::BitcastOp::create(b, loc, vf, bits);
    Value r = arith::MulFOp::create(b, loc, p, pow2n);
    return arith::SelectOp::create(b, loc, underflow, splat(b, loc, 0.0), r);
  }

  /// One more logit, sink(args), in a row's softmax denominator (base-2
  /// state m, l): M = max(m, sink), l' = l 2^(m-M) + 2^(sink-M). Updates
  /// `m` and `l`; returns 2^(m-M), the factor of what was summed before.
  /// `sinkLogit` and `sinkWeight`, when given, receive sink (base 2) and
  /// its term 2^(sink-M).
  Value foldSink(OpBuilder &b, Location loc, Region &sink,
                 SmallVector<Value> args, Value &m, Value &l,
                 Value *sinkLogit = nullptr, Value *sinkWeight = nullptr) {
    Value s2 =
        arith::MulFOp::create(b, loc, AttentionOp::inlineScalarRegion(b, sink, args),
                              f32(b, loc, kLog2e));
    Value mNew = arith::MaximumFOp::create(b, loc, m, s2);
    Value none = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OEQ, mNew,
        f32(b, loc, -std::numeric_limits<double>::infinity()));
    Value mSafe = arith::SelectOp::create(b, loc, none, f32(b, loc, 0.0), mNew);
    Value factor =
        math::Exp2Op::create(b, loc, arith::SubFOp::create(b, loc, m, mSafe));
    Value tail =
        math::Exp2Op::create(b, loc, arith::SubFOp::create(b, loc, s2, mSafe));
    l = arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, l, factor),
                              tail);
    m = mNew;
    if (sinkLogit)
      *sinkLogit = s2;
    if (sinkWeight)
      *sinkWeight = tail;
    return factor;
  }

  /// A stack buffer at the start of the enclosing parallel body (or function),
  /// shared by all tile ops of that body.
  Value scratch(Operation *op, StringRef slot, MemRefType type) {
    Block *block;
    if (auto forall = op->getParentOfType<scf::ForallOp>())
      block = forall.getBody();
    else if (auto par = op->getParentOfType<ParallelForOp>())
      block = &par.getBody().front();
    else
      block = &op->getParentOfType<func::FuncOp>().getBody().front();
    auto key = std::make_tuple(block, slot.str(), type.getAsOpaquePointer());
    auto it = scratchBuffers.find(key);
    if (it != scratchBuffers.end())
      return it->second;
    OpBuilder b(block, block->begin());
    Value buf = memref::AllocaOp::create(b, op->getLoc(), type,
                                         b.getI64IntegerAttr(64));
    scratchBuffers[key] = buf;
    return buf;
  }

  /// The P V register block of the query-tile form: rr rows (a power of
  /// two dividing tq) by nvb value vectors, rr * nvb accumulators plus nvb
  /// loaded V vectors and a broadcast p in the register file, the value
  /// vectors split into equal blocks. Among those, the most FMAs per load
  /// (rr nvb / (rr + nvb)); ties go to fewer rows. With 32 registers: Dv =
  /// 64 takes 4 rows x 4 vectors, Dv = 128 8 x 3 (blocks of 3, 3, 2; was
  /// 2 x 8, measured 4% slower), MLA's Dv = 512 4 x 5 (was 1 row x 14
  /// vectors, a V load per FMA: 2.2x slower at L = 2048).
  std::pair<int64_t, int64_t> pvBlocking(int64_t nv, int64_t tq,
                                         bool bf16Pairs) const {
    if (bf16Pairs) {
      // Dot products over pairs of keys: as many value vectors as fit, then
      // rows (measured 2-7% faster than the rule below at Dv = 128).
      int64_t nvb = std::min<int64_t>(nv, std::max<int64_t>(1, numRegs / 2 - 2));
      int64_t rr = 1;
      while (rr * 2 * nvb <= numRegs - nvb - 2 && tq % (rr * 2) == 0 && rr < 8)
        rr *= 2;
      return {rr, nvb};
    }
    int64_t bestRr = 1, bestNvb = 1;
    double best = -1;
    for (int64_t rr = 1; rr <= 8 && tq % rr == 0; rr *= 2) {
      int64_t maxNvb = (numRegs - 3) / (rr + 1);
      if (maxNvb < 1)
        break;
      int64_t blocks = (nv + maxNvb - 1) / maxNvb;
      int64_t nvb = (nv + blocks - 1) / blocks;
      double ratio = double(rr * nvb) / double(rr + nvb);
      if (ratio > best + 1e-9) {
        best = ratio;
        bestRr = rr;
        bestNvb = nvb;
      }
    }
    return {bestRr, bestNvb};
  }
  Value packQuery(TileAttendOp op, Value q, double multiplier, int64_t tq);
  Value packQueryPairs(TileAttendOp op, Value q, int64_t tq);
  Value packStrip(TileAttendOp op, bool pairs, double multiplier, int64_t tq);
  Value packRows(TileAttendOp op, double multiplier, int64_t rows);
  OpBuilder afterDefinition(Value q, Value scratchBuf);
  LogicalResult lowerAttendRows(TileAttendOp op, int64_t rows);

  int64_t lanes, numRegs;
  bool bf16Dot;
  std::map<std::tuple<Block *, std::string, const void *>, Value>
      scratchBuffers;
  std::map<std::pair<const void *, float>, Value> packedQueries;
};

/// A builder right after the definition of the query view `q` (outside the
/// key/value loop), and after the scratch buffer it packs into.
OpBuilder KernelEmitter::afterDefinition(Value q, Value scratchBuf) {
  OpBuilder b(q.getContext());
  if (Operation *def = q.getDefiningOp())
    b.setInsertionPointAfter(def);
  else
    b.setInsertionPointToStart(cast<BlockArgument>(q).getOwner());
  // The scratch alloca must dominate the packing code.
  if (Operation *alloc = scratchBuf.getDefiningOp();
      alloc->getBlock() == b.getInsertionBlock() &&
      b.getInsertionPoint() != b.getInsertionBlock()->end() &&
      (&*b.getInsertionPoint() == alloc ||
       b.getInsertionPoint()->isBeforeInBlock(alloc)))
    b.setInsertionPointAfter(alloc);
  return b;
}

/// Packs a query tile of `rows` static rows into [rows, D'] f32 (D rounded up
/// to whole vectors, zero-padded), times `multiplier`.
Value KernelEmitter::packRows(TileAttendOp op, double multiplier,
                              int64_t rows) {
  Value q = op.getQuery();
  auto key =
      std::make_pair(q.getAsOpaquePointer(), static_cast<float>(multiplier));
  if (auto it = packedQueries.find(key); it != packedQueries.end())
    return it->second;
  int64_t d = cast<MemRefType>(q.getType()).getDimSize(1);
  int64_t nd = (d + lanes - 1) / lanes;
  Location loc = op.getLoc();
  Value packed =
      scratch(op, "qrows" + std::to_string(packedQueries.size()),
              MemRefType::get({rows, nd * lanes}, Builder(op).getF32Type()));
  OpBuilder b = afterDefinition(q, packed);
  Value mult = vector::BroadcastOp::create(b, loc, vecType(b),
                                           f32(b, loc, multiplier));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < nd; ++c) {
      SmallVector<Value> at{idx(b, loc, r), idx(b, loc, c * lanes)};
      Value x = loadVec(b, loc, q, at, std::min(lanes, d - c * lanes));
      vector::StoreOp::create(b, loc, arith::MulFOp::create(b, loc, x, mult),
                              packed, at);
    }
  packedQueries[key] = packed;
  return packed;
}

/// Packs a bf16 query tile for AVX512-BF16 dot products: [D/2, 2 TQ] bf16
/// where row c holds, for each query row i, the pair (q[i][2c], q[i][2c+1]):
/// one row is a vector<32xbf16> per 16 query rows, and a key's broadcast
/// pair (k[j][2c], k[j][2c+1]) dotted with it adds two terms of 16 logits.
/// Unscaled (exact); the scale is applied to the f32 logits.
Value KernelEmitter::packQueryPairs(TileAttendOp op, Value q, int64_t tq) {
  auto key = std::make_pair(q.getAsOpaquePointer(), -1.0f);
  if (auto it = packedQueries.find(key); it != packedQueries.end())
    return it->second;
  int64_t d = cast<MemRefType>(q.getType()).getDimSize(1);
  Location loc = op.getLoc();
  Type bf16 = Builder(op).getBF16Type();
  Value packed = scratch(op, "qpairs" + std::to_string(packedQueries.size()),
                         MemRefType::get({d / 2, 2 * tq}, bf16));
  OpBuilder b = afterDefinition(q, packed);
  Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1), c2 = idx(b, loc, 2);
  VectorType pairs = VectorType::get({2 * lanes}, bf16);
  Value zero = arith::ConstantOp::create(
      b, loc, pairs, DenseElementsAttr::get(pairs, b.getZeroAttr(bf16)));
  scf::ForOp::create(b, loc, c0, idx(b, loc, d / 2), c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value c, ValueRange) {
                       for (int64_t x = 0; x < 2 * tq; x += 2 * lanes)
                         vector::StoreOp::create(b, loc, zero, packed,
                                                 ValueRange{c, idx(b, loc, x)});
                       scf::YieldOp::create(b, loc);
                     });
  Value nq = memref::DimOp::create(b, loc, q, 0);
  scf::ForOp::create(
      b, loc, c0, nq, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value i, ValueRange) {
        Value col = arith::MulIOp::create(b, loc, i, c2);
        scf::ForOp::create(
            b, loc, c0, idx(b, loc, d / 2), c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value c, ValueRange) {
              Value dd = arith::MulIOp::create(b, loc, c, c2);
              for (int64_t t = 0; t < 2; ++t) {
                Value tt = idx(b, loc, t);
                Value x = memref::LoadOp::create(
                    b, loc, q,
                    ValueRange{i, arith::AddIOp::create(b, loc, dd, tt)});
                memref::StoreOp::create(
                    b, loc, x, packed,
                    ValueRange{c, arith::AddIOp::create(b, loc, col, tt)});
              }
              scf::YieldOp::create(b, loc);
            });
        scf::YieldOp::create(b, loc);
      });
  packedQueries[key] = packed;
  return packed;
}

/// Packs the query tile transposed into [D, TQ] f32, times `multiplier`,
/// zero-padded beyond its rows. Emitted once, right after the tile's view is
/// defined (outside the key/value loop).
Value KernelEmitter::packQuery(TileAttendOp op, Value q, double multiplier,
                               int64_t tq) {
  auto key =
      std::make_pair(q.getAsOpaquePointer(), static_cast<float>(multiplier));
  if (auto it = packedQueries.find(key); it != packedQueries.end())
    return it->second;
  int64_t d = cast<MemRefType>(q.getType()).getDimSize(1);
  Location loc = op.getLoc();
  Value packed = scratch(op, "qpack" + std::to_string(packedQueries.size()),
                         MemRefType::get({d, tq}, Builder(op).getF32Type()));
  OpBuilder b = afterDefinition(q, packed);
  Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
  Value nq = memref::DimOp::create(b, loc, q, 0);
  Value mult = f32(b, loc, multiplier);
  auto scalarPack = [&](OpBuilder &b, Location loc) {
    Value zero = splat(b, loc, 0.0);
    scf::ForOp::create(b, loc, c0, idx(b, loc, d), c1, ValueRange{},
                       [&](OpBuilder &b, Location loc, Value dd, ValueRange) {
                         for (int64_t c = 0; c < tq; c += lanes)
                           vector::StoreOp::create(
                               b, loc, zero, packed,
                               ValueRange{dd, idx(b, loc, c)});
                         scf::YieldOp::create(b, loc);
                       });
    scf::ForOp::create(
        b, loc, c0, nq, c1, ValueRange{},
        [&](OpBuilder &b, Location loc, Value i, ValueRange) {
          scf::ForOp::create(
              b, loc, c0, idx(b, loc, d), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value dd, ValueRange) {
                Value x = toF32(b, loc,
                                memref::LoadOp::create(b, loc, q,
                                                       ValueRange{i, dd}));
                x = arith::MulFOp::create(b, loc, x, mult);
                memref::StoreOp::create(b, loc, x, packed, ValueRange{dd, i});
                scf::YieldOp::create(b, loc);
              });
          scf::YieldOp::create(b, loc);
        });
  };
  if (d % lanes != 0 || tq % lanes != 0) {
    scalarPack(b, loc);
  } else {
    // A whole tile: lanes x lanes blocks loaded by rows, scaled, transposed
    // in registers and stored by rows of the packed tile (about
    // 3 lanes log2(lanes) vector ops per block where the scalar form takes
    // 3 lanes^2); a partial tile packs element by element.
    Value whole = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, nq,
                                        idx(b, loc, tq));
    scf::IfOp::create(
        b, loc, whole,
        [&](OpBuilder &b, Location loc) {
          Value m = splat(b, loc, multiplier);
          scf::ForOp::create(
              b, loc, c0, idx(b, loc, d), idx(b, loc, lanes), ValueRange{},
              [&](OpBuilder &b, Location loc, Value d0, ValueRange) {
                for (int64_t r0 = 0; r0 < tq; r0 += lanes) {
                  SmallVector<Value> rowsV;
                  for (int64_t r = 0; r < lanes; ++r)
                    rowsV.push_back(arith::MulFOp::create(
                        b, loc,
                        loadVec(b, loc, q, ValueRange{idx(b, loc, r0 + r), d0},
                                lanes),
                        m));
                  transposeInRegisters(b, loc, rowsV);
                  for (int64_t c = 0; c < lanes; ++c)
                    vector::StoreOp::create(
                        b, loc, rowsV[c], packed,
                        ValueRange{arith::AddIOp::create(b, loc, d0,
                                                         idx(b, loc, c)),
                                   idx(b, loc, r0)});
                }
                scf::YieldOp::create(b, loc);
              });
          scf::YieldOp::create(b, loc);
        },
        [&](OpBuilder &b, Location loc) {
          scalarPack(b, loc);
          scf::YieldOp::create(b, loc);
        });
  }
  packedQueries[key] = packed;
  return packed;
}

/// The packed query of a step, [D, TQ] f32 (or [D/2, 2 TQ] bf16 pairs).
/// A row strip of a tile (attn-tile-attention's partial tiles: the query and
/// the maxima are row views at the same offset of the tile's query view and
/// of a static [TQ'] state) packs the whole tile once and reads the strip's
/// columns; any other step packs its own query.
Value KernelEmitter::packStrip(TileAttendOp op, bool pairs, double multiplier,
                               int64_t tq) {
  auto qView = op.getQuery().getDefiningOp<memref::SubViewOp>();
  auto mView = op.getMaxes().getDefiningOp<memref::SubViewOp>();
  if (qView && mView && qView.getSourceType().getRank() == 2 &&
      mView.getSourceType().hasStaticShape() &&
      qView.getMixedOffsets()[0] == mView.getMixedOffsets()[0] &&
      isConstantIntValue(qView.getMixedOffsets()[1], 0)) {
    int64_t tileRows = mView.getSourceType().getDimSize(0);
    Value tile = qView.getSource();
    Value packed = pairs ? packQueryPairs(op, tile, tileRows)
                         : packQuery(op, tile, multiplier, tileRows);
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value rs = getValueOrCreateConstantIndexOp(b, loc,
                                               qView.getMixedOffsets()[0]);
    int64_t k = pairs ? 2 : 1;
    auto t = cast<MemRefType>(packed.getType());
    SmallVector<OpFoldResult> offsets{
        b.getIndexAttr(0),
        pairs ? OpFoldResult(arith::MulIOp::create(b, loc, rs, idx(b, loc, 2))
                                 .getResult())
              : OpFoldResult(rs)};
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(t.getDimSize(0)),
                                    b.getIndexAttr(k * tq)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    auto type = memref::SubViewOp::inferResultType(t, offsets, sizes, strides);
    return memref::SubViewOp::create(b, loc, cast<MemRefType>(type), packed,
                                     offsets, sizes, strides);
  }
  return pairs ? packQueryPairs(op, op.getQuery(), tq)
               : packQuery(op, op.getQuery(), multiplier, tq);
}

LogicalResult KernelEmitter::lowerAttend(TileAttendOp op) {
  int64_t rows = op.getQuery().getType().getDimSize(0);
  if (!ShapedType::isDynamic(rows) && rows <= kMaxRowVectorRows &&
      op.getNormalizer() != Normalizer::sigmoid && !op.getWeights() &&
      !op.getLogitSums())
    return lowerAttendRows(op, rows);
  Location loc = op.getLoc();
  MemRefType maxType = op.getMaxes().getType();
  int64_t tq = maxType.getDimSize(0);
  if (tq % lanes != 0)
    return op.emitOpError()
           << "expected the query tile (" << tq
           << " rows) to be a multiple of the vector width (" << lanes << ")";
  int64_t nc = tq / lanes;
  int64_t d = op.getQuery().getType().getDimSize(1);
  int64_t dv = op.getValue().getType().getDimSize(1);
  int64_t nv = (dv + lanes - 1) / lanes, lastLanes = dv - (nv - 1) * lanes;
  bool hasScore = !op.getScore().empty(), hasMask = !op.getMask().empty();
  bool sigmoid = op.getNormalizer() == Normalizer::sigmoid;
  double scale = op.getScale().convertToDouble();

  // Register blocking: R keys x NC query vectors for S, RR rows x NV value
  // vectors for PV, within the target's register file.
  int64_t r = std::max<int64_t>(1, (numRegs - nc - 2) / nc);

  OpBuilder pb(op);
  double mult = hasScore ? scale : scale * kLog2e;
  // bf16 Q K^T as AVX512-BF16 dot products over pairs of head-dim elements.
  bool dot = bf16Dot && lanes == 16 &&
             op.getQuery().getType().getElementType().isBF16() &&
             op.getKey().getType().getElementType().isBF16() && d % 2 == 0;
  Value packed = packStrip(op, dot, mult, tq);
  Type f32Type = pb.getF32Type();
  Value sBuf = scratch(op, "scores", MemRefType::get({kKeyChunk, tq}, f32Type));
  Value alphaBuf = scratch(op, "alpha", MemRefType::get({tq}, f32Type));

  OpBuilder b(op);
  Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
  Value kTile = op.getKey(), vTile = op.getValue();
  Value nq = memref::DimOp::create(b, loc, op.getQuery(), 0);
  Value nk = memref::DimOp::create(b, loc, kTile, 0);
  Value lastRow = arith::SubIOp::create(
      b, loc, arith::AddIOp::create(b, loc, op.getQOffset(), nq), c1);
  SmallVector<Value> rowLanes;
  for (int64_t c = 0; c < nc; ++c)
    rowLanes.push_back(laneIndices(
        b, loc,
        arith::AddIOp::create(b, loc, op.getQOffset(), idx(b, loc, c * lanes)),
        lastRow));
  Value negInf = splat(b, loc, -std::numeric_limits<double>::infinity());
  LogicalResult status = success();

  {
    // The parts of the regions that do not depend on the key (or the logit)
    // are evaluated once per query vector here, not once per key: a document
    // id gathered over the query lanes is 16 loads.
    SmallVector<IRMapping> scoreHoisted(nc), maskHoisted(nc);
    for (int64_t c = 0; c < nc; ++c) {
      if (hasScore) {
        FailureOr<IRMapping> m = hoistRegionInvariants(
            b, loc, op.getScore().front(),
            {Value(), op.getBatch(), op.getHead(), rowLanes[c], Value()},
            lanes, op);
        if (failed(m))
          return failure();
        scoreHoisted[c] = std::move(*m);
      }
      if (hasMask) {
        FailureOr<IRMapping> m = hoistRegionInvariants(
            b, loc, op.getMask().front(),
            {op.getBatch(), op.getHead(), rowLanes[c], Value()}, lanes, op);
        if (failed(m))
          return failure();
        maskHoisted[c] = std::move(*m);
      }
    }
    auto [cb, kc0, nkc] = keyChunks(b, loc, nk);

    // S^T for keys [jStart, jStart + count): returns the updated row maxima.
    auto emitKeys = [&](OpBuilder &b, Location loc, Value jStart, int64_t count,
                        ValueRange maxIn) -> SmallVector<Value> {
      SmallVector<Value> init(count * nc, splat(b, loc, 0.0));
      VectorType pairs = VectorType::get({2 * lanes}, b.getBF16Type());
      auto dotLoop = [&](OpBuilder &b, Location loc, Value c,
                         ValueRange accs) {
        SmallVector<Value> qv;
        for (int64_t x = 0; x < nc; ++x)
          qv.push_back(vector::LoadOp::create(
              b, loc, pairs, packed, ValueRange{c, idx(b, loc, x * 2 * lanes)}));
        Value dd = arith::MulIOp::create(b, loc, c, idx(b, loc, 2));
        SmallVector<Value> out(accs.begin(), accs.end());
        for (int64_t k = 0; k < count; ++k) {
          Value row = arith::AddIOp::create(
              b, loc, kc0, arith::AddIOp::create(b, loc, jStart, idx(b, loc, k)));
          // The key's pair (k[j][2c], k[j][2c+1]).
          Value kb = broadcastPair(b, loc, kTile, row, dd);
          for (int64_t x = 0; x < nc; ++x)
            out[k * nc + x] = x86vector::DotBF16Op::create(
                b, loc, out[k * nc + x], qv[x], kb);
        }
        scf::YieldOp::create(b, loc, out);
      };
      auto dLoop = dot ? scf::ForOp::create(b, loc, idx(b, loc, 0),
                                            idx(b, loc, d / 2), idx(b, loc, 1),
                                            init, dotLoop)
                       : scf::ForOp::create(
          b, loc, idx(b, loc, 0), idx(b, loc, d), idx(b, loc, 1), init,
          [&](OpBuilder &b, Location loc, Value dd, ValueRange accs) {
            SmallVector<Value> qv;
            for (int64_t c = 0; c < nc; ++c)
              qv.push_back(vector::LoadOp::create(
                  b, loc, vecType(b), packed,
                  ValueRange{dd, idx(b, loc, c * lanes)}));
            SmallVector<Value> out(accs.begin(), accs.end());
            for (int64_t k = 0; k < count; ++k) {
              Value row = arith::AddIOp::create(
                  b, loc, kc0,
                  arith::AddIOp::create(b, loc, jStart, idx(b, loc, k)));
              Value kv = toF32(
                  b, loc,
                  memref::LoadOp::create(b, loc, kTile, ValueRange{row, dd}));
              Value kb = vector::BroadcastOp::create(b, loc, vecType(b), kv);
              for (int64_t c = 0; c < nc; ++c)
                out[k * nc + c] =
                    vector::FMAOp::create(b, loc, kb, qv[c], out[k * nc + c]);
            }
            scf::YieldOp::create(b, loc, out);
          });
      SmallVector<Value> maxOut(maxIn.begin(), maxIn.end());
      for (int64_t k = 0; k < count; ++k) {
        Value jLocal = arith::AddIOp::create(b, loc, jStart, idx(b, loc, k));
        Value j =
            arith::AddIOp::create(b, loc, op.getKOffset(),
                                  arith::AddIOp::create(b, loc, kc0, jLocal));
        for (int64_t c = 0; c < nc; ++c) {
          Value s = dLoop.getResult(k * nc + c);
          if (dot)
            s = arith::MulFOp::create(b, loc, s, splat(b, loc, mult));
          if (hasScore) {
            FailureOr<Value> mod = vectorizeRegion(
                b, loc, op.getScore().front(),
                {s, op.getBatch(), op.getHead(), rowLanes[c], j}, lanes, op,
                &scoreHoisted[c]);
            if (failed(mod)) {
              status = failure();
              return maxOut;
            }
            s = arith::MulFOp::create(b, loc,
                                      broadcastToVector(b, loc, *mod, lanes),
                                      splat(b, loc, kLog2e));
          }
          if (hasMask) {
            FailureOr<Value> vis = vectorizeRegion(
                b, loc, op.getMask().front(),
                {op.getBatch(), op.getHead(), rowLanes[c], j}, lanes, op,
                &maskHoisted[c]);
            if (failed(vis)) {
              status = failure();
              return maxOut;
            }
            s = arith::SelectOp::create(b, loc, *vis, s, negInf);
          }
          vector::StoreOp::create(b, loc, s, sBuf,
                                  ValueRange{jLocal, idx(b, loc, c * lanes)});
          maxOut[c] = maxf(b, loc, maxOut[c], s);
        }
      }
      return maxOut;
    };

    SmallVector<Value> maxInit(nc, negInf);
    Value full = arith::MulIOp::create(
        cb, loc, arith::DivUIOp::create(cb, loc, nkc, idx(cb, loc, r)),
        idx(cb, loc, r));
    auto blocked = scf::ForOp::create(
        cb, loc, c0, full, idx(cb, loc, r), maxInit,
        [&](OpBuilder &b, Location loc, Value j0, ValueRange maxIn) {
          scf::YieldOp::create(b, loc, emitKeys(b, loc, j0, r, maxIn));
        });
    auto rest = scf::ForOp::create(
        cb, loc, full, nkc, c1, blocked.getResults(),
        [&](OpBuilder &b, Location loc, Value j, ValueRange maxIn) {
          scf::YieldOp::create(b, loc, emitKeys(b, loc, j, 1, maxIn));
        });
    if (failed(status))
      return status;

    if (sigmoid) {
      // Sigmoid attention: p = sigmoid(s) with s in base-2 units, computed
      // as e / (1 + e) or 1 / (1 + e) with e = 2^-|s| (never overflows;
      // masked keys, s = -inf, give 0). No running max, no rescaling.
      for (int64_t c = 0; c < nc; ++c)
        vector::StoreOp::create(cb, loc, splat(cb, loc, 1.0), alphaBuf,
                                idx(cb, loc, c * lanes));
      scf::ForOp::create(
          cb, loc, c0, nkc, c1, ValueRange{},
          [&](OpBuilder &b, Location loc, Value j, ValueRange) {
            for (int64_t c = 0; c < nc; ++c) {
              SmallVector<Value> at{j, idx(b, loc, c * lanes)};
              Value s = vector::LoadOp::create(b, loc, vecType(b), sBuf, at);
              Value e = exp2(b, loc,
                             arith::NegFOp::create(
                                 b, loc, math::AbsFOp::create(b, loc, s)));
              Value den = arith::AddFOp::create(b, loc, splat(b, loc, 1.0), e);
              Value pos = arith::CmpFOp::create(
                  b, loc, arith::CmpFPredicate::OGE, s, splat(b, loc, 0.0));
              Value num =
                  arith::SelectOp::create(b, loc, pos, splat(b, loc, 1.0), e);
              vector::StoreOp::create(
                  b, loc, arith::DivFOp::create(b, loc, num, den), sBuf, at);
            }
            scf::YieldOp::create(b, loc);
          });
    }

    // Online softmax update, lane-wise over the query rows.
    SmallVector<Value> mUse, alphas, mOlds;
    for (int64_t c = 0; c < nc && !sigmoid; ++c) {
      Value at = idx(cb, loc, c * lanes);
      Value mOld =
          vector::LoadOp::create(cb, loc, vecType(cb), op.getMaxes(), at);
      Value mNew = maxf(cb, loc, mOld, rest.getResult(c));
      Value none = arith::CmpFOp::create(cb, loc, arith::CmpFPredicate::OEQ,
                                         mNew, negInf);
      Value use =
          arith::SelectOp::create(cb, loc, none, splat(cb, loc, 0.0), mNew);
      Value alpha = exp2(cb, loc, arith::SubFOp::create(cb, loc, mOld, use));
      vector::StoreOp::create(cb, loc, mNew, op.getMaxes(), at);
      vector::StoreOp::create(cb, loc, alpha, alphaBuf, at);
      mUse.push_back(use);
      alphas.push_back(alpha);
      mOlds.push_back(mOld);
    }
    Value weights = op.getWeights();
    if (weights) {
      // The weights of the step's earlier chunks were relative to the old
      // maxima: rescale them to the new ones (no rows before the first).
      scf::ForOp::create(
          cb, loc, c0, kc0, c1, ValueRange{},
          [&](OpBuilder &b, Location loc, Value j, ValueRange) {
            for (int64_t c = 0; c < nc; ++c) {
              SmallVector<Value> at{j, idx(b, loc, c * lanes)};
              Value w = vector::LoadOp::create(b, loc, vecType(b), weights, at);
              vector::StoreOp::create(
                  b, loc, arith::MulFOp::create(b, loc, w, alphas[c]), weights,
                  at);
            }
            scf::YieldOp::create(b, loc);
          });
    }
    // Fused row entropy: u += p (s - m) per logit (a masked logit, -inf,
    // has p = 0; its relative logit is clamped so that 0 * x stays 0).
    Value logitSums = op.getLogitSums();
    int64_t nAcc = logitSums ? 2 * nc : nc;
    SmallVector<Value> sumInit(nAcc, splat(cb, loc, 0.0));
    Value lowest = splat(cb, loc, -std::numeric_limits<float>::max());
    scf::ForOp expLoop;
    if (!sigmoid) {
      expLoop = scf::ForOp::create(
          cb, loc, c0, nkc, c1, sumInit,
          [&](OpBuilder &b, Location loc, Value j, ValueRange sums) {
            SmallVector<Value> out, uOut;
            for (int64_t c = 0; c < nc; ++c) {
              Value s =
                  vector::LoadOp::create(b, loc, vecType(b), sBuf,
                                         ValueRange{j, idx(b, loc, c * lanes)});
              Value x = arith::SubFOp::create(b, loc, s, mUse[c]);
              Value p = exp2(b, loc, x);
              if (logitSums)
                uOut.push_back(vector::FMAOp::create(
                    b, loc, p, arith::MaximumFOp::create(b, loc, x, lowest),
                    sums[nc + c]));
              vector::StoreOp::create(b, loc, p, sBuf,
                                      ValueRange{j, idx(b, loc, c * lanes)});
              if (weights)
                vector::StoreOp::create(
                    b, loc, p, weights,
                    ValueRange{arith::AddIOp::create(b, loc, kc0, j),
                               idx(b, loc, c * lanes)});
              out.push_back(arith::AddFOp::create(b, loc, sums[c], p));
            }
            out.append(uOut);
            scf::YieldOp::create(b, loc, out);
          });
      for (int64_t c = 0; c < nc; ++c) {
        Value at = idx(cb, loc, c * lanes);
        Value l =
            vector::LoadOp::create(cb, loc, vecType(cb), op.getSums(), at);
        Value alpha =
            vector::LoadOp::create(cb, loc, vecType(cb), alphaBuf, at);
        if (logitSums) {
          // u' = alpha (u + l (m_old - m_new)) + sum p (s - m_new); the
          // shift is clamped for a row's first visible keys (l = 0).
          Value u =
              vector::LoadOp::create(cb, loc, vecType(cb), logitSums, at);
          Value shift = arith::MaximumFOp::create(
              cb, loc, arith::SubFOp::create(cb, loc, mOlds[c], mUse[c]),
              lowest);
          u = vector::FMAOp::create(cb, loc, l, shift, u);
          u = vector::FMAOp::create(cb, loc, u, alpha,
                                    expLoop.getResult(nc + c));
          vector::StoreOp::create(cb, loc, u, logitSums, at);
        }
        l = vector::FMAOp::create(cb, loc, l, alpha, expLoop.getResult(c));
        vector::StoreOp::create(cb, loc, l, op.getSums(), at);
      }
    }

    // bf16 values: P V as dot products over pairs of keys too. The chunk's
    // probabilities are rounded to bf16 and interleaved by pairs of keys
    // ([t][2 row + e] = p[2t+e][row]), the value rows likewise
    // ([t][2 d + e] = v[2t+e][d]); a missing odd last key counts as p = 0,
    // v = 0.
    bool dotPV = dot && dv % lanes == 0 &&
                 op.getValue().getType().getElementType().isBF16();
    Value pPairs, vPairs, numPairs;
    VectorType pairs = VectorType::get({2 * lanes}, cb.getBF16Type());
    VectorType halfPairs = VectorType::get({lanes}, cb.getBF16Type());
    if (dotPV) {
      Type bf16 = cb.getBF16Type();
      pPairs = scratch(op, "ppairs",
                       MemRefType::get({kKeyChunk / 2, 2 * tq}, bf16));
      vPairs = scratch(op, "vpairs",
                       MemRefType::get({kKeyChunk / 2, 2 * nv * lanes}, bf16));
      numPairs = arith::DivUIOp::create(
          cb, loc, arith::AddIOp::create(cb, loc, nkc, c1), idx(cb, loc, 2));
      Value zeroHalf = arith::ConstantOp::create(
          cb, loc, halfPairs, DenseElementsAttr::get(halfPairs, cb.getZeroAttr(bf16)));
      Value zeroF = splat(cb, loc, 0.0);
      scf::ForOp::create(
          cb, loc, c0, numPairs, c1, ValueRange{},
          [&](OpBuilder &b, Location loc, Value t, ValueRange) {
            Value j0 = arith::MulIOp::create(b, loc, t, idx(b, loc, 2));
            Value j1 = arith::AddIOp::create(b, loc, j0, c1);
            Value has1 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                               j1, nkc);
            Value j1c = arith::SelectOp::create(b, loc, has1, j1, j0);
            for (int64_t c = 0; c < nc; ++c) {
              Value col = idx(b, loc, c * lanes);
              Value p0 = vector::LoadOp::create(b, loc, vecType(b), sBuf,
                                                ValueRange{j0, col});
              Value p1 = vector::LoadOp::create(b, loc, vecType(b), sBuf,
                                                ValueRange{j1c, col});
              p1 = arith::SelectOp::create(b, loc, has1, p1, zeroF);
              Value mixed = vector::InterleaveOp::create(
                  b, loc, arith::TruncFOp::create(b, loc, halfPairs, p0),
                  arith::TruncFOp::create(b, loc, halfPairs, p1));
              vector::StoreOp::create(b, loc, mixed, pPairs,
                                      ValueRange{t, idx(b, loc, 2 * c * lanes)});
            }
            Value r0 = arith::AddIOp::create(b, loc, kc0, j0);
            Value r1 = arith::AddIOp::create(b, loc, kc0, j1c);
            for (int64_t v = 0; v < nv; ++v) {
              Value col = idx(b, loc, v * lanes);
              Value v0 = vector::LoadOp::create(b, loc, halfPairs, vTile,
                                                ValueRange{r0, col});
              Value v1 = vector::LoadOp::create(b, loc, halfPairs, vTile,
                                                ValueRange{r1, col});
              v1 = arith::SelectOp::create(b, loc, has1, v1, zeroHalf);
              vector::StoreOp::create(
                  b, loc, vector::InterleaveOp::create(b, loc, v0, v1), vPairs,
                  ValueRange{t, idx(b, loc, 2 * v * lanes)});
            }
            scf::YieldOp::create(b, loc);
          });
    }

    // acc = alpha * acc + P V, blocked over rr rows and nvb value vectors
    // (accumulators and loaded V vectors in registers).
    auto [rr, nvb] = pvBlocking(nv, tq, dotPV);
    Value acc = op.getAcc();
    for (int64_t vb0 = 0; vb0 < nv; vb0 += nvb) {
      int64_t vb1 = std::min(nv, vb0 + nvb), nb = vb1 - vb0;
      auto lanesOf = [&](int64_t v) { return v == nv - 1 ? lastLanes : lanes; };
      scf::ForOp::create(
          cb, loc, c0, nq, idx(cb, loc, rr), ValueRange{},
          [&](OpBuilder &b, Location loc, Value i0, ValueRange) {
            SmallVector<Value> init;
            SmallVector<Value> rows;
            for (int64_t k = 0; k < rr; ++k) {
              Value row = arith::AddIOp::create(b, loc, i0, idx(b, loc, k));
              rows.push_back(row);
              Value alpha = vector::BroadcastOp::create(
                  b, loc, vecType(b),
                  memref::LoadOp::create(b, loc, alphaBuf, row));
              for (int64_t v = vb0; v < vb1; ++v) {
                Value a = loadVec(b, loc, acc,
                                  ValueRange{row, idx(b, loc, v * lanes)},
                                  lanesOf(v));
                init.push_back(arith::MulFOp::create(b, loc, a, alpha));
              }
            }
            auto pairLoop = [&](OpBuilder &b, Location loc, Value t,
                                ValueRange accs) {
              SmallVector<Value> vv;
              for (int64_t v = vb0; v < vb1; ++v)
                vv.push_back(vector::LoadOp::create(
                    b, loc, pairs, vPairs,
                    ValueRange{t, idx(b, loc, 2 * v * lanes)}));
              SmallVector<Value> out(accs.begin(), accs.end());
              for (int64_t k = 0; k < rr; ++k) {
                Value pb = broadcastPair(
                    b, loc, pPairs, t,
                    arith::MulIOp::create(b, loc, rows[k], idx(b, loc, 2)));
                for (int64_t v = 0; v < nb; ++v)
                  out[k * nb + v] = x86vector::DotBF16Op::create(
                      b, loc, out[k * nb + v], vv[v], pb);
              }
              scf::YieldOp::create(b, loc, out);
            };
            auto jLoop = dotPV ? scf::ForOp::create(b, loc, idx(b, loc, 0),
                                                    numPairs, idx(b, loc, 1),
                                                    init, pairLoop)
                               : scf::ForOp::create(
                b, loc, idx(b, loc, 0), nkc, idx(b, loc, 1), init,
                [&](OpBuilder &b, Location loc, Value j, ValueRange accs) {
                  Value vrow = arith::AddIOp::create(b, loc, kc0, j);
                  SmallVector<Value> vv;
                  for (int64_t v = vb0; v < vb1; ++v)
                    vv.push_back(loadVec(
                        b, loc, vTile, ValueRange{vrow, idx(b, loc, v * lanes)},
                        lanesOf(v)));
                  SmallVector<Value> out(accs.begin(), accs.end());
                  for (int64_t k = 0; k < rr; ++k) {
                    Value p = vector::BroadcastOp::create(
                        b, loc, vecType(b),
                        memref::LoadOp::create(b, loc, sBuf,
                                               ValueRange{j, rows[k]}));
                    for (int64_t v = 0; v < nb; ++v)
                      out[k * nb + v] = vector::FMAOp::create(b, loc, p, vv[v],
                                                              out[k * nb + v]);
                  }
                  scf::YieldOp::create(b, loc, out);
                });
            for (int64_t k = 0; k < rr; ++k)
              for (int64_t v = 0; v < nb; ++v)
                storeVec(b, loc, jLoop.getResult(k * nb + v), acc,
                         ValueRange{rows[k], idx(b, loc, (vb0 + v) * lanes)},
                         lanesOf(vb0 + v));
            scf::YieldOp::create(b, loc);
          });
    }
  }
  op.erase();
  return success();
}

/// The row-vector form, for query tiles of a few static rows (decode, where
/// the rows are the query heads of one KV head): the head dim runs in the
/// vector lanes. Each key's logit is a lane-wise dot product with every row
/// reduced across lanes; the softmax runs with the keys in the lanes; P V
/// accumulates broadcast probabilities times value rows. Every K and V
/// element is loaded from memory once per tile, so the kernel streams the
/// cache instead of issuing one broadcast FMA per element and row.
LogicalResult KernelEmitter::lowerAttendRows(TileAttendOp op, int64_t g) {
  Location loc = op.getLoc();
  int64_t d = op.getQuery().getType().getDimSize(1);
  int64_t dv = op.getValue().getType().getDimSize(1);
  int64_t nd = (d + lanes - 1) / lanes, fullD = d / lanes;
  int64_t nv = (dv + lanes - 1) / lanes, lastLanes = dv - (nv - 1) * lanes;
  bool hasScore = !op.getScore().empty(), hasMask = !op.getMask().empty();
  double scale = op.getScale().convertToDouble();
  Type f32Type = Builder(op).getF32Type();
  // Lane reductions as trees of shuffles, not ordered chains of adds.
  auto reassoc = arith::FastMathFlags::reassoc;

  // Keys per dot-product block: count x g accumulators in registers (a
  // power of two, at most a vector of keys: their logits are summed across
  // lanes by one transposing tree per row).
  int64_t unroll = static_cast<int64_t>(llvm::bit_floor(static_cast<uint64_t>(
      std::clamp<int64_t>((numRegs - 4) / g, 1, lanes))));
  // Value vectors per P V block: g x nvb accumulators.
  int64_t maxNvb = std::max<int64_t>(1, (numRegs - 8) / g);
  int64_t blocks = (nv + maxNvb - 1) / maxNvb, nvb = (nv + blocks - 1) / blocks;

  double mult = hasScore ? scale : scale * kLog2e;
  // bf16 query and keys (AVX512-BF16): Q K^T as vdpbf16ps over pairs of
  // head-dim elements, read straight from the query and key rows (exact
  // products, f32 sums); the scale is applied to the summed logits.
  int64_t pairLanes = 2 * lanes;
  bool dot = bf16Dot && lanes == 16 &&
             op.getQuery().getType().getElementType().isBF16() &&
             op.getKey().getType().getElementType().isBF16() &&
             d % pairLanes == 0 && d / pairLanes <= kKeyMajorVectors;
  Value packed = dot ? Value() : packRows(op, mult, g);
  // A vector of slack per row: a block's logits are stored as a whole
  // vector, lanes past the block included (the next block overwrites them).
  Value sBuf = scratch(op, "rowscores",
                       MemRefType::get({g, kKeyChunk + lanes}, f32Type));

  OpBuilder b(op);
  Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
  Value kTile = op.getKey(), vTile = op.getValue();
  Value nk = memref::DimOp::create(b, loc, kTile, 0);
  Value negInf = splat(b, loc, -std::numeric_limits<double>::infinity());
  Value negInfS = f32(b, loc, -std::numeric_limits<double>::infinity());
  LogicalResult status = success();

  auto [cb, kc0, nkc] = keyChunks(b, loc, nk);

  // The logits of keys [j0, j0 + count) for every row, from their dot
  // product accumulators (key-major), into sBuf.
  auto storeSums = [&](OpBuilder &b, Location loc, Value j0, int64_t count,
                       ArrayRef<Value> accs) {
    if (count > 1) {
      for (int64_t r = 0; r < g; ++r) {
        SmallVector<Value> row;
        for (int64_t k = 0; k < count; ++k)
          row.push_back(accs[k * g + r]);
        Value sums = transposedSums(b, loc, row);
        if (dot)
          sums = arith::MulFOp::create(b, loc, sums, splat(b, loc, mult));
        vector::StoreOp::create(b, loc, sums, sBuf,
                                ValueRange{idx(b, loc, r), j0});
      }
      return;
    }
    for (int64_t r = 0; r < g; ++r) {
      Value s = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                            accs[r], reassoc);
      if (dot)
        s = arith::MulFOp::create(b, loc, s, f32(b, loc, mult));
      memref::StoreOp::create(b, loc, s, sBuf, ValueRange{idx(b, loc, r), j0});
    }
  };
  // Logits of keys [j0, j0 + count) of the chunk for every row, into sBuf.
  auto emitDots = [&](OpBuilder &b, Location loc, Value j0, int64_t count) {
    SmallVector<Value> keyRows;
    for (int64_t k = 0; k < count; ++k)
      keyRows.push_back(arith::AddIOp::create(
          b, loc, kc0, arith::AddIOp::create(b, loc, j0, idx(b, loc, k))));
    auto step = [&](OpBuilder &b, Location loc, Value col, int64_t width,
                    ValueRange accs) {
      SmallVector<Value> qv;
      for (int64_t r = 0; r < g; ++r)
        qv.push_back(vector::LoadOp::create(b, loc, vecType(b), packed,
                                            ValueRange{idx(b, loc, r), col}));
      SmallVector<Value> out(accs.begin(), accs.end());
      for (int64_t k = 0; k < count; ++k) {
        Value kv = loadVec(b, loc, kTile, ValueRange{keyRows[k], col}, width);
        for (int64_t r = 0; r < g; ++r)
          out[k * g + r] = vector::FMAOp::create(b, loc, kv, qv[r], out[k * g + r]);
      }
      return out;
    };
    // Two more streams in flight: this key's value row (read by P V right
    // after) and the key row a chunk ahead. DRAM bandwidth on our VMs
    // needs several concurrent streams per core.
    Value ahead = idx(b, loc, kKeyChunk);
    for (int64_t k = 0; k < count; ++k) {
      prefetchRow(b, loc, vTile, keyRows[k], dv);
      prefetchRow(b, loc, kTile, arith::AddIOp::create(b, loc, keyRows[k], ahead),
                  d);
    }
    // Key-major: each key row is read front to back as whole vectors of
    // `chunks` (the cache streams it), against query vectors kept in
    // registers when they fit and loaded (from the L1-resident tile)
    // otherwise; `dotStep(acc, q, k)` adds one vector's products.
    auto keyMajor = [&](int64_t chunks,
                        function_ref<Value(int64_t, int64_t)> loadQ,
                        function_ref<Value(int64_t, int64_t)> loadK,
                        function_ref<Value(Value, Value, Value)> dotStep) {
      bool keep = chunks * g <= kKeyMajorVectors;
      SmallVector<Value> kept;
      if (keep)
        for (int64_t r = 0; r < g; ++r)
          for (int64_t c = 0; c < chunks; ++c)
            kept.push_back(loadQ(r, c));
      SmallVector<Value> accs(count * g, splat(b, loc, 0.0));
      for (int64_t k = 0; k < count; ++k)
        for (int64_t c = 0; c < chunks; ++c) {
          Value kv = loadK(k, c);
          for (int64_t r = 0; r < g; ++r)
            accs[k * g + r] = dotStep(
                accs[k * g + r], keep ? kept[r * chunks + c] : loadQ(r, c),
                kv);
        }
      storeSums(b, loc, j0, count, accs);
    };
    if (dot) {
      // Pairs: each key row is 32 bf16 per vector, the query read as is.
      VectorType pairs = VectorType::get({pairLanes}, b.getBF16Type());
      keyMajor(
          d / pairLanes,
          [&](int64_t r, int64_t c) -> Value {
            return vector::LoadOp::create(
                b, loc, pairs, op.getQuery(),
                ValueRange{idx(b, loc, r), idx(b, loc, c * pairLanes)});
          },
          [&](int64_t k, int64_t c) -> Value {
            return vector::LoadOp::create(
                b, loc, pairs, kTile,
                ValueRange{keyRows[k], idx(b, loc, c * pairLanes)});
          },
          [&](Value acc, Value q, Value kv) -> Value {
            return x86vector::DotBF16Op::create(b, loc, acc, q, kv);
          });
      return;
    }
    if (nd <= kKeyMajorVectors) {
      keyMajor(
          nd,
          [&](int64_t r, int64_t c) -> Value {
            return vector::LoadOp::create(
                b, loc, vecType(b), packed,
                ValueRange{idx(b, loc, r), idx(b, loc, c * lanes)});
          },
          [&](int64_t k, int64_t c) -> Value {
            return loadVec(b, loc, kTile,
                           ValueRange{keyRows[k], idx(b, loc, c * lanes)},
                           std::min(lanes, d - c * lanes));
          },
          [&](Value acc, Value q, Value kv) -> Value {
            return vector::FMAOp::create(b, loc, kv, q, acc);
          });
      return;
    }
    SmallVector<Value> init(count * g, splat(b, loc, 0.0));
    auto dLoop = scf::ForOp::create(
        b, loc, idx(b, loc, 0), idx(b, loc, fullD * lanes), idx(b, loc, lanes),
        init, [&](OpBuilder &b, Location loc, Value col, ValueRange accs) {
          scf::YieldOp::create(b, loc, step(b, loc, col, lanes, accs));
        });
    SmallVector<Value> accs(dLoop.getResults());
    if (nd > fullD) // A partial last vector (masked load, zero lanes).
      accs = step(b, loc, idx(b, loc, fullD * lanes), d - fullD * lanes, accs);
    storeSums(b, loc, j0, count, accs);
  };
  Value full = arith::MulIOp::create(
      cb, loc, arith::DivUIOp::create(cb, loc, nkc, idx(cb, loc, unroll)),
      idx(cb, loc, unroll));
  scf::ForOp::create(cb, loc, c0, full, idx(cb, loc, unroll), ValueRange{},
                     [&](OpBuilder &b, Location loc, Value j0, ValueRange) {
                       emitDots(b, loc, j0, unroll);
                       scf::YieldOp::create(b, loc);
                     });
  scf::ForOp::create(cb, loc, full, nkc, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                       emitDots(b, loc, j, 1);
                       scf::YieldOp::create(b, loc);
                     });

  // Softmax per row, keys in the lanes: regions, masks, running max, p, sums.
  VectorType iv = vecType(cb, cb.getIndexType());
  SmallVector<Attribute> iotaAttrs;
  for (int64_t l = 0; l < lanes; ++l)
    iotaAttrs.push_back(cb.getIndexAttr(l));
  Value iota =
      arith::ConstantOp::create(cb, loc, iv, DenseElementsAttr::get(iv, iotaAttrs));
  Value chunkStart = arith::AddIOp::create(cb, loc, op.getKOffset(), kc0);
  Value lastKey = arith::SubIOp::create(
      cb, loc, arith::AddIOp::create(cb, loc, chunkStart, nkc), c1);
  SmallVector<Value> alphas;
  for (int64_t r = 0; r < g; ++r) {
    Value rIdx = idx(cb, loc, r);
    Value row = arith::AddIOp::create(cb, loc, op.getQOffset(), rIdx);
    auto maxLoop = scf::ForOp::create(
        cb, loc, c0, nkc, idx(cb, loc, lanes), ValueRange{negInf},
        [&](OpBuilder &b, Location loc, Value jv, ValueRange mx) {
          Value s = vector::LoadOp::create(b, loc, vecType(b), sBuf,
                                           ValueRange{rIdx, jv});
          Value local = arith::AddIOp::create(
              b, loc, vector::BroadcastOp::create(b, loc, iv, jv), iota);
          Value valid = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt, local,
              vector::BroadcastOp::create(b, loc, iv, nkc));
          Value j = laneIndices(b, loc, arith::AddIOp::create(b, loc, chunkStart, jv),
                                lastKey);
          if (hasScore) {
            FailureOr<Value> mod = vectorizeRegion(
                b, loc, op.getScore().front(),
                {s, op.getBatch(), op.getHead(), row, j}, lanes, op);
            if (failed(mod)) {
              status = failure();
            } else {
              s = arith::MulFOp::create(b, loc,
                                        broadcastToVector(b, loc, *mod, lanes),
                                        splat(b, loc, kLog2e));
            }
          }
          if (hasMask && succeeded(status)) {
            FailureOr<Value> vis =
                vectorizeRegion(b, loc, op.getMask().front(),
                                {op.getBatch(), op.getHead(), row, j}, lanes, op);
            if (failed(vis))
              status = failure();
            else
              valid = arith::AndIOp::create(
                  b, loc, valid, broadcastToVector(b, loc, *vis, lanes));
          }
          s = arith::SelectOp::create(b, loc, valid, s, negInf);
          vector::StoreOp::create(b, loc, s, sBuf, ValueRange{rIdx, jv});
          scf::YieldOp::create(b, loc, maxf(b, loc, mx[0], s));
        });
    if (failed(status))
      return status;
    Value mOld = memref::LoadOp::create(cb, loc, op.getMaxes(), rIdx);
    Value mNew = arith::MaximumFOp::create(
        cb, loc, mOld,
        vector::ReductionOp::create(cb, loc, vector::CombiningKind::MAXIMUMF,
                                    maxLoop.getResult(0)));
    Value none =
        arith::CmpFOp::create(cb, loc, arith::CmpFPredicate::OEQ, mNew, negInfS);
    Value use = arith::SelectOp::create(cb, loc, none, f32(cb, loc, 0.0), mNew);
    Value alpha = math::Exp2Op::create(cb, loc,
                                       arith::SubFOp::create(cb, loc, mOld, use));
    memref::StoreOp::create(cb, loc, mNew, op.getMaxes(), rIdx);
    Value useV = vector::BroadcastOp::create(cb, loc, vecType(cb), use);
    auto expLoop = scf::ForOp::create(
        cb, loc, c0, nkc, idx(cb, loc, lanes), ValueRange{splat(cb, loc, 0.0)},
        [&](OpBuilder &b, Location loc, Value jv, ValueRange sum) {
          SmallVector<Value> at{rIdx, jv};
          Value s = vector::LoadOp::create(b, loc, vecType(b), sBuf, at);
          Value p = exp2(b, loc, arith::SubFOp::create(b, loc, s, useV));
          vector::StoreOp::create(b, loc, p, sBuf, at);
          scf::YieldOp::create(b, loc,
                               ValueRange{arith::AddFOp::create(b, loc, sum[0], p)});
        });
    Value l = memref::LoadOp::create(cb, loc, op.getSums(), rIdx);
    l = math::FmaOp::create(
        cb, loc, l, alpha,
        vector::ReductionOp::create(cb, loc, vector::CombiningKind::ADD,
                                    expLoop.getResult(0), reassoc));
    memref::StoreOp::create(cb, loc, l, op.getSums(), rIdx);
    alphas.push_back(vector::BroadcastOp::create(cb, loc, vecType(cb), alpha));
  }

  // acc = alpha * acc + P V, blocked over nvb value vectors for all rows.
  // A bf16 V is widened a pair of vectors at a time: one 32-lane load, the
  // even elements by a shift and the odd ones by a mask (bf16 is the top
  // half of an f32), so the block's accumulators hold the even and the odd
  // elements of each 32-element group, interleaved again when stored.
  Value acc = op.getAcc();
  auto lanesOf = [&](int64_t v) { return v == nv - 1 ? lastLanes : lanes; };
  bool split = lanes == 16 && op.getValue().getType().getElementType().isBF16() &&
               dv % (2 * lanes) == 0 && nvb % 2 == 0;
  SmallVector<int64_t> evens, odds, lowHalf, highHalf;
  for (int64_t l = 0; l < lanes; ++l) {
    evens.push_back(2 * l);
    odds.push_back(2 * l + 1);
  }
  // Interleaving back: elements 0..15 of the group are e0 o0 e1 o1 ... e7 o7.
  for (int64_t l = 0; l < lanes / 2; ++l) {
    lowHalf.append({l, l + lanes});
    highHalf.append({l + lanes / 2, l + lanes / 2 + lanes});
  }
  for (int64_t vb0 = 0; vb0 < nv; vb0 += nvb) {
    int64_t vb1 = std::min(nv, vb0 + nvb), nb = vb1 - vb0;
    SmallVector<Value> init;
    for (int64_t r = 0; r < g; ++r)
      for (int64_t v = vb0; v < vb1; ++v)
        init.push_back(arith::MulFOp::create(
            cb, loc,
            loadVec(cb, loc, acc, ValueRange{idx(cb, loc, r), idx(cb, loc, v * lanes)},
                    lanesOf(v)),
            alphas[r]));
    if (split)
      for (int64_t i = 0; i < g * nb; i += 2) {
        Value a = init[i], c = init[i + 1];
        init[i] = vector::ShuffleOp::create(cb, loc, a, c, evens);
        init[i + 1] = vector::ShuffleOp::create(cb, loc, a, c, odds);
      }
    auto jLoop = scf::ForOp::create(
        cb, loc, c0, nkc, c1, init,
        [&](OpBuilder &b, Location loc, Value j, ValueRange accs) {
          Value vrow = arith::AddIOp::create(b, loc, kc0, j);
          SmallVector<Value> vv;
          if (split) {
            VectorType words = VectorType::get({lanes}, b.getI32Type());
            Value sixteen = arith::ConstantOp::create(
                b, loc, words, DenseElementsAttr::get(words, b.getI32IntegerAttr(16)));
            Value top = arith::ConstantOp::create(
                b, loc, words,
                DenseElementsAttr::get(words, b.getI32IntegerAttr(-65536)));
            for (int64_t v = vb0; v < vb1; v += 2) {
              Value x = vector::BitCastOp::create(
                  b, loc, words,
                  vector::LoadOp::create(
                      b, loc, VectorType::get({2 * lanes}, b.getBF16Type()), vTile,
                      ValueRange{vrow, idx(b, loc, v * lanes)}));
              vv.push_back(vector::BitCastOp::create(
                  b, loc, vecType(b), arith::ShLIOp::create(b, loc, x, sixteen)));
              vv.push_back(vector::BitCastOp::create(
                  b, loc, vecType(b), arith::AndIOp::create(b, loc, x, top)));
            }
          } else {
            for (int64_t v = vb0; v < vb1; ++v)
              vv.push_back(loadVec(b, loc, vTile,
                                   ValueRange{vrow, idx(b, loc, v * lanes)},
                                   lanesOf(v)));
          }
          SmallVector<Value> out(accs.begin(), accs.end());
          for (int64_t r = 0; r < g; ++r) {
            Value p = vector::BroadcastOp::create(
                b, loc, vecType(b),
                memref::LoadOp::create(b, loc, sBuf,
                                       ValueRange{idx(b, loc, r), j}));
            for (int64_t v = 0; v < nb; ++v)
              out[r * nb + v] =
                  vector::FMAOp::create(b, loc, p, vv[v], out[r * nb + v]);
          }
          scf::YieldOp::create(b, loc, out);
        });
    SmallVector<Value> results(jLoop.getResults());
    if (split)
      for (int64_t i = 0; i < g * nb; i += 2) {
        Value e = results[i], o = results[i + 1];
        results[i] = vector::ShuffleOp::create(cb, loc, e, o, lowHalf);
        results[i + 1] = vector::ShuffleOp::create(cb, loc, e, o, highHalf);
      }
    for (int64_t r = 0; r < g; ++r)
      for (int64_t v = 0; v < nb; ++v)
        storeVec(cb, loc, results[r * nb + v], acc,
                 ValueRange{idx(cb, loc, r), idx(cb, loc, (vb0 + v) * lanes)},
                 lanesOf(vb0 + v));
  }
  op.erase();
  return success();
}

LogicalResult KernelEmitter::lowerFinalize(TileFinalizeOp op) {
  Location loc = op.getLoc();
  int64_t dv = op.getOutput().getType().getDimSize(1);
  int64_t nv = (dv + lanes - 1) / lanes, lastLanes = dv - (nv - 1) * lanes;
  bool hasEpilogue = !op.getEpilogue().empty();
  bool hasSink = !op.getSink().empty();
  bool sigmoid = op.getNormalizer() == Normalizer::sigmoid;
  OpBuilder b(op);
  Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
  Value nq = memref::DimOp::create(b, loc, op.getOutput(), 0);
  SmallVector<Value> channelLanes;
  if (hasEpilogue)
    for (int64_t v = 0; v < nv; ++v)
      channelLanes.push_back(
          laneIndices(b, loc, idx(b, loc, v * lanes), idx(b, loc, dv - 1)));
  LogicalResult status = success();
  scf::ForOp::create(
      b, loc, c0, nq, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value i, ValueRange) {
        Value row = arith::AddIOp::create(b, loc, op.getQOffset(), i);
        Value l = memref::LoadOp::create(b, loc, op.getSums(), i);
        Value m = memref::LoadOp::create(b, loc, op.getMaxes(), i);
        Value zero = f32(b, loc, 0.0), one = f32(b, loc, 1.0);
        Value numer = one;
        Value mPrev = m, lPrev = l, sinkLogit, sinkWeight;
        if (hasSink) // o = acc 2^(m-M) / l'
          numer = foldSink(b, loc, op.getSink(),
                           {op.getBatch(), op.getHead(), row}, m, l,
                           &sinkLogit, &sinkWeight);
        Value empty =
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l, zero);
        Value inv = sigmoid ? one
                            : arith::SelectOp::create(
                                  b, loc, empty, zero,
                                  arith::DivFOp::create(b, loc, numer, l))
                                  .getResult();
        Value invv = vector::BroadcastOp::create(b, loc, vecType(b), inv);
        for (int64_t v = 0; v < nv; ++v) {
          int64_t count = v == nv - 1 ? lastLanes : lanes;
          Value x = loadVec(b, loc, op.getAcc(),
                            ValueRange{i, idx(b, loc, v * lanes)}, count);
          x = arith::MulFOp::create(b, loc, x, invv);
          if (hasEpilogue) {
            FailureOr<Value> y = vectorizeRegion(
                b, loc, op.getEpilogue().front(),
                {x, op.getBatch(), op.getHead(), row, channelLanes[v]}, lanes,
                op);
            if (failed(y)) {
              status = failure();
              break;
            }
            x = broadcastToVector(b, loc, *y, lanes);
            if (!getElementTypeOrSelf(x.getType()).isF32()) {
              // The epilogue yields the output element type: store as is.
              if (count == lanes) {
                vector::StoreOp::create(b, loc, x, op.getOutput(),
                                        ValueRange{i, idx(b, loc, v * lanes)});
              } else {
                Value mask = vector::ConstantMaskOp::create(
                    b, loc, VectorType::get({lanes}, b.getI1Type()),
                    ArrayRef<int64_t>{count});
                vector::MaskedStoreOp::create(
                    b, loc, op.getOutput(),
                    ValueRange{i, idx(b, loc, v * lanes)}, mask, x);
              }
              continue;
            }
          }
          storeVec(b, loc, x, op.getOutput(),
                   ValueRange{i, idx(b, loc, v * lanes)}, count);
        }
        if (Value lse = op.getLse()) {
          Value log2l = math::Log2Op::create(b, loc, l);
          Value val = arith::MulFOp::create(
              b, loc, arith::AddFOp::create(b, loc, m, log2l),
              f32(b, loc, kLn2));
          val = arith::SelectOp::create(
              b, loc, empty,
              f32(b, loc, -std::numeric_limits<double>::infinity()), val);
          memref::StoreOp::create(b, loc, val, lse, i);
        }
        if (Value ent = op.getEntropy()) {
          // H = ln 2 (log2 l - u / l), u relative to the final maximum; a
          // sink is one more logit: u' = a (u + l_prev (m_prev - M)) +
          // e_sink (sink - M), e_sink = 2^(sink - M) (from foldSink).
          Value u = memref::LoadOp::create(b, loc, op.getLogitSums(), i);
          if (hasSink) {
            Value lowest = f32(b, loc, -std::numeric_limits<float>::max());
            Value shift = arith::MaximumFOp::create(
                b, loc, arith::SubFOp::create(b, loc, mPrev, m), lowest);
            u = arith::MulFOp::create(
                b, loc, numer,
                math::FmaOp::create(b, loc, lPrev, shift, u));
            u = math::FmaOp::create(
                b, loc, sinkWeight,
                arith::MaximumFOp::create(
                    b, loc, arith::SubFOp::create(b, loc, sinkLogit, m),
                    lowest),
                u);
          }
          Value h = arith::MulFOp::create(
              b, loc,
              arith::SubFOp::create(b, loc, math::Log2Op::create(b, loc, l),
                                    arith::DivFOp::create(b, loc, u, l)),
              f32(b, loc, kLn2));
          h = arith::SelectOp::create(b, loc, empty, zero, h);
          memref::StoreOp::create(b, loc, h, ent, i);
        }
        scf::YieldOp::create(b, loc);
      });
  if (failed(status))
    return status;
  op.erase();
  return success();
}

/// Fills of static f32 state buffers (per tile: the row maxima, sums and the
/// accumulator) as rows of vector stores; the generic lowering to loops
/// stores them one scalar at a time.
void KernelEmitter::lowerFill(linalg::FillOp op) {
  auto type = cast<MemRefType>(op.getOutputs()[0].getType());
  Location loc = op.getLoc();
  OpBuilder b(op);
  int64_t cols = type.getShape().back();
  Value value = vector::BroadcastOp::create(b, loc, vecType(b),
                                            op.getInputs()[0]);
  auto storeRow = [&](OpBuilder &b, Location loc, ValueRange outer) {
    for (int64_t c = 0; c < cols; c += lanes) {
      SmallVector<Value> at(outer.begin(), outer.end());
      at.push_back(idx(b, loc, c));
      storeVec(b, loc, value, op.getOutputs()[0], at,
               std::min(lanes, cols - c));
    }
  };
  if (type.getRank() == 1)
    storeRow(b, loc, {});
  else
    scf::ForOp::create(b, loc, idx(b, loc, 0), idx(b, loc, type.getDimSize(0)),
                       idx(b, loc, 1), ValueRange{},
                       [&](OpBuilder &b, Location loc, Value i, ValueRange) {
                         storeRow(b, loc, i);
                         scf::YieldOp::create(b, loc);
                       });
  op.erase();
}

/// partial[j] += sum_i w[j, i] f_i with the query rows in the lanes:
/// f_i = exp2(step_max_i - shift_i), shift_i = m_i + log2 l_i
/// - age_i log2(alpha) (+inf for rows with no visible key and rows beyond
/// the tile), so one FMA per weight and one horizontal sum per key.
LogicalResult KernelEmitter::lowerColumnScores(TileColumnScoresOp op) {
  Location loc = op.getLoc();
  int64_t tq = op.getMaxes().getType().getDimSize(0);
  if (ShapedType::isDynamic(tq) || tq % lanes != 0)
    return op.emitOpError() << "expected a static query tile that is a "
                               "multiple of the vector width ("
                            << lanes << ")";
  int64_t nc = tq / lanes;
  OpBuilder b(op);
  Type f32Type = b.getF32Type();
  Value shiftBuf = scratch(op, "colshift", MemRefType::get({tq}, f32Type));
  double log2Alpha = 0.0;
  if (std::optional<APFloat> a = op.getScoreDecay())
    log2Alpha = std::log2(a->convertToDouble());
  Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
  Value inf = f32(b, loc, std::numeric_limits<double>::infinity());
  scf::ForOp::create(
      b, loc, c0, idx(b, loc, tq), c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value i, ValueRange) {
        Value m = memref::LoadOp::create(b, loc, op.getMaxes(), i);
        Value l = memref::LoadOp::create(b, loc, op.getSums(), i);
        if (!op.getSink().empty())
          foldSink(b, loc, op.getSink(),
                   {op.getBatch(), op.getHead(),
                    arith::AddIOp::create(b, loc, op.getQOffset(), i)},
                   m, l);
        Value shift =
            arith::AddFOp::create(b, loc, m, math::Log2Op::create(b, loc, l));
        if (log2Alpha != 0.0) {
          // age = length - 1 - (q_offset + i), signed (rows beyond the
          // tile are dropped below).
          Value age = arith::SubIOp::create(
              b, loc, arith::SubIOp::create(b, loc, op.getLength(), c1),
              arith::AddIOp::create(b, loc, op.getQOffset(), i));
          Value ageF = arith::SIToFPOp::create(
              b, loc, f32Type,
              arith::IndexCastOp::create(b, loc, b.getI64Type(), age));
          shift = arith::SubFOp::create(
              b, loc, shift,
              arith::MulFOp::create(b, loc, ageF, f32(b, loc, log2Alpha)));
        }
        Value dead = arith::OrIOp::create(
            b, loc,
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l,
                                  f32(b, loc, 0.0)),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, i,
                                  op.getRows()));
        memref::StoreOp::create(
            b, loc, arith::SelectOp::create(b, loc, dead, inf, shift),
            shiftBuf, i);
        scf::YieldOp::create(b, loc);
      });
  SmallVector<Value> factors;
  for (int64_t c = 0; c < nc; ++c) {
    Value at = idx(b, loc, c * lanes);
    Value shift = vector::LoadOp::create(b, loc, vecType(b), shiftBuf, at);
    Value stepMax =
        vector::LoadOp::create(b, loc, vecType(b), op.getStepMaxes(), at);
    factors.push_back(
        exp2(b, loc, arith::SubFOp::create(b, loc, stepMax, shift)));
  }
  Value weights = op.getWeights(), partial = op.getPartial();
  Value nk = memref::DimOp::create(b, loc, weights, 0);
  scf::ForOp::create(
      b, loc, c0, nk, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value j, ValueRange) {
        Value sum = splat(b, loc, 0.0);
        for (int64_t c = 0; c < nc; ++c) {
          Value w = vector::LoadOp::create(b, loc, vecType(b), weights,
                                           ValueRange{j, idx(b, loc, c * lanes)});
          sum = vector::FMAOp::create(b, loc, w, factors[c], sum);
        }
        // Any association order (a tree, not a lane-by-lane chain).
        Value r = vector::ReductionOp::create(b, loc,
                                              vector::CombiningKind::ADD, sum,
                                              arith::FastMathFlags::reassoc);
        Value old = memref::LoadOp::create(b, loc, partial, j);
        memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, r),
                                partial, j);
        scf::YieldOp::create(b, loc);
      });
  op.erase();
  return success();
}

struct ConvertAttnToVector
    : attn::impl::ConvertAttnToVectorPassBase<ConvertAttnToVector> {
  using Base::Base;
  void runOnOperation() override {
    if (vectorWidth != 4 && vectorWidth != 8 && vectorWidth != 16) {
      getOperation().emitError()
          << "convert-attn-to-vector: vector-width must be 4, 8 or 16, got "
          << static_cast<int64_t>(vectorWidth);
      return signalPassFailure();
    }
    KernelEmitter emitter(static_cast<int64_t>(vectorWidth), bf16Dot);
    SmallVector<TileAttendOp> attends;
    SmallVector<TileFinalizeOp> finals;
    SmallVector<TileColumnScoresOp> columns;
    SmallVector<linalg::FillOp> fills;
    getOperation().walk([&](Operation *op) {
      if (auto f = dyn_cast<linalg::FillOp>(op)) {
        auto t = dyn_cast<MemRefType>(f.getOutputs()[0].getType());
        if (t && t.hasStaticShape() && t.getElementType().isF32() &&
            (t.getRank() == 1 || t.getRank() == 2) && t.getLayout().isIdentity())
          fills.push_back(f);
      }
      if (auto a = dyn_cast<TileAttendOp>(op))
        attends.push_back(a);
      if (auto f = dyn_cast<TileFinalizeOp>(op))
        finals.push_back(f);
      if (auto c = dyn_cast<TileColumnScoresOp>(op))
        columns.push_back(c);
    });
    for (TileAttendOp op : attends)
      if (failed(emitter.lowerAttend(op)))
        return signalPassFailure();
    for (TileFinalizeOp op : finals)
      if (failed(emitter.lowerFinalize(op)))
        return signalPassFailure();
    for (TileColumnScoresOp op : columns)
      if (failed(emitter.lowerColumnScores(op)))
        return signalPassFailure();
    for (linalg::FillOp op : fills)
      emitter.lowerFill(op);
  }
};
} // namespace
