#!/usr/bin/python3
"""Mutation check of the derived gradients (issue 22): the attention
backward's -D term, its GQA reduction, the keys a causal row's loops visit,
the dLSE term, the capture gradients' accumulation, the sigmoid form, and
the scalar rules the score region is differentiated with, and the tiled
form's -D term, group loop, tile skipping, register-block tails, rows
without keys, causal start, key parts and folded capture accumulations.
Applies each mutation to its source file, rebuilds, runs
test/Integration/grad.test and test/Passes/generate-backward.mlir, and
reports whether they catch it; restores the file. Not part of scripts/test
(it rebuilds).

    /usr/bin/python3 test/lib/mutate_grad.py [BUILD_DIR]
"""
import os

import mutations
from mutations import BUILD, ROOT

LOW = os.path.join(ROOT, "passes", "LowerAttentionBackward.cpp")
ADJ = os.path.join(ROOT, "dialect", "AdjointInterfaceImpl.cpp")
MUTS = [
    ("backward: the -D term dropped", LOW,
     "                                   arith::SubFOp::create(b, loc, dp, dRow));",
     "                                   dp);"),
    ("backward: dK/dV from the group's first head only", LOW,
     "buildFor(b, loc, c0, idx(group), 1, [&](Value hh) {\n          Value h = arith::AddIOp::create(\n",
     "buildFor(b, loc, c0, idx(1), 1, [&](Value hh) {\n          Value h = arith::AddIOp::create(\n"),
    ("backward: a causal row's last visible key skipped (dQ)", LOW,
     "        arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, i, offset),\n                              c1));",
     "        arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, i, offset),\n                              c0));"),
    ("backward: the diagonal's query row skipped (dK/dV)", LOW,
     "          lo = arith::MaxSIOp::create(b, loc, c0,\n                                      arith::SubIOp::create(b, loc, j, offset));",
     "          lo = arith::MaxSIOp::create(b, loc, c1,\n                                      arith::SubIOp::create(b, loc, j, offset));"),
    ("backward: dLSE added to D instead of subtracted", LOW,
     "          if (op.getGradLse())\n            s = arith::SubFOp::create(",
     "          if (op.getGradLse())\n            s = arith::AddFOp::create("),
    ("captures: the accumulations dropped", LOW,
     "      if (!accumulate)\n        continue;",
     "      continue;"),
    ("captures: the sink's share with the wrong sign", LOW,
     "                Value gs = arith::NegFOp::create(\n                    b, loc, arith::MulFOp::create(b, loc, ps, dRow));",
     "                Value gs = arith::MulFOp::create(b, loc, ps, dRow);"),
    ("sigmoid: dS = dP P (no 1 - P)", LOW,
     "            arith::MulFOp::create(b, loc, p,\n                                  arith::SubFOp::create(b, loc, one, p)));",
     "            p);"),
    # The tiled form (the CPU pipeline's).
    ("tiled: the -D term dropped", LOW,
     "b, loc, p, arith::SubFOp::create(b, loc, dp, splat(dRow, we)));",
     "b, loc, p, dp);"),
    ("tiled: dK/dV/dQ from the group's first head only", LOW,
     "buildFor(b, loc, c0, idx(group), 1, [&](Value hh) {\n          Value h = arith::AddIOp::create(b, loc, g0, hh);\n          buildFor(b, loc, iStart",
     "buildFor(b, loc, c0, idx(1), 1, [&](Value hh) {\n          Value h = arith::AddIOp::create(b, loc, g0, hh);\n          buildFor(b, loc, iStart"),
    ("tiled: tiles the mask shows entirely skipped instead of hidden ones", LOW,
     "                                    .getValues()[0])\n                      .second;",
     "                                    .getValues()[0])\n                      .first;"),
    ("tiled: a product's rows past its last full register block dropped", LOW,
     "    buildFor(b, loc, full, m, 1, [&](Value r0) { block(r0, 1); });", ""),
    ("tiled: rows whose LSE is -inf kept (scores of -inf from the score region)", LOW,
     "            b, loc, arith::CmpFPredicate::OGT, lse,\n            f32(-std::numeric_limits<float>::infinity()));\n      }\n      buildFor(b, loc, c0, kt0",
     "            b, loc, arith::CmpFPredicate::OGE, lse,\n            f32(-std::numeric_limits<float>::infinity()));\n      }\n      buildFor(b, loc, c0, kt0"),
    ("tiled: a causal key tile's first query row skipped", LOW,
     "              b, loc, c0, arith::SubIOp::create(b, loc, j0, offset));",
     "              b, loc, c0, arith::SubIOp::create(b, loc, arith::AddIOp::create(b, loc, j0, c1), offset));"),
    ("tiled: the key parts' dQ copies summed from part 0 only", LOW,
     "            for (int64_t p = 1; p < parts; ++p)",
     "            for (int64_t p = 1; p < 1; ++p)"),
    ("tiled captures: sums at key-invariant indices dropped (SSMax)", LOW,
     "              memref::StoreOp::create(\n                  b, loc, arith::AddFOp::create(b, loc, old, sum), buf, at);",
     "              memref::StoreOp::create(b, loc, old, buf, at);"),
    ("tiled captures: invisible lanes accumulated", LOW,
     "            Value val = arith::SelectOp::create(\n                b, loc, vis, broadcastToVector(b, loc, operands[0], we),\n                zeroV);",
     "            Value val = broadcastToVector(b, loc, operands[0], we);"),
    ("tiled captures: lane-by-lane accumulations dropped (FoX)", LOW,
     "              memref::StoreOp::create(\n                  b, loc, arith::AddFOp::create(b, loc, old, x), buf, idxs);",
     "              memref::StoreOp::create(b, loc, old, buf, idxs);"),
    ("tiled captures: keys past Lk counted", LOW,
     "        if (foldCaptures)\n          vis = arith::AndIOp::create(",
     "        if (false)\n          vis = arith::AndIOp::create("),
    ("rule: tanh' = 1 + y^2", ADJ,
     "RULE(math::TanhOp) { return {MUL(g, SUB(C(1.0), MUL(y, y)))}; }",
     "RULE(math::TanhOp) { return {MUL(g, ADD(C(1.0), MUL(y, y)))}; }"),
    ("rule: d(a/b)/db sign flipped", ADJ,
     "RULE(arith::DivFOp) { return {DIV(g, x[1]), NEG(DIV(MUL(g, y), x[1]))}; }",
     "RULE(arith::DivFOp) { return {DIV(g, x[1]), DIV(MUL(g, y), x[1])}; }"),
]

if __name__ == "__main__":
    mutations.run(MUTS, [os.path.join(BUILD, "test/Integration/grad.test"),
                         os.path.join(BUILD, "test/Integration/grad-gpu-emulation.test"),
                         os.path.join(BUILD, "test/Integration/grad-examples.test"),
                         os.path.join(BUILD, "test/Passes/generate-backward.mlir")])
