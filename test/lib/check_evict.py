#!/usr/bin/env python3
"""Checks attn.evict (KV-cache eviction) against a NumPy sort.

Generates seeded scores and keys/values for a program's @main, which takes
(scores, k, v) or, with --key-norm, (k, v) (with --attention: (q, k, v), the
scores being an attn.attention's column_scores) and returns indices, k', v'
(and first o with --attention). The reference keeps the `sink` first and
`recent` last positions and the `budget` best middle positions by a stable
float64 sort (highest score first, or lowest with --lowest; NaN last; ties
to the lower position), sorted, padded with -1 and zero rows. k' and v' must
be the exact rows at the returned indices. Scores computed in float (key
norms, attention) may order near-ties differently from float64: positions
that differ must then score within --tie-tol of the budget-th best.
Prints one line per output and backend, then PASS/FAIL.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare_output, load, run_attn, store  # noqa: E402
from check_kvcache import reference as attention_reference  # noqa: E402


def keep_reference(score, sink, budget, recent, lowest):
    """Returns (kept positions sorted, the budget-th best middle score or
    None) for one slice's float64 scores."""
    S = len(score)
    sink_end = min(S, sink)
    recent_start = max(sink_end, S - recent)
    key = -score if lowest else score
    middle = np.arange(sink_end, recent_start)
    # Stable order: NaN last, then best key first, then lower position.
    nan = np.isnan(key[middle])
    order = np.lexsort((middle, -np.where(nan, 0.0, key[middle]), nan))
    chosen = middle[order[:budget]]
    kept = np.concatenate([np.arange(sink_end), chosen, np.arange(recent_start, S)])
    thr = key[chosen[-1]] if 0 < budget < len(middle) else None
    return np.sort(kept), thr, key


def check_indices(name, got, score, a):
    """Compares one slice's indices; returns an error string or None."""
    n = a.sink + a.budget + a.recent
    kept, thr, key = keep_reference(score, a.sink, a.budget, a.recent, a.lowest)
    want = np.full(n, -1, np.int64)
    want[:len(kept)] = kept
    if np.array_equal(got, want):
        return None
    if thr is None or a.tie_tol == 0:
        return "got %s, expected %s" % (got.tolist(), want.tolist())
    # Near-ties at the threshold may go either way.
    g = got[got >= 0]
    if len(g) != len(kept) or np.any(np.diff(g) <= 0) or g.max() >= len(score):
        return "got %s, expected %s (count/order/range)" % (got.tolist(), want.tolist())
    diff = np.setxor1d(g, kept)
    far = diff[np.abs(key[diff] - thr) > a.tie_tol * max(1.0, abs(thr))]
    if len(far):
        return "positions %s differ and are not near-ties of %g" % (far.tolist(), thr)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mlir", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--lead", default="2,4", help="leading dims, comma-separated")
    p.add_argument("--seq", type=int, required=True, help="cached positions S")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--budget", type=int, required=True)
    p.add_argument("--sink", type=int, default=0)
    p.add_argument("--recent", type=int, default=0)
    p.add_argument("--lowest", action="store_true")
    p.add_argument("--key-norm", action="store_true", help="rank by ||k||_2")
    p.add_argument("--attention", action="store_true",
                   help="@main(q, k, v) -> o, indices, k', v' with H2O scores")
    p.add_argument("--scores", default="normal", choices=["normal", "ties", "special"])
    p.add_argument("--dtype", default="f32", choices=["f32", "bf16"],
                   help="element type of k and v (and of the scores operand)")
    p.add_argument("--backends", default="cpu,reference")
    p.add_argument("--tie-tol", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    lead = tuple(int(d) for d in a.lead.split(",") if d)
    S, D = a.seq, a.dim
    os.makedirs(a.workdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    files = []

    def put(name, x, dtype):
        path = os.path.join(a.workdir, name + ".npy")
        files.append(path)
        return store(path, x, dtype)

    if a.attention:
        q = put("q", rng.standard_normal(lead + (S, D)), a.dtype)
    elif not a.key_norm:
        if a.scores == "ties":
            raw = rng.integers(0, 4, lead + (S,)).astype(np.float64)
        else:
            raw = rng.standard_normal(lead + (S,))
        if a.scores == "special":
            flat = raw.reshape(-1)
            flat[rng.choice(flat.size, flat.size // 5, replace=False)] = np.nan
            for v in (np.inf, -np.inf, 0.0, -0.0):
                flat[rng.choice(flat.size, flat.size // 20, replace=False)] = v
        scores = put("scores", raw, a.dtype)
    k = put("k", rng.standard_normal(lead + (S, D)) * rng.uniform(0.5, 1.5, lead + (S, 1)), a.dtype)
    v = put("v", rng.standard_normal(lead + (S, D)), a.dtype)
    if a.key_norm:
        scores = np.sqrt((k * k).sum(-1))
    refs = []
    if a.attention:
        ref = attention_reference(q, k, v, True, 1.0, False, "none")
        o, scores = ref["o"], ref["scores"]
        refs.append(o)

    ok = True
    n = a.sink + a.budget + a.recent
    for backend in a.backends.split(","):
        names = (["o"] if a.attention else []) + ["indices", "k", "v"]
        outs = [os.path.join(a.workdir, "%s_%s.npy" % (nm, backend)) for nm in names]
        if not run_attn(a.attn_run, a.mlir, backend, files, outs):
            ok = False
            continue
        if a.attention:
            ok &= compare_output(backend + " o", load(outs[0], a.dtype), refs[0], 2e-4)
            outs = outs[1:]
        idx = np.load(outs[0])
        kp, vp = load(outs[1], a.dtype), load(outs[2], a.dtype)
        if idx.dtype != np.int32 or idx.shape != lead + (n,):
            print("%s indices: %s %s, expected int32 %s FAIL"
                  % (backend, idx.dtype, idx.shape, lead + (n,)))
            ok = False
            continue
        bad = 0
        for sl in np.ndindex(*lead):
            err = check_indices(backend, idx[sl].astype(np.int64), scores[sl], a)
            if err:
                if bad < 3:
                    print("%s indices%s: %s" % (backend, list(sl), err))
                bad += 1
        print("%s indices: %d slices, %d wrong %s"
              % (backend, int(np.prod(lead)), bad, "FAIL" if bad else "ok"))
        ok &= bad == 0
        # The rows must be exactly those at the returned indices (zero pads).
        for nm, got, src in (("k", kp, k), ("v", vp, v)):
            safe = np.maximum(idx, 0).astype(np.int64)[..., None]
            want = np.take_along_axis(src, np.broadcast_to(safe, lead + (n, 1)), axis=-2)
            want = np.where(idx[..., None] >= 0, want, 0.0)
            same = got.shape == want.shape and np.array_equal(got, want)
            print("%s %s': %s" % (backend, nm, "exact rows ok" if same else "FAIL"))
            ok &= same
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
