//===- LowerAttentionBackward.cpp - FA-2 backward to loops ------*- C++ -*-===//
//
// Part of the attn project.
//
// The memref form of attn.attention_backward as three loop nests (see the
// pass description in Passes.td): D per row, then dK/dV owned by (batch, KV
// head) and dQ owned by (batch, query head), so every gradient element is
// written by one thread in a fixed order (no atomics, bit-identical runs).
// P is recomputed from the saved LSE in both nests. Causal pairs are bounded
// by the loop limits; mask regions are evaluated per pair.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/LoopBuilders.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERATTENTIONBACKWARDPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class Lowering {
public:
  Lowering(AttentionBackwardOp op, int64_t vectorWidth)
      : op(op), b(op), loc(op.getLoc()), vectorWidth(vectorWidth) {}

  void run() {
    auto qType = cast<MemRefType>(op.getQuery().getType());
    auto kType = cast<MemRefType>(op.getKey().getType());
    auto vType = cast<MemRefType>(op.getValue().getType());
    heads = qType.getDimSize(1);
    kvHeads = kType.getDimSize(1);
    d = qType.getDimSize(3);
    dv = vType.getDimSize(3);
    c0 = idx(0);
    c1 = idx(1);
    batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
    lq = memref::DimOp::create(b, loc, op.getQuery(), 2);
    lk = memref::DimOp::create(b, loc, op.getKey(), 2);
    offset = arith::SubIOp::create(b, loc, lk, lq); // causal: j <= i + off
    scale = f32(op.getScale().convertToFloat());
    zero = f32(0.0f);
    Value dq = op.getOutputs()[0], dk = op.getOutputs()[1],
          dvOut = op.getOutputs()[2];

    // The capture gradients are accumulated into: zero them first.
    for (Value g : op.getCaptureGrads())
      linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{g});

    // 1. D[b, h, i] = dO . O - dLSE.
    Value dBuf = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, heads, ShapedType::kDynamic},
                        b.getF32Type()),
        ValueRange{batch, lq});
    if (op.getNormalizer() == Normalizer::softmax)
      forall({batch, idx(heads)}, [&](ValueRange bh) {
        buildFor(b, loc, c0, lq, 1, [&](Value i) {
          Value s = dot(op.getGradOut(), {bh[0], bh[1], i}, op.getOut(),
                        {bh[0], bh[1], i}, dv);
          if (op.getGradLse())
            s = arith::SubFOp::create(
                b, loc, s,
                memref::LoadOp::create(b, loc, op.getGradLse(),
                                       ValueRange{bh[0], bh[1], i}));
          memref::StoreOp::create(b, loc, s, dBuf, ValueRange{bh[0], bh[1], i});
        });
      });

    // 2. dK, dV per (batch, KV head), one key row at a time.
    forall({batch, idx(kvHeads)}, [&](ValueRange bg) {
      Value bi = bg[0], g = bg[1];
      buildFor(b, loc, c0, lk, 1, [&](Value j) {
        fill(dk, {bi, g, j}, d);
        fill(dvOut, {bi, g, j}, dv);
        // Causal: rows i >= j - off see key j.
        Value lo = c0;
        if (op.getCausal())
          lo = arith::MaxSIOp::create(b, loc, c0,
                                      arith::SubIOp::create(b, loc, j, offset));
        int64_t group = heads / kvHeads;
        buildFor(b, loc, c0, idx(group), 1, [&](Value hh) {
          Value h = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, g, idx(group)), hh);
          buildFor(b, loc, lo, lq, 1, [&](Value i) {
            pair(bi, h, g, i, j, dBuf, [&](Value p, Value dr) {
              axpy(dvOut, {bi, g, j}, p, op.getGradOut(), {bi, h, i}, dv);
              axpy(dk, {bi, g, j}, arith::MulFOp::create(b, loc, dr, scale),
                   op.getQuery(), {bi, h, i}, d);
            });
          });
        });
      });
    });

    // 3. dQ per (batch, query head), one query row at a time.
    forall({batch, idx(heads)}, [&](ValueRange bh) {
      Value bi = bh[0], h = bh[1];
      Value g = arith::DivUIOp::create(b, loc, h, idx(heads / kvHeads));
      buildFor(b, loc, c0, lq, 1, [&](Value i) {
        fill(dq, {bi, h, i}, d);
        buildFor(b, loc, c0, keysEnd(i), 1, [&](Value j) {
          pair(bi, h, g, i, j, dBuf, [&](Value, Value dr) {
            axpy(dq, {bi, h, i}, arith::MulFOp::create(b, loc, dr, scale),
                 op.getKey(), {bi, g, j}, d);
          });
        });
      });
    });
    if (!op.getCaptureGrads().empty())
      captureNest(dBuf);
    op.erase();
  }

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(float v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }

  /// An element of `buf` at `at` (+ `[c]`) as f32.
  Value load(Value buf, ArrayRef<Value> at) {
    Value x = memref::LoadOp::create(b, loc, buf, at);
    if (!x.getType().isF32())
      x = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
    return x;
  }

  static SmallVector<Value> row(ArrayRef<Value> lead, Value c) {
    SmallVector<Value> at(lead.begin(), lead.end());
    at.push_back(c);
    return at;
  }

  /// The lanes that rows of `n` elements are processed in: the widest power
  /// of two <= the target's vector width that divides n (1: scalar).
  int64_t lanesFor(int64_t n) const {
    for (int64_t w = vectorWidth; w >= 4; w /= 2)
      if (n % w == 0)
        return w;
    return 1;
  }

  /// `w` elements of `buf` at `at` (+ `[c]`) as an f32 vector (a scalar for
  /// w = 1).
  Value loadVec(Value buf, ArrayRef<Value> lead, Value c, int64_t w) {
    if (w == 1)
      return load(buf, row(lead, c));
    Type elem = cast<MemRefType>(buf.getType()).getElementType();
    Value x = vector::LoadOp::create(b, loc, VectorType::get({w}, elem), buf,
                                     row(lead, c));
    if (!elem.isF32())
      x = arith::ExtFOp::create(b, loc, VectorType::get({w}, b.getF32Type()),
                                x);
    return x;
  }

  Value splat(Value s, int64_t w) {
    return w == 1 ? s
                  : vector::BroadcastOp::create(
                        b, loc, VectorType::get({w}, b.getF32Type()), s)
                        .getResult();
  }

  /// The end of the keys row `i` sees: Lk, or min(Lk, i + Lk - Lq + 1)
  /// when causal.
  Value keysEnd(Value i) {
    if (!op.getCausal())
      return lk;
    return arith::MinSIOp::create(
        b, loc, lk,
        arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, i, offset),
                              c1));
  }

  /// a * x + y, elementwise.
  Value fma(Value a, Value x, Value y) {
    if (isa<VectorType>(a.getType()))
      return vector::FMAOp::create(b, loc, a, x, y);
    return arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, a, x),
                                 y);
  }

  /// sum_c x[xl, c] y[yl, c] over c < n, in f32 (vectors of lanes, then one
  /// reduction).
  Value dot(Value x, ArrayRef<Value> xl, Value y, ArrayRef<Value> yl,
            int64_t n) {
    int64_t w = lanesFor(n);
    Value acc = buildReduce(
        b, loc, c0, idx(n / w), ValueRange{splat(zero, w)},
        [&](Value k, ValueRange acc) -> SmallVector<Value> {
          Value c = arith::MulIOp::create(b, loc, k, idx(w));
          return {fma(loadVec(x, xl, c, w), loadVec(y, yl, c, w), acc[0])};
        })[0];
    if (w == 1)
      return acc;
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, acc);
  }

  /// out[ol, c] = 0 for c < n.
  void fill(Value out, ArrayRef<Value> ol, int64_t n) {
    int64_t w = lanesFor(n);
    buildFor(b, loc, c0, idx(n), w, [&](Value c) {
      if (w == 1)
        memref::StoreOp::create(b, loc, zero, out, row(ol, c));
      else
        vector::StoreOp::create(b, loc, splat(zero, w), out, row(ol, c));
    });
  }

  /// out[ol, c] += a x[xl, c] for c < n (out f32).
  void axpy(Value out, ArrayRef<Value> ol, Value a, Value x, ArrayRef<Value> xl,
            int64_t n) {
    int64_t w = lanesFor(n);
    Value av = splat(a, w);
    buildFor(b, loc, c0, idx(n), w, [&](Value c) {
      Value o = loadVec(out, ol, c, w);
      Value y = fma(av, loadVec(x, xl, c, w), o);
      if (w == 1)
        memref::StoreOp::create(b, loc, y, out, row(ol, c));
      else
        vector::StoreOp::create(b, loc, y, out, row(ol, c));
    });
  }

  /// scf.forall over [0, ubs) with the body at `b`.
  void forall(ArrayRef<Value> ubs, function_ref<void(ValueRange)> body) {
    SmallVector<OpFoldResult> bounds(ubs.begin(), ubs.end());
    auto loop =
        scf::ForallOp::create(b, loc, bounds, ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVars());
  }

  /// For a (query i of head h, key j of KV head g) pair: when it is visible,
  /// recomputes P and dR and calls `body(p, dr)`.
  void pair(Value bi, Value h, Value g, Value i, Value j, Value dBuf,
            function_ref<void(Value, Value)> body, bool accumulate = false) {
    bool softmax = op.getNormalizer() == Normalizer::softmax;
    Value lse, visible = arith::ConstantIntOp::create(b, loc, 1, 1);
    if (softmax) {
      lse = memref::LoadOp::create(b, loc, op.getLse(), ValueRange{bi, h, i});
      Value ninf = f32(-std::numeric_limits<float>::infinity());
      visible =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, lse, ninf);
    }
    if (!op.getMask().empty()) {
      Value m = AttentionOp::inlineScalarRegion(b, op.getMask(),
                                                ValueRange{bi, h, i, j});
      visible = arith::AndIOp::create(b, loc, visible, m);
    }
    buildIf(b, loc, visible, [&] {
      Value r = arith::MulFOp::create(
          b, loc, scale,
          dot(op.getQuery(), {bi, h, i}, op.getKey(), {bi, g, j}, d));
      Value s = r;
      if (!op.getScore().empty())
        s = AttentionOp::inlineScalarRegion(b, op.getScore(),
                                            ValueRange{r, bi, h, i, j});
      Value dp =
          dot(op.getGradOut(), {bi, h, i}, op.getValue(), {bi, g, j}, dv);
      Value p, ds;
      if (softmax) {
        // P from the saved LSE; dS = P (dP - D).
        p = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, s, lse));
        Value dRow = memref::LoadOp::create(b, loc, dBuf, ValueRange{bi, h, i});
        ds = arith::MulFOp::create(b, loc, p,
                                   arith::SubFOp::create(b, loc, dp, dRow));
      } else {
        // P = sigmoid(s) = 1 / (1 + exp(-s)); dS = dP P (1 - P).
        Value one = f32(1.0f);
        p = arith::DivFOp::create(
            b, loc, one,
            arith::AddFOp::create(
                b, loc, one,
                math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, s))));
        ds = arith::MulFOp::create(
            b, loc, dp,
            arith::MulFOp::create(b, loc, p,
                                  arith::SubFOp::create(b, loc, one, p)));
      }
      Value dr = ds;
      if (!op.getScoreGrad().empty())
        dr = inlineGrad(op.getScoreGrad(), {r, ds, bi, h, i, j}, accumulate);
      body(p, dr);
    });
  }

  /// Inlines a gradient region (score_grad, sink_grad) at `b`; its
  /// attn.grad_accumulate ops become load/add/store on the capture
  /// gradients with `accumulate`, and are dropped otherwise. Returns the
  /// yielded value (null if none).
  Value inlineGrad(Region &region, ArrayRef<Value> args, bool accumulate) {
    IRMapping map;
    Block &block = region.front();
    for (auto [arg, val] : llvm::zip(block.getArguments(), args))
      map.map(arg, val);
    for (Operation &o : block.without_terminator()) {
      auto acc = dyn_cast<GradAccumulateOp>(o);
      if (!acc) {
        b.clone(o, map);
        continue;
      }
      if (!accumulate)
        continue;
      Value buf = op.getCaptureGrads()[acc.getCapture()];
      SmallVector<Value> at;
      for (Value i : acc.getIndices())
        at.push_back(map.lookupOrDefault(i));
      Value old = memref::LoadOp::create(b, loc, buf, at);
      Value sum = arith::AddFOp::create(b, loc, old,
                                        map.lookupOrDefault(acc.getValue()));
      memref::StoreOp::create(b, loc, sum, buf, at);
    }
    Operation *term = block.getTerminator();
    return term->getNumOperands() ? map.lookupOrDefault(term->getOperand(0))
                                  : Value();
  }

  /// Which of (batch, head) every accumulation is indexed by directly: the
  /// capture nest runs in parallel over those (each gradient element is
  /// then owned by one iteration) and in order over the rest.
  std::pair<bool, bool> captureOwners() {
    bool byBatch = true, byHead = true;
    auto scan = [&](Region &r, unsigned bArg) {
      if (r.empty())
        return;
      Value bv = r.front().getArgument(bArg),
            hv = r.front().getArgument(bArg + 1);
      r.walk([&](GradAccumulateOp acc) {
        byBatch &= llvm::is_contained(acc.getIndices(), bv);
        byHead &= llvm::is_contained(acc.getIndices(), hv);
      });
    };
    scan(op.getScoreGrad(), 2);
    scan(op.getSinkGrad(), 1);
    return {byBatch, byHead};
  }

  /// 4. The gradients of captured tensors: every visible pair (and every
  /// row's sink) again, accumulating through the gradient regions.
  void captureNest(Value dBuf) {
    auto [byBatch, byHead] = captureOwners();
    Value one = c1;
    forall(
        {byBatch ? batch : one, byHead ? idx(heads) : one},
        [&](ValueRange outer) {
          auto inner = [&](Value bi, Value h) {
            Value g = arith::DivUIOp::create(b, loc, h, idx(heads / kvHeads));
            buildFor(b, loc, c0, lq, 1, [&](Value i) {
              if (!op.getSinkGrad().empty()) {
                // g_sink = -exp(sink - LSE) D.
                Value lse = memref::LoadOp::create(b, loc, op.getLse(),
                                                   ValueRange{bi, h, i});
                Value sink = AttentionOp::inlineScalarRegion(
                    b, op.getSink(), ValueRange{bi, h, i});
                Value ps = math::ExpOp::create(
                    b, loc, arith::SubFOp::create(b, loc, sink, lse));
                Value dRow =
                    memref::LoadOp::create(b, loc, dBuf, ValueRange{bi, h, i});
                Value gs = arith::NegFOp::create(
                    b, loc, arith::MulFOp::create(b, loc, ps, dRow));
                inlineGrad(op.getSinkGrad(), {gs, bi, h, i}, true);
              }
              if (op.getScoreGrad().empty())
                return;
              buildFor(b, loc, c0, keysEnd(i), 1, [&](Value j) {
                pair(
                    bi, h, g, i, j, dBuf, [&](Value, Value) {}, true);
              });
            });
          };
          auto overHeads = [&](Value bi) {
            if (byHead)
              return inner(bi, outer[1]);
            buildFor(b, loc, c0, idx(heads), 1, [&](Value h) { inner(bi, h); });
          };
          if (byBatch)
            return overHeads(outer[0]);
          buildFor(b, loc, c0, batch, 1, [&](Value bi) { overHeads(bi); });
        });
  }

  AttentionBackwardOp op;
  OpBuilder b;
  Location loc;
  int64_t vectorWidth;
  int64_t heads = 0, kvHeads = 0, d = 0, dv = 0;
  Value c0, c1, batch, lq, lk, offset, scale, zero;
};

struct LowerAttentionBackward
    : attn::impl::AttnLowerAttentionBackwardPassBase<LowerAttentionBackward> {
  using AttnLowerAttentionBackwardPassBase::AttnLowerAttentionBackwardPassBase;
  void runOnOperation() override {
    SmallVector<AttentionBackwardOp> ops;
    getOperation().walk([&](AttentionBackwardOp op) { ops.push_back(op); });
    for (AttentionBackwardOp op : ops) {
      if (!isa<MemRefType>(op.getQuery().getType())) {
        op.emitOpError("must be bufferized before "
                       "attn-lower-attention-backward");
        return signalPassFailure();
      }
      Lowering(op, vectorWidth).run();
    }
  }
};

} // namespace
