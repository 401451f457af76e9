#!/usr/bin/python3
"""Prints what bench/tune.py's with_tuning makes of each form of program
text (bare functions, `module {`, `module @m {`, `module attributes {...}`,
an existing attn.cpu_tuning), and what module_tuning reads back."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from tune import module_tuning, with_tuning  # noqa: E402

FUNC = "func.func @f() {\n  return\n}"
TUNING = {"kv_tile": 128, "q_tile": 32}
for name, text in (("bare", FUNC),
                   ("module", "module {\n%s\n}" % FUNC),
                   ("named", "module @m {\n%s\n}" % FUNC),
                   ("attributes", "module attributes {x.y = 1 : i64} {\n%s\n}" % FUNC),
                   ("retuned", "module attributes {attn.cpu_tuning = {kv_tile = 16}} {\n%s\n}" % FUNC)):
    out = with_tuning(text, TUNING)
    print("%s: %s" % (name, out.splitlines()[0]))
    print("%s reads back: %s" % (name, sorted(module_tuning(out).items())))
