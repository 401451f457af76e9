"""attn-tune: CPU tile sizes by measurement, recorded in the IR.

Times candidate tile sizes of one function on the running machine and
writes the winners into a copy of the program as its module attribute
`attn.cpu_tuning` (see docs/tools.md), which attn-compile and attn-run read
back: the tuned IR reproduces its kernel, and a new CPU gets good kernels by
running this, without code changes.

    bench/tune in.mlir -o tuned.mlir [--function=main]
               (--dims=0=1,1=2048,2=2048 | --inputs=q.npy,k.npy,v.npy)...
               [--threads=N] [--runs=N] [--rounds=N] [--keep=0.03]

Each --dims gives the sizes of the dynamic dims `?N` of the function's C
signature (attn-compile's header lists them); the inputs are then random
(normal for floats, small non-negative for integers). Several --dims or
--inputs make several cases; a candidate's score is the geometric mean of
its time ratios to the defaults over the cases.

The search is coordinate descent from the module's current tuning (or the
defaults): for kv_tile, q_tile, decode_split_keys, scan_chunk and
strip_rows in turn,
every candidate is compiled; candidates whose object is byte-identical to
one already timed (the entry does not change this program's code) are not
timed again; the rest are timed in interleaved rounds (median of --runs
calls per round, median over --rounds), and the fastest candidate replaces
the current value only if it is faster by more than --keep (3%: less is
this VM's noise) twice: in that run and in a second interleaved run of the
two alone. Prints every timing and the tuned/default ratio per case.
"""

import argparse
import hashlib
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, field, sh, store  # noqa: E402

CANDIDATES = {
    "kv_tile": [32, 64, 128, 256],
    "q_tile": [32, 64, 128],
    "decode_split_keys": [128, 256, 512, 1024, 2048, 4096],
    "scan_chunk": [16, 32, 64],
    "strip_rows": [0, 16, 32, 64],
}
DEFAULTS = {"kv_tile": 64, "q_tile": 64, "decode_split_keys": 512, "scan_chunk": 32,
            "strip_rows": 32}
DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": "bf16", "i32": np.int32,
          "i64": np.int64, "i8": np.int8, "i1": np.bool_}


def module_tuning(text):
    """The entries of the program's attn.cpu_tuning attribute, if any."""
    m = re.search(r"attn\.cpu_tuning\s*=\s*\{([^}]*)\}", text)
    out = {}
    if m:
        for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)", m.group(1)):
            out[k] = int(v)
    return out


def with_tuning(text, tuning):
    """The program with its attn.cpu_tuning set to `tuning`."""
    attr = "attn.cpu_tuning = {%s}" % ", ".join(
        "%s = %d" % (k, v) for k, v in sorted(tuning.items()))
    if re.search(r"attn\.cpu_tuning\s*=\s*\{[^}]*\}", text):
        return re.sub(r"attn\.cpu_tuning\s*=\s*\{[^}]*\}", attr, text, count=1)
    m = re.search(r"^module\s+attributes\s*\{", text, re.M)
    if m:
        return text[:m.end()] + attr + ", " + text[m.end():]
    m = re.search(r"^module\s*(@\w+\s*)?\{", text, re.M)
    if m:
        head = text[:m.start()] + "module " + (m.group(1) or "")
        return head + "attributes {%s} {" % attr + text[m.end():]
    return "module attributes {%s} {\n%s\n}\n" % (attr, text)


class Tuner:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build, "bin")
        self.work = tempfile.mkdtemp(prefix="attn-tune-")
        self.text = open(args.input).read()
        self.base = module_tuning(self.text)
        self.timed = {}  # object hash -> per-case median ms
        self.count = 0

    def compile(self, tuning):
        """Object + driver for `tuning`; returns (object hash, driver path).
        Every candidate is compiled from the same path under the same name,
        so equal code gives byte-identical objects."""
        self.count += 1
        name = "tune"
        src = os.path.join(self.work, name + ".mlir")
        with open(src, "w") as f:
            f.write(with_tuning(self.text, tuning))
        obj = os.path.join(self.work, name + ".o")
        hdr = os.path.join(self.work, name + ".h")
        sh([os.path.join(self.bin, "attn-compile"), src, "--target=native",
            "-o", obj, "--header", hdr, "--name=" + name])
        header = open(hdr).read()
        fn = "%s_%s" % (name, self.args.function)
        m = re.search(r"int %s\(([^)]*)\);" % fn, header)
        if not m:
            sys.exit("error: no function @%s in %s" % (self.args.function, self.args.input))
        nargs = len(m.group(1).split(","))
        if not hasattr(self, "signature"):
            self.signature = re.findall(
                r"^ \*   (in|out)\d+\s+(\w+)\s+\[([^\]]*)\]",
                header[header.index("/* %s:" % fn):], re.M)
        shim = os.path.join(self.work, name + "_shim.h")
        with open(shim, "w") as f:
            f.write('#include "%s.h"\n' % name)
            f.write("#define ATTN_BENCH_SIGNATURE %s_signature\n" % fn)
            f.write("#define ATTN_BENCH_CALL(a) %s(%s)\n" %
                    (fn, ", ".join("a[%d]" % i for i in range(nargs))))
        exe = os.path.join(self.work, "k%d_bench" % self.count)
        sh(shlex.split(os.environ.get("CC", "cc")) + [
            "-O2", "-I", self.work, "-I", os.path.join(ROOT, "runtime/include"),
            "-include", shim, os.path.join(ROOT, "bench/src/aot_driver.c"), obj,
            os.path.join(self.args.build, "runtime/libattnrt.a"),
            "-lm", "-lpthread", "-ldl", "-o", exe])
        digest = hashlib.sha256(open(obj, "rb").read()).hexdigest()
        return digest, exe

    def make_cases(self):
        """Input files per case, from --inputs or random from --dims."""
        rng = np.random.default_rng(0)
        self.cases = []
        for spec in self.args.inputs:
            self.cases.append(spec.split(","))
        for n, spec in enumerate(self.args.dims):
            sizes = {}
            for item in spec.split(","):
                k, v = item.split("=")
                sizes[k.strip().lstrip("?")] = int(v)
            paths = []
            for i, (kind, dtype, dims) in enumerate(self.signature):
                if kind != "in":
                    continue
                shape = []
                for d in dims.split(","):
                    d = d.strip()
                    if d.startswith("?"):
                        if d[1:] not in sizes:
                            sys.exit("error: --dims gives no size for ?%s (in%d)" % (d[1:], i))
                        shape.append(sizes[d[1:]])
                    else:
                        shape.append(int(d))
                p = os.path.join(self.work, "case%d_in%d.npy" % (n, i))
                if dtype in ("f32", "f16", "bf16"):
                    store(p, rng.standard_normal(shape, dtype=np.float32), dtype)
                elif dtype in DTYPES:
                    np.save(p, rng.integers(0, 4, size=shape).astype(DTYPES[dtype]))
                else:
                    sys.exit("error: cannot make random %s inputs; use --inputs" % dtype)
                paths.append(p)
            self.cases.append(paths)
        if not self.cases:
            sys.exit("error: give at least one --dims or --inputs case")

    def time(self, exes):
        """Median ms per exe and case, interleaved over --rounds rounds."""
        ms = {e: [[] for _ in self.cases] for e in exes}
        for _ in range(self.args.rounds):
            for e in exes:
                for c, paths in enumerate(self.cases):
                    out = sh([e, str(self.args.threads), str(self.args.runs)] + paths)
                    ms[e][c].append(field(out, "median_ms"))
        return {e: [float(np.median(v)) for v in ms[e]] for e in exes}

    @staticmethod
    def score(times, ref):
        return math.exp(sum(math.log(t / r) for t, r in zip(times, ref)) / len(ref))

    def run(self):
        tuning = dict(self.base)
        h0, exe0 = self.compile(tuning)
        self.make_cases()
        default = dict(DEFAULTS, **self.base)
        ref = self.time([exe0])[exe0]
        self.timed[h0] = ref
        print("start %s: %s ms" % (fmt(default), fmt_ms(ref)))
        for key in ("kv_tile", "q_tile", "decode_split_keys", "scan_chunk", "strip_rows"):
            current = tuning.get(key, DEFAULTS[key])
            exes, digests = {}, {}
            for v in CANDIDATES[key]:
                if v == current:
                    continue
                trial = dict(tuning, **{key: v})
                try:
                    h, e = self.compile(trial)
                except SystemExit as err:  # a size the passes refuse here
                    print("  %s=%d: not compiled (%s)" % (key, v, str(err).splitlines()[-1]))
                    continue
                if h in self.timed or h in digests.values():
                    continue  # same code as a size already timed
                exes[v], digests[v] = e, h
            if not exes:
                print("%s: no candidate changes the code" % key)
                continue
            cur_h, cur_exe = self.compile(tuning)
            times = self.time([cur_exe] + list(exes.values()))
            cur = times[cur_exe]
            print("%s=%d: %s ms" % (key, current, fmt_ms(cur)))
            winner, win_score = current, 1.0
            for v, e in exes.items():
                self.timed[digests[v]] = times[e]
                s = self.score(times[e], cur)
                print("  %s=%d: %s ms (%.3fx)" % (key, v, fmt_ms(times[e]), s))
                if s < win_score * (1 - self.args.keep) and s < 1 - self.args.keep:
                    winner, win_score = v, s
            if winner != current:
                # One outlier round must not pick a winner: confirm it against
                # the current value in a fresh interleaved run.
                again = self.time([cur_exe, exes[winner]])
                s = self.score(again[exes[winner]], again[cur_exe])
                if s < 1 - self.args.keep:
                    tuning[key] = winner
                    print("  -> %s=%d (confirmed: %.3fx)" % (key, winner, s))
                else:
                    print("  %s=%d not confirmed (%.3fx): keeping %d" % (key, winner, s, current))
        # The defaults against the winners in one last interleaved run.
        _, exe_t = self.compile(tuning)
        final = self.time([exe0, exe_t])
        for c, paths in enumerate(self.cases):
            print("case %d: start %.4f ms, tuned %.4f ms (%.2fx)" %
                  (c, final[exe0][c], final[exe_t][c], final[exe0][c] / final[exe_t][c]))
        with open(self.args.output, "w") as f:
            f.write(with_tuning(self.text, tuning))
        print("wrote %s: attn.cpu_tuning = {%s}" % (self.args.output, fmt(tuning)))
        shutil.rmtree(self.work, ignore_errors=True)


def fmt(t):
    return ", ".join("%s = %d" % kv for kv in sorted(t.items()))


def fmt_ms(v):
    return " / ".join("%.4f" % x for x in v)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--function", default="main")
    p.add_argument("--dims", action="append", default=[])
    p.add_argument("--inputs", action="append", default=[])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--keep", type=float, default=0.03)
    Tuner(p.parse_args()).run()


if __name__ == "__main__":
    main()
