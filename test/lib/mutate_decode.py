#!/usr/bin/python3
"""Mutation check of the CPU decode forms (issue 21): the run-time dispatch
and the row-vector micro-kernel's key-major dot products and transposed
lane sums, the bf16 dot products and value widening. Applies each mutation to its source file, rebuilds, runs test/Integration/decode.test and
test/Passes/tile-attention-decode.mlir, and reports whether they catch it;
restores the file. Not part of scripts/test (it rebuilds).

    /usr/bin/python3 test/lib/mutate_decode.py [BUILD_DIR]
"""
import os

import mutations
from mutations import BUILD, ROOT

TILE = os.path.join(ROOT, "passes", "TileAttention.cpp")
VEC = os.path.join(ROOT, "codegen", "cpu", "ConvertAttnToVector.cpp")
MUTS = [
    ("dispatch: decode form for Lq <= 2, not Lq == 1", TILE,
     "arith::CmpIPredicate::eq, lq,\n                                    arith::ConstantIndexOp::create(b, loc, 1));",
     "arith::CmpIPredicate::ule, lq,\n                                    arith::ConstantIndexOp::create(b, loc, 2));"),
    ("dispatch: the key cast with the query", TILE,
     "  decodeOp.getQueryMutable().assign(query);",
     "  decodeOp.getQueryMutable().assign(query);\n  decodeOp.getKeyMutable().assign(castToOneRow(b, loc, op.getKey()));"),
    ("decode form for GQA regions that read the query row", TILE,
     "  if (op.getNumQueryHeads() == op.getNumKvHeads())\n    return true;",
     "  return true;"),
    ("transposed lane sums: y's keys before x's", VEC,
     "            lo.push_back(src * lanes + g * w + l);\n            hi.push_back(src * lanes + g * w + w / 2 + l);",
     "            lo.push_back((1 - src) * lanes + g * w + l);\n            hi.push_back((1 - src) * lanes + g * w + w / 2 + l);"),
    ("key-major dots: a kept query vector of the next column", VEC,
     "accs[k * g + r], keep ? kept[r * chunks + c] : loadQ(r, c),",
     "accs[k * g + r], keep ? kept[r * chunks + (c + 1) % chunks] : loadQ(r, c),"),
    ("key-major dots: a loaded query vector of the next row", VEC,
     "accs[k * g + r], keep ? kept[r * chunks + c] : loadQ(r, c),",
     "accs[k * g + r], keep ? kept[r * chunks + c] : loadQ((r + 1) % g, c),"),
    ("bf16 logits: the scale not applied", VEC,
     "          sums = arith::MulFOp::create(b, loc, sums, splat(b, loc, mult));",
     "          sums = sums;"),
    ("bf16 values: odd elements by the shift too", VEC,
     "b, loc, vecType(b), arith::AndIOp::create(b, loc, x, top)));",
     "b, loc, vecType(b), arith::ShLIOp::create(b, loc, x, sixteen)));"),
    ("bf16 values: the halves interleaved back swapped", VEC,
     "        results[i] = vector::ShuffleOp::create(cb, loc, e, o, lowHalf);\n        results[i + 1] = vector::ShuffleOp::create(cb, loc, e, o, highHalf);",
     "        results[i] = vector::ShuffleOp::create(cb, loc, e, o, highHalf);\n        results[i + 1] = vector::ShuffleOp::create(cb, loc, e, o, lowHalf);"),
]
TESTS = [os.path.join(BUILD, "test", "Integration", "decode.test"),
         os.path.join(BUILD, "test", "Passes", "tile-attention-decode.mlir")]
mutations.run(MUTS, TESTS)
