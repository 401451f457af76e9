#!/usr/bin/python3
"""End-to-end numerics check of one attention case.

Writes an attn function for the case (or takes one with --mlir), random
inputs as .npy files, runs it with `attn-run` on each requested backend and
compares every output with a float64 NumPy implementation written here from
the op's definition (dialect/AttnOps.td), independently of the compiler.

Prints one line per backend and output,
    <backend> <output> max_abs_err=<e> max_rel_err=<e> tol=<t> ok|FAIL
and exits non-zero if any comparison fails or any output holds NaN/Inf where
the reference is finite.

The pass criterion per element is |x - ref| <= tol * (|ref| + max|ref|/8):
relative, with a floor a fraction of the output's scale so that near-zero
elements of an average of random values do not demand absolute accuracy
beyond the format's. tol defaults to 1e-4 for f32 and 2e-2 for bf16/f16.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

# ----------------------------------------------------------------------------
# Data types: bf16 travels as uint16 bit patterns in .npy files.


def round_bf16(x):
    """Rounds float32 values to bf16 (nearest even); returns (bits, values)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    bits = b.astype(np.uint16)
    return bits, bf16_to_f32(bits)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def store(path, x, dtype):
    """Writes x as dtype; returns the values actually stored, as float64."""
    if dtype == "f32":
        v = x.astype(np.float32)
        np.save(path, v)
    elif dtype == "f16":
        v = x.astype(np.float16)
        np.save(path, v)
    elif dtype == "bf16":
        bits, v = round_bf16(x)
        np.save(path, bits)
    else:
        raise ValueError(dtype)
    return v.astype(np.float64)


def load(path, dtype):
    a = np.load(path)
    if dtype == "bf16":
        if a.dtype != np.uint16:
            raise SystemExit("%s: expected uint16 (bf16) data, got %s" % (path, a.dtype))
        return bf16_to_f32(a).astype(np.float64)
    return a.astype(np.float64)


MLIR_TYPE = {"f32": "f32", "f16": "f16", "bf16": "bf16"}

# ----------------------------------------------------------------------------
# The case as IR.


def tensor_type(shape, elt):
    return "tensor<%sx%s>" % ("x".join("?" if d is None else str(d) for d in shape), elt)


def make_mlir(a):
    """Builds the attn function of the case. Batch and sequence lengths are
    dynamic, heads and head dims static, as the dialect requires."""
    t = MLIR_TYPE[a.dtype]
    lq = a.lq if a.static_lq else None
    qt = tensor_type([None, a.hq, lq, a.d], t)
    kt = tensor_type([None, a.hkv, None, a.d], t)
    vt = tensor_type([None, a.hkv, None, a.dv], t)
    ot = tensor_type([None, a.hq, lq, a.dv], t)
    lt = tensor_type([None, a.hq, lq], "f32")
    params = ["%q: " + qt, "%k: " + kt, "%v: " + vt]
    if a.gate:
        params.append("%gate: " + ot)
    results = [ot] + ([lt] if a.lse else [])
    body = []
    body.append("  %c0 = arith.constant 0 : index")
    body.append("  %c2 = arith.constant 2 : index")
    body.append("  %b = tensor.dim %q, %c0 : " + qt)
    body.append("  %l = tensor.dim %q, %c2 : " + qt)
    dyn = "%b" if a.static_lq else "%b, %l"
    body.append("  %init = tensor.empty(" + dyn + ") : " + ot)
    outs = ["%init"]
    outs_types = [ot]
    if a.lse:
        body.append("  %linit = tensor.empty(" + dyn + ") : " + lt)
        outs.append("%linit")
        outs_types.append(lt)
    head = "  %r:{} = attn.attention".format(len(outs)) if len(outs) > 1 else "  %r = attn.attention"
    if a.causal:
        head += " causal"
    if a.scale is not None:
        head += " scale(" + repr(float(a.scale)) + ")"
    body.append(head)
    body.append("      ins(%%q, %%k, %%v : %s, %s, %s)" % (qt, kt, vt))
    body.append("      outs(%s : %s)" % (", ".join(outs), ", ".join(outs_types)))
    if a.softcap:
        body += [
            "      score {",
            "      ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):",
            "        %cap = arith.constant " + repr(float(a.softcap)) + " : f32",
            "        %x = arith.divf %s, %cap : f32",
            "        %th = math.tanh %x : f32",
            "        %y = arith.mulf %th, %cap : f32",
            "        attn.yield %y : f32",
            "      }",
        ]
    if a.mask:
        kind, _, arg = a.mask.partition(":")
        body += ["      mask {", "      ^bb0(%bb: index, %h: index, %i: index, %j: index):"]
        if kind == "hide-row":
            body += ["        %row = arith.constant " + str(int(arg)) + " : index",
                     "        %vis = arith.cmpi ne, %i, %row : index"]
        elif kind == "window":
            # Visible iff i - w < j (with the causal flag: a sliding window).
            body += ["        %w = arith.constant " + str(int(arg)) + " : index",
                     "        %jw = arith.addi %j, %w : index",
                     "        %vis = arith.cmpi slt, %i, %jw : index"]
        elif kind == "sinkwindow":
            # Keys j < S always visible, plus i - w < j.
            sinks, win = arg.split(":")
            body += ["        %sinks = arith.constant " + str(int(sinks)) + " : index",
                     "        %w = arith.constant " + str(int(win)) + " : index",
                     "        %is_sink = arith.cmpi slt, %j, %sinks : index",
                     "        %jw = arith.addi %j, %w : index",
                     "        %in_win = arith.cmpi slt, %i, %jw : index",
                     "        %vis = arith.ori %is_sink, %in_win : i1"]
        elif kind == "band":
            # A two-sided band i - LO <= j <= i + HI (sge and sle on j).
            lo, hi = arg.split(":")
            body += ["        %lo = arith.constant " + str(int(lo)) + " : index",
                     "        %hi = arith.constant " + str(int(hi)) + " : index",
                     "        %ilo = arith.subi %i, %lo : index",
                     "        %ihi = arith.addi %i, %hi : index",
                     "        %above = arith.cmpi sge, %j, %ilo : index",
                     "        %below = arith.cmpi sle, %j, %ihi : index",
                     "        %vis = arith.andi %above, %below : i1"]
        elif kind == "or2":
            # Two key intervals, the later one written first: j > i + A or
            # j < B (they overlap when A < B).
            x, y = arg.split(":")
            body += ["        %a = arith.constant " + str(int(x)) + " : index",
                     "        %bnd = arith.constant " + str(int(y)) + " : index",
                     "        %ia = arith.addi %i, %a : index",
                     "        %late = arith.cmpi sgt, %j, %ia : index",
                     "        %early = arith.cmpi slt, %j, %bnd : index",
                     "        %vis = arith.ori %late, %early : i1"]
        elif kind == "diag":
            # One key per row, i == j + K (an equality), and key 0.
            body += ["        %kk = arith.constant " + str(int(arg)) + " : index",
                     "        %z = arith.constant 0 : index",
                     "        %jk = arith.addi %j, %kk : index",
                     "        %on = arith.cmpi eq, %i, %jk : index",
                     "        %first = arith.cmpi eq, %j, %z : index",
                     "        %vis = arith.ori %on, %first : i1"]
        elif kind == "none":
            body += ["        %vis = arith.constant false"]
        else:
            raise SystemExit("unknown --mask kind " + kind)
        body += ["        attn.yield %vis : i1", "      }"]
    if a.gate and not a.fuse_gate:
        body += [
            "      epilogue {",
            "      ^bb0(%o: f32, %bb: index, %h: index, %i: index, %d: index):",
            "        %g = tensor.extract %gate[%bb, %h, %i, %d] : " + ot,
        ]
        gv = "%g"
        if t != "f32":
            body.append("        %gf = arith.extf %g : " + t + " to f32")
            gv = "%gf"
        body += [
            "        %one = arith.constant 1.0 : f32",
            "        %ng = arith.negf " + gv + " : f32",
            "        %e = math.exp %ng : f32",
            "        %den = arith.addf %one, %e : f32",
            "        %y = arith.divf %o, %den : f32",
        ]
        if t != "f32":
            body.append("        %yt = arith.truncf %y : f32 to " + t)
            body.append("        attn.yield %yt : " + t)
        else:
            body.append("        attn.yield %y : f32")
        body.append("      }")
    body[-1] += " -> " + ", ".join(outs_types)
    res = ["%r#0", "%r#1"] if a.lse else ["%r"]
    if a.gate and a.fuse_gate:
        # The gate as a separate elementwise op after attention: the fusion
        # pass has to fold it into an epilogue.
        assert t == "f32", "--fuse-gate is written for f32"
        body += [
            "  %ginit = tensor.empty(%b, %l) : " + ot,
            "  %gated = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>,"
            " affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>],"
            " iterator_types = [\"parallel\", \"parallel\", \"parallel\", \"parallel\"]}",
            "      ins(" + res[0] + ", %gate : " + ot + ", " + ot + ") outs(%ginit : " + ot + ") {",
            "  ^bb0(%o: f32, %g: f32, %unused: f32):",
            "    %one = arith.constant 1.0 : f32",
            "    %ng = arith.negf %g : f32",
            "    %e = math.exp %ng : f32",
            "    %den = arith.addf %one, %e : f32",
            "    %y = arith.divf %o, %den : f32",
            "    linalg.yield %y : f32",
            "  } -> " + ot,
        ]
        res[0] = "%gated"
    body.append("  return %s : %s" % (", ".join(res), ", ".join(results)))
    return "func.func @%s(%s) -> (%s) {\n%s\n}\n" % (
        a.function, ", ".join(params), ", ".join(results), "\n".join(body))


# ----------------------------------------------------------------------------
# The float64 reference, from the op's definition.


def attend(q, k, v, causal=True, score=None, mask=None, scale=None):
    """float64 attention from the op's definition. score(s, b, h, I, J) and
    mask(b, h, I, J) see [Lq, Lk] index grids. Rows with no visible key give
    0 and LSE -inf. (check_variant.py uses it too.)"""
    B, H, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    G = H // Hkv
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    I = np.arange(Lq)[:, None] + np.zeros((1, Lk), dtype=int)
    J = np.arange(Lk)[None, :] + np.zeros((Lq, 1), dtype=int)
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    lse = np.full((B, H, Lq), -np.inf)
    for b in range(B):
        for h in range(H):
            s = scale * (q[b, h] @ k[b, h // G].T)
            if score is not None:
                s = score(s, b, h, I, J)
            vis = np.ones((Lq, Lk), dtype=bool)
            if causal:
                vis &= J <= I + (Lk - Lq)
            if mask is not None:
                vis &= mask(b, h, I, J)
            s = np.where(vis, s, -np.inf)
            m = s.max(axis=1, keepdims=True)
            anyv = np.isfinite(m)
            m = np.where(anyv, m, 0.0)
            p = np.exp(s - m)
            l = p.sum(axis=1, keepdims=True)
            safe = np.where(l > 0, l, 1.0)
            o[b, h] = np.where(anyv, (p / safe) @ v[b, h // G], 0.0)
            lse[b, h] = np.where(anyv[:, 0], (m + np.log(safe))[:, 0], -np.inf)
    return o, lse


def reference(a, q, k, v, gate):
    score = None
    if a.softcap:
        score = lambda s, b, h, I, J: a.softcap * np.tanh(s / a.softcap)
    mask = None
    if a.mask:
        kind, _, arg = a.mask.partition(":")
        if kind == "hide-row":
            mask = lambda b, h, I, J: I != int(arg)
        elif kind == "window":
            mask = lambda b, h, I, J: I < J + int(arg)
        elif kind == "sinkwindow":
            sinks, win = map(int, arg.split(":"))
            mask = lambda b, h, I, J: (J < sinks) | (I < J + win)
        elif kind == "band":
            lo, hi = map(int, arg.split(":"))
            mask = lambda b, h, I, J: (J >= I - lo) & (J <= I + hi)
        elif kind == "or2":
            x, y = map(int, arg.split(":"))
            mask = lambda b, h, I, J: (J > I + x) | (J < y)
        elif kind == "diag":
            kk = int(arg)
            mask = lambda b, h, I, J: (I == J + kk) | (J == 0)
        elif kind == "none":
            mask = lambda b, h, I, J: np.zeros(I.shape, dtype=bool)
    o, lse = attend(q, k, v, a.causal, score, mask, a.scale)
    if gate is not None:
        o = o / (1.0 + np.exp(-gate))
    return o, lse


# ----------------------------------------------------------------------------


def compare(name, got, ref, tol):
    finite_ref = np.isfinite(ref)
    bad_nonfinite = np.count_nonzero(~np.isfinite(got) & finite_ref)
    mismatch_inf = np.count_nonzero(~finite_ref & (got != ref))
    g = np.where(finite_ref, got, 0.0)
    r = np.where(finite_ref, ref, 0.0)
    err = np.abs(g - r)
    floor = np.abs(r).max() / 8 if r.size else 0.0
    bound = tol * (np.abs(r) + floor)
    ok = bad_nonfinite == 0 and mismatch_inf == 0 and bool(np.all(err <= bound))
    # The relative error in the sense of the criterion.
    rel = err / np.maximum(np.abs(r) + floor, 1e-30)
    line = "%s max_abs_err=%.3g max_rel_err=%.3g tol=%g" % (
        name, err.max() if err.size else 0.0,
        rel.max() if err.size else 0.0, tol)
    if bad_nonfinite:
        line += " nonfinite=%d" % bad_nonfinite
    if mismatch_inf:
        line += " inf_mismatch=%d" % mismatch_inf
    if not ok:
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        line += " worst_at=%s got=%r ref=%r" % (list(worst), float(g[worst]), float(r[worst]))
    print(line + (" ok" if ok else " FAIL"))
    return ok


def compare_output(name, got, ref, tol, finite=False):
    """compare() after checking the shape (and, with finite, that every
    value is finite); prints one line, returns whether it matched."""
    if got.shape != ref.shape:
        print("%s: shape %s, expected %s FAIL" % (name, got.shape, ref.shape))
        return False
    if finite and not np.all(np.isfinite(got)):
        print("%s: not finite FAIL" % name)
        return False
    return compare(name, got, ref, tol)


def tensor_core_tol(backend, tol):
    """At least 5e-3 on the backends whose attention rounds f32 operands and
    the probabilities to f16 (unit roundoff 2^-11): cuda, gpu-emulation."""
    return max(tol, 5e-3) if backend in ("cuda", "gpu-emulation") else tol


def backend_tol(backend, tol, low_precision, explicit):
    """The tolerance for one backend: the tensor-core kernels (cuda,
    gpu-emulation) round f32 operands and the probabilities to f16 (unit
    roundoff 2^-11), so f32 cases get 5e-3 there unless --tol is given."""
    if explicit is None and not low_precision and backend in ("cuda", "gpu-emulation"):
        return 5e-3
    return tol


def run_attn(attn_run, src, backend, inputs, outputs, threads=None,
             function="main", extra=()):
    """Runs attn-run on .npy paths; prints its output and returns False if
    it failed."""
    cmd = [attn_run, src, "--function=" + function, "--backend=" + backend] + list(extra)
    if backend == "gpu-emulation":
        cmd.append("--race-check")  # always on in tests
    cmd += ["--input=@" + f for f in inputs] + ["--output=@" + f for f in outputs]
    if threads:
        cmd.append("--threads=%d" % threads)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("%s: attn-run failed (exit %d)\n%s%s" % (backend, r.returncode, r.stdout, r.stderr))
        return False
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--mlir", help="use this file instead of generating one")
    p.add_argument("--function", default="main")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--hq", type=int, default=4)
    p.add_argument("--hkv", type=int, default=None)
    p.add_argument("--lq", type=int, required=True)
    p.add_argument("--lk", type=int, default=None)
    p.add_argument("--static-lq", action="store_true",
                   help="a static query length in the IR (Lq = 1 selects split-KV decode)")
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--dv", type=int, default=None)
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    p.add_argument("--causal", action="store_true")
    p.add_argument("--scale", type=float)
    p.add_argument("--softcap", type=float)
    p.add_argument("--mask", help="hide-row:I | window:W | sinkwindow:S:W | band:LO:HI | or2:A:B | diag:K | none")
    p.add_argument("--gate", action="store_true", help="sigmoid output gate (epilogue)")
    p.add_argument("--fuse-gate", action="store_true",
                   help="write the gate as a linalg.generic after the op")
    p.add_argument("--lse", action="store_true")
    p.add_argument("--backends", default="cpu,reference")
    p.add_argument("--threads", type=int)
    p.add_argument("--tol", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--magnitude", type=float, default=1.0,
                   help="scale of the random Q and K entries")
    a = p.parse_args()
    a.hkv = a.hkv or a.hq
    a.lk = a.lk if a.lk is not None else a.lq
    a.dv = a.dv or a.d
    a.gate = a.gate or a.fuse_gate
    tol = a.tol if a.tol is not None else (1e-4 if a.dtype == "f32" else 2e-2)

    os.makedirs(a.workdir, exist_ok=True)
    w = lambda n: os.path.join(a.workdir, n)
    src = a.mlir
    if not src:
        src = w("case.mlir")
        with open(src, "w") as f:
            f.write(make_mlir(a))

    rng = np.random.default_rng(a.seed)
    q = store(w("q.npy"), a.magnitude * rng.standard_normal((a.batch, a.hq, a.lq, a.d)), a.dtype)
    k = store(w("k.npy"), a.magnitude * rng.standard_normal((a.batch, a.hkv, a.lk, a.d)), a.dtype)
    v = store(w("v.npy"), rng.standard_normal((a.batch, a.hkv, a.lk, a.dv)), a.dtype)
    inputs = ["q.npy", "k.npy", "v.npy"]
    gate = None
    if a.gate:
        gate = store(w("gate.npy"), rng.standard_normal((a.batch, a.hq, a.lq, a.dv)), a.dtype)
        inputs.append("gate.npy")
    ref_o, ref_lse = reference(a, q, k, v, gate)

    ok = True
    for backend in a.backends.split(","):
        outs = ["o_%s.npy" % backend] + (["lse_%s.npy" % backend] if a.lse else [])
        if not run_attn(a.attn_run, src, backend, [w(n) for n in inputs],
                        [w(n) for n in outs], a.threads, a.function):
            ok = False
            continue
        got = load(w(outs[0]), a.dtype)
        if got.shape != ref_o.shape:
            print("%s o: shape %s, expected %s FAIL" % (backend, got.shape, ref_o.shape))
            ok = False
            continue
        btol = backend_tol(backend, tol, a.dtype != "f32", a.tol)
        ok &= compare("%s o" % backend, got, ref_o, btol)
        if a.lse:
            # The LSE is f32 whatever the inputs; its error follows the inputs'.
            got_lse = load(w(outs[1]), "f32")
            ok &= compare("%s lse" % backend, got_lse, ref_lse, btol)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
