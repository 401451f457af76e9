#!/usr/bin/python3
"""test/Integration/Inputs/trig_score.mlir on the given backends against
float64 NumPy: s + sin(0.01 i) cos(0.02 j) + tan(0.001 (i - j)), causal."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare, tensor_core_tol  # noqa: E402

attn_run, src, workdir, backends = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
os.makedirs(workdir, exist_ok=True)
rng = np.random.default_rng(3)
B, H, L, D = 2, 2, 77, 32
x = {n: rng.standard_normal((B, H, L, D)).astype(np.float32) for n in "qkv"}
for n in "qkv":
    np.save(os.path.join(workdir, n + ".npy"), x[n])
i = np.arange(L, dtype=np.float64)[:, None]
j = np.arange(L, dtype=np.float64)[None, :]
bias = np.sin(0.01 * i) * np.cos(0.02 * j) + np.tan(0.001 * (i - j))
q, k, v = (x[n].astype(np.float64) for n in "qkv")
s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D) + bias
s = np.where(j <= i, s, -np.inf)
p = np.exp(s - s.max(-1, keepdims=True))
ref = (p / p.sum(-1, keepdims=True)) @ v
ok = True
for backend in backends.split(","):
    out = os.path.join(workdir, "o_%s.npy" % backend)
    r = subprocess.run([attn_run, src, "--backend=" + backend] +
                       ["--input=@" + os.path.join(workdir, n + ".npy") for n in "qkv"] +
                       ["--output=@" + out], capture_output=True, text=True)
    if r.returncode != 0:
        print("%s: attn-run failed\n%s" % (backend, r.stderr))
        ok = False
        continue
    ok &= compare(backend + " o", np.load(out).astype(np.float64), ref,
                   tensor_core_tol(backend, 1e-4))
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
