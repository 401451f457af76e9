#!/usr/bin/python3
"""Mutation check of the key intervals of attn-tile-attention (issue 21: the
key loop of a query tile visits the keys a linear mask can show, from the
first of them; two intervals are ordered and made disjoint at run time) and
of the query tile's in-register transposed packing. Applies each mutation,
rebuilds, runs test/Integration/bands.test, test/Passes/tile-attention.mlir
and test/Codegen/CPU/convert-attn-to-vector.mlir and reports which catch it.
Not part of scripts/test (it rebuilds).

    /usr/bin/python3 test/lib/mutate_bands.py [BUILD_DIR]
"""
import os

import mutations
from mutations import BUILD, ROOT

MASK = os.path.join(ROOT, "passes", "MaskAnalysis.h")
TILE = os.path.join(ROOT, "passes", "TileAttention.cpp")
VEC = os.path.join(ROOT, "codegen", "cpu", "ConvertAttnToVector.cpp")
MUTS = [
    ("j <= g: the bound's key itself left out", MASK,
     "case P::sle: k.his.push_back(g1); break;",
     "case P::sle: k.his.push_back(g); break;"),
    ("j > g: one key too early", MASK,
     "case P::sgt: k.los.push_back(g1); break;",
     "case P::sgt: k.los.push_back(g); break;"),
    ("j == g: an empty interval", MASK,
     "      k.his.push_back(g1);\n      break;",
     "      k.his.push_back(g);\n      break;"),
    ("j on the right: the predicate not mirrored", MASK,
     "      case P::slt: p = P::sgt; break;",
     "      case P::slt: break;"),
    ("two intervals never swapped", TILE,
     "            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lo2, lo1);",
     "            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lo2, lo2);"),
    ("overlapping intervals: keys visited twice", TILE,
     "        lo2 = arith::MaxSIOp::create(b, loc, c, hi1);",
     "        lo2 = c;"),
    ("the second interval's tiles from the first's start", TILE,
     "        b, loc, arith::SelectOp::create(b, loc, first, lo1, lo2),",
     "        b, loc, lo1,"),
    ("band tiles of the full width", TILE,
     "            kMinBandTile, int64_t(llvm::bit_floor(uint64_t(*width / 2))));",
     "            kMinBandTile, int64_t(llvm::bit_floor(uint64_t(*width))));"),
    ("transposed pack: blocks swapped at the wrong distance", VEC,
     "          hi.push_back(c & h ? n + c : c + h);",
     "          hi.push_back(c & h ? n + c : c);"),
]
TESTS = [os.path.join(BUILD, "test", "Integration", "bands.test"),
         os.path.join(BUILD, "test", "Passes", "tile-attention.mlir"),
         os.path.join(BUILD, "test", "Codegen", "CPU", "convert-attn-to-vector.mlir")]
mutations.run(MUTS, TESTS)
