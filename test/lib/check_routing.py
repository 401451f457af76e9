#!/usr/bin/python3
"""End-to-end numerics check of one example in examples/routing/.

    check_routing.py --example NAME --workdir DIR --tokens T [--seq L] [--batch B]

Generates seeded random inputs for the example's @main, runs it with attn-run
on the cpu and reference backends and compares every output with a float64
NumPy implementation of the routing math written here from the papers'
formulas (docs/routing.md), independent of the compiler. Indices must match
exactly; weights and activations within a relative tolerance (the
criterion of check_attention.py). Ends with PASS or FAIL.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare, load, round_bf16, run_attn, tensor_core_tol  # noqa: E402


def softmax(z, axis=-1):
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(z - m)
    s = e.sum(axis=axis, keepdims=True)
    return np.where(s > 0, e / np.where(s > 0, s, 1.0), 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def topk(keys, k):
    """Indices of the k largest keys per row, ties to the lower index; -1
    where fewer than k keys are > -inf."""
    T, E = keys.shape
    idx = np.full((T, k), -1, np.int64)
    for t in range(T):
        order = sorted(range(E), key=lambda e: (-keys[t, e], e))
        chosen = [e for e in order if keys[t, e] > -np.inf][:k]
        idx[t, :len(chosen)] = chosen
    return idx


def gather(x, idx):
    return np.where(idx >= 0, np.take_along_axis(x, np.maximum(idx, 0), 1), 0.0)


# ----------------------------------------------------------------------------
# Routers


def router_softmax_topk(x):
    p = softmax(x["logits"])
    idx = topk(p, 2)
    w = gather(p, idx)
    return {"w": w / w.sum(1, keepdims=True), "i": idx}


def router_topk_softmax(x):
    z = x["logits"]
    idx = topk(z, 2)
    return {"w": softmax(gather(z, idx)), "i": idx}


def router_deepseek(x):
    s = sigmoid(x["logits"])
    c = s + x["bias"][None, :]
    T = s.shape[0]
    groups = c.reshape(T, 8, 8)
    gscore = np.sort(groups, axis=2)[:, :, -2:].sum(2)
    keep_groups = topk(gscore, 4)
    masked = np.full_like(c, -np.inf)
    for t in range(T):
        for g in keep_groups[t]:
            masked[t, g * 8:(g + 1) * 8] = c[t, g * 8:(g + 1) * 8]
    idx = topk(masked, 6)
    w = gather(s, idx)
    return {"w": 2.5 * w / w.sum(1, keepdims=True), "i": idx}


def router_capacity(x):
    p = softmax(x["logits"])
    T = p.shape[0]
    cap = int(np.ceil(1.0 * T * 1 / 8))
    idx = topk(p, 1)
    w = gather(p, idx)
    count = np.zeros(8, np.int64)
    for t in range(T):
        e = idx[t, 0]
        if count[e] < cap:
            count[e] += 1
        else:
            idx[t, 0] = -1
            w[t, 0] = 0.0
    return {"w": w, "i": idx}


def router_stats(x):
    p = softmax(x["logits"])
    idx = topk(p, 2)
    counts = np.bincount(idx.ravel(), minlength=8)
    return {"w": gather(p, idx), "i": idx, "counts": counts, "probs": p.sum(0)}


def router_edge(x):
    z = x["logits"] / 0.5
    keep = np.array([1, 0, 0, 1, 0, 0, 0, 0], bool)
    z = np.where(keep[None, :], z, -np.inf)
    p = softmax(z)
    idx = topk(np.where(keep[None, :], p, -np.inf), 3)
    w = gather(p, idx)
    w = w / w.sum(1, keepdims=True)
    drop = (idx >= 0) & (w < 0.3)
    return {"w": np.where(drop, 0.0, w), "i": np.where(drop, -1, idx)}


def router_wide(x):
    p = softmax(x["x"] @ x["w"])
    idx = topk(p, 4)
    return {"w": gather(p, idx), "i": idx}


def router_odd(x):
    z = x["x"] @ x["w"]
    idx = topk(z, 3)
    return {"w": softmax(gather(z, idx)), "i": idx}


def silu(x):
    return x * sigmoid(x)


def moe_swiglu(x):
    X = x["x"]
    p = softmax(X @ x["wr"])
    idx = topk(p, 2)
    w = gather(p, idx)
    w = w / w.sum(1, keepdims=True)
    y = np.zeros_like(X)
    for e in range(8):
        rows, slots = np.nonzero(idx == e)
        if rows.size == 0:
            continue
        h = silu(X[rows] @ x["w1"][e]) * (X[rows] @ x["w3"][e])
        y[rows] += w[rows, slots][:, None] * (h @ x["w2"][e])
    return {"y": y}


# ----------------------------------------------------------------------------
# Block routing inside attention


def block_sparse_attention(q, k, v, sel, bs):
    """Causal attention where row i sees key j only if block j // bs is in
    sel[b, h, i, :]."""
    B, H, L, D = q.shape
    o = np.zeros_like(q)
    blk = np.arange(L) // bs
    for b in range(B):
        for h in range(H):
            s = (q[b, h] @ k[b, h].T) / np.sqrt(D)
            vis = np.tril(np.ones((L, L), bool))
            chosen = np.zeros((L, L), bool)
            for kk in range(sel.shape[3]):
                chosen |= blk[None, :] == sel[b, h, :, kk][:, None]
            s = np.where(vis & chosen, s, -np.inf)
            o[b, h] = softmax(s) @ v[b, h]
    return o


def block_means(x, bs, kind="mean"):
    B, H, L, D = x.shape
    n = (L + bs - 1) // bs
    out = np.zeros((B, H, n, D))
    for i in range(n):
        chunk = x[:, :, i * bs:(i + 1) * bs]
        out[:, :, i] = {"mean": chunk.mean(2), "max": chunk.max(2), "min": chunk.min(2)}[kind]
    return out


def blocks_reference(x, bs, sigmoid_bias=None):
    """Causal GQA attention over caller-selected blocks: (o, lse) with the
    row-dependent soft cap of blocks_gqa_lse.mlir, or sigmoid weights."""
    q, k, v, sel = x["q"], x["k"], x["v"], x["sel"].astype(np.int64)
    B, H, L, D = q.shape
    group = H // k.shape[1]
    nb = (L + bs - 1) // bs
    o = np.zeros_like(q)
    lse = np.full((B, H, L), -np.inf)
    blk = np.arange(L) // bs
    for b in range(B):
        for h in range(H):
            s = (q[b, h] @ k[b, h // group].T) / np.sqrt(D)
            vis = np.tril(np.ones((L, L), bool))
            chosen = np.zeros((L, L), bool)
            for c in range(sel.shape[3]):
                n = sel[b, h, :, c]
                ok = (n >= 0) & (n < nb)
                chosen |= (blk[None, :] == n[:, None]) & ok[:, None]
            vis &= chosen
            if sigmoid_bias is not None:
                w = np.where(vis, sigmoid(s + sigmoid_bias), 0.0)
                o[b, h] = w @ v[b, h // group]
                continue
            cap = 1.0 + 0.01 * np.arange(L)[:, None]
            s = np.tanh(s / cap) * cap
            s = np.where(vis, s, -np.inf)
            m = s.max(1, keepdims=True)
            ms = np.where(np.isfinite(m), m, 0.0)
            e = np.exp(s - ms)
            tot = e.sum(1, keepdims=True)
            o[b, h] = 2.0 * np.where(tot > 0, (e / np.where(tot > 0, tot, 1)) @ v[b, h // group], 0.0)
            lse[b, h] = np.where(tot[:, 0] > 0, ms[:, 0] + np.log(np.where(tot[:, 0] > 0, tot[:, 0], 1)), -np.inf)
    return o, lse


def blocks_gqa_lse(x):
    o, lse = blocks_reference(x, 32)
    return {"o": o, "lse": lse}


def blocks_sigmoid(x):
    return {"o": blocks_reference(x, 32, sigmoid_bias=-4.0)[0]}


def moba(x, bs=64, top=3):
    q, k, v = x["q"], x["k"], x["v"]
    B, H, L, D = q.shape
    kmean = block_means(k, bs)
    n = kmean.shape[2]
    sel = np.zeros((B, H, L, top), np.int64)
    for b in range(B):
        for h in range(H):
            s = q[b, h] @ kmean[b, h].T  # [L, n]
            qb = np.arange(L) // bs
            s = np.where(np.arange(n)[None, :] > qb[:, None], -np.inf, s)
            s = np.where(np.arange(n)[None, :] == qb[:, None], np.inf, s)
            sel[b, h] = topk(s, top)
    return {"o": block_sparse_attention(q, k, v, sel, bs)}


def seer(x, bs=64, top=3):
    q, k, v = x["q"], x["k"], x["v"]
    B, H, L, D = q.shape
    qp = block_means(q, bs)
    kp = np.concatenate([block_means(k, bs, "max"), block_means(k, bs, "min"),
                         block_means(k, bs, "mean")], axis=3)
    n = qp.shape[2]
    sel = np.zeros((B, H, L, top), np.int64)
    for b in range(B):
        for h in range(H):
            s = (qp[b, h] @ x["wq"][h]) @ (kp[b, h] @ x["wk"][h]).T  # [n, n]
            r = np.arange(n)
            s = np.where(r[None, :] > r[:, None], -np.inf, s)
            s = np.where(r[None, :] == r[:, None], np.inf, s)
            blocksel = topk(s, top)
            sel[b, h] = blocksel[np.arange(L) // bs]
    return {"o": block_sparse_attention(q, k, v, sel, bs)}


def gated_attention(x):
    q, k, v = x["q"], x["k"], x["v"]
    L = q.shape[2]
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(q.shape[3])
    s = np.where(np.tril(np.ones((L, L), bool)), s, -np.inf)
    return {"y": (softmax(s) @ v) * sigmoid(x["g"])[..., None]}


def geglu(x):
    g = x["g"]
    gelu = 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3)))
    return {"h": x["a"] * gelu}


# name: (inputs [(name, shape)], reference, outputs [(name, kind)])
def examples(a):
    T, B, L = a.tokens, a.batch, a.seq
    return {
        "router_softmax_topk": ([("logits", (T, 8))], router_softmax_topk,
                                [("w", "f"), ("i", "i")]),
        "router_topk_softmax": ([("logits", (T, 8))], router_topk_softmax,
                                [("w", "f"), ("i", "i")]),
        "router_deepseek": ([("logits", (T, 64)), ("bias", (64,))], router_deepseek,
                            [("w", "f"), ("i", "i")]),
        "router_capacity": ([("logits", (T, 8))], router_capacity,
                            [("w", "f"), ("i", "i")]),
        "router_edge": ([("logits", (T, 8), "bf16")], router_edge,
                        [("w", "f"), ("i", "i")]),
        "router_wide": ([("x", (T, 48)), ("w", (48, 144))], router_wide,
                        [("w", "f"), ("i", "i")]),
        "router_odd": ([("x", (T, 24), "bf16"), ("w", (24, 21), "bf16")], router_odd,
                       [("w", "f"), ("i", "i")]),
        "router_stats": ([("logits", (T, 8))], router_stats,
                         [("w", "f"), ("i", "i"), ("counts", "i"), ("probs", "f")]),
        "moe_swiglu": ([("x", (T, 256)), ("wr", (256, 8)), ("w1", (8, 256, 512)),
                        ("w3", (8, 256, 512)), ("w2", (8, 512, 256))], moe_swiglu,
                       [("y", "f")]),
        "moba": ([("q", (B, 4, L, 64)), ("k", (B, 4, L, 64)), ("v", (B, 4, L, 64))],
                 moba, [("o", "f")]),
        "blocks_gqa_lse": ([("q", (B, 4, L, 64)), ("k", (B, 2, L, 64)), ("v", (B, 2, L, 64)),
                            ("sel", (B, 4, L, 3), "blocks")], blocks_gqa_lse,
                           [("o", "f"), ("lse", "f")]),
        "blocks_bf16": ([("q", (B, 4, L, 64), "bf16"), ("k", (B, 2, L, 64), "bf16"),
                         ("v", (B, 2, L, 64), "bf16"), ("sel", (B, 4, L, 3), "blocks")],
                        blocks_gqa_lse, [("o", "f"), ("lse", "f")]),
        "blocks_sigmoid": ([("q", (B, 4, L, 64)), ("k", (B, 2, L, 64)), ("v", (B, 2, L, 64)),
                            ("sel", (B, 4, L, 3), "blocks")], blocks_sigmoid, [("o", "f")]),
        "gated_attention": ([("q", (B, 4, L, 64)), ("k", (B, 4, L, 64)),
                             ("v", (B, 4, L, 64)), ("g", (B, 4, L))], gated_attention,
                            [("y", "f")]),
        "geglu": ([("a", (T, 512)), ("g", (T, 512))], geglu, [("h", "f")]),
        "seer": ([("q", (B, 4, L, 64)), ("k", (B, 4, L, 64)), ("v", (B, 4, L, 64)),
                  ("wq", (4, 64, 32)), ("wk", (4, 192, 32))], seer, [("o", "f")]),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--example", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--examples", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "routing"))
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--tokens", type=int, default=100)
    p.add_argument("--seq", type=int, default=200)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--backends", default="cpu,reference")
    p.add_argument("--threads", type=int)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ties", action="store_true",
                   help="exact ties in the first rows of logits / x (lower expert wins)")
    p.add_argument("--skew", type=float, default=0.0,
                   help="add this to expert 0's logits (unbalanced routing)")
    p.add_argument("--grad", action="store_true",
                   help="check attn-run --grad (cpu backends) against central "
                        "differences of this file's float64 NumPy forward")
    p.add_argument("--grad-stride", type=int, default=1,
                   help="--grad: differentiate every N-th element of each input")
    a = p.parse_args()
    table = examples(a)
    if a.example not in table:
        raise SystemExit("unknown example %s (have: %s)" % (a.example, ", ".join(sorted(table))))
    inputs, ref_fn, outputs = table[a.example]

    os.makedirs(a.workdir, exist_ok=True)
    w = lambda n: os.path.join(a.workdir, n)
    rng = np.random.default_rng(a.seed)
    x = {}
    for spec in inputs:
        name, shape = spec[0], spec[1]
        dtype = spec[2] if len(spec) > 2 else "f32"
        scale = 1.0
        if name in ("wr",):
            scale = 1.0 / 16
        elif name in ("w1", "w3"):
            scale = 1.0 / 16
        elif name == "w2":
            scale = 1.0 / np.sqrt(512)
        elif name == "bias":
            scale = 0.1
        v = (scale * rng.standard_normal(shape)).astype(np.float32)
        if name == "logits" and a.skew:
            v[:, 0] += a.skew
        if a.ties and name == "bias":
            v[:] = 0.0  # else the bias breaks the ties of row 0
        if a.ties and name in ("logits", "x") and v.shape[0] >= 2:
            v[0] = 0.0
            if name == "logits":
                v[1] = (np.arange(v.shape[1]) % 3 == 2).astype(np.float32)
        if dtype == "blocks":
            # Block ids in [-1, nb]: -1 and nb select nothing; repeats occur.
            nb = (shape[2] + 31) // 32
            v = rng.integers(-1, nb + 1, size=shape).astype(np.int32)
            np.save(w(name + ".npy"), v)
        elif dtype == "bf16":
            bits, v = round_bf16(v)
            np.save(w(name + ".npy"), bits)
        else:
            np.save(w(name + ".npy"), v)
        x[name] = v.astype(np.float64)
    ref = ref_fn(x)

    src = os.path.join(a.examples, a.example + ".mlir")
    if a.grad:
        return check_grad(a, src, inputs, outputs, ref_fn, x, ref, rng, w)
    ok = True
    for backend in a.backends.split(","):
        outs = ["%s_%s.npy" % (n, backend) for n, _ in outputs]
        if not run_attn(a.attn_run, src, backend, [w(spec[0] + ".npy") for spec in inputs],
                        [w(n) for n in outs], a.threads):
            ok = False
            continue
        for (name, kind), f in zip(outputs, outs):
            got = np.load(w(f))
            want = ref[name]
            label = "%s %s" % (backend, name)
            if got.shape != want.shape:
                print("%s: shape %s, expected %s FAIL" % (label, got.shape, want.shape))
                ok = False
            elif kind == "i":
                bad = np.count_nonzero(got != want)
                line = "%s mismatches=%d" % (label, bad)
                if bad:
                    at = np.argwhere(got != want)[0]
                    line += " first_at=%s got=%d want=%d" % (
                        list(at), got[tuple(at)], want[tuple(at)])
                print(line + (" ok" if bad == 0 else " FAIL"))
                ok &= bad == 0
            else:
                ok &= compare(label, got.astype(np.float64), want, tensor_core_tol(backend, a.tol))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def check_grad(a, src, inputs, outputs, ref_fn, x, ref, rng, w):
    """Gradients of sum(f(x) . dy) over the float outputs: attn-run --grad
    against central differences of ref_fn in float64 (the selection is
    piecewise constant: a step of 1e-6 does not cross a tie here)."""
    dys, dy_files = {}, []
    for name, kind in outputs:
        if kind != "f":
            continue
        dys[name] = rng.standard_normal(ref[name].shape)
        np.save(w("dy_" + name + ".npy"), dys[name].astype(np.float32))
        dy_files.append(w("dy_" + name + ".npy"))
        dys[name] = dys[name].astype(np.float32).astype(np.float64)

    def objective(xs):
        r = ref_fn(xs)
        return sum(float((r[n] * d).sum()) for n, d in dys.items())

    dtype_of = lambda spec: spec[2] if len(spec) > 2 else "f32"
    floats = [spec for spec in inputs if dtype_of(spec) in ("f32", "bf16")]
    ok = True
    for backend in a.backends.split(","):
        outs = [w("grad_%s_%s.npy" % (spec[0], backend)) for spec in floats]
        if not run_attn(a.attn_run, src, backend,
                        [w(spec[0] + ".npy") for spec in inputs] + dy_files, outs,
                        a.threads, extra=["--grad"]):
            ok = False
            continue
        for spec, path in zip(floats, outs):
            name = spec[0]
            got = load(path, dtype_of(spec)).astype(np.float64).ravel()
            flat = x[name].ravel()
            sampled = np.arange(0, flat.size, a.grad_stride)
            want = np.empty(sampled.size)
            for n, e in enumerate(sampled):
                x0, h = flat[e], 1e-6 * max(1.0, abs(flat[e]))
                flat[e] = x0 + h
                plus = objective(x)
                flat[e] = x0 - h
                minus = objective(x)
                flat[e] = x0
                want[n] = (plus - minus) / (2 * h)
            tol = a.tol if dtype_of(spec) == "f32" else max(a.tol, 3e-2)
            ok &= compare("%s d%s" % (backend, name), got[sampled], want, tol)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
