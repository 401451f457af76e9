#!/usr/bin/python3
"""Gradients of an example program: the compiled backward against central
finite differences of the reference interpreter.

Draws the example's inputs (test/lib/check_variant.py --inputs-only, the same
inputs its forward tests use), one random gradient per floating-point
result, then runs `attn-run FILE --grad` (the derived training forward and
backward, compiled for the CPU) and `attn-run FILE --grad --backend=reference`
(finite differences in float64, independent of the derivation) and compares
every input gradient. Shapes are small: the reference interprets the program
twice per input element.

Prints `<input> max_abs_err=... ok|FAIL` per gradient and PASS/FAIL.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import compare_output, load, store  # noqa: E402

DTYPES = {"f32": "f32", "bf16": "bf16", "f16": "f16"}


def npy_dtype(path):
    a = np.load(path)
    return {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16",
            np.dtype(np.uint16): "bf16"}.get(a.dtype)


def signature_inputs(src, a):
    """Random inputs for @main's arguments: '?' dims --dyn long."""
    text = open(src).read()
    sig = re.search(r"func\.func @main\((.*?)\)\s*->", text, re.S).group(1)
    rng = np.random.default_rng(a.seed + 100)
    paths = []
    for n, (dims, elt) in enumerate(re.findall(r"tensor<([0-9?x]+)x(\w+)>", sig)):
        dyn = [int(x) for x in a.dyn_list.split(",")] if a.dyn_list else [a.dyn]
        shape, k = [], 0
        for d in dims.split("x"):  # the k-th '?' of a tensor: dyn[k] (or the last)
            shape.append(dyn[min(k, len(dyn) - 1)] if d == "?" else int(d))
            k += d == "?"
        shape = tuple(shape)
        path = os.path.join(a.workdir, "in%d.npy" % n)
        if elt.startswith("i"):
            np.save(path, rng.integers(0, 2, shape).astype(np.int32 if elt == "i32" else np.int64))
        else:
            store(path, rng.standard_normal(shape), elt)
        paths.append(path)
    return paths


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", help="an example of examples/variants (inputs as its "
                   "forward tests draw them)")
    p.add_argument("--example", help="any example file: inputs drawn from its signature, "
                   "every dynamic dim --dyn long, floats standard normal")
    p.add_argument("--linear", help="an example of examples/linear (inputs as "
                   "check_linear.py draws them: decays in range; --lq steps)")
    p.add_argument("--dyn", type=int, default=5)
    p.add_argument("--dyn-list", help="comma-separated lengths of each tensor's first, "
                   "second, ... dynamic dim (e.g. 1,130: batch 1, length 130)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--lq", type=int, default=6)
    p.add_argument("--lk", type=int)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--tol", type=float)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fd-stride", type=int, default=1,
                   help="finite differences of every N-th element only")
    p.add_argument("--backends", default="cpu",
                   help="comma-separated attn-run backends whose derived backward "
                        "is compared (cpu, gpu-emulation, simt-emulation, cuda)")
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(a.workdir, exist_ok=True)
    if a.example:
        src = a.example
        inputs = signature_inputs(src, a)
    elif a.linear:
        from check_linear import inputs as linear_inputs
        src = os.path.join(here, "..", "..", "examples", "linear", a.linear + ".mlir")
        inputs = []
        for name, value in linear_inputs(a.linear, np.random.default_rng(a.seed + 100),
                                         a.batch, a.lq):
            path = os.path.join(a.workdir, name + ".npy")
            store(path, value, "f32")
            inputs.append(path)
    else:
        src = os.path.join(here, "..", "..", "examples", "variants", a.variant + ".mlir")
        cmd = [sys.executable, os.path.join(here, "check_variant.py"), "--variant",
               a.variant, "--workdir", a.workdir, "--lq", str(a.lq), "--batch",
               str(a.batch), "--inputs-only"] + (["--lk", str(a.lk)] if a.lk else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            print("inputs failed\n" + r.stderr + "\nFAIL")
            return 1
        inputs = r.stdout.split()
    # The results' shapes and types, from a forward run.
    r = subprocess.run([a.attn_run, src] + ["--input=@" + f for f in inputs],
                       capture_output=True, text=True)
    if r.returncode:
        print("forward failed\n" + r.stdout + r.stderr + "\nFAIL")
        return 1
    rng = np.random.default_rng(a.seed)
    dys = []
    for k, (dtype, shape) in enumerate(re.findall(r"result \d+: (\w+)\[([^\]]*)\]", r.stdout)):
        if dtype not in DTYPES:
            continue
        path = os.path.join(a.workdir, "dy%d.npy" % k)
        dims = tuple(int(d) for d in shape.split(",") if d.strip())
        store(path, rng.standard_normal(dims), dtype)
        dys.append(path)
    grads = [(f, npy_dtype(f)) for f in inputs if npy_dtype(f)]
    outs = {}
    backends = a.backends.split(",")
    for backend in backends + ["reference"]:
        outs[backend] = [os.path.join(a.workdir, "d%d_%s.npy" % (n, backend))
                         for n in range(len(grads))]
        extra = (["--fd-stride=%d" % a.fd_stride] if backend == "reference" else
                 ["--race-check"] if backend == "gpu-emulation" else [])
        r = subprocess.run([a.attn_run, src, "--grad", "--backend=" + backend] + extra +
                           ["--input=@" + f for f in inputs + dys] +
                           ["--output=@" + f for f in outs[backend]],
                           capture_output=True, text=True)
        if r.returncode:
            print("%s --grad failed (exit %d)\n%s%s\nFAIL" % (backend, r.returncode,
                                                           r.stdout, r.stderr))
            return 1
    ok = True
    for backend in backends:
        # The GPU's tensor cores round the training forward's f32 operands
        # to f16 (the saved O and LSE carry that rounding).
        tensor_cores = backend in ("gpu-emulation", "cuda")
        for n, (f, dtype) in enumerate(grads):
            tol = a.tol or (1e-4 if dtype == "f32" and not tensor_cores else 3e-2)
            got = load(outs[backend][n], dtype)
            ref = load(outs["reference"][n], dtype)
            sampled = ~np.isnan(ref)  # --fd-stride leaves the others NaN
            name = "d" + os.path.basename(f)[:-4] + ("" if len(backends) == 1 else
                                                     " (%s)" % backend)
            if not sampled.any():  # nothing compared would pass by default
                print("%s: no finite-difference element FAIL" % name)
                ok = False
                continue
            got, ref = got[sampled], ref[sampled]
            ok &= compare_output(name, got, ref, tol, finite=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
