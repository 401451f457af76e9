#!/usr/bin/python3
"""Gradients of one attention case against independent references.

Writes an attn function for the case, random inputs and output gradients as
.npy files, runs `attn-run --grad` (the training forward and the derived
backward) and compares the gradients of q, k and v (and of the inputs a
case adds) with:

  * float64 NumPy, written here from the math of softmax attention (full
    score matrices, the chain rule by hand: dV = P^T dO, dP = dO V^T,
    dS = P (dP - rowsum(dO O)), the score modifier's derivative written
    out per case), independently of the compiler;
  * with --fd, central finite differences of the reference interpreter
    (`attn-run --grad --backend=reference`, float64 throughout);
  * with --torch, autograd of a naive attention in Debian's python3-torch
    (float64).

Prints one line per comparison, `<what> <tensor> max_abs_err=... ok|FAIL`,
and exits non-zero on any failure. With --twice the cpu backward runs twice
and must give identical bits (determinism).
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare_output, load, store  # noqa: E402

# ----------------------------------------------------------------------------
# The case as IR.


def ttype(shape, elt):
    return "tensor<%sx%s>" % ("x".join("?" if d is None else str(d) for d in shape), elt)


def make_mlir(a):
    t = a.dtype
    lq = a.lq if a.static_lq else None
    tq = ttype([None, a.hq, lq, a.d], t)
    tk = ttype([None, a.hkv, None, a.d], t)
    tv = ttype([None, a.hkv, None, a.dv], t)
    to = ttype([None, a.hq, lq, a.dv], t)
    tl = ttype([None, a.hq, lq], "f32")
    dyn = "%b" if a.static_lq else "%b, %l"
    outs = "%init" + (", %linit" if a.lse_result else "")
    out_types = to + (", " + tl if a.lse_result else "")
    lines = ["func.func @main(%%q: %s, %%k: %s, %%v: %s) -> (%s) {" % (tq, tk, tv, out_types),
             "  %c0 = arith.constant 0 : index",
             "  %c2 = arith.constant 2 : index",
             "  %%b = tensor.dim %%q, %%c0 : %s" % tq,
             "  %%l = tensor.dim %%q, %%c2 : %s" % tq,
             "  %%init = tensor.empty(%s) : %s" % (dyn, to)]
    if a.lse_result:
        lines.append("  %%linit = tensor.empty(%s) : %s" % (dyn, tl))
    attrs = ("causal " if a.causal else "") + ("scale(%r) " % a.scale if a.scale else "")
    lines += ["  %%o:%d = attn.attention %sins(%%q, %%k, %%v : %s, %s, %s)" % (
        2 if a.lse_result else 1, attrs, tq, tk, tv),
        "      outs(%s : %s)" % (outs, out_types)]
    if a.softcap:
        lines += ["      score {",
                  "      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):",
                  "        %%cap = arith.constant %r : f32" % a.softcap,
                  "        %x = arith.divf %s, %cap : f32",
                  "        %t = math.tanh %x : f32",
                  "        %r = arith.mulf %t, %cap : f32",
                  "        attn.yield %r : f32",
                  "      }"]
    if a.rational:
        # s / (1.5 + s^2): the divisor depends on s (the quotient rule's
        # second term).
        lines += ["      score {",
                  "      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):",
                  "        %c = arith.constant 1.5 : f32",
                  "        %s2 = arith.mulf %s, %s : f32",
                  "        %den = arith.addf %c, %s2 : f32",
                  "        %r = arith.divf %s, %den : f32",
                  "        attn.yield %r : f32",
                  "      }"]
    if a.alibi:
        # Slope 2^-(h+1) times the (non-positive) distance j - i, written
        # with index casts: the derivative wrt s is 1, the slope a constant.
        lines += ["      score {",
                  "      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):",
                  "        %c1 = arith.constant 1 : index",
                  "        %h1 = arith.addi %h, %c1 : index",
                  "        %hi = arith.index_cast %h1 : index to i32",
                  "        %hf = arith.sitofp %hi : i32 to f32",
                  "        %n = arith.negf %hf : f32",
                  "        %slope = math.exp2 %n : f32",
                  "        %ii = arith.index_cast %i : index to i32",
                  "        %ji = arith.index_cast %j : index to i32",
                  "        %dd = arith.subi %ji, %ii : i32",
                  "        %df = arith.sitofp %dd : i32 to f32",
                  "        %bias = arith.mulf %slope, %df : f32",
                  "        %r = arith.addf %s, %bias : f32",
                  "        attn.yield %r : f32",
                  "      }"]
    if a.empty_score_rows:
        # Rows i < N get a -inf score from the score region (a mask written
        # as a score modifier, FlexAttention's way): no visible key either.
        lines += ["      score {",
                  "      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):",
                  "        %%e = arith.constant %d : index" % a.empty_score_rows,
                  "        %c = arith.cmpi slt, %i, %e : index",
                  "        %ninf = arith.constant 0xFF800000 : f32",
                  "        %r = arith.select %c, %ninf, %s : f32",
                  "        attn.yield %r : f32",
                  "      }"]
    if a.window:
        lines += ["      mask {",
                  "      ^bb0(%bb: index, %h: index, %i: index, %j: index):",
                  "        %%w = arith.constant %d : index" % a.window,
                  "        %lo = arith.subi %i, %w : index",
                  "        %r = arith.cmpi sgt, %j, %lo : index",
                  "        attn.yield %r : i1",
                  "      }"]
    if a.head_mask:
        # Head h sees keys j >= 3 h (a mask that reads the head).
        lines += ["      mask {",
                  "      ^bb0(%bb: index, %h: index, %i: index, %j: index):",
                  "        %c3 = arith.constant 3 : index",
                  "        %lo = arith.muli %h, %c3 : index",
                  "        %r = arith.cmpi sge, %j, %lo : index",
                  "        attn.yield %r : i1",
                  "      }"]
    if a.empty_rows:
        # Rows i < empty_rows see no key at all.
        lines += ["      mask {",
                  "      ^bb0(%bb: index, %h: index, %i: index, %j: index):",
                  "        %%e = arith.constant %d : index" % a.empty_rows,
                  "        %r = arith.cmpi sge, %i, %e : index",
                  "        attn.yield %r : i1",
                  "      }"]
    if a.sink is not None:
        lines += ["      sink {",
                  "      ^bb0(%bb: index, %h: index, %i: index):",
                  "        %%c = arith.constant %r : f32" % a.sink,
                  "        attn.yield %c : f32",
                  "      }"]
    lines.append("      -> %s" % out_types)
    ret = "%o#0, %o#1" if a.lse_result else "%o#0"
    lines += ["  return %s : %s" % (ret, out_types), "}"]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# float64 NumPy gradients from the math.


def reference(a, q, k, v, do, dlse):
    """Returns (o, lse, dq, dk, dv) in float64 for [B, H, L, D] arrays."""
    B, H, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    G = H // Hkv
    scale = a.scale if a.scale else 1.0 / np.sqrt(D)
    kk = np.repeat(k, G, axis=1)
    vv = np.repeat(v, G, axis=1)
    r = scale * np.einsum("bhid,bhjd->bhij", q, kk)
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    vis = np.ones((Lq, Lk), bool)
    if a.causal:
        vis &= j <= i + (Lk - Lq)
    if a.window:
        vis &= j > i - a.window
    if a.empty_rows:
        vis &= i >= a.empty_rows
    if a.empty_score_rows:
        vis &= i >= a.empty_score_rows
    if a.head_mask:
        vis = vis[None] & (j[None] >= 3 * np.arange(H)[:, None, None])
    s, dsdr = r, np.ones_like(r)
    if a.softcap:
        t = np.tanh(r / a.softcap)
        s, dsdr = a.softcap * t, 1 - t * t
    if a.rational:
        s, dsdr = r / (1.5 + r * r), (1.5 - r * r) / (1.5 + r * r) ** 2
    if a.alibi:
        slope = 2.0 ** -(np.arange(H) + 1.0)
        s = r + slope[None, :, None, None] * (j - i)[None, None]
    s = np.where(vis, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    if a.sink is not None:
        m = np.maximum(m, a.sink)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - m)
    denom = e.sum(-1, keepdims=True)
    if a.sink is not None:
        denom = denom + np.exp(a.sink - m)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(denom > 0, e / np.where(denom > 0, denom, 1), 0.0)
        lse = np.where(denom[..., 0] > 0, np.log(np.where(denom > 0, denom, 1))[..., 0] + m[..., 0],
                       -np.inf)
    o = np.einsum("bhij,bhjd->bhid", p, vv)
    # Backward: dp = dO V^T; the softmax's Jacobian; dLSE adds p.
    dp = np.einsum("bhid,bhjd->bhij", do, vv)
    drow = (do * o).sum(-1, keepdims=True)
    ds = p * (dp - drow)
    if dlse is not None:
        ds = ds + p * dlse[..., None]
    dr = ds * dsdr
    dq = scale * np.einsum("bhij,bhjd->bhid", dr, kk)
    dkk = scale * np.einsum("bhij,bhid->bhjd", dr, q)
    dvv = np.einsum("bhij,bhid->bhjd", p, do)
    dk = dkk.reshape(B, Hkv, G, Lk, D).sum(2)
    dv = dvv.reshape(B, Hkv, G, Lk, v.shape[3]).sum(2)
    return o, lse, dq, dk, dv


def torch_grads(a, q, k, v, do):
    """Autograd of a naive causal attention in float64 (python3-torch)."""
    import torch
    tq, tk, tv = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (q, k, v))
    G = q.shape[1] // k.shape[1]
    kk = tk.repeat_interleave(G, dim=1)
    vv = tv.repeat_interleave(G, dim=1)
    scale = a.scale if a.scale else 1.0 / np.sqrt(q.shape[3])
    s = scale * tq @ kk.transpose(-1, -2)
    if a.causal:
        Lq, Lk = q.shape[2], k.shape[2]
        vis = torch.ones(Lq, Lk, dtype=torch.bool).tril(Lk - Lq)
        s = s.masked_fill(~vis, float("-inf"))
    o = torch.softmax(s, dim=-1) @ vv
    o.backward(torch.tensor(do, dtype=torch.float64))
    return [x.grad.numpy() for x in (tq, tk, tv)]


# ----------------------------------------------------------------------------


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("%s failed (exit %d)\n%s%s" % (" ".join(cmd[:3]), r.returncode, r.stdout, r.stderr))
        return False
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--hq", type=int, default=2)
    p.add_argument("--hkv", type=int, default=None)
    p.add_argument("--lq", type=int, default=37)
    p.add_argument("--static-lq", action="store_true",
                   help="the query length static in the IR (Lq = 1: the packed decode form)")
    p.add_argument("--head-mask", action="store_true", help="head h sees keys j >= 3h")
    p.add_argument("--lk", type=int, default=None)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--dv", type=int, default=None)
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    p.add_argument("--causal", action="store_true")
    p.add_argument("--scale", type=float, default=None)
    p.add_argument("--softcap", type=float, default=None)
    p.add_argument("--alibi", action="store_true")
    p.add_argument("--rational", action="store_true", help="score s / (1.5 + s^2)")
    p.add_argument("--window", type=int, default=None)
    p.add_argument("--empty-rows", type=int, default=None)
    p.add_argument("--empty-score-rows", type=int, default=None)
    p.add_argument("--sink", type=float, default=None)
    p.add_argument("--lse-result", action="store_true",
                   help="return the LSE too (its gradient enters the backward)")
    p.add_argument("--fd", action="store_true",
                   help="also finite differences of the reference interpreter")
    p.add_argument("--torch", action="store_true", help="also torch autograd")
    p.add_argument("--twice", action="store_true", help="check bit-identical reruns")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--target", default=None,
                   help="attn-run --target for the cpu backward (e.g. x86-64-avx2)")
    p.add_argument("--tol", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    a.hkv = a.hkv or a.hq
    a.lk = a.lk or a.lq
    a.dv = a.dv or a.d
    os.makedirs(a.workdir, exist_ok=True)
    src = os.path.join(a.workdir, "case.mlir")
    with open(src, "w") as f:
        f.write(make_mlir(a))

    rng = np.random.default_rng(a.seed)
    shapes = {"q": (a.batch, a.hq, a.lq, a.d), "k": (a.batch, a.hkv, a.lk, a.d),
              "v": (a.batch, a.hkv, a.lk, a.dv), "do": (a.batch, a.hq, a.lq, a.dv),
              "dlse": (a.batch, a.hq, a.lq)}
    x, paths = {}, {}
    for n in ("q", "k", "v", "do"):
        paths[n] = os.path.join(a.workdir, n + ".npy")
        x[n] = store(paths[n], rng.standard_normal(shapes[n]), a.dtype)
    ins = [paths["q"], paths["k"], paths["v"], paths["do"]]
    dlse = None
    if a.lse_result:
        paths["dlse"] = os.path.join(a.workdir, "dlse.npy")
        dlse = store(paths["dlse"], rng.standard_normal(shapes["dlse"]), "f32")
        ins.append(paths["dlse"])
    _, _, dq, dk, dv = reference(a, x["q"], x["k"], x["v"], x["do"], dlse)
    refs = {"dq": dq, "dk": dk, "dv": dv}
    tol = a.tol or (1e-4 if a.dtype == "f32" else 2e-2)

    ok = True
    outs = {n: os.path.join(a.workdir, n + "_cpu.npy") for n in refs}
    cmd = [a.attn_run, src, "--grad", "--threads=%d" % a.threads] + \
        (["--target=" + a.target] if a.target else []) + \
        ["--input=@" + f for f in ins] + ["--output=@" + outs[n] for n in ("dq", "dk", "dv")]
    if not run(cmd):
        return 1
    got = {n: load(outs[n], a.dtype) for n in refs}
    for n in ("dq", "dk", "dv"):
        ok &= compare_output("cpu " + n, got[n], refs[n], tol, finite=True)
    if a.twice:
        again = {n: os.path.join(a.workdir, n + "_cpu2.npy") for n in refs}
        cmd2 = cmd[:-3] + ["--output=@" + again[n] for n in ("dq", "dk", "dv")]
        if not run(cmd2):
            return 1
        same = all(np.array_equal(np.load(outs[n]), np.load(again[n])) for n in refs)
        print("cpu rerun bit-identical %s" % ("ok" if same else "FAIL"))
        ok &= same
    if a.fd:
        fd = {n: os.path.join(a.workdir, n + "_fd.npy") for n in refs}
        cmd = [a.attn_run, src, "--grad", "--backend=reference"] + \
            ["--input=@" + f for f in ins] + ["--output=@" + fd[n] for n in ("dq", "dk", "dv")]
        if not run(cmd):
            return 1
        for n in ("dq", "dk", "dv"):
            # Central differences in float64 (step 1e-4 relative): ~1e-7.
            ok &= compare_output("reference-fd " + n, load(fd[n], a.dtype), refs[n],
                                 max(tol, 1e-5) if a.dtype == "f32" else tol, finite=True)
    if a.torch:
        tg = torch_grads(a, x["q"], x["k"], x["v"], x["do"])
        for n, t in zip(("dq", "dk", "dv"), tg):
            ok &= compare_output("torch " + n, got[n], t, tol, finite=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
