#!/usr/bin/python3
"""Mutation check of the fused row entropy (issue 21): the running sums of
weights times relative logits in the CPU micro-kernel, their rescaling when
a row's maximum grows, the sink in the finalization, and the outputs of the
kept attention. Applies each mutation, rebuilds, runs
test/Integration/kvcache.test (every entropy case) and reports which catch
it. Not part of scripts/test (it rebuilds).

    /usr/bin/python3 test/lib/mutate_entropy.py [BUILD_DIR]
"""
import os

import mutations
from mutations import BUILD, ROOT

VEC = os.path.join(ROOT, "codegen", "cpu", "ConvertAttnToVector.cpp")
EXP = os.path.join(ROOT, "passes", "ExpandSideOutputs.cpp")
MUTS = [
    ("masked logits not clamped (0 * -inf)", VEC,
     "                    b, loc, p, arith::MaximumFOp::create(b, loc, x, lowest),",
     "                    b, loc, p, x,"),
    ("sums not shifted when the maximum grows", VEC,
     "          u = vector::FMAOp::create(cb, loc, l, shift, u);\n",
     ""),
    ("the sink's own term left out", VEC,
     "            u = math::FmaOp::create(\n                b, loc, sinkWeight,",
     "            u = math::FmaOp::create(\n                b, loc, zero,"),
    ("the kept attention's LSE returned as its entropy", EXP,
     "    if (keepEntropy)\n      results.push_back(main.getResult(2));",
     "    if (keepEntropy)\n      results.push_back(main.getResult(1));"),
]
TESTS = [os.path.join(BUILD, "test", "Integration", "kvcache.test"),
         os.path.join(BUILD, "test", "Passes", "expand-side-outputs-entropy-only.mlir")]
mutations.run(MUTS, TESTS)
