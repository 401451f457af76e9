"""attn.merge on every backend against float64 NumPy written from the
catalogue's math (test/Integration/Inputs/merge.mlir):

  @split: attention over keys [k1; k2] computed as two attentions (full over
  the first block, causal over the second) merged, vs one softmax over both;
  @merge: three partials whose LSEs are -inf on some rows (one, two or all
  three partials empty), vs LSE = log sum exp(LSE_s), O = sum exp(LSE_s - LSE) O_s;
  @stacked: the same with a run-time number of partials stacked along a
  leading dim (5, and 0); @stacked_mid: stacked along dim 1 ([L, S, H, D]).
"""

import argparse
import os
import subprocess
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--attn-run", required=True)
p.add_argument("--source", required=True)
p.add_argument("--workdir", required=True)
p.add_argument("--backends", default="cpu,reference,halide,gpu-emulation")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)
rng = np.random.default_rng(7)
failed = False


def save(name, a):
    path = os.path.join(args.workdir, name + ".npy")
    np.save(path, a)
    return "--input=@" + path


def run(fn, backend, inputs, nout):
    outs = [os.path.join(args.workdir, f"{fn}_{backend}_{k}.npy") for k in range(nout)]
    cmd = [args.attn_run, args.source, "--function=" + fn, "--backend=" + backend]
    cmd += inputs + ["--output=@" + o for o in outs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print(f"FAIL {fn} {backend}: {r.stderr.strip()}")
        return None
    got = []
    for o in outs:
        a = np.load(o)
        if a.dtype == np.uint16:  # bf16 as attn-run writes it
            a = (a.astype(np.uint32) << 16).view(np.float32)
        got.append(a.astype(np.float64))
    return got


def report(what, got, want, tol):
    global failed
    fin = np.isfinite(want)
    same_inf = np.array_equal(np.isneginf(got), np.isneginf(want))
    err = np.abs(got[fin] - want[fin]).max() if fin.any() else 0.0
    ok = same_inf and err <= tol and not np.isnan(got).any()
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}: err {err:.1e} (tol {tol:.0e})"
          + ("" if same_inf else " (-inf rows differ)"))


# @split: B = 2, H = 4, Hkv = 2, L = 29 queries, key blocks of 23 and 29.
B, H, Hkv, L, L1, D = 2, 4, 2, 29, 23, 16
q = rng.standard_normal((B, H, L, D)).astype(np.float32)
k1 = rng.standard_normal((B, Hkv, L1, D)).astype(np.float32)
v1 = rng.standard_normal((B, Hkv, L1, D)).astype(np.float32)
k2 = rng.standard_normal((B, Hkv, L, D)).astype(np.float32)
v2 = rng.standard_normal((B, Hkv, L, D)).astype(np.float32)
ins = [save("q", q), save("k1", k1), save("v1", v1), save("k2", k2), save("v2", v2)]
k = np.repeat(np.concatenate([k1, k2], 2), 2, 1).astype(np.float64)
v = np.repeat(np.concatenate([v1, v2], 2), 2, 1).astype(np.float64)
s = q.astype(np.float64) @ k.transpose(0, 1, 3, 2) / 4.0
vis = np.concatenate([np.ones((L, L1), bool), np.tril(np.ones((L, L), bool))], 1)
s = np.where(vis, s, -np.inf)
m = s.max(-1, keepdims=True)
e = np.exp(s - m)
want_o = (e @ v) / e.sum(-1, keepdims=True)
want_l = (np.log(e.sum(-1)) + m[..., 0])
for backend in args.backends.split(","):
    got = run("split", backend, ins, 2)
    if got is None:
        failed = True
        continue
    report(f"split {backend} O (bf16)", got[0], want_o, 1e-2)
    # (The tensor-core kernels round f32 inputs to f16.)
    report(f"split {backend} LSE", got[1], want_l,
           1e-3 if backend == "gpu-emulation" else 1e-4)

# @merge: partials [A = 3, R = 10, 16]; rows 0-2 have partial 2 empty, rows
# 3-4 partials 1 and 3 empty, row 5 all three empty.
A, R = 3, 10
os_ = [rng.standard_normal((A, R, 16)) for _ in range(3)]
ls = [rng.standard_normal((A, R)) * 3 for _ in range(3)]
ls[1][:, 0:3] = -np.inf
ls[0][:, 3:5] = -np.inf
ls[2][:, 3:6] = -np.inf
ls[0][:, 5] = ls[1][:, 5] = -np.inf
for o, l in zip(os_, ls):
    o[np.isneginf(l)] = 0
ins = [save("o1", os_[0].astype(np.float32)), save("o2", os_[1].astype(np.float16)),
       save("o3", os_[2].astype(np.float32))]
ins += [save(f"l{i + 1}", ls[i].astype(np.float32)) for i in range(3)]
os_[1] = os_[1].astype(np.float16).astype(np.float64)
ls = [l.astype(np.float32).astype(np.float64) for l in ls]
with np.errstate(divide="ignore"):
    lse = np.log(sum(np.exp(l) for l in ls))
w = [np.where(np.isneginf(lse), 0, np.exp(l - np.where(np.isneginf(lse), 0, lse))) for l in ls]
want_o = sum(wi[..., None] * o for wi, o in zip(w, os_))
def check_all(fn, label, ins, want_o, want_l, tol_o):
    """@fn on every backend: O and the LSE against the float64 values."""
    global failed
    for backend in args.backends.split(","):
        got = run(fn, backend, ins, 2)
        if got is None:
            failed = True
            continue
        report(f"{label} {backend} O", got[0], want_o, tol_o)
        report(f"{label} {backend} LSE", got[1], want_l, 1e-5)
        # (A row no partial saw: O = 0 exactly, its LSE -inf in report.)
        rows = got[0][np.isneginf(want_l)]
        ok = bool((rows == 0).all())
        print(f"{'ok  ' if ok else 'FAIL'} {label} {backend}: rows no partial saw are 0")
        failed |= not ok


check_all("merge", "merge", ins, want_o, lse, 1e-5)

# @stacked: S partials stacked along a leading dim (bf16), merged into f16;
# S = 5 with rows empty in some partials (row 5 in all), and S = 0 (nothing
# to merge: O = 0, LSE = -inf everywhere).
def bf16(a):
    u = a.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


for S in (5, 0):
    ps = rng.standard_normal((S, A, R, 16))
    lt = rng.standard_normal((S, A, R)) * 3
    if S:
        lt[1, :, 0:3] = -np.inf
        lt[:, :, 5] = -np.inf
    ps[np.isneginf(lt)] = 0
    pb = bf16(ps)
    ins = [save(f"stacked_p{S}", pb), save(f"stacked_l{S}", lt.astype(np.float32))]
    ps = (pb.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    lt = lt.astype(np.float32).astype(np.float64)
    with np.errstate(divide="ignore"):
        lse = np.log(np.exp(lt).sum(0))
    safe = np.where(np.isneginf(lse), 0, lse)
    w = np.where(np.isneginf(lse), 0, np.exp(lt - safe))
    want_o = (w[..., None] * ps).sum(0)
    check_all("stacked", f"stacked S={S} (f16 O)", ins, want_o, lse, 2e-3)

# @stacked_mid: [L = 7, S = 3, H = 4, D = 16] f16 partials, the partials'
# dim in the middle (FlashInfer's merge_states layout), some rows empty.
pm = rng.standard_normal((7, 3, 4, 16))
lm = rng.standard_normal((7, 3, 4)) * 3
lm[2, 0, :] = -np.inf
lm[4, :, 1] = -np.inf
pm[np.isneginf(lm)] = 0
ins = [save("stacked_mid_p", pm.astype(np.float16)), save("stacked_mid_l", lm.astype(np.float32))]
pm = pm.astype(np.float16).astype(np.float64)
lm = lm.astype(np.float32).astype(np.float64)
with np.errstate(divide="ignore"):
    lse = np.log(np.exp(lm).sum(1))
safe = np.where(np.isneginf(lse), 0, lse)
w = np.where(np.isneginf(lse)[:, None], 0, np.exp(lm - safe[:, None]))
check_all("stacked_mid", "stacked(1)", ins, (w[..., None] * pm).sum(1), lse, 1e-5)

print("FAILED" if failed else "all ok")
sys.exit(1 if failed else 0)
