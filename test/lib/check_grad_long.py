#!/usr/bin/python3
"""The backward's memory is O(L) per head: a causal D = 64 attention's
gradients at L = 65536 within a memory budget.

Runs `attn-run --grad` (the training forward and the derived backward) on
one head of L random queries, keys and values, and checks
  * the peak resident memory of attn-run (getrusage of the child; inputs,
    outputs and the compiler included) against --max-mb: an L x L score
    matrix alone would take 16 GiB at L = 65536;
  * every gradient is finite;
  * sampled gradients against float64 NumPy written from the math, row by
    row (each costs O(L D), so the check itself stays O(L)): dQ of rows
    0, 1, L/3 and L - 1, and dK, dV of the last three keys (seen only by
    the last three rows).
Prints one line per check, `... ok|FAIL`; exits non-zero on a failure.
"""
import argparse
import os
import resource
import subprocess
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", required=True)
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--l", type=int, default=65536)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--max-mb", type=float, default=2048)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    L, D = a.l, a.d
    scale = 1.0 / np.sqrt(D)
    src = os.path.join(a.workdir, "causal.mlir")
    t = "tensor<1x1x?x%dxf32>" % D
    with open(src, "w") as f:
        f.write(f"""func.func @main(%q: {t}, %k: {t}, %v: {t}) -> {t} {{
  %c2 = arith.constant 2 : index
  %l = tensor.dim %q, %c2 : {t}
  %init = tensor.empty(%l) : {t}
  %o = attn.attention causal scale({scale!r}) ins(%q, %k, %v : {t}, {t}, {t})
      outs(%init : {t}) -> {t}
  return %o : {t}
}}
""")
    rng = np.random.default_rng(7)
    x = {}
    for n in ("q", "k", "v", "do"):
        x[n] = rng.standard_normal((1, 1, L, D)).astype(np.float32)
        np.save(os.path.join(a.workdir, n + ".npy"), x[n])
    outs = [os.path.join(a.workdir, n + "_got.npy") for n in ("dq", "dk", "dv")]
    cmd = [a.attn_run, src, "--grad", "--threads=%d" % a.threads] + \
        ["--input=@" + os.path.join(a.workdir, n + ".npy") for n in ("q", "k", "v", "do")] + \
        ["--output=@" + o for o in outs]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print("attn-run failed (%d): %s FAIL" % (r.returncode, r.stderr.strip()))
        return 1
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    ok = peak_mb <= a.max_mb
    print("L=%d peak_rss_mb=%.0f max_mb=%.0f %s" % (L, peak_mb, a.max_mb,
                                                    "ok" if ok else "FAIL"))
    got = dict(zip(("dq", "dk", "dv"), (np.load(o)[0, 0].astype(np.float64) for o in outs)))
    finite = all(np.all(np.isfinite(g)) for g in got.values())
    print("finite %s" % ("ok" if finite else "FAIL"))
    ok &= finite

    q, k, v, do = (x[n][0, 0].astype(np.float64) for n in ("q", "k", "v", "do"))

    def row(i):
        """P_i (over keys 0..i), O_i, D_i of query row i."""
        s = scale * (k[: i + 1] @ q[i])
        pr = np.exp(s - s.max())
        pr /= pr.sum()
        o = pr @ v[: i + 1]
        return pr, o, float(do[i] @ o)

    def check(what, g, ref):
        err = np.abs(g - ref).max()
        bound = 2e-3 * (np.abs(ref).max() + 1e-3)
        good = err <= bound
        print("%s max_abs_err=%.3g bound=%.3g %s" % (what, err, bound,
                                                     "ok" if good else "FAIL"))
        return good

    for i in (0, 1, L // 3, L - 1):
        pr, _, di = row(i)
        ds = pr * (v[: i + 1] @ do[i] - di)
        ok &= check("dq[%d]" % i, got["dq"][i], scale * (ds @ k[: i + 1]))
    rows = {i: row(i) for i in range(L - 3, L)}
    for j in range(L - 3, L):
        dv_ref = sum(rows[i][0][j] * do[i] for i in range(j, L))
        dk_ref = sum(rows[i][0][j] * (v[j] @ do[i] - rows[i][2]) * q[i]
                     for i in range(j, L)) * scale
        ok &= check("dv[%d]" % j, got["dv"][j], dv_ref)
        ok &= check("dk[%d]" % j, got["dk"][j], dk_ref)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
