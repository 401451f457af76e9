"""attn's CPU benchmark: everything bench/run measures, in one run.

Measured in the same run, with the same thread counts:
  * the machine: FMA peak (a register-only FMA loop), streaming-read
    bandwidth, OpenBLAS sgemm 2048^3 with its default kernel and with its
    AVX-512 kernel forced (OPENBLAS_CORETYPE=Cooperlake);
  * attn's kernels, compiled ahead of time by attn-compile into an object,
    linked with libattnrt and a small C driver (bench/src/aot_driver.c), the
    way users deploy them: median of N calls after two warm-up calls, every
    buffer allocated and touched before;
  * a naive three-step attention (OpenBLAS sgemm, softmax, sgemm) on the
    same MHA shapes;
  * with --ggml=PREFIX, ggml's CPU flash attention (ggml_flash_attn_ext,
    what llama.cpp runs) on the dense and decode shapes, same K/V type and
    threads (bench/src/ggml_attention.c, built against a ggml the user
    installed under PREFIX; attn contains no ggml code);
  * linear attention (examples/linear, attn.scan in chunks) next to causal
    softmax attention of the same shape at L = 2048..16384 (section
    `linear`; counted as described in Bench.linear).

GFLOP/s count the two matmuls over the visible (query, key) pairs only,
2 (D + Dv) flops per pair, with every mask evaluated (`attn-run
--count-flops`): causal attention counts L(L+1)/2 pairs, a sliding window
only its window. Decode kernels also report the GB/s at which they stream
the KV cache, against the measured read bandwidth.

Writes the table to stdout and to <out>/results.md, the rows to
<out>/results.csv, the plots <out>/gflops.svg (GFLOP/s against L for every
kernel measured at several lengths) and <out>/linear.svg (ms against L,
log-log, for the linear section), drawn here without dependencies, and
where gnuplot is installed the same as .png.
"""

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env)
    if r.returncode != 0:
        sys.exit("error: %s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def field(text, name):
    m = re.findall(r"%s=([0-9.eE+-]+|nan|inf)" % name, text)
    if not m:
        sys.exit("error: no %s= in:\n%s" % (name, text))
    return float(m[-1])


def to_bf16(x):
    u = x.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


NP_TYPES = {"f32": np.float32, "f16": np.float16}


def store(path, x, dtype):
    np.save(path, to_bf16(x) if dtype == "bf16" else x.astype(NP_TYPES[dtype]))


def attention_mlir(hq, hkv, d, dtype, causal, lq=None, out_dtype=None):
    """A plain attention kernel: q [?, hq, lq|?, d], k/v [?, hkv, ?, d]."""
    out_dtype = out_dtype or dtype
    ql = "?" if lq is None else str(lq)
    tq = "tensor<?x%dx%sx%dx%s>" % (hq, ql, d, dtype)
    tkv = "tensor<?x%dx?x%dx%s>" % (hkv, d, dtype)
    to = "tensor<?x%dx%sx%dx%s>" % (hq, ql, d, out_dtype)
    dims = "%b" if lq is not None else "%b, %l"
    return f"""func.func @main(%q: {tq}, %k: {tkv}, %v: {tkv}) -> {to} {{
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : {tq}
  %l = tensor.dim %q, %c2 : {tq}
  %init = tensor.empty({dims}) : {to}
  %o = attn.attention {"causal " if causal else ""}ins(%q, %k, %v : {tq}, {tkv}, {tkv})
      outs(%init : {to}) -> {to}
  return %o : {to}
}}
"""


# Quantized cache formats of the serving section: (code type, scale shape
# of an nhd pool [pages, ps, hkv, d] as a function, scale type).
KV_FORMATS = {
    "int8": ("i8", lambda p, ps, h, d: ("?", ps, h, 1), "f32"),
    "fp8": ("f8E4M3FN", lambda p, ps, h, d: (1, 1, 1, 1), "f32"),
    "q8_0": ("i8", lambda p, ps, h, d: ("?", ps, h, d // 32), "f16"),
}


def q8_0_decode_mlir(hkv, hq=32, d=128):
    """One decode query per head over a dense q8_0 cache: i8 codes
    [1, hkv, S, d] and f16 scales [1, hkv, S, d / 32], f16 queries."""
    tq = "tensor<?x%dx1x%dxf16>" % (hq, d)
    tk = "tensor<?x%dx?x%dxi8>" % (hkv, d)
    ts = "tensor<?x%dx?x%dxf16>" % (hkv, d // 32)
    to = "tensor<?x%dx1x%dxf32>" % (hq, d)
    return f"""func.func @main(%q: {tq}, %k: {tk}, %v: {tk}, %ks: {ts}, %vs: {ts}) -> {to} {{
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : {tq}
  %init = tensor.empty(%b) : {to}
  %o = attn.attention ins(%q, %k, %v : {tq}, {tk}, {tk})
      key_scale(%ks : {ts}) value_scale(%vs : {ts}) outs(%init : {to}) -> {to}
  return %o : {to}
}}
"""


def shuffled_pages(lens, ps, rng):
    """The pages of requests with `lens` keys shuffled through one pool: its
    page count and the block table."""
    npages = (lens + ps - 1) // ps
    total = int(npages.sum())
    perm = rng.permutation(total).astype(np.int32)
    table = np.zeros((len(lens), int(npages.max())), dtype=np.int32)
    start = 0
    for b in range(len(lens)):
        table[b, :npages[b]] = perm[start:start + npages[b]]
        start += npages[b]
    return total, table


def ragged_plan(indptr, lens, heads, decode_items, rows=64):
    """attnrt_plan_ragged's plan (runtime.h): requests by the cost of one
    of their items, longest first, then each request's first item."""
    lqs = np.diff(indptr)

    def items(lq):
        return 0 if lq == 0 else decode_items if lq == 1 else heads * -(-lq // rows)

    def cost(b):
        lq = lqs[b]
        r = heads // decode_items if lq == 1 else min(lq, rows)
        return r * (int(lens[b]) + 1)

    def kind(b):  # chunks, then decode steps, then idle requests
        return 0 if lqs[b] >= 2 else 1 if lqs[b] == 1 else 2
    order = sorted(range(len(lqs)), key=lambda b: (kind(b), -cost(b), b))
    plan = np.zeros((2, len(lqs) + 1), np.int32)
    plan[0, :-1] = order
    plan[0, -1] = rows
    first = 0
    for k, b in enumerate(order):
        plan[1, k] = first
        first += items(lqs[b])
    plan[1, -1] = first
    return plan


def paged_mlir(hq, hkv, d, ps, dtype, lq=1, layout="nhd", rope="", kv="",
               ragged=""):
    """Decode (lq = 1) over a paged pool: q [?, hq, lq, d], pools
    [pages, ps, hkv, d] (nhd) or [pages, hkv, ps, d], kv_lens, block table;
    rope: a `rope <...> ` clause (keys cached before RoPE); kv: a quantized
    cache format of KV_FORMATS (nhd; the scales are two more arguments);
    ragged: "ragged" (q [tokens, hq, 1, d] and qo_indptr) or "plan" (and a
    plan)."""
    if ragged:
        lq = 1
    tq = "tensor<?x%dx%dx%dx%s>" % (hq, lq, d, dtype)
    elt = KV_FORMATS[kv][0] if kv else dtype
    pool = ("tensor<?x%dx%dx%dx%s>" % (ps, hkv, d, elt) if layout == "nhd" else
            "tensor<?x%dx%dx%dx%s>" % (hkv, ps, d, elt))
    to = "tensor<?x%dx%dx%dxf32>" % (hq, lq, d)
    lay = " page_layout(hnd)" if layout == "hnd" else ""
    scales, clause = "", ""
    if kv:
        shape = KV_FORMATS[kv][1](None, ps, hkv, d)
        st = "tensor<%sx%s>" % ("x".join(map(str, shape)), KV_FORMATS[kv][2])
        scales = f", %ks: {st}, %vs: {st}"
        clause = f" key_scale(%ks : {st}) value_scale(%vs : {st})"
    if ragged:
        scales += ", %indptr: tensor<?xi32>"
        clause += " qo_indptr(%indptr : tensor<?xi32>)"
    if ragged == "plan":
        scales += ", %plan: tensor<2x?xi32>"
        clause += " plan(%plan : tensor<2x?xi32>)"
    return f"""func.func @main(%q: {tq}, %k: {pool}, %v: {pool}, %lens: tensor<?xi32>,
                %table: tensor<?x?xi32>{scales}) -> {to} {{
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : {tq}
  %init = tensor.empty(%b) : {to}
  %o = attn.attention causal {rope}ins(%q, %k, %v : {tq}, {pool}, {pool})
      kv_lens(%lens : tensor<?xi32>) pages(%table : tensor<?x?xi32>){lay}{clause}
      outs(%init : {to}) -> {to}
  return %o : {to}
}}
"""


COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
          "#e377c2", "#7f7f7f", "#bcbd22"]


def svg_plot(path, title, xlabel, ylabel, series, logy=False, ymax=None, hlines=()):
    """Lines with points, x on a log2 axis (and y too with logy), as a
    standalone SVG with its legend on the right: the plot without gnuplot.
    series {name: [(x, y)]}; hlines [(y, label)] dashed across."""
    import html
    import math
    w, h, left, top, right, bottom = 1000, 640, 70, 40, 300, 50
    pw, ph = w - left - right, h - top - bottom
    pts = [p for v in series.values() for p in v]
    if not pts:
        return False
    xs = [math.log2(x) for x, _ in pts]
    x0, x1 = min(xs), max(xs)
    x0, x1 = (x0 - 0.5, x1 + 0.5) if x0 == x1 else (x0, x1)
    ys = [y for _, y in pts] + [y for y, _ in hlines]
    f = math.log2 if logy else (lambda y: y)
    y0 = f(min(ys)) - (0.5 if logy else 0) if logy else 0.0
    y1 = f(ymax if ymax else max(ys)) + (0.5 if logy else 0)
    y1 = y1 if y1 > y0 else y0 + 1

    def px(x):
        return left + pw * (math.log2(x) - x0) / (x1 - x0)

    def py(y):
        return top + ph * (1 - (f(y) - y0) / (y1 - y0))
    e = html.escape
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14">%s</text>' % (left, e(title)),
           '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>'
           % (left, top, pw, ph)]
    for k in range(int(math.ceil(x0)), int(math.floor(x1)) + 1):
        x = left + pw * (k - x0) / (x1 - x0)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                   % (x, top, x, top + ph))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                   % (x, top + ph + 16, 2 ** k))
    steps = 6
    if not logy:  # Round ticks: a step of 1, 2 or 5 times a power of ten.
        raw = (y1 - y0) / steps
        mag = 10 ** math.floor(math.log10(raw))
        step = min(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
        steps = int(math.ceil((y1 - y0) / step))
        y1 = y0 + steps * step
    for i in range(steps + 1):
        v = y0 + (y1 - y0) * i / steps
        y = top + ph * (1 - i / steps)
        label = ("%.3g" % (2 ** v)) if logy else ("%.0f" % v)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                   % (left, y, left + pw, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, y + 4, label))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
               % (left + pw // 2, h - 12, e(xlabel)))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s'
               '</text>' % (top + ph // 2, top + ph // 2, e(ylabel)))
    legend = []
    for i, (y, label) in enumerate(hlines):
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555" '
                   'stroke-dasharray="6 4"/>' % (left, py(y), left + pw, py(y)))
        legend.append(('<line x1="0" y1="0" x2="24" y2="0" stroke="#555" '
                       'stroke-dasharray="6 4"/>', label))
    for i, (name, v) in enumerate(series.items()):
        c = COLORS[i % len(COLORS)]
        v = sorted(v)
        out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                   % (c, " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in v)))
        for x, y in v:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(x), py(y), c))
        legend.append(('<line x1="0" y1="0" x2="24" y2="0" stroke="%s" stroke-width="2"/>'
                       '<circle cx="12" cy="0" r="3" fill="%s"/>' % (c, c), name))
    for i, (mark, label) in enumerate(legend):
        out.append('<g transform="translate(%d,%d)">%s<text x="30" y="4">%s</text></g>'
                   % (left + pw + 16, top + 10 + 18 * i, mark, e(label)))
    out.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    return True


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build, "bin")
        self.out = args.out
        self.work = os.path.join(args.out, "work")
        os.makedirs(self.work, exist_ok=True)
        self.rows = []
        self.peak = {}
        self.bw = {}
        self.sgemm = {}
        self.rng = np.random.default_rng(0)

    # --- The machine ------------------------------------------------------
    def machine(self):
        for t in self.args.threads:
            self.peak[t] = field(sh([os.path.join(self.bin, "attn-bench-fma-peak"),
                                     str(t)]), "gflops")
            self.bw[t] = field(sh([os.path.join(self.bin, "attn-bench-stream"),
                                   str(t)]), "gbps")
            sg = os.path.join(self.bin, "attn-bench-sgemm")
            if os.path.exists(sg):
                d = field(sh([sg, "2048", str(t), "5"]), "gflops")
                env = dict(os.environ, OPENBLAS_CORETYPE="Cooperlake")
                a = field(sh([sg, "2048", str(t), "5"], env=env), "gflops")
                self.sgemm[t] = (d, a)
            else:
                self.sgemm[t] = (float("nan"), float("nan"))

    # --- Kernels ----------------------------------------------------------
    def compile(self, name, mlir_text=None, mlir_path=None, backend="mlir", extra=(),
                function="main"):
        """attn-compile -> object + header, then the driver (calling
        @function); returns the MLIR path and the driver's."""
        base = os.path.join(self.work, name)
        if mlir_path is None:
            mlir_path = base + ".mlir"
            with open(mlir_path, "w") as f:
                f.write(mlir_text)
        if backend != "mlir":
            name += "_" + backend
            base += "_" + backend
        sh([os.path.join(self.bin, "attn-compile"), mlir_path, "--target=native",
            "--backend=" + backend] + list(extra) + [
            "-o", base + ".o", "--header", base + ".h", "--name=" + name])
        header = open(base + ".h").read()
        fn, params = re.search(r"int (\w+_%s)\(([^)]*)\);" % function, header).groups()
        nargs = len(params.split(","))
        with open(base + "_shim.h", "w") as f:
            f.write('#include "%s.h"\n' % name)
            f.write("#define ATTN_BENCH_SIGNATURE %s_signature\n" % fn)
            f.write("#define ATTN_BENCH_CALL(a) %s(%s)\n" %
                    (fn, ", ".join("a[%d]" % i for i in range(nargs))))
        exe = base + "_bench"
        cc = os.environ.get("CC", "cc")
        sh([cc, "-O2", "-I", self.work, "-I", os.path.join(ROOT, "runtime/include"),
            "-include", base + "_shim.h", os.path.join(ROOT, "bench/src/aot_driver.c"),
            base + ".o", os.path.join(self.args.build, "runtime/libattnrt.a"),
            "-lm", "-lpthread", "-ldl", "-o", exe])
        return mlir_path, exe

    def halide(self, name, mlir_path):
        """The same program through the Halide backend (None if it fails)."""
        if not self.args.halide:
            return None
        try:
            return self.compile(name, mlir_path=mlir_path, backend="halide")[1]
        except SystemExit:
            return None

    def flops(self, mlir, inputs):
        return field(sh([os.path.join(self.bin, "attn-run"), mlir, "--count-flops"] +
                        ["--input=@" + i for i in inputs]), "flops")

    def naive(self, h, l, d, causal, t):
        exe = os.path.join(self.bin, "attn-bench-naive")
        if not os.path.exists(exe):
            return float("nan")
        return field(sh([exe, "1", str(h), str(l), str(d), str(int(causal)), str(t),
                         str(self.args.naive_runs)]), "median_ms")

    def ggml_driver(self):
        """bench/src/ggml_attention.c built against --ggml (None without it)."""
        if not self.args.ggml:
            return None
        if not hasattr(self, "_ggml"):
            prefix = self.args.ggml
            exe = os.path.join(self.work, "ggml_attention")
            sh([os.environ.get("CC", "cc"), "-O2", "-I", os.path.join(ROOT, "bench/src"),
                "-I", os.path.join(prefix, "include"),
                os.path.join(ROOT, "bench/src/ggml_attention.c"),
                "-L", os.path.join(prefix, "lib"), "-Wl,-rpath," + os.path.join(prefix, "lib"),
                "-lggml", "-lggml-base", "-lggml-cpu", "-lm", "-o", exe])
            self._ggml = exe
        return self._ggml

    def ggml(self, hq, hkv, lq, lk, d, dtype, causal):
        """A callable threads -> ggml's median ms on this shape, or None."""
        exe = self.ggml_driver()
        if exe is None:
            return None
        return lambda t: field(sh([exe, str(hq), str(hkv), str(lq), str(lk), str(d), dtype,
                                   str(int(causal)), str(t), str(self.args.runs)]),
                               "median_ms")

    def measure(self, group, name, exe, mlir, inputs, size, naive=None, bytes_=None,
                flops=None, halide=None, ggml=None):
        flops = flops if flops is not None else self.flops(mlir, inputs)
        for t in self.args.threads:
            out = sh([exe, str(t), str(self.args.runs)] + inputs)
            ms = field(out, "median_ms")
            row = dict(group=group, kernel=name, size=size, threads=t, ms=ms,
                       gflops=flops / (ms * 1e6))
            row["peak"] = row["gflops"] / self.peak[t]
            row["sgemm"] = row["gflops"] / max(self.sgemm[t])
            if naive is not None:
                row["naive_ms"] = naive(t)
                row["naive_gflops"] = flops / (row["naive_ms"] * 1e6)
                row["speedup"] = row["naive_ms"] / ms
            if ggml is not None:
                row["ggml_ms"] = ggml(t)
                row["vs_ggml"] = row["ggml_ms"] / ms
            if halide is not None:
                # Halide's runtime has its own thread pool; libattnrt hands it
                # the thread count (HL_NUM_THREADS as well, for the JIT).
                env = dict(os.environ, HL_NUM_THREADS=str(t))
                hms = field(sh([halide, str(t), str(self.args.runs)] + inputs, env=env),
                            "median_ms")
                row["halide_ms"] = hms
                row["halide_gflops"] = flops / (hms * 1e6)
            if bytes_ is not None:
                row["gbps"] = bytes_ / (ms * 1e6)
                row["bw"] = row["gbps"] / self.bw[t]
            self.rows.append(row)
            self.print_row(row)

    def inputs(self, name, shapes_dtypes):
        paths = []
        for n, (shape, dtype) in zip("qkv", shapes_dtypes):
            p = os.path.join(self.work, "%s_%s.npy" % (name, n))
            x = self.rng.standard_normal(shape, dtype=np.float32)
            store(p, x, dtype)
            paths.append(p)
        return paths

    def dense(self):
        """MHA and GQA, f32 and bf16, causal and not, at several lengths."""
        specs = []
        for d in (64, 128):
            for causal in (True, False):
                specs.append(("mha_%s_d%d" % ("causal" if causal else "noncausal", d),
                              8, 8, d, causal, "f32"))
        specs.append(("gqa8:2_causal_d128", 8, 2, 128, True, "f32"))
        for causal in (True, False):
            specs.append(("mha_%s_d128_bf16" % ("causal" if causal else "noncausal"),
                          8, 8, 128, causal, "bf16"))
        for name, hq, hkv, d, causal, dtype in specs:
            mlir, exe = self.compile(name.replace(":", "_"),
                                     attention_mlir(hq, hkv, d, dtype, causal))
            hal = self.halide(name.replace(":", "_"), mlir)
            for l in self.args.seqs:
                inputs = self.inputs(name.replace(":", "_"),
                                     [((1, hq, l, d), dtype), ((1, hkv, l, d), dtype),
                                      ((1, hkv, l, d), dtype)])
                naive = None
                if dtype == "f32" and hq == hkv:
                    naive = lambda t, hq=hq, l=l, d=d, c=causal: self.naive(hq, l, d, c, t)
                self.measure("dense", name, exe, mlir, inputs, "L=%d" % l, naive,
                             halide=hal, ggml=self.ggml(hq, hkv, l, l, d, dtype, causal))

    def decode(self):
        """One query per head, D = 128, against long caches: MHA (32 heads) in
        f32/f16/bf16, GQA 32:8 in f16/bf16, and an f16 MHA kernel compiled
        with a dynamic query length (one kernel for prefill and decode) called
        with Lq = 1."""
        specs = [("decode_h32_d128_" + dt, 32, dt, 1) for dt in ("f32", "f16", "bf16")]
        specs += [("decode_gqa32:8_d128_" + dt, 8, dt, 1) for dt in ("f16", "bf16")]
        specs.append(("decode_h32_d128_f16_dynlq", 32, "f16", None))
        # llama.cpp's q8_0 K/V cache: i8 codes and f16 scales per 32
        # channels, f16 queries; ggml's q8_0 cache next to it.
        specs.append(("decode_gqa32:8_d128_q8_0", 8, "q8_0", 1))
        for name, hkv, dtype, lq in specs:
            fname = name.replace(":", "_")
            q8 = dtype == "q8_0"
            mlir, exe = self.compile(fname, q8_0_decode_mlir(hkv) if q8 else
                                     attention_mlir(32, hkv, 128, dtype, False, lq=lq,
                                                    out_dtype="f32"))
            for s in self.args.decode_keys:
                if q8:
                    inputs = self.inputs(fname, [((1, 32, 1, 128), "f16")])
                    rng = np.random.default_rng(s)
                    for n, a in (("k", rng.integers(-127, 128, (1, hkv, s, 128)).astype(np.int8)),
                                 ("v", rng.integers(-127, 128, (1, hkv, s, 128)).astype(np.int8)),
                                 ("ks", rng.uniform(0.005, 0.02, (1, hkv, s, 4)).astype(np.float16)),
                                 ("vs", rng.uniform(0.005, 0.02, (1, hkv, s, 4)).astype(np.float16))):
                        p = os.path.join(self.work, "%s_%s.npy" % (fname, n))
                        np.save(p, a)
                        inputs.append(p)
                    kv_bytes = 2 * hkv * s * 128 * (1 + 2 / 32)
                else:
                    inputs = self.inputs(fname, [((1, 32, 1, 128), dtype),
                                                 ((1, hkv, s, 128), dtype),
                                                 ((1, hkv, s, 128), dtype)])
                    kv_bytes = 2 * hkv * s * 128 * (4 if dtype == "f32" else 2)
                self.measure("decode", name, exe, mlir, inputs, "S=%d" % s,
                             bytes_=kv_bytes,
                             ggml=self.ggml(32, hkv, 1, s, 128, dtype, False) if lq else None)
                for p in inputs:
                    os.remove(p)

    def serving(self):
        """Batched decode over a paged KV cache (issue 24's shape), then a
        chunked prefill over pages next to dense keys: --serving-batch
        requests, Hq = 32, Hkv = 8, D = 128, key lengths uniform in
        [512, 8192], pages of 16 keys shuffled through one pool, f16 and bf16;
        GB/s count the K/V bytes the requests own (each read once), as a
        fraction of the read bandwidth measured in the same run; tokens/s is
        requests per second (one new token each)."""
        hq, hkv, d, ps = 32, 8, 128, self.args.serving_page_size
        rng = np.random.default_rng(24)
        bsz = self.args.serving_batch
        lens = rng.integers(512, 8193, size=bsz).astype(np.int32)
        total, table = shuffled_pages(lens, ps, rng)
        keys = int(lens.sum())
        flops = 4.0 * hq * d * keys
        # What the page order allows at all: the same pools read without
        # arithmetic, by (request, KV head) as the decode's items do and by
        # whole pages (attn-bench-page-read; the same lengths' distribution).
        ceiling = {}
        reader = os.path.join(self.bin, "attn-bench-page-read")
        layout = self.args.serving_layout
        if bsz == 64 and os.path.exists(reader):
            for t in self.args.threads:
                out = sh([reader, str(t), str(ps), layout])
                ceiling[t] = (field(out, "head_gbps"), field(out, "request_gbps"))
                print("  page-order read ceiling (%s pages of %d, %d thread(s)): "
                      "per (request, head) %.1f GB/s = %.0f%%, whole pages %.1f GB/s"
                      " = %.0f%% of the read bandwidth" %
                      (layout, ps, t, ceiling[t][0], 100 * ceiling[t][0] / self.bw[t],
                       ceiling[t][1], 100 * ceiling[t][1] / self.bw[t]), flush=True)
        runs = [(dtype, "", "") for dtype in self.args.serving_dtypes.split(",")]
        if self.args.serving_rope:
            # Keys cached before RoPE, rotated in the kernel (Llama 3's base).
            runs += [(dtype, "rope <theta = 500000.0> ", "")
                     for dtype in self.args.serving_dtypes.split(",")]
        # 8-bit caches (nhd), bf16 queries: the tiles dequantized to bf16.
        runs += [("bf16", "", kv) for kv in self.args.serving_kv.split(",") if kv]
        for dtype, rope, kv in runs:
            name = "serving_paged_decode_%s%s" % ("rope_" if rope else "", kv or dtype)
            layout = "nhd" if kv else self.args.serving_layout
            mlir, exe = self.compile(name, paged_mlir(hq, hkv, d, ps, dtype,
                                                      layout=layout, rope=rope, kv=kv))
            pool = (total, ps, hkv, d) if layout == "nhd" else (total, hkv, ps, d)
            paths = self.inputs(name, [((bsz, hq, 1, d), dtype)] +
                                ([] if kv else [(pool, dtype), (pool, dtype)]))
            if kv:
                # Codes uniform over the format's range; scales around 0.01.
                code, shape_of, st = KV_FORMATS[kv]
                sshape = tuple(total if x == "?" else x
                               for x in shape_of(total, ps, hkv, d))
                for n in ("k", "v"):
                    path = os.path.join(self.work, "%s_%s.npy" % (name, n))
                    if code == "i8":
                        a = rng.integers(-127, 128, pool).astype(np.int8)
                    else:  # fp8 codes of finite values
                        a = rng.integers(0, 255, pool).astype(np.uint8)
                        a[(a & 0x7F) == 0x7F] = 0
                    np.save(path, a)
                    paths.append(path)
            for n, a in (("lens", lens), ("table", table)):
                path = os.path.join(self.work, "%s_%s.npy" % (name, n))
                np.save(path, a)
                paths.append(path)
            if kv:
                for n in ("ks", "vs"):
                    path = os.path.join(self.work, "%s_%s.npy" % (name, n))
                    np.save(path, rng.uniform(0.005, 0.02, sshape).astype(
                        np.float32 if st == "f32" else np.float16))
                    paths.append(path)
            # K/V bytes per key and head: 2 (f16/bf16), or 1 plus the scales'
            # share (per token: 4 / D; q8_0: 2 per 32 channels).
            per = 2.0
            if kv:
                sbytes = 4 if KV_FORMATS[kv][2] == "f32" else 2
                n_s = 1
                for x in KV_FORMATS[kv][1](1, 1, 1, d)[1:]:
                    n_s *= x
                per = 1.0 + (sbytes * n_s / d if KV_FORMATS[kv][1](1, ps, 1, d)[0] == "?"
                             else 0.0)
            kv_bytes = 2 * keys * hkv * d * per
            self.measure("serving", name[len("serving_"):], exe, mlir, paths,
                         "B=%d ps=%d %s" % (bsz, ps, layout), flops=flops,
                         bytes_=kv_bytes)
            for r in self.rows[-len(self.args.threads):]:
                r["tokens_s"] = bsz / (r["ms"] * 1e-3)
                if r["threads"] in ceiling and layout == self.args.serving_layout:
                    r["head_order_bw"] = ceiling[r["threads"]][0] / self.bw[r["threads"]]
                    r["page_order_bw"] = ceiling[r["threads"]][1] / self.bw[r["threads"]]
                print("  %s, %d thread(s): %.0f tokens/s, %.1f%% of the read bandwidth" %
                      (name, r["threads"], r["tokens_s"], 100 * r["bw"]), flush=True)
            for path in paths:
                os.remove(path)
        self.serving_prefill()
        self.serving_mixed()

    def serving_mixed(self):
        """A ragged batch (qo_indptr) that mixes 8 prefill chunks of 512
        queries with 56 decode steps in one call, next to its parts as two
        calls (a paged prefill of the 8 chunks, a paged decode of the 56):
        GQA 32:8, D = 128, f16, causal, key lengths uniform in [512, 8192]
        (a chunk's included), shuffled pages of 16 (nhd); with the runtime's
        plan and without."""
        hq, hkv, d, ps = 32, 8, 128, self.args.serving_page_size
        rng = np.random.default_rng(25)
        bsz, npre, chunk = 64, 8, 512
        lens = rng.integers(512, 8193, size=bsz).astype(np.int32)
        pre = np.sort(rng.choice(bsz, npre, replace=False))
        dec = np.array([b for b in range(bsz) if b not in set(pre)])
        lqs = np.ones(bsz, np.int64)
        lqs[pre] = chunk
        indptr = np.concatenate([[0], np.cumsum(lqs)]).astype(np.int32)
        total, table = shuffled_pages(lens, ps, rng)
        pool = (total, ps, hkv, d)
        work = self.work

        def save(name, a):
            path = os.path.join(work, "serving_mixed_%s.npy" % name)
            np.save(path, a)
            return path
        kv = self.inputs("serving_mixed_pool", [(pool, "f16"), (pool, "f16")])
        # (inputs() names by position: the pools are its "q" and "k".)
        tokens = int(indptr[-1])
        q = self.inputs("serving_mixed_q", [((tokens, hq, 1, d), "f16")])[0]
        qa = np.load(q)
        qpre = save("qpre", np.ascontiguousarray(
            np.stack([qa[indptr[b]:indptr[b + 1], :, 0] for b in pre]).transpose(0, 2, 1, 3)))
        qdec = save("qdec", np.stack([qa[indptr[b]] for b in dec]))
        common = [save("lens", lens), save("table", table), save("indptr", indptr)]
        plan = save("plan", ragged_plan(indptr, lens, hq, hkv))
        parts = {
            "pre": ([qpre] + kv + [save("lens_pre", lens[pre]),
                                   save("table_pre", table[pre])]),
            "dec": ([qdec] + kv + [save("lens_dec", lens[dec]),
                                   save("table_dec", table[dec])]),
        }
        pre_pairs = sum(chunk * (int(lens[b]) - chunk) + chunk * (chunk + 1) / 2
                        for b in pre)
        dec_pairs = float(lens[dec].sum())
        fl_pre, fl_dec = 4.0 * hq * d * pre_pairs, 4.0 * hq * d * dec_pairs
        runs = [
            ("mixed_f16_plan", paged_mlir(hq, hkv, d, ps, "f16", ragged="plan"),
             [q] + kv + common + [plan], fl_pre + fl_dec),
            ("mixed_f16", paged_mlir(hq, hkv, d, ps, "f16", ragged="ragged"),
             [q] + kv + common, fl_pre + fl_dec),
            ("mixed_part_prefill_f16", paged_mlir(hq, hkv, d, ps, "f16", lq=chunk),
             parts["pre"], fl_pre),
            ("mixed_part_decode_f16", paged_mlir(hq, hkv, d, ps, "f16"),
             parts["dec"], fl_dec),
        ]
        ms = {}
        for name, text, paths, flops in runs:
            mlir, exe = self.compile("serving_" + name, text)
            self.measure("serving", name, exe, mlir, paths,
                         "8x512 + 56x1, ps=%d" % ps, flops=flops)
            for r in self.rows[-len(self.args.threads):]:
                ms[(name, r["threads"])] = r["ms"]
        for t in self.args.threads:
            parts_ms = ms[("mixed_part_prefill_f16", t)] + ms[("mixed_part_decode_f16", t)]
            for name in ("mixed_f16_plan", "mixed_f16"):
                print("  %s, %d thread(s): %.2f ms, the parts %.2f ms: %.3f of their sum" %
                      (name, t, ms[(name, t)], parts_ms, ms[(name, t)] / parts_ms),
                      flush=True)
        for path in set(kv + [q, qpre, qdec, plan] + common + parts["pre"][3:] +
                        parts["dec"][3:]):
            os.remove(path)

    def serving_prefill(self):
        """Chunked prefill over pages next to the same shapes on dense keys
        (compute-bound): 2 requests, a chunk of 512 queries against 4096
        cached keys each (the chunk included), GQA 32:8, D = 128, f16,
        causal, shuffled pages of --serving-page-size in the
        --serving-layout pool. GFLOP/s count the visible pairs."""
        hq, hkv, d, ps, bsz, lq, lk = 32, 8, 128, self.args.serving_page_size, 2, 512, 4096
        layout = self.args.serving_layout
        flops = 4.0 * hq * d * bsz * (lq * (lk - lq) + lq * (lq + 1) / 2)
        npg = (lk + ps - 1) // ps
        table = np.random.default_rng(7).permutation(bsz * npg).astype(
            np.int32).reshape(bsz, npg)
        pool = (bsz * npg, ps, hkv, d) if layout == "nhd" else (bsz * npg, hkv, ps, d)
        mlir, exe = self.compile("serving_paged_prefill",
                                 paged_mlir(hq, hkv, d, ps, "f16", lq=lq, layout=layout))
        paths = self.inputs("serving_paged_prefill",
                            [((bsz, hq, lq, d), "f16"), (pool, "f16"), (pool, "f16")])
        for n, a in (("lens", np.full(bsz, lk, np.int32)), ("table", table)):
            path = os.path.join(self.work, "serving_paged_prefill_%s.npy" % n)
            np.save(path, a)
            paths.append(path)
        dmlir, dexe = self.compile("serving_dense_prefill",
                                   attention_mlir(hq, hkv, d, "f16", True, lq=lq,
                                                  out_dtype="f32"))
        dpaths = self.inputs("serving_dense_prefill",
                             [((bsz, hq, lq, d), "f16"), ((bsz, hkv, lk, d), "f16"),
                              ((bsz, hkv, lk, d), "f16")])
        size = "B=2 Lq=512 L=4096 ps=%d %s" % (ps, layout)
        self.measure("serving", "paged_prefill_f16", exe, mlir, paths, size, flops=flops)
        if self.args.serving_rope:
            # The same chunk with q and the cached keys rotated in the kernel.
            rmlir, rexe = self.compile(
                "serving_paged_prefill_rope",
                paged_mlir(hq, hkv, d, ps, "f16", lq=lq, layout=layout,
                           rope="rope <theta = 500000.0> "))
            self.measure("serving", "paged_prefill_rope_f16", rexe, rmlir, paths, size,
                         flops=flops)
        self.measure("serving", "dense_prefill_f16", dexe, dmlir, dpaths, size, flops=flops)
        for path in paths + dpaths:
            os.remove(path)

    def variant_cases(self, prefix, sparse=False):
        """(name, MLIR path, work dir, input paths, L, kept pairs or None) of each example of
        examples/variants (with `sparse`, of examples/sparse) matching
        --variant-filter, inputs made by check_variant.py at --variant-seq
        (decode: one query row; sparse: --sparse-seq)."""
        vdir = os.path.join(ROOT, "examples/sparse" if sparse else "examples/variants")
        env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ["PATH"])
        for f in sorted(os.listdir(vdir)):
            if not f.endswith(".mlir"):
                continue
            name = f[:-5]
            if not re.search(self.args.variant_filter, name):
                continue
            with open(os.path.join(vdir, f)) as src:
                if "attn.attention" not in src.read():
                    # Its FLOPs are not attention pairs (and --count-flops
                    # would interpret its linalg at full length): DCMHA's
                    # materialised form.
                    print("  %s: not benched (no attn.attention)" % name, flush=True)
                    continue
            l = self.args.sparse_seq if sparse else self.args.variant_seq
            lq = 1 if name.startswith("decode") else l
            work = os.path.join(self.work, prefix + name)
            r = subprocess.run([sys.executable, os.path.join(ROOT, "test/lib/check_variant.py"),
                                "--variant", name, "--workdir", work, "--lq", str(lq),
                                "--lk", str(l), "--inputs-only"] +
                               (["--count-pairs"] if sparse else []),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            if r.returncode != 0:
                sys.exit("error: inputs for %s:\n%s" % (name, r.stderr))
            lines = r.stdout.splitlines()
            # Sparse: the pairs the selection keeps (attn-run --count-flops
            # would evaluate the mask region per pair in its interpreter).
            pairs = field(lines[1], "pairs") if sparse else None
            yield name, os.path.join(vdir, f), work, lines[0].split(), l, pairs

    def variants(self):
        for name, path, _, inputs, l, _ in self.variant_cases("v_"):
            mlir, exe = self.compile("v_" + name, mlir_path=path)
            hal = self.halide("v_" + name, mlir)
            self.measure("variants", name, exe, mlir, inputs, "L=%d" % l, halide=hal)
        # Sparse attention (examples/sparse) next to dense causal attention
        # of the same shape (4 heads, D = 64; the "naive" columns), and the
        # share of the causal pairs each one computes.
        dense = None
        for name, path, _, inputs, l, pairs in self.variant_cases("s_", sparse=True):
            if dense is None:
                dmlir, dexe = self.compile("s_dense_causal", attention_mlir(4, 4, 64, "f32", True))
                dense = (dmlir, dexe, inputs[:3], self.flops(dmlir, inputs[:3]))
            mlir, exe = self.compile("s_" + name, mlir_path=path)

            def dense_ms(t):
                return field(sh([dense[1], str(t), str(self.args.runs)] + dense[2]), "median_ms")
            flops = 2.0 * (64 + 64) * pairs
            self.measure("variants", name + " (vs dense causal)", exe, mlir, inputs,
                         "L=%d" % l, dense_ms, flops=flops)
            print("  %s: %.1f%% of the L^2 pairs (%.1f%% of the causal ones)" %
                  (name, 50 * flops / dense[3], 100 * flops / dense[3]), flush=True)

    def routing(self):
        """The MoE layer against OpenBLAS MoE loops; MoBA against dense
        causal attention."""
        rdir = os.path.join(ROOT, "examples/routing")
        T, Dm, F, E = 4096, 256, 512, 8
        moe = os.path.join(self.bin, "attn-bench-moe")
        mlir, exe = self.compile("moe_swiglu", mlir_path=os.path.join(rdir, "moe_swiglu.mlir"))
        rng = self.rng
        inputs = []
        for n, shape, scale in (("x", (T, Dm), 1.0), ("wr", (Dm, E), 1 / 16),
                                ("w1", (E, Dm, F), 1 / 16), ("w3", (E, Dm, F), 1 / 16),
                                ("w2", (E, F, Dm), 1 / 16)):
            p = os.path.join(self.work, "moe_%s.npy" % n)
            np.save(p, (scale * rng.standard_normal(shape)).astype(np.float32))
            inputs.append(p)

        def moe_naive(t, mode):
            return field(sh([moe, mode, str(T), str(Dm), str(F), str(E), str(t),
                             str(self.args.naive_runs)]), "median_ms")
        naive = (lambda t: moe_naive(t, "dense")) if os.path.exists(moe) else None
        # Useful work: 2 T k (3 Dm F) + the router's 2 T Dm E.
        flops = 2.0 * T * 2 * 3 * Dm * F + 2.0 * T * Dm * E
        self.measure("routing", "moe_swiglu (vs dense loop)", exe, mlir, inputs,
                     "T=%d" % T, naive, flops=flops)
        if os.path.exists(moe):
            for t in self.args.threads:
                ms = moe_naive(t, "loop")
                row = dict(group="routing", kernel="moe loop, OpenBLAS (gathered)",
                           size="T=%d" % T, threads=t, ms=ms, gflops=flops / (ms * 1e6))
                row["peak"] = row["gflops"] / self.peak[t]
                row["sgemm"] = row["gflops"] / max(self.sgemm[t])
                self.rows.append(row)
                self.print_row(row)

        # MoBA (block 64, top-3) and dense causal attention, 4 heads, D = 64.
        L = self.args.moba_seq
        dmlir, dexe = self.compile("moba_dense_causal", attention_mlir(4, 4, 64, "f32", True))
        mmlir, mexe = self.compile("moba", mlir_path=os.path.join(rdir, "moba.mlir"))
        inputs = self.inputs("moba", [((1, 4, L, 64), "f32")] * 3)

        def dense_ms(t):
            return field(sh([dexe, str(t), str(self.args.runs)] + inputs), "median_ms")
        self.measure("routing", "moba top-3/64 (vs dense causal)", mexe, mmlir, inputs,
                     "L=%d" % L, dense_ms)
        self.measure("routing", "dense causal (4 heads, D=64)", dexe, dmlir, inputs,
                     "L=%d" % L)

    def backward(self):
        """The derived backward (attn-compile --grad, @main_backward) of MHA,
        H = 8: causal and not, f32 and bf16, D = 64 and 128, at the lengths
        of --backward-seqs. GFLOP/s count 2.5x the forward's visible-pair
        work (FlashAttention-2's convention: five matmuls against two). The
        saved O and LSE come from @main_train (attn-run)."""
        specs = [("bwd_mha_%s_d%d%s" % ("causal" if c else "noncausal", d,
                                       "" if dt == "f32" else "_" + dt), c, d, dt)
                 for dt in ("f32", "bf16") for d in (64, 128) for c in (True, False)]
        for name, causal, d, dtype in (specs if self.args.backward_seqs else []):
            text = attention_mlir(8, 8, d, dtype, causal)
            src = os.path.join(self.work, name + "_fwd.mlir")
            with open(src, "w") as f:
                f.write(text)
            gen = os.path.join(self.work, name + "_gen.mlir")
            with open(gen, "w") as f:
                f.write(sh([os.path.join(self.bin, "attn-opt"), src,
                            "--attn-generate-backward"]))
            _, exe = self.compile(name, mlir_path=src, extra=["--grad"],
                                  function="main_backward")
            for l in self.args.backward_seqs:
                qkv = self.inputs(name, [((1, 8, l, d), dtype)] * 3)
                o, o2, lse, do = (os.path.join(self.work, "%s_%s.npy" % (name, n))
                                  for n in ("o", "o2", "lse", "do"))
                sh([os.path.join(self.bin, "attn-run"), gen, "--function=main_train"] +
                   ["--input=@" + p for p in qkv] +
                   ["--output=@" + p for p in (o, o2, lse)])
                store(do, self.rng.standard_normal((1, 8, l, d), dtype=np.float32), dtype)
                flops = 2.5 * self.flops(src, qkv)
                naive = None
                if dtype == "f32":
                    naive = lambda t, l=l, d=d, c=causal: self.torch_backward(l, d, c, t)
                self.measure("backward", name, exe, None, qkv + [o, lse, do],
                             "L=%d" % l, naive, flops=flops)

        self.backward_variants()

    def backward_variants(self):
        """The backward of every example of examples/variants at
        --variant-seq (decode: one query row): inputs as the variants
        section makes them, the saved state from @main_train, one random
        gradient per result; GFLOP/s count 2.5x the forward's visible-pair
        work."""
        for name, src, work, inputs, l, _ in self.variant_cases("bv_"):
            gen = os.path.join(work, "gen.mlir")
            with open(gen, "w") as out:
                out.write(sh([os.path.join(self.bin, "attn-opt"), src,
                              "--attn-generate-backward"]))
            text = open(gen).read()
            results = lambda fn: re.search(
                r"func\.func @%s\([^)]*\)\s*->\s*\(?([^{]*)" % fn, text).group(1)
            n_main = results("main").count("tensor<")
            n_train = results("main_train").count("tensor<")
            saved = [os.path.join(work, "train%d.npy" % k) for k in range(n_train)]
            sh([os.path.join(self.bin, "attn-run"), gen, "--function=main_train"] +
               ["--input=@" + p for p in inputs] + ["--output=@" + p for p in saved])
            dys = []
            for k in range(n_main):
                y = np.load(saved[k])
                p = os.path.join(work, "dy%d.npy" % k)
                dt = "bf16" if y.dtype == np.uint16 else str(y.dtype).replace("float", "f")
                store(p, self.rng.standard_normal(y.shape, dtype=np.float32), dt)
                dys.append(p)
            _, exe = self.compile("bv_" + name, mlir_path=src, extra=["--grad"],
                                  function="main_backward")
            flops = 2.5 * self.flops(src, inputs)
            self.measure("backward", "bwd_" + name, exe, None,
                         inputs + saved[n_main:] + dys, "L=%d" % l, flops=flops)

    def torch_backward(self, l, d, causal, threads):
        """PyTorch autograd of matmul-softmax-matmul attention (H = 8, f32):
        median ms of the backward alone (the graph kept, gradients reset
        untimed), on `threads` threads; NaN without python3-torch."""
        try:
            import torch
        except ImportError:
            return float("nan")
        import time
        torch.set_num_threads(threads)
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(1, 8, l, d, generator=g, requires_grad=True)
                   for _ in range(3))
        s = (q @ k.transpose(-1, -2)) / d ** 0.5
        if causal:
            s = s.masked_fill(torch.ones(l, l, dtype=torch.bool).triu(1), float("-inf"))
        o = torch.softmax(s, dim=-1) @ v
        do = torch.randn(1, 8, l, d, generator=g)
        ms = []
        for r in range(self.args.naive_runs + 2):
            for x in (q, k, v):
                x.grad = None
            t0 = time.perf_counter()
            o.backward(do, retain_graph=True)
            if r >= 2:
                ms.append((time.perf_counter() - t0) * 1e3)
        return float(np.median(ms))

    # --- Output -----------------------------------------------------------
    HEAD = ("| kernel | size | thr | ms | GFLOP/s | % FMA peak | × best sgemm "
            "| naive ms | naive GFLOP/s | speedup | Halide ms | Halide GFLOP/s "
            "| GB/s | % read BW | ggml ms | ggml ms / attn ms |")

    def linear(self):
        """Linear attention (attn.scan, chunkwise) against causal softmax attention.

        B = 1, H = 4, Dk = Dv = 64 at every length of --linear-seqs. The scan
        kernels count the chunkwise algorithm's work, per (batch, head) and
        step: 2 Dk Dv for the inter-chunk query, 2 Dk Dv for the state
        update and (C + 1)(Dk + Dv) for the causal intra-chunk matmuls (C
        the chunk size); the recurrent form (gla_recurrent, --scan-chunk=0)
        is counted the same way with C = 1. Softmax attention counts its
        visible pairs (attn-run --count-flops).
        """
        h, d, chunk = 4, 64, self.args.scan_chunk
        lin = os.path.join(ROOT, "examples/linear")
        kernels = [("gla", "gla.mlir", chunk), ("lightning", "lightning.mlir", chunk),
                   ("linear_elu", "linear_elu.mlir", chunk),
                   ("gla_recurrent", "gla.mlir", 0)]
        built = {}
        for name, f, c in kernels:
            built[name] = self.compile("lin_" + name, mlir_path=os.path.join(lin, f),
                                       extra=["--scan-chunk=%d" % c])[1], c
        soft_mlir, soft_exe = self.compile("lin_softmax_causal",
                                           attention_mlir(h, h, d, "f32", True))
        for l in self.args.linear_seqs:
            shape = (1, h, l, d)
            paths = {}
            for n in ("q", "k", "v"):
                paths[n] = os.path.join(self.work, "lin_%s.npy" % n)
                np.save(paths[n], (0.25 * self.rng.standard_normal(shape)).astype(np.float32))
            paths["la"] = os.path.join(self.work, "lin_la.npy")
            np.save(paths["la"], np.log(self.rng.uniform(0.9, 1.0, shape)).astype(np.float32))
            paths["lam"] = os.path.join(self.work, "lin_lam.npy")
            np.save(paths["lam"], np.array([0.99, 0.95, 0.9, 0.8], np.float32))
            qkv = [paths["q"], paths["k"], paths["v"]]
            self.measure("linear", "softmax_causal", soft_exe, soft_mlir, qkv,
                         "L=%d" % l)
            for name, f, _ in kernels:
                exe, c = built[name]
                extra = {"gla.mlir": [paths["la"]], "lightning.mlir": [paths["lam"]]}
                flops = h * l * (4 * d * d + (max(c, 1) + 1) * 2 * d)
                self.measure("linear", name, exe, None, qkv + extra.get(f, []),
                             "L=%d" % l, flops=flops)

    def kvcache(self):
        """The cost of KV-cache importance scores (column_scores) and of the
        row entropy (row_entropy) over plain
        causal attention: examples/kvcache at L = --kv-seq, B = 1, H = 4,
        D = 64. GFLOP/s count the attention's own work (the scores' second
        pass is overhead, reported as extra time). Then eviction
        (evict, l2_evict) of that cache to 100 positions per head, as time
        and bandwidth (it does no floating-point work to speak of)."""
        h, d, l = 4, 64, self.args.kv_seq
        plain_mlir, plain = self.compile("kv_causal", attention_mlir(h, h, d, "f32", True))
        inputs = self.inputs("kv", [((1, h, l, d), "f32")] * 3)
        flops = self.flops(plain_mlir, inputs)
        self.measure("kvcache", "causal", plain, plain_mlir, inputs, "L=%d" % l, flops=flops)
        base = {r["threads"]: r["ms"] for r in self.rows if r["kernel"] == "causal"
                and r["group"] == "kvcache"}
        kdir = os.path.join(ROOT, "examples/kvcache")
        # (trim_kv_retention_gate: its retention-gate logits g [1, H, L] too,
        # and its eviction to 64 positions is in its time.)
        g = os.path.join(self.work, "kv_g.npy")
        np.save(g, self.rng.uniform(1, 6, (1, h, l)).astype(np.float32))
        for name in ("h2o_scores", "a2sf_scores", "vatp_scores", "entropy",
                     "zipcache_normalized_attention_score", "trim_kv_retention_gate"):
            _, exe = self.compile("kv_" + name, mlir_path=os.path.join(kdir, name + ".mlir"))
            self.measure("kvcache", name, exe, None,
                         inputs + ([g] if name.startswith("trim_kv") else []),
                         "L=%d" % l, flops=flops)
            for r in self.rows[-len(self.args.threads):]:
                r["extra"] = r["ms"] / base[r["threads"]] - 1
                print("  %s, %d thread(s): +%.0f%% time over plain causal attention" %
                      (name, r["threads"], 100 * r["extra"]), flush=True)
        # Eviction (attn.evict) on the same cache: its time next to the
        # attention's, and the bytes it moves (the f32 scores, or the key
        # norms computed from one read of the keys, read once per radix pass
        # and once more in the ordered pass; kept rows copied).
        n = 100
        ev_inputs = self.inputs("ev", [((1, h, l), "f32"), ((1, h, l, d), "f32"),
                                       ((1, h, l, d), "f32")])
        for name, norms in (("evict", 0), ("l2_evict", h * l * d * 4)):
            _, exe = self.compile("kv_" + name, mlir_path=os.path.join(kdir, name + ".mlir"))
            moved = norms + 5 * h * l * 4 + 2 * 2 * h * n * d * 4
            self.measure("kvcache", name, exe, None,
                         ev_inputs if name == "evict" else ev_inputs[1:],
                         "S=%d" % l, flops=1, bytes_=moved)
            for r in self.rows[-len(self.args.threads):]:
                print("  %s, %d thread(s): %.1f%% of the causal attention's time" %
                      (name, r["threads"], 100 * r["ms"] / base[r["threads"]]), flush=True)

    def print_row(self, r):
        def f(key, fmt):
            return fmt % r[key] if key in r else "–"
        cells = [r["kernel"], r["size"], "%d" % r["threads"], f("ms", "%.3f"),
                 f("gflops", "%.1f"), "%.1f%%" % (100 * r["peak"]),
                 f("sgemm", "%.2f"), f("naive_ms", "%.2f"), f("naive_gflops", "%.1f"),
                 f("speedup", "%.1fx"), f("halide_ms", "%.3f"), f("halide_gflops", "%.1f"),
                 f("gbps", "%.1f"), "%.0f%%" % (100 * r["bw"]) if "bw" in r else "–",
                 f("ggml_ms", "%.3f"), f("vs_ggml", "%.2fx")]
        line = "| " + " | ".join(cells) + " |"
        self.lines.append(line)
        print(line, flush=True)

    def header(self):
        import datetime
        cpu = "unknown CPU"
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        self.lines = ["# attn CPU benchmark, %s, %s" % (datetime.date.today(), cpu), "",
                      "| threads | FMA peak GFLOP/s | read GB/s | sgemm 2048³ default "
                      "| sgemm AVX-512 forced |", "|---|---|---|---|---|"]
        for t in self.args.threads:
            d, a = self.sgemm[t]
            self.lines.append("| %d | %.1f | %.1f | %.1f | %.1f |" %
                              (t, self.peak[t], self.bw[t], d, a))
        self.lines += ["", self.HEAD, "|" + "---|" * 16]
        print("\n".join(self.lines), flush=True)

    def save(self):
        with open(os.path.join(self.out, "results.md"), "w") as f:
            f.write("\n".join(self.lines) + "\n")
        keys = ["group", "kernel", "size", "threads", "ms", "gflops", "peak", "sgemm",
                "naive_ms", "naive_gflops", "speedup", "halide_ms", "halide_gflops",
                "gbps", "bw", "ggml_ms", "vs_ggml", "extra", "tokens_s",
                "head_order_bw", "page_order_bw"]
        with open(os.path.join(self.out, "machine.csv"), "w") as f:
            f.write("threads,peak,bw,sgemm_default,sgemm_avx512\n")
            for t in self.args.threads:
                f.write("%d,%f,%f,%f,%f\n" % ((t, self.peak[t], self.bw[t]) + self.sgemm[t]))
        with open(os.path.join(self.out, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for r in self.rows:
                w.writerow(r)
        self.plot()

    def gnuplot(self, stem, series, fmt, settings, extra_plots=()):
        """Writes series {name: [(x, y)]} to <out>/<stem>.dat and plots them
        as lines with points into <out>/<stem>.png; returns False (and
        draws nothing) without gnuplot or data."""
        gp = shutil.which("gnuplot")
        if not gp or not series:
            return False
        dat = os.path.join(self.out, stem + ".dat")
        with open(dat, "w") as f:
            for name, pts in series.items():
                f.write("# %s\n" % name)
                for x, y in sorted(pts):
                    f.write(("%d " + fmt + "\n") % (x, y))
                f.write("\n\n")
        png = os.path.join(self.out, stem + ".png")
        script = (["set terminal pngcairo size 1000,640 font ',10'", "set output '%s'" % png]
                  + settings
                  + ["plot " + ", ".join(
                      ["'%s' index %d with linespoints title '%s'" % (dat, i, n)
                       for i, n in enumerate(series)] + list(extra_plots))])
        subprocess.run([gp], input="\n".join(script), text=True, check=True)
        print("plot: %s" % png)
        return True

    def plot_linear(self):
        """build/bench/linear.png: milliseconds against L, log-log, for the
        linear section (slope 1: linear, slope 2: quadratic)."""
        t = max(self.args.threads)
        series = {}
        for r in self.rows:
            if r["group"] == "linear" and int(r["threads"]) == t:
                series.setdefault(r["kernel"], []).append(
                    (int(r["size"][2:]), float(r["ms"])))
        svg_plot(os.path.join(self.out, "linear.svg"),
                 "linear attention (attn.scan) vs causal softmax attention, B=1 H=4 D=64, "
                 "%d thread(s)" % t, "sequence length L", "ms per call", series, logy=True)
        self.gnuplot("linear", series, "%.4f", [
            "set title 'linear attention (attn.scan) vs causal softmax attention, "
            "B=1 H=4 D=64, %d thread(s)' noenhanced" % t,
            "set xlabel 'sequence length L'", "set ylabel 'ms per call'",
            "set logscale xy 2", "set key top left noenhanced", "set grid"])

    def plot(self):
        self.plot_linear()
        t = max(self.args.threads)
        series = {}
        for r in self.rows:
            if r["group"] == "dense" and r["threads"] == t:
                series.setdefault(r["kernel"], []).append(
                    (int(r["size"][2:]), r["gflops"]))
        ymax = 1.1 * max([self.peak[t]] + [g for pts in series.values() for _, g in pts])
        title = ("attn CPU kernels, %d thread(s): FMA peak %.0f GFLOP/s, best sgemm %.0f"
                 % (t, self.peak[t], max(self.sgemm[t])))
        if svg_plot(os.path.join(self.out, "gflops.svg"), title, "sequence length L",
                    "GFLOP/s", series, ymax=ymax,
                    hlines=[(self.peak[t], "FMA peak"),
                            (self.sgemm[t][1], "OpenBLAS sgemm (AVX-512)")]):
            print("plot: %s" % os.path.join(self.out, "gflops.svg"))
        if not self.gnuplot("gflops", series, "%.2f", [
                "set title 'attn CPU kernels, %d thread(s): FMA peak %.0f GFLOP/s, "
                "best sgemm %.0f' noenhanced" % (t, self.peak[t], max(self.sgemm[t])),
                "set xlabel 'sequence length L'", "set ylabel 'GFLOP/s'",
                "set logscale x 2", "set key outside right noenhanced", "set grid",
                "set yrange [0:%f]" % ymax],
                ["%f with lines dt 2 lc rgb 'black' title 'FMA peak'" % self.peak[t],
                 "%f with lines dt 4 lc rgb 'dark-gray' title 'OpenBLAS sgemm (AVX-512)'"
                 % self.sgemm[t][1]]):
            print("(no PNG: %s)" % ("gnuplot is not installed" if not shutil.which("gnuplot")
                                    else "no data"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--out", default=None)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--naive-runs", type=int, default=3)
    p.add_argument("--threads", default="1 2")
    p.add_argument("--seqs", default="512 2048 4096")
    p.add_argument("--decode-keys", default="4096 32768")
    p.add_argument("--variant-seq", type=int, default=2048)
    p.add_argument("--moba-seq", type=int, default=8192)
    p.add_argument("--sparse-seq", type=int, default=8192,
                   help="L of the examples/sparse variants (variants section)")
    p.add_argument("--linear-seqs", default="2048 4096 8192 16384")
    p.add_argument("--kv-seq", type=int, default=4096,
                   help="sequence length of the kvcache section")
    p.add_argument("--scan-chunk", type=int, default=32,
                   help="attn.scan chunk size for the linear section")
    p.add_argument("--no-halide", dest="halide", action="store_false",
                   help="skip the Halide backend's column")
    p.add_argument("--ggml", default=os.environ.get("ATTN_GGML"),
                   help="install prefix of a ggml built outside attn (include/, lib/): "
                   "adds ggml's CPU flash attention on the dense and decode shapes")
    p.add_argument("--serving-batch", type=int, default=64,
                   help="requests in the serving section's batch")
    p.add_argument("--serving-dtypes", default="f16,bf16",
                   help="cache element types of the serving section")
    p.add_argument("--serving-layout", default="nhd", choices=["nhd", "hnd"],
                   help="page pool layout in the serving section")
    p.add_argument("--serving-kv", default="int8,fp8,q8_0",
                   help="8-bit cache formats of the serving section's decode "
                   "(int8 per token, fp8 e4m3 per tensor, q8_0), '' for none")
    p.add_argument("--serving-rope", action="store_true",
                   help="also time the paged decode with RoPE applied to the "
                   "cached keys in the kernel")
    p.add_argument("--serving-page-size", type=int, default=16,
                   help="keys per page in the serving section")
    p.add_argument("--backward-seqs", default="512 1024",
                   help="sequence lengths of the backward section")
    p.add_argument("--only",
                   default="dense,decode,variants,routing,linear,kvcache,backward,serving",
                   help="comma-separated sections: dense, decode, variants, routing, "
                   "linear, kvcache, backward, serving")
    p.add_argument("--variant-filter", default="",
                   help="a regular expression: the variants (forward and backward) to run")
    p.add_argument("--replot", action="store_true",
                   help="redraw the plots from the saved results")
    a = p.parse_args()
    a.threads = sorted({int(t) for t in a.threads.split()})
    a.seqs = [int(s) for s in a.seqs.split()]
    a.decode_keys = [int(s) for s in a.decode_keys.split()]
    a.linear_seqs = [int(s) for s in a.linear_seqs.split()]
    a.backward_seqs = [int(s) for s in a.backward_seqs.split()]
    a.out = a.out or os.path.join(a.build, "bench")
    b = Bench(a)
    if a.replot:  # Only redraw the plot from <out>/machine.csv, results.csv.
        for r in csv.DictReader(open(os.path.join(a.out, "machine.csv"))):
            t = int(r["threads"])
            b.peak[t], b.bw[t] = float(r["peak"]), float(r["bw"])
            b.sgemm[t] = (float(r["sgemm_default"]), float(r["sgemm_avx512"]))
        a.threads = sorted(b.peak)
        for r in csv.DictReader(open(os.path.join(a.out, "results.csv"))):
            r["threads"], r["gflops"] = int(r["threads"]), float(r["gflops"])
            r["ms"] = float(r["ms"])
            b.rows.append(r)
        b.plot()
        return
    b.machine()
    b.header()
    for section in a.only.split(","):
        if section not in ("dense", "decode", "variants", "routing", "linear", "kvcache",
                           "backward", "serving", "serving_mixed"):
            sys.exit("error: unknown section '%s'" % section)
        getattr(b, section)()
    b.save()


if __name__ == "__main__":
    main()
