#!/usr/bin/python3
"""Mutation check of the tensor-program adjoints (issue 22): the router's
pre-drop selection, the MoE layer's routing-weight gradient, the scan's
diagonal and its final state's initial-state term, the reverse sweep's
snapshot of its ops, the entropy's reverse-mode-safe log and math.powf's
rule at exponent 0. Applies each mutation to its source file, rebuilds, runs
test/Integration/grad-numpy.test, grad-examples-ops.test and
test/Passes/generate-backward-side-outputs.mlir, and reports whether they
catch it; restores the file. Not part of scripts/test (it rebuilds).

    /usr/bin/python3 test/lib/mutate_grad_ops.py [BUILD_DIR]
"""
import os

import mutations
from mutations import BUILD, ROOT

ADJ = os.path.join(ROOT, "dialect", "AdjointInterfaceImpl.cpp")
SIDE = os.path.join(ROOT, "passes", "ExpandSideOutputs.cpp")
MUTS = [
    ("route: the renormalization sees only the kept slots", ADJ,
     "    if (getSkipThresholdAttr() || getCapacityFactorAttr()) {",
     "    if (false) {"),
    ("experts: no gradient for the routing weights", ADJ,
     "  operandAdjoints[1] = adjoints.lookup(w);\n", ""),
    ("scan: the diagonal (i = t) masked", ADJ,
     "            arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::ule, i, t);",
     "            arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::ult, i, t);"),
    ("scan: the final state without the initial state's share", ADJ,
     "    if (s0) {\n      // Loops (b, h, c, d).",
     "    if (false) {\n      // Loops (b, h, c, d)."),
    ("sweep: a reverse iterator over the live range (revisits the last op)", ADJ,
     "  for (Operation *op : llvm::reverse(order)) {\n    Operation &o = *op;",
     "  for (Operation &o : llvm::reverse(ops)) {"),
    ("entropy: log(-log p) read at -log p = 0 (grad_entropy_peaked)", SIDE,
     "      Value safe =\n          arith::SelectOp::create(b, loc, positive, negLogP, constF(1.0f));",
     "      Value safe = negLogP;"),
    ("rule: powf's da = g c y / a (NaN at a = 0)", ADJ,
     "  return {arith::SelectOp::create(b, loc, constant, zero, da),",
     "  return {DIV(MUL(MUL(g, x[1]), y), x[0]),"),
]

if __name__ == "__main__":
    mutations.run(MUTS, [os.path.join(BUILD, "test/Integration/grad-numpy.test"),
                         os.path.join(BUILD, "test/Integration/grad-examples-ops.test"),
                         os.path.join(BUILD, "test/Passes/generate-backward-side-outputs.mlir")])
