#!/usr/bin/python3
"""Mutation check of the tensor-core backward generator against the GPU
emulator (issue 22): applies each mutation to
codegen/gpu/TileAttentionBackward.cpp, rebuilds attn-run, runs the three
tensor-core backward cases of grad-gpu-emulation.test and reports whether
they catch it; restores the file. Not part of scripts/test (it rebuilds).

    /usr/bin/python3 test/lib/mutate_tile_attention_backward.py [BUILD_DIR]
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
WORK = "/tmp/attn-mutations-backward"
P = os.path.join(ROOT, "codegen", "gpu", "TileAttentionBackward.cpp")
orig = open(P).read()
muts = [
    ("the -D term dropped", "ds = fmul(p, fsub(dp, dRow));", "ds = fmul(p, dp);"),
    ("the GQA reduction dropped (first head of the group only)",
     "scf::ForOp::create(b, loc, cst(0), cst(group), c1, init);",
     "scf::ForOp::create(b, loc, cst(0), cst(1), c1, init);"),
    ("the causal start one query tile late (a visible tile skipped)",
     "qtStart = div(select(ult(shifted, lk), cst(0), sub(shifted, lk)), kTile);",
     "qtStart = add(div(select(ult(shifted, lk), cst(0), sub(shifted, lk)), kTile), c1);"),
    ("every tile taken as full (the mask never evaluated)",
     "  if (!hasMask)\n    return SmallVector<Value>(n, boolCst(true));",
     "  if (true)\n    return SmallVector<Value>(n, boolCst(true));"),
    ("the barrier before the next query tile dropped",
     "      // The next tile overwrites Qs, dOs and the rows' statistics.\n      gpu::BarrierOp::create(b, loc);",
     "      // dropped"),
    ("D of the next row in the dK/dV kernel",
     "loadRow(dBuf, h, row, lq, fcst(0.0))", "loadRow(dBuf, h, add(row, cst(1)), lq, fcst(0.0))"),
    ("dK not scaled", "key, keyValid, fcst(op.getScale().convertToFloat()));",
     "key, keyValid, Value());"),
    ("dV accumulates dR instead of P", "accumulate(p, dos, dv,", "accumulate(dr, dos, dv,"),
    ("the score region's derivative dropped", "  if (!op.getScoreGrad().empty()) {",
     "  if (false) {"),
]
C = ["/usr/bin/python3", os.path.join(ROOT, "test", "lib", "check_grad_example.py"),
     "--attn-run", os.path.join(BUILD, "bin", "attn-run"), "--backends", "gpu-emulation"]
INPUTS = os.path.join(ROOT, "test", "Integration", "Inputs")
cases = [
    ["--example", INPUTS + "/grad_tc_causal_gqa_f16.mlir", "--dyn-list", "2,130",
     "--fd-stride", "97", "--tol", "1e-2", "--workdir", WORK + "/a"],
    ["--example", INPUTS + "/grad_tc_window_rows_bf16.mlir", "--dyn-list", "1,70",
     "--fd-stride", "97", "--workdir", WORK + "/b"],
    ["--example", INPUTS + "/grad_tc_bias_f32.mlir", "--dyn", "75",
     "--fd-stride", "53", "--tol", "1e-2", "--workdir", WORK + "/c"],
]
try:
    for name, old, new in muts:
        assert orig.count(old) == 1, name
        open(P, "w").write(orig.replace(old, new))
        r = subprocess.run(["ninja", "-C", BUILD, "attn-run"], capture_output=True, text=True)
        if r.returncode:
            print(name, "BUILD FAILED", r.stdout[-500:])
            continue
        outs = []
        for c in cases:
            r = subprocess.run(C + c, capture_output=True, text=True)
            line = [l for l in r.stdout.splitlines() if "FAIL" in l or "error" in l]
            outs.append(("caught: " + line[0][:200]) if r.returncode else "NOT CAUGHT")
        print("==", name)
        for o in outs:
            print("  ", o)
        sys.stdout.flush()
finally:
    open(P, "w").write(orig)
    subprocess.run(["ninja", "-C", BUILD, "attn-run"], capture_output=True)
