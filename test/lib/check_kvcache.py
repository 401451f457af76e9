#!/usr/bin/env python3
"""Checks attention side outputs (row entropy, H2O/A2SF/VATP column scores)
against float64 NumPy.

Generates seeded q, k, v for a program's @main (q [B, Hq, Lq, D], k/v
[B, Hkv, Lk, D]; the outputs named by --outputs, default o and scores
[B, Hkv, Lk]), runs it with attn-run on each backend and compares every
output with probabilities materialized in float64:
scores[b, g, j] = sum_{h in g} sum_i alpha^(Lq-1-i) p[b, h, i, j]
(* |v[b, g, j]|_1), entropy[b, h, i] = -sum_j p log p (the sink's share
included), lse[b, h, i]. Prints one line per output and backend, then
PASS/FAIL.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare_output, load, run_attn, store, tensor_core_tol  # noqa: E402


def reference(q, k, v, causal, alpha, value_norm, mask, softcap=None, sink=None):
    B, Hq, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    G = Hq // Hkv
    kk = np.repeat(k, G, axis=1)
    vv = np.repeat(v, G, axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, kk) / np.sqrt(D)
    if softcap:
        s = softcap * np.tanh(s / softcap)
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    vis = np.ones((Lq, Lk), bool)
    if causal:
        vis &= j <= i + (Lk - Lq)
    if mask == "rows":  # every fifth row from 2 sees nothing
        vis &= (i % 5 != 2)
    s = np.where(vis, s, -np.inf)
    m = s.max(-1, keepdims=True)
    if sink is not None:
        m = np.maximum(m, sink)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(vis, np.exp(s - m), 0.0)
    es = np.exp(sink - m) if sink is not None else np.zeros_like(m)
    l = e.sum(-1, keepdims=True) + es
    p = np.where(l > 0, e / np.where(l > 0, l, 1.0), 0.0)
    ps = np.where(l > 0, es / np.where(l > 0, l, 1.0), 0.0)
    with np.errstate(divide="ignore"):
        lse = np.where(l > 0, m + np.log(np.where(l > 0, l, 1.0)), -np.inf)[..., 0]
    xlogx = lambda x: np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)
    entropy = -xlogx(p).sum(-1) - xlogx(ps)[..., 0]
    o = np.einsum("bhij,bhjd->bhid", p, vv)
    w = alpha ** (Lq - 1 - np.arange(Lq))
    cols = np.einsum("bhij,i->bhj", p, w).reshape(B, Hkv, G, Lk).sum(2)
    if value_norm:
        cols = cols * np.abs(v).sum(-1)
    return {"o": o, "lse": lse, "entropy": entropy, "scores": cols}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mlir", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--hq", type=int, default=4)
    p.add_argument("--hkv", type=int, default=None)
    p.add_argument("--lq", type=int, required=True)
    p.add_argument("--lk", type=int, default=None)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    p.add_argument("--alpha", type=float, default=1.0, help="score_decay")
    p.add_argument("--value-norm", action="store_true")
    p.add_argument("--not-causal", action="store_true")
    p.add_argument("--mask", default="none", choices=["none", "rows"])
    p.add_argument("--softcap", type=float, default=None,
                   help="the program soft-caps its logits at this value")
    p.add_argument("--sink", type=float, default=None,
                   help="the program's sink region yields this logit")
    p.add_argument("--outputs", default="o,scores",
                   help="@main's results, in order (o, lse, entropy, scores)")
    p.add_argument("--backends", default="cpu,reference")
    p.add_argument("--kv-tile", type=int, default=0,
                   help="attn-run --kv-tile (keys per CPU attention tile)")
    p.add_argument("--tol", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    hkv = a.hkv or a.hq
    lk = a.lk or a.lq
    os.makedirs(a.workdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    x, files = {}, []
    for name, shape in (("q", (a.batch, a.hq, a.lq, a.dim)), ("k", (a.batch, hkv, lk, a.dim)),
                        ("v", (a.batch, hkv, lk, a.dim))):
        path = os.path.join(a.workdir, name + ".npy")
        x[name] = store(path, rng.standard_normal(shape), a.dtype)
        files.append(path)
    refs = reference(x["q"], x["k"], x["v"], not a.not_causal, a.alpha, a.value_norm, a.mask,
                     a.softcap, a.sink)
    names = a.outputs.split(",")
    ok = True
    for backend in a.backends.split(","):
        outs = [os.path.join(a.workdir, "out%d_%s.npy" % (n, backend)) for n in range(len(names))]
        extra = ["--kv-tile=%d" % a.kv_tile] if a.kv_tile else []
        if not run_attn(a.attn_run, a.mlir, backend, files, outs, extra=extra):
            ok = False
            continue
        for name, path in zip(names, outs):
            got = load(path, a.dtype if name == "o" else "f32")
            ok &= compare_output("%s %s" % (backend, name), got, refs[name],
                                 tensor_core_tol(backend, a.tol))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
