"""attn.attention with per-request key lengths (kv_lens) and paged K/V
caches (pages(...), nhd and hnd pools) on every backend, against float64
NumPy written from the math (docs/serving.md):

  request b has lens[b] keys; key j is row j % ps of page table[b, j // ps]
  of the pool; row i of its Lq queries sees key j iff j < lens[b] and
  (causal) j <= i + lens[b] - Lq; a row that sees nothing gives 0, LSE -inf.

With a rotary embedding (`rope <...>`), q and k are rotated at their
logical positions (key j at j, query row i at i + lens[b] - Lq), written
here from the formulas of HF transformers' rope initializers, and rounded
to the element type, as the kernels keep rotated operands in it.

The pages are shuffled, shared between requests (a common prefix), the last
ones partly filled, some requests empty; table entries past a request's
pages hold garbage (-7, 10**6) that must never be read. With --errors, bad
tables and lengths must be clean run-time errors naming the argument.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from check_attention import (round_bf16, bf16_to_f32, compare,  # noqa: E402
                             tensor_core_tol)

p = argparse.ArgumentParser()
p.add_argument("--attn-run", required=True)
p.add_argument("--workdir", required=True)
p.add_argument("--backends", default="cpu,reference")
p.add_argument("--configs", default="all",
               help="comma-separated config names, or all")
p.add_argument("--errors", action="store_true",
               help="check bad page tables and lengths instead")
p.add_argument("--append", action="store_true",
               help="check attn.append_kv (nhd and hnd, f32 rows into f16 "
               "pools, padding slots, a bad slot) instead")
p.add_argument("--cla", metavar="MLIR",
               help="check two layers sharing one paged cache "
               "(examples/serving/cla_cross_layer_kv.mlir) instead")
p.add_argument("--decode-step", metavar="MLIR",
               help="check a decode step that appends then attends "
               "(examples/serving/decode_step.mlir) instead")
p.add_argument("--quantize", action="store_true",
               help="check attn.quantize_kv (int8 per token/channel, q8_0, "
               "fp8 with computed and given scales) instead")
p.add_argument("--quant-step", metavar="MLIR",
               help="check a decode step over an int8 cache "
               "(examples/serving/quantized_decode_step.mlir) instead")
p.add_argument("--ragged", action="store_true",
               help="check ragged batches (qo_indptr, plans) instead; with "
               "--errors, bad pointers and plans")
p.add_argument("--ragged-step", metavar="MLIR",
               help="check a chunked-prefill step that appends then attends "
               "(examples/serving/ragged_step.mlir) instead")
p.add_argument("--rag", metavar="MLIR",
               help="check Block-Attention for RAG "
               "(examples/serving/block_attention_rag.mlir) instead")
args = p.parse_args()
os.makedirs(args.workdir, exist_ok=True)
rng = np.random.default_rng(11)
failed = False

TOL = {"f32": 2e-5, "f16": 2e-3, "bf16": 1.6e-2}


def quantize(x, dtype):
    """(array to save, float64 values the kernel sees)."""
    if dtype == "f32":
        v = x.astype(np.float32)
        return v, v.astype(np.float64)
    if dtype == "f16":
        v = x.astype(np.float16)
        return v, v.astype(np.float64)
    bits, v = round_bf16(x.astype(np.float32))
    return bits, v.astype(np.float64)


def load(path, dtype):
    a = np.load(path)
    if dtype == "bf16":
        return bf16_to_f32(a).astype(np.float64)
    return a.astype(np.float64)


# name: dtype, layout (nhd/hnd/dense), page size, Hq, Hkv, D, Lq, lens,
#       causal, extra ("lse", "score" = a logical-position bias, "mask" =
#       a logical-position window)
CONFIGS = {
    "decode_nhd16_f32": ("f32", "nhd", 16, 8, 2, 64, 1, [0, 1, 37, 100, 16],
                         True, ("lse",)),
    "chunk_hnd1_f16": ("f16", "hnd", 1, 4, 2, 32, 3, [3, 5, 20], True,
                       ("lse",)),
    "prefill_nhd64_bf16": ("bf16", "nhd", 64, 4, 4, 128, 5, [0, 64, 200],
                           False, ("lse",)),
    "decode_hnd128_f32": ("f32", "hnd", 128, 4, 1, 32, 1, [1, 300], True,
                          ("score", "mask")),
    "chunk_nhd16_f16_regions": ("f16", "nhd", 16, 6, 3, 64, 4,
                                [4, 33, 0, 77], True, ("score", "mask", "lse")),
    "dense_lens_f32": ("f32", "dense", 0, 4, 2, 16, 4, [0, 17, 50], True,
                       ("lse",)),
    # Two query tiles and a sinks + window mask: two key intervals per
    # tile, widened to page-aligned tiles by the CPU tiler.
    "prefill_nhd16_sinks_window": ("f32", "nhd", 16, 4, 2, 32, 70,
                                   [150, 75, 0, 71], True,
                                   ("sinkwin", "lse")),
    # Rotary embeddings at logical positions (the extra's dict: the
    # #attn.rope parameters): paged, dense with lengths and plain.
    "rope_llama_decode_nhd16_f32": ("f32", "nhd", 16, 8, 2, 64, 1,
                                    [0, 1, 37, 300, 16], True,
                                    ("lse", {})),
    "rope_gptj_partial_chunk_hnd1_f16": (
        "f16", "hnd", 1, 4, 2, 32, 3, [3, 5, 20], True,
        ("lse", {"style": "gptj", "dims": 16, "scaling": "linear",
                 "factor": 2.0})),
    "rope_yarn_prefill_nhd64_bf16": (
        "bf16", "nhd", 64, 4, 4, 128, 5, [0, 64, 200], False,
        ({"theta": 500000.0, "scaling": "yarn", "factor": 4.0,
          "original_context": 128},)),
    "rope_llama3_dense_f32": (
        "f32", "dense", 0, 4, 2, 64, 4, [0, 17, 50], True,
        ("lse", {"theta": 500000.0, "scaling": "llama3", "factor": 8.0,
                 "original_context": 256})),
    "rope_ntk_plain_f32": ("f32", "plain", 0, 6, 3, 32, 19, [70, 70],
                           True, ({"scaling": "ntk", "factor": 3.0},)),
    "rope_plain_decode_f16": ("f16", "plain", 0, 8, 2, 128, 1, [777, 777],
                              True, ("lse", {"theta": 1000000.0})),
    # One buffer as keys and values (only the keys are rotated), in the
    # row and decode forms.
    "rope_k_as_v_f32": ("f32", "plain", 0, 4, 2, 32, 3, [40, 40], True,
                        ("kasv", {"style": "gptj"})),
    "rope_k_as_v_decode_f32": ("f32", "plain", 0, 4, 2, 32, 1, [40, 40],
                               True, ("kasv", {})),
    # Quantized caches (key_scale / value_scale): ("quant", key format,
    # value format), a format being (code type, scale granularity, scale
    # type) or None for a float operand.
    "q_int8_token_decode_nhd16_f16": (
        "f16", "nhd", 16, 8, 2, 64, 1, [0, 1, 37, 100, 16], True,
        ("lse", ("quant", ("i8", "token", "f32"), ("i8", "token", "f32")))),
    "q_int8_channel_chunk_hnd16_f32": (
        "f32", "hnd", 16, 4, 2, 32, 3, [3, 50, 20], True,
        ("lse", ("quant", ("i8", "channel", "f32"), ("i8", "token", "f16")))),
    "q_fp8e4m3_tensor_decode_nhd16_bf16": (
        "bf16", "nhd", 16, 8, 2, 128, 1, [5, 300, 64, 0], True,
        ("lse", ("quant", ("f8E4M3FN", "tensor", "f32"),
                 ("f8E4M3FN", "tensor", "f32")))),
    "q_fp8e5m2_tensor_prefill_nhd64_f16": (
        "f16", "nhd", 64, 4, 4, 64, 5, [0, 64, 200], False,
        (("quant", ("f8E5M2", "tensor", "f32"), ("f8E5M2", "tensor", "f32")),)),
    "q_q8_0_decode_hnd16_f16": (
        "f16", "hnd", 16, 8, 2, 64, 1, [33, 1, 250], True,
        ("lse", ("quant", ("i8", "block32", "f16"), ("i8", "block32", "f16")))),
    "q_q8_0_gather_nhd4_f32": (
        "f32", "nhd", 4, 4, 2, 64, 2, [9, 0, 30], True,
        (("quant", ("i8", "block32", "f16"), ("f8E4M3FN", "token", "f32")),)),
    "q_int8_dense_lens_f32": (
        "f32", "dense", 0, 4, 2, 32, 4, [0, 17, 50], True,
        ("lse", ("quant", ("i8", "token", "f32"), ("i8", "channel", "f32")))),
    "q_fp8_plain_prefill_f16": (
        "f16", "plain", 0, 6, 3, 64, 70, [90, 90], True,
        (("quant", ("f8E4M3FN", "channel", "bf16"), None),)),
    "q_int8_plain_decode_rope_f16": (
        "f16", "plain", 0, 8, 2, 64, 1, [500, 500], True,
        ("lse", ("quant", ("i8", "token", "f32"), ("i8", "token", "f32")),
         {"theta": 500000.0})),
    "q_int8_nhd16_rope_chunk_f32": (
        "f32", "nhd", 16, 4, 2, 32, 3, [3, 50, 20], True,
        (("quant", ("i8", "block32", "f16"), None), {"style": "gptj"})),
}


def quant_of(extra):
    for e in extra:
        if isinstance(e, tuple) and e and e[0] == "quant":
            return e[1], e[2]
    return None, None


def fp8_table(fmt):
    """The value of every fp8 code 0..255 (f8E4M3FN or f8E5M2), from the
    format's definition."""
    mant, bias = (3, 7) if fmt == "f8E4M3FN" else (2, 15)
    vals = np.zeros(256)
    for c in range(256):
        e, m = (c & 0x7F) >> mant, c & ((1 << mant) - 1)
        if e == 0:
            v = m * 2.0 ** (1 - bias - mant)
        else:
            v = (1 + m / 2 ** mant) * 2.0 ** (e - bias)
        if fmt == "f8E4M3FN" and (c & 0x7F) == 0x7F:
            v = np.nan
        if fmt == "f8E5M2" and e == 31:
            v = np.nan
        vals[c] = -v if c & 0x80 else v
    return vals


QMAX = {"i8": 127.0, "f8E4M3FN": 448.0, "f8E5M2": 57344.0}


def encode(y, code_t):
    """(codes to save, their values) of saturated y: the nearest integer,
    or the nearest finite fp8 value, ties to even."""
    if code_t == "i8":
        codes = np.rint(y).astype(np.int8)
        return codes, codes.astype(np.float64)
    table = fp8_table(code_t)
    finite = np.where(np.isnan(table), np.inf, table)
    err = np.abs(y.reshape(-1, 1) - finite[None, :])
    best = err.min(axis=1, keepdims=True)
    cand = np.where(err == best, np.arange(256)[None, :] % 2, 2)
    codes = cand.argmin(axis=1).astype(np.uint8).reshape(y.shape)
    return codes, table[codes]


def scale_shape(shape, gran, layout):
    """The scale's shape for a pool/dense operand: per tensor, per token
    (and head), per channel (and head), or q8_0's blocks of 32."""
    heads = 2 if layout == "nhd" else 1
    if gran == "tensor":
        return (1, 1, 1, 1)
    if gran == "token":
        return tuple(shape[:3]) + (1,)
    if gran == "channel":
        return tuple(shape[d] if d in (heads, 3) else 1 for d in range(4))
    return tuple(shape[:3]) + (shape[3] // 32,)


def round_to(x, dtype):
    return quantize(x, dtype)[1]


def quantize_cache(x, fmt, layout, qdtype):
    """(codes to save, scales to save, float64 values the kernel sees):
    scale = max |x| / max code per group (rounded to the scale type),
    code = nearest (even) of x / scale, saturated; the values are
    scale * code rounded to the query's type."""
    code_t, gran, scale_t = fmt
    sshape = scale_shape(x.shape, gran, layout)
    groups = [x.shape[d] // sshape[d] for d in range(4)]
    blocked = x.reshape(sshape[0], groups[0], sshape[1], groups[1],
                        sshape[2], groups[2], sshape[3], groups[3])
    amax = np.abs(blocked).max(axis=(1, 3, 5, 7))
    s_save, s = quantize(amax / QMAX[code_t], scale_t)
    sb = s.reshape(sshape[0], 1, sshape[1], 1, sshape[2], 1, sshape[3], 1)
    y = np.where(sb == 0, 0.0, blocked / np.where(sb == 0, 1, sb))
    y = np.clip(y, -QMAX[code_t], QMAX[code_t]).reshape(x.shape)
    codes, cvals = encode(y, code_t)
    deq = (cvals.reshape(blocked.shape) * sb).reshape(x.shape)
    return codes, s_save, round_to(deq.astype(np.float32), qdtype)


def rope_of(extra):
    for e in extra:
        if isinstance(e, dict):
            return e
    return None


def rope_attr(r):
    """The #attn.rope text of the parameters."""
    parts = []
    for key, val in r.items():
        parts.append(f"{key} = {val!r}" if not isinstance(val, str)
                     else f"{key} = {val}")
    return "rope <" + ", ".join(parts) + "> "


def rope_frequencies(r, rot):
    """inv_freq per pair and the cos/sin factor, from HF transformers'
    _compute_*_parameters (default, linear, dynamic-at-fixed-factor ntk,
    yarn, llama3)."""
    theta = r.get("theta", 10000.0)
    factor = r.get("factor", 1.0)
    kind = r.get("scaling", "none")
    if kind == "ntk":
        theta = theta * factor ** (rot / (rot - 2))
    inv = 1.0 / theta ** (np.arange(0, rot, 2, dtype=np.float64) / rot)
    mscale = 1.0
    if kind == "linear":
        inv = inv / factor
    elif kind == "yarn":
        ctx = r["original_context"]
        fast, slow = r.get("beta_fast", 32.0), r.get("beta_slow", 1.0)

        def dim_at(rotations):
            return rot * np.log(ctx / (rotations * 2 * np.pi)) / (2 * np.log(theta))
        low = max(np.floor(dim_at(fast)), 0)
        high = min(np.ceil(dim_at(slow)), rot - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(rot // 2) - low) / (high - low), 0, 1)
        extrapolate = 1 - ramp
        inv = inv / factor * (1 - extrapolate) + inv * extrapolate
        mscale = 0.1 * np.log(factor) + 1.0 if factor > 1 else 1.0
    elif kind == "llama3":
        ctx = r["original_context"]
        lo, hi = r.get("low_freq_factor", 1.0), r.get("high_freq_factor", 4.0)
        wave = 2 * np.pi / inv
        scaled = np.where(wave > ctx / lo, inv / factor, inv)
        smooth = (ctx / wave - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wave >= ctx / hi) & (wave <= ctx / lo)
        inv = np.where(medium, smoothed, scaled)
    return inv, mscale


def rotate(x, pos, r, dtype):
    """x [..., L, D] rotated at positions pos [L] (float64), then rounded
    to dtype."""
    d = x.shape[-1]
    rot = r.get("dims", 0) or d
    inv, mscale = rope_frequencies(r, rot)
    ang = np.asarray(pos, np.float64)[:, None] * inv[None, :]
    c, s = np.cos(ang) * mscale, np.sin(ang) * mscale
    y = x.copy()
    if r.get("style", "llama") == "llama":
        a, b = x[..., :rot // 2], x[..., rot // 2:rot]
        y[..., :rot // 2] = a * c - b * s
        y[..., rot // 2:rot] = b * c + a * s
    else:
        a, b = x[..., 0:rot:2], x[..., 1:rot:2]
        y[..., 0:rot:2] = a * c - b * s
        y[..., 1:rot:2] = b * c + a * s
    return quantize(y, dtype)[1]


def mlir_for(name, cfg, maxlen=None, ragged=None):
    """The function `name` for `cfg`; with `ragged` ("plan" or ""), queries
    packed [T, hq, 1, d] by qo_indptr (and a plan argument)."""
    dtype, layout, ps, hq, hkv, d, lq, lens, causal, extra = cfg
    if layout == "nhd":
        pool = f"tensor<?x{ps}x{hkv}x{d}x{dtype}>"
    elif layout == "hnd":
        pool = f"tensor<?x{hkv}x{ps}x{d}x{dtype}>"
    else:
        pool = f"tensor<?x{hkv}x?x{d}x{dtype}>"
    qt = f"tensor<?x{hq}x{'1' if ragged is not None else '?'}x{d}x{dtype}>"
    st = f"tensor<?x{hq}x{'1' if ragged is not None else '?'}xf32>"
    lse = "lse" in extra
    kq, vq = quant_of(extra)
    kpool = pool.replace(f"x{dtype}>", f"x{kq[0]}>") if kq else pool
    vpool = pool.replace(f"x{dtype}>", f"x{vq[0]}>") if vq else pool
    ins = [f"%q: {qt}", f"%k: {kpool}", f"%v: {vpool}"]
    if "kasv" in extra:
        ins.pop()
    if layout != "plain":
        ins.append("%lens: tensor<?xi32>")
    if layout not in ("dense", "plain"):
        ins.append("%table: tensor<?x?xi32>")
    dims = {"nhd": ["?", ps, hkv, d], "hnd": ["?", hkv, ps, d]}.get(
        layout, ["?", hkv, "?", d])

    def scale_type(fmt):
        shp = scale_shape([9999 if x == "?" else x for x in dims], fmt[1],
                          layout)
        txt = "x".join("?" if x == 9999 else str(x) for x in shp)
        return f"tensor<{txt}x{fmt[2]}>"
    qclause = ""
    if kq:
        ins.append(f"%ks: {scale_type(kq)}")
        qclause += f" key_scale(%ks : {scale_type(kq)})"
    if vq:
        ins.append(f"%vs: {scale_type(vq)}")
        qclause += f" value_scale(%vs : {scale_type(vq)})"
    if ragged is not None:
        ins.append("%indptr: tensor<?xi32>")
        qclause += " qo_indptr(%indptr : tensor<?xi32>)"
        if ragged == "plan":
            ins.append("%plan: tensor<2x?xi32>")
            qclause += " plan(%plan : tensor<2x?xi32>)"
    res = [qt] + ([st] if lse else [])
    dyn = "%b" if ragged is not None else "%b, %l"
    lines = [f"func.func @{name}({', '.join(ins)}) -> ({', '.join(res)}) {{",
             "  %c0 = arith.constant 0 : index",
             "  %c2 = arith.constant 2 : index",
             f"  %b = tensor.dim %q, %c0 : {qt}",
             f"  %l = tensor.dim %q, %c2 : {qt}",
             f"  %o0 = tensor.empty({dyn}) : {qt}"]
    outs, otypes = ["%o0"], [qt]
    if lse:
        lines.append(f"  %s0 = tensor.empty({dyn}) : {st}")
        outs.append("%s0")
        otypes.append(st)
    clause = "kv_lens(%lens : tensor<?xi32>)" if layout != "plain" else ""
    if layout not in ("dense", "plain"):
        clause += " pages(%table : tensor<?x?xi32>)"
        if layout == "hnd":
            clause += " page_layout(hnd)"
    head = "causal " if causal else ""
    if rope_of(extra) is not None:
        head += rope_attr(rope_of(extra))
    res_names = "%o" + (", %s" if lse else "")
    vname = "%k" if "kasv" in extra else "%v"
    lines.append(f"  {res_names} = attn.attention {head}ins(%q, %k, {vname} : {qt}, "
                 f"{kpool}, {vpool}) {clause}{qclause} outs({', '.join(outs)} : "
                 f"{', '.join(otypes)})")
    if "score" in extra:
        # A bias by logical key position: -0.01 j.
        lines += ["    score {",
                  "    ^bb0(%s: f32, %bb: index, %h: index, %i: index, %j: index):",
                  "      %ji = arith.index_cast %j : index to i32",
                  "      %jf = arith.sitofp %ji : i32 to f32",
                  "      %c = arith.constant -0.01 : f32",
                  "      %t = arith.mulf %jf, %c : f32",
                  "      %r = arith.addf %s, %t : f32",
                  "      attn.yield %r : f32",
                  "    }"]
    if "mask" in extra:
        # A window on logical positions: key j visible iff j >= 3 * i.
        lines += ["    mask {",
                  "    ^bb0(%bb: index, %h: index, %i: index, %j: index):",
                  "      %c3 = arith.constant 3 : index",
                  "      %t = arith.muli %i, %c3 : index",
                  "      %r = arith.cmpi sge, %j, %t : index",
                  "      attn.yield %r : i1",
                  "    }"]
    if "sinkwin" in extra:
        # Four sink keys and the keys from i + 40 on (logical positions).
        lines += ["    mask {",
                  "    ^bb0(%bb: index, %h: index, %i: index, %j: index):",
                  "      %c4 = arith.constant 4 : index",
                  "      %c40 = arith.constant 40 : index",
                  "      %a = arith.cmpi slt, %j, %c4 : index",
                  "      %t = arith.addi %i, %c40 : index",
                  "      %w = arith.cmpi sge, %j, %t : index",
                  "      %r = arith.ori %a, %w : i1",
                  "      attn.yield %r : i1",
                  "    }"]
    if "rms" in extra:
        lines.append("    rms_norm(1.0e-6)")
    lines.append(f"    -> {', '.join(otypes)}")
    lines.append(f"  return {res_names} : {', '.join(res)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def build_case(cfg):
    """Inputs (saved arrays), and the float64 logical K, V per request."""
    dtype, layout, ps, hq, hkv, d, lq, lens, causal, extra = cfg
    bsz = len(lens)
    q_s, q = quantize(rng.standard_normal((bsz, hq, lq, d)), dtype)
    lens_a = np.array(lens, dtype=np.int32)
    kq, vq = quant_of(extra)
    scales = []

    def cache(shape, fmt):
        """A K or V operand: float, or quantized (codes; scale appended)."""
        # Channels of different magnitudes, as real keys have.
        x = rng.standard_normal(shape) * rng.uniform(0.2, 3.0, shape[-1])
        if not fmt:
            return quantize(x, dtype)
        codes, s_save, vals = quantize_cache(x, fmt, layout, dtype)
        scales.append(s_save)
        return codes, vals

    def with_scales(ins):
        return ins + scales
    if kq or vq:
        if layout == "plain":
            k_s, k = cache((bsz, hkv, lens[0], d), kq)
            v_s, v = cache((bsz, hkv, lens[0], d), vq)
            return with_scales([q_s, k_s, v_s]), q, [(k[b], v[b])
                                                     for b in range(bsz)]
        if layout == "dense":
            lmax = max(lens) + 3
            k_s, k = cache((bsz, hkv, lmax, d), kq)
            v_s, v = cache((bsz, hkv, lmax, d), vq)
            logical = [(k[b, :, :lens[b]], v[b, :, :lens[b]])
                       for b in range(bsz)]
            return with_scales([q_s, k_s, v_s, lens_a]), q, logical
    if layout == "plain":
        k_s, k = quantize(rng.standard_normal((bsz, hkv, lens[0], d)), dtype)
        v_s, v = quantize(rng.standard_normal((bsz, hkv, lens[0], d)), dtype)
        if "kasv" in extra:
            return [q_s, k_s], q, [(k[b], k[b]) for b in range(bsz)]
        logical = [(k[b], v[b]) for b in range(bsz)]
        return [q_s, k_s, v_s], q, logical
    if layout == "dense":
        lmax = max(lens) + 3
        k_s, k = quantize(rng.standard_normal((bsz, hkv, lmax, d)), dtype)
        v_s, v = quantize(rng.standard_normal((bsz, hkv, lmax, d)), dtype)
        logical = [(k[b, :, :lens[b]], v[b, :, :lens[b]]) for b in range(bsz)]
        return [q_s, k_s, v_s, lens_a], q, logical
    npages = [(n + ps - 1) // ps for n in lens]
    # Requests 0 and 1 share their first page when both fill it (a prefix).
    shared = min(npages[0], npages[1]) if bsz > 1 else 0
    shared = 1 if shared and lens[0] >= ps and lens[1] >= ps else 0
    total = sum(npages) - shared + 2  # two pages nobody uses
    perm = rng.permutation(total)
    maxp = max(npages) + 2
    table = np.full((bsz, maxp), -7, dtype=np.int32)
    table[:, -1] = 10**6
    nxt = 0
    for b in range(bsz):
        for c in range(npages[b]):
            if b == 1 and c < shared:
                table[b, c] = table[0, c]
                continue
            table[b, c] = perm[nxt]
            nxt += 1
    shape = (total, ps, hkv, d) if layout == "nhd" else (total, hkv, ps, d)
    if kq or vq:
        k_s, k = cache(shape, kq)
        v_s, v = cache(shape, vq)
    else:
        k_s, k = quantize(rng.standard_normal(shape), dtype)
        v_s, v = quantize(rng.standard_normal(shape), dtype)
    logical = []
    for b in range(bsz):
        ks, vs = [], []
        for j in range(lens[b]):
            pg, r = table[b, j // ps], j % ps
            if layout == "nhd":
                ks.append(k[pg, r]), vs.append(v[pg, r])
            else:
                ks.append(k[pg, :, r]), vs.append(v[pg, :, r])
        kb = np.stack(ks, 1) if ks else np.zeros((hkv, 0, d))
        vb = np.stack(vs, 1) if vs else np.zeros((hkv, 0, d))
        logical.append((kb, vb))
    return [q_s, k_s, v_s, lens_a, table] + scales, q, logical


def reference(cfg, q, logical):
    dtype, layout, ps, hq, hkv, d, lq, lens, causal, extra = cfg
    bsz = len(lens)
    out = np.zeros((bsz, hq, lq, d))
    lse = np.full((bsz, hq, lq), -np.inf)
    scale = 1.0 / np.sqrt(d)
    rope = rope_of(extra)
    for b in range(bsz):
        kb, vb = logical[b]
        n = lens[b]
        j = np.arange(n)
        qb = q[b]
        if rope is not None:
            kb = rotate(kb, j, rope, dtype)
            qb = rotate(qb, np.arange(lq) + n - lq, rope, dtype)
        for h in range(hq):
            g = h // (hq // hkv)
            for i in range(lq):
                s = scale * (kb[g] @ qb[h, i]) if n else np.zeros(0)
                vis = np.ones(n, bool)
                if causal:
                    vis &= j <= i + n - lq
                if "score" in extra:
                    s = s - 0.01 * j
                if "mask" in extra:
                    vis &= j >= 3 * i
                if "sinkwin" in extra:
                    vis &= (j < 4) | (j >= i + 40)
                if not vis.any():
                    continue
                m = s[vis].max()
                w = np.exp(s[vis] - m)
                out[b, h, i] = w @ vb[g][vis] / w.sum()
                if "rms" in extra:  # o / sqrt(mean(o^2) + eps)
                    out[b, h, i] /= np.sqrt((out[b, h, i] ** 2).mean() + 1e-6)
                lse[b, h, i] = m + np.log(w.sum())
    return out, lse


# Ragged batches (qo_indptr): per request a chunk of lqs[b] queries (0: no
# query, 1: a decode step) against its lens[b] keys, packed [T, hq, 1, d].
# (dtype, layout, ps, hq, hkv, d, lqs, lens, causal, extras, plan, D) with
# plan "plan" (attnrt's order, computed here from its definition),
# "reversed" (any order that lists the chunks before the decode steps is a
# valid plan: here each kind in reverse batch order) or "" (no plan
# argument), and D
# the work items of a decode request (hkv when the kernel packs a group's
# heads, hq when a region reads the head or row).
RAGGED = {
    "ragged_mixed_nhd16_f16": (
        "f16", "nhd", 16, 8, 2, 64, [1, 70, 0, 1, 5, 1],
        [37, 150, 0, 1, 3, 300], True, ("lse",), "plan", 2),
    "ragged_regions_hnd1_bf16": (
        "bf16", "hnd", 1, 6, 3, 32, [3, 1, 65], [40, 9, 65], True,
        ("score", "mask", "lse"), "reversed", 6),
    "ragged_dense_lens_mqa_f32": (
        "f32", "dense", 0, 4, 1, 32, [2, 1, 0, 66], [10, 50, 5, 130], True,
        ("lse",), "", 1),
    "ragged_noncausal_hnd16_f16": (
        "f16", "hnd", 16, 4, 2, 32, [4, 1, 7], [20, 16, 7], False,
        ("lse",), "plan", 2),
    "ragged_sinkwin_nhd16_f32": (
        "f32", "nhd", 16, 4, 2, 32, [70, 1, 2], [150, 75, 46], True,
        ("sinkwin", "lse"), "plan", 4),
    "ragged_rope_nhd16_f32": (
        "f32", "nhd", 16, 8, 2, 64, [1, 17, 1], [33, 100, 1], True,
        ("lse", {"theta": 500000.0}), "plan", 2),
    # rms_norm: not tiled through the pages on the CPU, so the portable
    # per-token form runs there too.
    "ragged_rms_norm_dense_f32": (
        "f32", "dense", 0, 4, 2, 16, [1, 5, 1], [5, 20, 3], True,
        ("rms",), "", 2),
    "ragged_q_int8_nhd16_f16": (
        "f16", "nhd", 16, 8, 2, 64, [1, 1, 40], [50, 0, 60], True,
        ("lse", ("quant", ("i8", "token", "f32"), ("i8", "token", "f32"))),
        "", 2),
}

RAGGED_ROWS = 64


def ragged_plan(lqs, lens, heads, dec, order=None):
    """The plan of docs/serving.md: requests by the cost of one item
    (rows x (keys + 1)), longest first, ties in batch order; then each
    request's first item."""
    def items(lq):
        return 0 if lq == 0 else dec if lq == 1 else \
            heads * -(-lq // RAGGED_ROWS)

    def cost(b):
        lq = lqs[b]
        rows = heads // dec if lq == 1 else min(lq, RAGGED_ROWS)
        return rows * (lens[b] + 1)

    def kind(b):  # chunks, then decode steps, then idle requests
        return 0 if lqs[b] >= 2 else 1 if lqs[b] == 1 else 2
    n = len(lqs)
    if order is None:
        order = sorted(range(n), key=lambda b: (kind(b), -cost(b), b))
    plan = np.zeros((2, n + 1), np.int32)
    plan[0, :n] = order
    plan[0, n] = RAGGED_ROWS
    first = 0
    for k, b in enumerate(order):
        plan[1, k] = first
        first += items(lqs[b])
    plan[1, n] = first
    return plan


def ragged_case(name):
    """(mlir, inputs, want_o, want_lse) of a ragged configuration."""
    (dtype, layout, ps, hq, hkv, d, lqs, lens, causal, extra, plan,
     dec) = RAGGED[name]
    cfg = (dtype, layout, ps, hq, hkv, d, 1, lens, causal, extra)
    inputs, _, logical = build_case(cfg)
    indptr = np.concatenate([[0], np.cumsum(lqs)]).astype(np.int32)
    tokens = int(indptr[-1])
    q_s, q = quantize(rng.standard_normal((tokens, hq, 1, d)), dtype)
    inputs[0] = q_s
    inputs.append(indptr)
    if plan:
        order = sorted(range(len(lqs)), key=lambda b: (
            lqs[b] < 2, -b)) if plan == "reversed" else None
        inputs.append(ragged_plan(lqs, lens, hq, dec, order))
    want_o = np.zeros((tokens, hq, 1, d))
    want_l = np.full((tokens, hq, 1), -np.inf)
    for b, lq in enumerate(lqs):
        if lq == 0:
            continue
        t0 = indptr[b]
        qb = q[t0:t0 + lq, :, 0].transpose(1, 0, 2)[None]
        cb = (dtype, layout, ps, hq, hkv, d, lq, [lens[b]], causal, extra)
        o, l = reference(cb, qb, [logical[b]])
        want_o[t0:t0 + lq, :, 0] = o[0].transpose(1, 0, 2)
        want_l[t0:t0 + lq, :, 0] = l[0].T
    return (mlir_for(name, cfg, ragged="plan" if plan else ""), inputs,
            want_o, want_l)


def check_ragged():
    global failed
    names = list(RAGGED) if args.configs == "all" else args.configs.split(",")
    for name in names:
        text, inputs, want_o, want_l = ragged_case(name)
        src = os.path.join(args.workdir, f"ragged_{name}.mlir")
        with open(src, "w") as f:
            f.write(text)
        lse = "lse" in RAGGED[name][9]
        for backend in args.backends.split(","):
            tol = tensor_core_tol(backend, TOL[RAGGED[name][0]])
            r, outs = run(src, name, backend, inputs, 2 if lse else 1)
            if r.returncode:
                failed = True
                print(f"FAIL {name} {backend}: {r.stderr.strip()}")
                continue
            report(f"{name} {backend} output", load(outs[0], RAGGED[name][0]),
                   want_o, tol)
            if lse:
                report(f"{name} {backend} lse", np.load(outs[1]).astype(
                    np.float64), want_l, tol)


def check_ragged_errors():
    """Bad pointers and plans: run-time errors naming the argument."""
    global failed
    name = "ragged_mixed_nhd16_f16"
    text, inputs, _, _ = ragged_case(name)
    src = os.path.join(args.workdir, "ragged_errors.mlir")
    with open(src, "w") as f:
        f.write(text)
    ip, pl = len(inputs) - 2, len(inputs) - 1
    cases = []

    def bad(edit, what, message, reference=None):
        ins = [a.copy() for a in inputs]
        edit(ins)
        cases.append((what, ins, message, reference or message))
    bad(lambda x: x[ip].__setitem__(0, 1), "pointer not at 0",
        "qo_indptr[0] is 1, expected 0")
    bad(lambda x: x[ip].__setitem__(3, 0), "decreasing pointer",
        "qo_indptr[3] is 0, below the entry before it")
    bad(lambda x: x[ip].__setitem__(6, 77), "pointer past the tokens",
        "the last qo_indptr entry is 77, not the 78 query tokens")
    bad(lambda x: x[pl].__setitem__((0, 1), x[pl][0, 0]), "plan repeats",
        "a request listed twice", "not a request listed once")
    bad(lambda x: x[pl].__setitem__((1, 2), x[pl][1, 2] + 1),
        "plan for another batch", "(the plan was made for another batch)",
        "plan[1, 2] is")
    lqs, lens = RAGGED[name][6], RAGGED[name][7]
    bad(lambda x: x.__setitem__(pl, ragged_plan(lqs, lens, 8, 2,
                                                list(range(len(lqs))))),
        "a chunk after a decode step",
        "plan[0, 1] is request 1, a chunk of 70 queries after a decode step",
        "plan[0, 1] is request 1, a chunk after a decode step")
    bad(lambda x: x[pl].__setitem__((0, 6), 32), "not a plan",
        "not a plan from attnrt_plan_ragged", "the plan is not one of")
    for what, ins, message, ref_message in cases:
        for backend in args.backends.split(","):
            r, _ = run(src, name, backend, ins, 2)
            where = "error: input " if backend != "reference" else \
                "'attn.attention' op "
            want = ref_message if backend == "reference" else message
            ok = r.returncode > 0 and want in r.stderr and where in r.stderr
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} {what} {backend}: "
                  f"rc {r.returncode}: {r.stderr.strip()[:200]}")


def run(src, fn, backend, inputs, nout):
    paths = []
    for k, a in enumerate(inputs):
        path = os.path.join(args.workdir, f"{fn}_in{k}.npy")
        np.save(path, a)
        paths.append("--input=@" + path)
    outs = [os.path.join(args.workdir, f"{fn}_{backend}_{k}.npy")
            for k in range(nout)]
    cmd = [args.attn_run, src, "--function=" + fn, "--backend=" + backend]
    cmd += paths + ["--output=@" + o for o in outs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r, outs


def report(what, got, want, tol):
    """check_attention's criterion (relative, -inf rows exact)."""
    global failed
    failed |= not compare(what, got, want, tol)


def check_values():
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    for name in names:
        # One module per configuration: attn-run compiles its whole module.
        src = os.path.join(args.workdir, f"paged_{name}.mlir")
        with open(src, "w") as f:
            f.write(mlir_for(name, CONFIGS[name]))
        cfg = CONFIGS[name]
        inputs, q, logical = build_case(cfg)
        want_o, want_l = reference(cfg, q, logical)
        lse = "lse" in cfg[9]
        for backend in args.backends.split(","):
            tol = tensor_core_tol(backend, TOL[cfg[0]])
            r, outs = run(src, name, backend, inputs, 2 if lse else 1)
            if r.returncode:
                global failed
                failed = True
                print(f"FAIL {name} {backend}: {r.stderr.strip()}")
                continue
            report(f"{name} {backend} output", load(outs[0], cfg[0]), want_o,
                   tol)
            if lse:
                report(f"{name} {backend} lse", np.load(outs[1]).astype(
                    np.float64), want_l, tol)


def check_errors():
    """Bad tables and lengths: a non-zero exit and a message naming the
    argument, on every backend, never a crash or a read out of the pool."""
    global failed
    name = "decode_nhd16_f32"
    cfg = CONFIGS[name]
    src = os.path.join(args.workdir, "paged_errors.mlir")
    with open(src, "w") as f:
        f.write(mlir_for(name, cfg))
        f.write(mlir_for("dense_lens_f32", CONFIGS["dense_lens_f32"]))
        f.write(mlir_for("q_int8_token_decode_nhd16_f16",
                         CONFIGS["q_int8_token_decode_nhd16_f16"]))
    inputs, _, _ = build_case(cfg)
    pages = inputs[1].shape[0]
    cases = []
    bad = [a.copy() for a in inputs]
    bad[4][2, 1] = pages  # request 2 (37 keys) uses pages 0..2
    cases.append(("entry past the pool", name, bad,
                  f"page table entry [2, 1] is {pages}, outside the"))
    bad = [a.copy() for a in inputs]
    bad[4][3, 0] = -1
    cases.append(("negative entry", name, bad,
                  "page table entry [3, 0] is -1, outside the"))
    bad = [a.copy() for a in inputs]
    cap = bad[4].shape[1] * 16
    bad[3][1] = cap + 1
    cases.append(("length past the table", name, bad,
                  f"key length {cap + 1} of request 1 is outside [0, {cap}]"))
    bad = [a.copy() for a in inputs]
    bad[3][0] = -3
    cases.append(("negative length", name, bad,
                  "key length -3 of request 0 is outside [0, "))
    dense, _, _ = build_case(CONFIGS["dense_lens_f32"])
    dense[3][2] = dense[1].shape[2] + 1
    cases.append(("dense length past the keys", "dense_lens_f32", dense,
                  f"key length {dense[1].shape[2] + 1} of request 2 "
                  f"is outside [0, {dense[1].shape[2]}]"))
    # A per-token scale pool with a page fewer than the key pool: checked
    # (its dim 0 shares the pool's symbol), never read past its end.
    quant, _, _ = build_case(CONFIGS["q_int8_token_decode_nhd16_f16"])
    pages = quant[1].shape[0]
    quant[5] = quant[5][:-1]
    cases.append(("scale pool short of a page", "q_int8_token_decode_nhd16_f16",
                  quant, f"dim 0 is {pages - 1} but must equal dim 0 of "
                  f"input 1, which is {pages}"))
    for what, fn, ins, message in cases:
        for backend in args.backends.split(","):
            r, _ = run(src, fn, backend, ins, 2)
            # The runtime names the argument ("input 4: ..."); the
            # reference interpreter points at the op.
            where = "error: input " if backend != "reference" else \
                "'attn.attention' op "
            want = message
            if backend == "reference" and what.startswith("scale"):
                want = "does not fit the quantized operand"
            ok = r.returncode > 0 and want in r.stderr and \
                where in r.stderr
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} {what} {backend}: "
                  f"rc {r.returncode}: {r.stderr.strip()[:200]}")
    # Garbage past every request's pages is never read: a clean run.
    for backend in args.backends.split(","):
        r, _ = run(src, name, backend, inputs, 2)
        ok = r.returncode == 0
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} unused garbage entries {backend}: "
              f"rc {r.returncode} {r.stderr.strip()[:200]}")


def append_mlir(name, layout, ps, hkv, d, src, dst):
    pool = (f"tensor<?x{ps}x{hkv}x{d}x{dst}>" if layout == "nhd" else
            f"tensor<?x{hkv}x{ps}x{d}x{dst}>")
    rows = f"tensor<?x{hkv}x{d}x{src}>"
    lay = " page_layout(hnd)" if layout == "hnd" else ""
    return (f"func.func @{name}(%k: {rows}, %v: {rows}, %s: tensor<?xi32>, "
            f"%kp: {pool}, %vp: {pool}) -> ({pool}, {pool}) {{\n"
            f"  %a, %b = attn.append_kv ins(%k, %v : {rows}, {rows}) "
            f"slots(%s : tensor<?xi32>){lay} outs(%kp, %vp : {pool}, {pool}) "
            f"-> {pool}, {pool}\n"
            f"  return %a, %b : {pool}, {pool}\n}}\n")


# name: input dtype, code type, scale granularity (as for the caches, on
#       [T, H, D] rows: "row" = per token and head), scale type, given scale
QUANTIZE = {
    "qz_int8_row_f32": ("f32", "i8", "row", "f32", None),
    "qz_int8_channel_f32": ("f32", "i8", "channel", "f32", None),
    "qz_q8_0_f16": ("f16", "i8", "block32", "f16", None),
    "qz_int8_row_bf16": ("bf16", "i8", "row", "bf16", None),
    "qz_fp8e4m3_tensor_f32": ("f32", "f8E4M3FN", "tensor", "f32", None),
    "qz_fp8e5m2_row_f32": ("f32", "f8E5M2", "row", "f32", None),
    # vLLM's calibrated per-tensor scale, small enough that some values
    # saturate.
    "qz_fp8e4m3_given_f32": ("f32", "f8E4M3FN", "tensor", "f32", 0.004),
    "qz_int8_given_f16": ("f16", "i8", "tensor", "f32", 0.01),
}


def quantize_rows_shape(shape, gran):
    t, h, d = shape
    return {"row": ("?", h, 1), "channel": (1, h, d), "tensor": (1, 1, 1),
            "block32": ("?", h, d // 32)}[gran]


def check_quantize():
    """attn.quantize_kv against NumPy's quantization from the definition:
    scales equal (to the scale type), codes equal but for ties that f32
    division may break differently (at most one code step, rarely)."""
    global failed
    src = os.path.join(args.workdir, "quantize.mlir")
    t, h, d = 13, 3, 64
    with open(src, "w") as f:
        for name, (dt, code, gran, st, given) in QUANTIZE.items():
            xt = f"tensor<?x{h}x{d}x{dt}>"
            ct = f"tensor<?x{h}x{d}x{code}>"
            sshape = quantize_rows_shape((t, h, d), gran)
            stt = "tensor<" + "x".join(map(str, sshape)) + f"x{st}>"
            dyn = "%n" if sshape[0] == "?" else ""
            if given is None:
                f.write(f"func.func @{name}(%x: {xt}) -> ({ct}, {stt}) {{\n"
                        f"  %c0 = arith.constant 0 : index\n"
                        f"  %n = tensor.dim %x, %c0 : {xt}\n"
                        f"  %q0 = tensor.empty(%n) : {ct}\n"
                        f"  %s0 = tensor.empty({dyn}) : {stt}\n"
                        f"  %q, %s = attn.quantize_kv ins(%x : {xt}) outs(%q0, %s0 : "
                        f"{ct}, {stt}) -> {ct}, {stt}\n"
                        f"  return %q, %s : {ct}, {stt}\n}}\n")
            else:
                f.write(f"func.func @{name}(%x: {xt}, %s: {stt}) -> {ct} {{\n"
                        f"  %c0 = arith.constant 0 : index\n"
                        f"  %n = tensor.dim %x, %c0 : {xt}\n"
                        f"  %q0 = tensor.empty(%n) : {ct}\n"
                        f"  %q = attn.quantize_kv ins(%x : {xt}) scale(%s : {stt}) "
                        f"outs(%q0 : {ct}) -> {ct}\n"
                        f"  return %q : {ct}\n}}\n")
    for name, (dt, code, gran, st, given) in QUANTIZE.items():
        x = rng.standard_normal((t, h, d)) * rng.uniform(0.1, 4.0, d)
        x[3] = 0.0  # a token of zeros: scale 0, codes 0
        x_s, xv = quantize(x, dt)
        sshape = tuple(t if e == "?" else e for e in
                       quantize_rows_shape((t, h, d), gran))
        groups = [x.shape[k] // sshape[k] for k in range(3)]
        blocked = xv.reshape(sshape[0], groups[0], sshape[1], groups[1],
                             sshape[2], groups[2])
        if given is None:
            amax = np.abs(blocked).max(axis=(1, 3, 5))
            s_save, s = quantize(amax / QMAX[code], st)
            ins = [x_s]
        else:
            s_save, s = quantize(np.full(sshape, given), st)
            ins = [x_s, s_save]
        sb = s.reshape(sshape[0], 1, sshape[1], 1, sshape[2], 1)
        # x / s in f32, as the kernels divide (float64 division, as in the
        # reference interpreter, may round a near-tie the other way).
        y = np.where(sb == 0, 0.0, (blocked.astype(np.float32) / np.where(
            sb == 0, 1, sb).astype(np.float32)).astype(np.float64))
        y = np.clip(y, -QMAX[code], QMAX[code]).reshape(x.shape)
        want = encode(y, code)[1]
        for backend in args.backends.split(","):
            r, outs = run(src, name, backend, ins, 1 if given else 2)
            if r.returncode:
                failed = True
                print(f"FAIL {name} {backend}: {r.stderr.strip()[:300]}")
                continue
            got = np.load(outs[0])
            got = (got.astype(np.float64) if code == "i8"
                   else fp8_table(code)[got])
            # One code step at most where f32 and float64 division round a
            # near-tie differently.
            step = np.abs(want) * (2.0 ** -(3 if code == "f8E4M3FN" else 2)) \
                if code != "i8" else np.ones_like(want)
            step = np.maximum(step, 2.0 ** -9 if code == "f8E4M3FN" else
                              2.0 ** -16 if code == "f8E5M2" else 1.0)
            diff = np.abs(got - want)
            off = int((diff > 0).sum())
            ok = bool((diff <= step * 1.0001).all()) and off <= want.size // 100
            msg = f"codes: {off} of {want.size} one step off"
            if given is None:
                gs = load(outs[1], st)
                ok &= bool(np.allclose(gs, s.reshape(gs.shape), rtol=1e-6,
                                       atol=0))
                msg += f", scales max_rel_err={np.max(np.abs(gs - s.reshape(gs.shape)) / np.maximum(np.abs(s.reshape(gs.shape)), 1e-30)):.3g}"
            if given is not None:
                msg += f", {int((np.abs(want) == QMAX[code]).sum())} saturated"
            failed |= not ok
            print(f"{name} {backend} {msg} {'ok' if ok else 'FAIL'}")


def check_quant_step(src):
    """The int8 decode step: the new rows quantized per token and head
    into their slots (codes and scales), every other row unchanged, and
    the attention over the dequantized cache."""
    global failed
    bsz, hq, hkv, d, ps, pages = 3, 32, 8, 128, 16, 9
    lens = np.array([1, 20, 37], np.int32)
    q = rng.standard_normal((bsz, hq, 1, d)).astype(np.float16)
    k_new = rng.standard_normal((bsz, hkv, d)).astype(np.float32)
    v_new = rng.standard_normal((bsz, hkv, d)).astype(np.float32)
    kp = rng.integers(-127, 128, (pages, ps, hkv, d)).astype(np.int8)
    vp = rng.integers(-127, 128, (pages, ps, hkv, d)).astype(np.int8)
    ksp = rng.uniform(0.001, 0.03, (pages, ps, hkv, 1)).astype(np.float32)
    vsp = rng.uniform(0.001, 0.03, (pages, ps, hkv, 1)).astype(np.float32)
    table = np.full((bsz, 4), -1, np.int32)
    perm = rng.permutation(pages)
    table[0, 0] = perm[0]
    table[1, :2] = perm[1:3]
    table[2, :3] = perm[3:6]
    slots = np.array([table[b, (n - 1) // ps] * ps + (n - 1) % ps
                      for b, n in enumerate(lens)], np.int32)
    want = [kp.copy(), vp.copy(), ksp.copy(), vsp.copy()]
    for b in range(bsz):
        pg, r = slots[b] // ps, slots[b] % ps
        for new, codes, scales in ((k_new, want[0], want[2]),
                                   (v_new, want[1], want[3])):
            s = np.abs(new[b]).max(axis=1, keepdims=True) / 127.0
            s = s.astype(np.float32)
            codes[pg, r] = np.rint(new[b] / s).astype(np.int8)
            scales[pg, r] = s
    out = np.zeros((bsz, hq, 1, d))
    for b in range(bsz):
        n = lens[b]
        rows = [(table[b, j // ps], j % ps) for j in range(n)]
        kk = np.stack([want[0][p_, r_].astype(np.float64) * want[2][p_, r_]
                       for p_, r_ in rows], 1)
        vv = np.stack([want[1][p_, r_].astype(np.float64) * want[3][p_, r_]
                       for p_, r_ in rows], 1)
        # Dequantized into the query's type (f16).
        kk, vv = kk.astype(np.float16).astype(np.float64), \
            vv.astype(np.float16).astype(np.float64)
        for h in range(hq):
            g = h // (hq // hkv)
            s = kk[g] @ q[b, h, 0].astype(np.float64) / np.sqrt(d)
            w = np.exp(s - s.max())
            out[b, h, 0] = w @ vv[g] / w.sum()
    for backend in args.backends.split(","):
        ins = [q, k_new, v_new, slots, kp, vp, ksp, vsp, lens, table]
        r, outs = run(src, "main", backend, ins, 5)
        if r.returncode:
            failed = True
            print(f"FAIL quant step {backend}: {r.stderr.strip()[:300]}")
            continue
        report(f"quant step {backend} output", np.load(outs[0]).astype(
            np.float64), out, 2e-3)
        for k, what in enumerate(["key codes", "value codes", "key scales",
                                  "value scales"]):
            got = np.load(outs[k + 1])
            diff = np.abs(got.astype(np.float64) - want[k].astype(np.float64))
            tol = 1.0 if k < 2 else 1e-6 * np.abs(want[k]).max()
            ok = bool((diff <= tol).all()) and int((diff > 0).sum()) <= 2
            failed |= not ok
            print(f"quant step {backend} {what}: {int((diff > 0).sum())} "
                  f"differ {'ok' if ok else 'FAIL'}")


def check_append():
    """New rows land in their slots (converted to the pool's type), padding
    slots write nothing, every other row keeps its value; a slot past the
    pool is a run-time error."""
    global failed
    src = os.path.join(args.workdir, "append.mlir")
    cases = [("append_nhd", "nhd", 16, 2, 32), ("append_hnd", "hnd", 4, 3, 8)]
    with open(src, "w") as f:
        for name, layout, ps, hkv, d in cases:
            f.write(append_mlir(name, layout, ps, hkv, d, "f32", "f16"))
    for name, layout, ps, hkv, d in cases:
        pages, tokens = 7, 11
        shape = (pages, ps, hkv, d) if layout == "nhd" else (pages, hkv, ps, d)
        kp = rng.standard_normal(shape).astype(np.float16)
        vp = rng.standard_normal(shape).astype(np.float16)
        k = rng.standard_normal((tokens, hkv, d)).astype(np.float32)
        v = rng.standard_normal((tokens, hkv, d)).astype(np.float32)
        slots = rng.choice(pages * ps, size=tokens, replace=False).astype(np.int32)
        slots[[2, 7]] = [-1, -5]  # padding
        want_k, want_v = kp.copy(), vp.copy()
        for t, s in enumerate(slots):
            if s < 0:
                continue
            at = (s // ps, s % ps) if layout == "nhd" else (s // ps, slice(None), s % ps)
            want_k[at] = k[t].astype(np.float16)
            want_v[at] = v[t].astype(np.float16)
        for backend in args.backends.split(","):
            r, outs = run(src, name, backend, [k, v, slots, kp, vp], 2)
            if r.returncode:
                failed = True
                print(f"FAIL {name} {backend}: {r.stderr.strip()}")
                continue
            for what, o, want in (("keys", outs[0], want_k), ("values", outs[1], want_v)):
                got = np.load(o)
                ok = got.dtype == np.float16 and np.array_equal(got, want)
                failed |= not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name} {backend} {what}: "
                      f"{int((got != want).sum())} elements differ")
            bad = slots.copy()
            bad[4] = pages * ps
            r, _ = run(src, name, backend, [k, v, bad, kp, vp], 2)
            msg = f"slot {pages * ps} of token 4 is past the"
            ok = r.returncode > 0 and msg in r.stderr
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name} {backend} bad slot: "
                  f"rc {r.returncode}: {r.stderr.strip()[:160]}")


def step_table(lens, ps):
    """A shuffled pool of the requests' pages and three unused ones, and its
    block table (-3 past each request's pages)."""
    npages = [(n + ps - 1) // ps for n in lens]
    total = sum(npages) + 3
    perm = rng.permutation(total)
    table = np.full((len(lens), max(npages) + 1), -3, dtype=np.int32)
    nxt = 0
    for b in range(len(lens)):
        for c in range(npages[b]):
            table[b, c] = perm[nxt]
            nxt += 1
    return total, table


def check_decode_step(src):
    """examples/serving/decode_step.mlir: append each request's new row,
    then attend over its pages (f16 pools, GQA 32:8, D = 128, pages of 16);
    one request is padding (slot -1, no new key) and one is empty."""
    global failed
    hq, hkv, d, ps = 32, 8, 128, 16
    lens = [37, 1, 0, 16, 17, 200]
    bsz = len(lens)
    total, table = step_table(lens, ps)
    kp = rng.standard_normal((total, ps, hkv, d)).astype(np.float16)
    vp = rng.standard_normal((total, ps, hkv, d)).astype(np.float16)
    k_new = rng.standard_normal((bsz, hkv, d)).astype(np.float16)
    v_new = rng.standard_normal((bsz, hkv, d)).astype(np.float16)
    q = rng.standard_normal((bsz, hq, 1, d)).astype(np.float16)
    # The new token is each request's last key; request 1 is padding (its
    # one key is already cached), request 2 has none.
    slots = np.array([table[b, (n - 1) // ps] * ps + (n - 1) % ps if n else -1
                      for b, n in enumerate(lens)], dtype=np.int32)
    slots[1] = -1
    want_k, want_v = kp.copy(), vp.copy()
    for b, s in enumerate(slots):
        if s >= 0:
            want_k[s // ps, s % ps] = k_new[b]
            want_v[s // ps, s % ps] = v_new[b]
    logical = []
    for b in range(bsz):
        rows = [(table[b, j // ps], j % ps) for j in range(lens[b])]
        kb = np.stack([want_k[p_, r] for p_, r in rows], 1) if rows else np.zeros((hkv, 0, d))
        vb = np.stack([want_v[p_, r] for p_, r in rows], 1) if rows else np.zeros((hkv, 0, d))
        logical.append((kb.astype(np.float64), vb.astype(np.float64)))
    cfg = ("f16", "nhd", ps, hq, hkv, d, 1, lens, True, ())
    want_o, _ = reference(cfg, q.astype(np.float64), logical)
    for backend in args.backends.split(","):
        inputs = [q, k_new, v_new, slots, kp, vp, np.array(lens, np.int32), table]
        r, outs = run(src, "main", backend, inputs, 3)
        if r.returncode:
            failed = True
            print(f"FAIL decode_step {backend}: {r.stderr.strip()}")
            continue
        tol = tensor_core_tol(backend, 2e-5)
        report(f"decode_step {backend} output", np.load(outs[0]).astype(np.float64),
               want_o, tol)
        for what, o, want in (("keys", outs[1], want_k), ("values", outs[2], want_v)):
            got = np.load(o)
            ok = np.array_equal(got, want)
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} decode_step {backend} {what} pool: "
                  f"{int((got != want).sum())} elements differ")


def check_ragged_step(src):
    """examples/serving/ragged_step.mlir: one step of chunked prefill in one
    call: a prefill chunk of 70 tokens (a request's first), one of 5 (on a
    cached prefix), three decode steps and an idle request; every token's
    key/value row is appended in place, then each token attends causally to
    its request's cache (f16 pools, GQA 32:8, D = 128, pages of 16), with
    the runtime's plan."""
    global failed
    hq, hkv, d, ps = 32, 8, 128, 16
    lens = [70, 41, 1, 0, 200, 17]
    lqs = [70, 5, 1, 0, 1, 1]
    bsz = len(lens)
    total, table = step_table(lens, ps)
    indptr = np.concatenate([[0], np.cumsum(lqs)]).astype(np.int32)
    T = int(indptr[-1])
    kp = rng.standard_normal((total, ps, hkv, d)).astype(np.float16)
    vp = rng.standard_normal((total, ps, hkv, d)).astype(np.float16)
    k_new = rng.standard_normal((T, hkv, d)).astype(np.float16)
    v_new = rng.standard_normal((T, hkv, d)).astype(np.float16)
    q = rng.standard_normal((T, hq, d)).astype(np.float16)
    # Token i of request b's chunk is its key lens[b] - lqs[b] + i.
    slots = np.zeros(T, np.int32)
    for b in range(bsz):
        for i in range(lqs[b]):
            j = lens[b] - lqs[b] + i
            slots[indptr[b] + i] = table[b, j // ps] * ps + j % ps
    want_k, want_v = kp.copy(), vp.copy()
    for t, s in enumerate(slots):
        want_k[s // ps, s % ps] = k_new[t]
        want_v[s // ps, s % ps] = v_new[t]
    want_o = np.zeros((T, hq, d))
    for b in range(bsz):
        if not lqs[b]:
            continue
        rows = [(table[b, j // ps], j % ps) for j in range(lens[b])]
        kb = np.stack([want_k[p_, r] for p_, r in rows], 1).astype(np.float64)
        vb = np.stack([want_v[p_, r] for p_, r in rows], 1).astype(np.float64)
        t0, lq = indptr[b], lqs[b]
        cfg = ("f16", "nhd", ps, hq, hkv, d, lq, [lens[b]], True, ())
        qb = q[t0:t0 + lq].astype(np.float64).transpose(1, 0, 2)[None]
        o, _ = reference(cfg, qb, [(kb, vb)])
        want_o[t0:t0 + lq] = o[0].transpose(1, 0, 2)
    plan = ragged_plan(lqs, lens, hq, hkv)
    for backend in args.backends.split(","):
        inputs = [q, k_new, v_new, slots, kp, vp, np.array(lens, np.int32),
                  table, indptr, plan]
        r, outs = run(src, "main", backend, inputs, 3)
        if r.returncode:
            failed = True
            print(f"FAIL ragged_step {backend}: {r.stderr.strip()}")
            continue
        tol = tensor_core_tol(backend, 2e-5)
        report(f"ragged_step {backend} output",
               np.load(outs[0]).astype(np.float64), want_o, tol)
        for what, o, want in (("keys", outs[1], want_k),
                              ("values", outs[2], want_v)):
            got = np.load(o)
            ok = np.array_equal(got, want)
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} ragged_step {backend} {what} "
                  f"pool: {int((got != want).sum())} elements differ")


def check_cla(src):
    """Cross-layer attention: two layers' queries against one paged cache
    (f32, GQA 8:2, D = 64, pages of 16), a prefill chunk of 5 rows with
    requests of 5, 40 and 0 keys."""
    global failed
    cfg = ("f32", "nhd", 16, 8, 2, 64, 5, [5, 40, 0], True, ())
    inputs, qa, logical = build_case(cfg)
    qb_s, qb = quantize(rng.standard_normal(qa.shape), "f32")
    want_a, _ = reference(cfg, qa, logical)
    want_b, _ = reference(cfg, qb, logical)
    q_s, k_s, v_s, lens_a, table = inputs
    for backend in args.backends.split(","):
        r, outs = run(src, "main", backend, [q_s, qb_s, k_s, v_s, lens_a, table], 2)
        if r.returncode:
            failed = True
            print(f"FAIL cla {backend}: {r.stderr.strip()}")
            continue
        tol = tensor_core_tol(backend, 2e-5)
        report(f"cla {backend} layer a", load(outs[0], "f32"), want_a, tol)
        report(f"cla {backend} layer b", load(outs[1], "f32"), want_b, tol)


def check_rag(src):
    """examples/serving/block_attention_rag.mlir: passages attend causally
    within themselves, question tokens (block -1) to everything before
    them; q and k rotated (theta 5e5) at their positions in the prompt."""
    global failed
    bsz, hq, hkv, d = 2, 8, 2, 64
    # Three passages of uneven lengths then the question; the second
    # request has one passage and a one-token question.
    blocks = [[0] * 23 + [1] * 40 + [2] * 9 + [-1] * 17,
              [0] * 88 + [-1] * 1]
    L = len(blocks[0])
    assert all(len(x) == L for x in blocks)
    block = np.array(blocks, dtype=np.int32)
    q_s, q = quantize(rng.standard_normal((bsz, hq, L, d)), "bf16")
    k_s, k = quantize(rng.standard_normal((bsz, hkv, L, d)), "bf16")
    v_s, v = quantize(rng.standard_normal((bsz, hkv, L, d)), "bf16")
    rope = {"theta": 500000.0}
    pos = np.arange(L)
    want = np.zeros((bsz, hq, L, d))
    for b in range(bsz):
        qr = rotate(q[b], pos, rope, "bf16")
        kr = rotate(k[b], pos, rope, "bf16")
        for h in range(hq):
            g = h // (hq // hkv)
            s = (qr[h] @ kr[g].T) / np.sqrt(d)
            vis = (pos[None, :] <= pos[:, None]) & (
                (block[b][:, None] == block[b][None, :]) | (block[b][:, None] < 0))
            s = np.where(vis, s, -np.inf)
            w = np.exp(s - s.max(1, keepdims=True))
            want[b, h] = (w / w.sum(1, keepdims=True)) @ v[b, g]
    for backend in args.backends.split(","):
        r, outs = run(src, "main", backend, [q_s, k_s, v_s, block], 1)
        if r.returncode:
            failed = True
            print(f"FAIL rag {backend}: {r.stderr.strip()}")
            continue
        report(f"rag {backend}", load(outs[0], "bf16"), want,
               tensor_core_tol(backend, TOL["bf16"]))


if args.ragged_step:
    check_ragged_step(args.ragged_step)
elif args.ragged and args.errors:
    check_ragged_errors()
elif args.ragged:
    check_ragged()
elif args.quantize:
    check_quantize()
elif args.quant_step:
    check_quant_step(args.quant_step)
elif args.rag:
    check_rag(args.rag)
elif args.cla:
    check_cla(args.cla)
elif args.decode_step:
    check_decode_step(args.decode_step)
elif args.append:
    check_append()
elif args.errors:
    check_errors()
else:
    check_values()
print("FAILED" if failed else "all ok")
sys.exit(1 if failed else 0)
