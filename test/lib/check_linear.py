#!/usr/bin/env python3
"""Checks an example of examples/linear/ against a float64 NumPy recurrence.

Generates seeded inputs for the example's @main, runs it with attn-run on each
requested backend and compares every output with the recurrence computed step
by step in float64 (independently of attn's lowering and of the reference
interpreter). Prints one line per output and backend, then PASS or FAIL.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare_output, load, run_attn, store  # noqa: E402


def elu1(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0))) + 1.0


def recurrence(q, k, v, decay=None, kind="none", normalize=False, state=None,
               phi=lambda x: x):
    """o_t = phi(q_t) S_t (/ phi(q_t) . z_t), S_t = D_t S_{t-1} + phi(k_t)^T v_t."""
    B, H, L, Dk = q.shape
    Dv = v.shape[3]
    pq, pk = phi(q), phi(k)
    S = np.zeros((B, H, Dk, Dv)) if state is None else state.astype(np.float64).copy()
    z = np.zeros((B, H, Dk))
    o = np.zeros((B, H, L, Dv))
    for t in range(L):
        if kind == "head":
            d = np.broadcast_to(decay[None, :, None], (B, H, Dk))
        elif kind == "channel":
            d = np.exp(decay[:, :, t, :])
        else:
            d = np.ones((B, H, Dk))
        S = d[..., None] * S + pk[:, :, t, :, None] * v[:, :, t, None, :]
        z = d * z + pk[:, :, t, :]
        o[:, :, t] = np.einsum("bhi,bhij->bhj", pq[:, :, t], S)
        if normalize:
            o[:, :, t] /= np.einsum("bhi,bhi->bh", pq[:, :, t], z)[..., None]
    return o, S


def delu1(x):
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))


def grad_recurrence(q, k, v, do, decay=None, kind="none", normalize=False,
                    state=None, dstate=None, phi=lambda x: x, dphi=None):
    """Gradients of recurrence() by its own reverse recurrence (float64,
    step by step: dS_{t-1} = D_t dS_t, independent of attn's parallel-form
    derivation): dq, dk, dv, the decays' gradient (of log decays for
    channel, of lambda for head) and the initial state's."""
    B, H, L, Dk = q.shape
    Dv = v.shape[3]
    pq, pk = phi(q), phi(k)
    S = np.zeros((B, H, Dk, Dv)) if state is None else state.astype(np.float64).copy()
    z = np.zeros((B, H, Dk))
    d_all, S_prev, z_prev, S_all, z_all, o_all, den_all = [], [], [], [], [], [], []
    for t in range(L):
        if kind == "head":
            d = np.broadcast_to(decay[None, :, None], (B, H, Dk)).astype(np.float64)
        elif kind == "channel":
            d = np.exp(decay[:, :, t, :])
        else:
            d = np.ones((B, H, Dk))
        S_prev.append(S)
        z_prev.append(z)
        S = d[..., None] * S + pk[:, :, t, :, None] * v[:, :, t, None, :]
        z = d * z + pk[:, :, t, :]
        n = np.einsum("bhi,bhij->bhj", pq[:, :, t], S)
        den = np.einsum("bhi,bhi->bh", pq[:, :, t], z)
        d_all.append(d)
        S_all.append(S)
        z_all.append(z)
        den_all.append(den)
        o_all.append(n / den[..., None] if normalize else n)
    dS = np.zeros((B, H, Dk, Dv)) if dstate is None else dstate.astype(np.float64).copy()
    dz = np.zeros((B, H, Dk))
    dpq, dpk, dv = np.zeros_like(pq), np.zeros_like(pk), np.zeros((B, H, L, Dv))
    dd = np.zeros((B, H, L, Dk))
    for t in reversed(range(L)):
        if normalize:
            dn = do[:, :, t] / den_all[t][..., None]
            dden = -np.einsum("bhj,bhj->bh", do[:, :, t], o_all[t]) / den_all[t]
        else:
            dn, dden = do[:, :, t], np.zeros((B, H))
        dS = dS + pq[:, :, t, :, None] * dn[:, :, None, :]
        dz = dz + pq[:, :, t] * dden[..., None]
        dpq[:, :, t] = np.einsum("bhij,bhj->bhi", S_all[t], dn) + z_all[t] * dden[..., None]
        dpk[:, :, t] = np.einsum("bhij,bhj->bhi", dS, v[:, :, t]) + dz
        dv[:, :, t] = np.einsum("bhi,bhij->bhj", pk[:, :, t], dS)
        dd[:, :, t] = np.einsum("bhij,bhij->bhi", dS, S_prev[t]) + dz * z_prev[t]
        dS = d_all[t][..., None] * dS
        dz = d_all[t] * dz
    dphi = dphi or (lambda x: np.ones_like(x))
    dq, dk = dpq * dphi(q), dpk * dphi(k)
    if kind == "channel":
        ddecay = dd * np.exp(decay)
    elif kind == "head":
        ddecay = dd.sum(axis=(0, 2, 3))
    else:
        ddecay = None
    return dq, dk, dv, ddecay, dS


def inputs(name, rng, B, L, strong=False):
    qkv = lambda: rng.standard_normal((B, 4, L, 64)) * 0.25
    if name == "gla":
        # Strong decays (alpha down to 1e-3 per step) leave the chunkwise
        # form's single-reference range and take its sub-block path.
        lo = 1e-3 if strong else 0.9
        la = np.log(rng.uniform(lo, 1.0, (B, 4, L, 64)))
        return [("q", qkv()), ("k", qkv()), ("v", qkv()), ("log_alpha", la)]
    if name == "gla_state":
        la = np.log(rng.uniform(0.9, 1.0, (B, 4, L, 64)))
        return [("q", qkv()), ("k", qkv()), ("v", qkv()), ("log_alpha", la),
                ("state", rng.standard_normal((B, 4, 64, 64)))]
    if name == "gla_decode":
        la = np.log(rng.uniform(0.9, 1.0, (B, 4, 1, 64)))
        return [("q", rng.standard_normal((B, 4, 1, 64))), ("k", rng.standard_normal((B, 4, 1, 64))),
                ("v", rng.standard_normal((B, 4, 1, 64))), ("log_alpha", la),
                ("state", rng.standard_normal((B, 4, 64, 64)))]
    if name == "lightning":
        return [("q", qkv()), ("k", qkv()), ("v", qkv()),
                # lambda = 0 keeps only the current step (log lambda = -inf).
                ("lambda", np.array([0.99, 0.9, 0.5, 0.0]))]
    if name == "linear_elu":
        return [("q", qkv()), ("k", qkv()), ("v", qkv())]
    raise ValueError(name)


def references(name, x, reverse=False):
    if reverse:
        # The reverse recurrence, S_t = D_t S_(t+1) + phi(k_t)^T v_t, is the
        # forward one on the step-reversed sequences, read back reversed
        # (the final state is S_0).
        flip = {n: (t[:, :, ::-1] if n in ("q", "k", "v") or
                    (n == "log_alpha" and t.ndim == 4) else t) for n, t in x.items()}
        refs = references(name, flip)
        return [refs[0][:, :, ::-1]] + refs[1:]
    if name == "gla_state":
        o, S = recurrence(x["q"], x["k"], x["v"], x["log_alpha"], "channel", state=x["state"])
        return [o, S]
    if name == "gla":
        return [recurrence(x["q"], x["k"], x["v"], x["log_alpha"], "channel")[0]]
    if name == "gla_decode":
        o, S = recurrence(x["q"], x["k"], x["v"], x["log_alpha"], "channel", state=x["state"])
        return [o, S]
    if name == "lightning":
        return [recurrence(x["q"], x["k"], x["v"], x["lambda"], "head")[0]]
    if name == "linear_elu":
        return [recurrence(x["q"], x["k"], x["v"], normalize=True, phi=elu1)[0]]
    raise ValueError(name)


def grad_references(name, x, dys):
    """NumPy gradients of every float input of the example, in order."""
    if name == "gla":
        g = grad_recurrence(x["q"], x["k"], x["v"], dys[0], x["log_alpha"], "channel")
        return list(g[:4])
    if name == "gla_decode":
        g = grad_recurrence(x["q"], x["k"], x["v"], dys[0], x["log_alpha"], "channel",
                            state=x["state"], dstate=dys[1])
        return list(g)
    if name == "lightning":
        return list(grad_recurrence(x["q"], x["k"], x["v"], dys[0], x["lambda"], "head")[:4])
    if name == "linear_elu":
        return list(grad_recurrence(x["q"], x["k"], x["v"], dys[0], normalize=True,
                                    phi=elu1, dphi=delu1)[:3])
    raise ValueError(name)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--example", required=True,
                   choices=["gla", "gla_decode", "gla_state", "lightning", "linear_elu"])
    p.add_argument("--workdir", required=True)
    p.add_argument("--examples", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "linear"))
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=100)
    p.add_argument("--backends", default="cpu,reference")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--mlir", help="run this file instead of the example (same signature)")
    p.add_argument("--dtype", default="f32", choices=["f32", "bf16"],
                   help="type of q, k, v (and o) in --mlir")
    p.add_argument("--scan-chunk", type=int, default=None,
                   help="attn-run --scan-chunk (default: attn-run's)")
    p.add_argument("--strong-decay", action="store_true",
                   help="gla: per-step decays down to 1e-3")
    p.add_argument("--reverse", action="store_true",
                   help="the --mlir file scans in reverse (attn.scan ... reverse)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grad", action="store_true",
                   help="check attn-run --grad's gradients (cpu backends) against "
                        "the NumPy reverse recurrence instead of the outputs")
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    x, files = {}, []
    for name, value in inputs(a.example, rng, a.batch, a.seq, a.strong_decay):
        path = os.path.join(a.workdir, name + ".npy")
        x[name] = store(path, value, a.dtype if name in ("q", "k", "v") else "f32")
        files.append(path)
    refs = references(a.example, x, a.reverse)
    if a.grad:
        return check_grad(a, x, files, refs, rng)
    ok = True
    for backend in a.backends.split(","):
        outs = [os.path.join(a.workdir, "out%d_%s.npy" % (n, backend)) for n in range(len(refs))]
        src = a.mlir or os.path.join(a.examples, a.example + ".mlir")
        extra = [] if a.scan_chunk is None else ["--scan-chunk=%d" % a.scan_chunk]
        if not run_attn(a.attn_run, src, backend, files, outs, extra=extra):
            ok = False
            continue
        for n, (ref, path) in enumerate(zip(refs, outs)):
            got = load(path, a.dtype if n == 0 else "f32")
            ok &= compare_output("%s out%d" % (backend, n), got, ref, a.tol, finite=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def check_grad(a, x, files, refs, rng):
    """attn-run --grad (the derived backward) against grad_references()."""
    dys, dy_files = [], []
    for n, ref in enumerate(refs):
        path = os.path.join(a.workdir, "dy%d.npy" % n)
        dys.append(store(path, rng.standard_normal(ref.shape), "f32"))
        dy_files.append(path)
    grefs = grad_references(a.example, x, dys)
    ok = True
    src = a.mlir or os.path.join(a.examples, a.example + ".mlir")
    for backend in a.backends.split(","):
        outs = [os.path.join(a.workdir, "grad%d_%s.npy" % (n, backend))
                for n in range(len(grefs))]
        if not run_attn(a.attn_run, src, backend, files + dy_files, outs, extra=["--grad"]):
            ok = False
            continue
        for n, (ref, path) in enumerate(zip(grefs, outs)):
            ok &= compare_output("%s grad%d" % (backend, n), load(path, "f32"), ref,
                                 a.tol, finite=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
