"""A FlexAttention-style front end: attention variants as Python functions.

    def rel_bias(score, b, h, q_idx, kv_idx):
        return score + (q_idx - kv_idx)

    o = attn.attention(q, k, v, score_mod=rel_bias)

`score_mod(score, b, h, q_idx, kv_idx)` and `mask_mod(b, h, q_idx, kv_idx)`
have FlexAttention's signatures. They are traced (attn._trace) into the
`score` and `mask` regions of one `attn.attention` op; tensors they index
become extra arguments. The program's text is the key of an in-memory table
of compiled modules (and of the on-disk cache below it), so a mod is
compiled once per distinct program, not once per call.
"""

import threading

from . import _trace

_lock = threading.Lock()
_modules = {}  # (IR text, target, grad) -> attn.Module


def _tensor_type(x, what):
    rank = x.dim() if hasattr(x, "dim") else x.ndim
    if rank != 4:
        raise ValueError(f"attention: {what} must be [batch, heads, length, "
                         f"head_dim], got shape {tuple(x.shape)}")
    dtype = _trace._mlir_dtype(x.dtype, f"attention: {what}")
    if dtype not in ("f32", "f16", "bf16"):
        raise TypeError(f"attention: {what} must be float32, float16 or "
                        f"bfloat16, got {x.dtype}")
    return dtype


class _Program:
    """The traced program of one attention call."""

    def __init__(self, text, captures, has_sinks, return_lse):
        self.text = text
        self.captures = captures
        self.has_sinks = has_sinks
        self.return_lse = return_lse


def _trace_region(fn, args, types, captures, prefix, result_type, what):
    tracer = _trace.Tracer(captures, prefix)
    values = [tracer.arg(a, t) for a, t in zip(args, types)]
    try:
        r = fn(*values)
    except _trace.TracingError as e:
        raise _trace.TracingError(f"{what}: {e}") from None
    if r is None:
        raise _trace.TracingError(f"{what} returned None")
    v = tracer.lift(r) if not isinstance(r, _trace.Value) else r
    if result_type == "f32":
        v = tracer.float_(v)
    elif v.type != "i1":
        raise _trace.TracingError(
            f"{what} must return a boolean (a comparison), got a {v.type} "
            f"value")
    body = "\n".join("        " + line for line in tracer.lines)
    sig = ", ".join(f"{a}: {t}" for a, t in zip(args, types))
    return (f"{{\n      ^bb0({sig}):\n{body}\n"
            f"        attn.yield {v.name} : {result_type}\n      }}")


def _index_type(x, rank, what, shape):
    """Checks an int32 index tensor of `rank` (named `what`, described as
    `shape` in errors)."""
    if not hasattr(x, "shape") or len(x.shape) != rank:
        raise ValueError(f"attention: {what} must be an int32 {shape} "
                         f"tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if _trace._mlir_dtype(x.dtype, f"attention: {what}") != "i32":
        raise TypeError(f"attention: {what} must be int32, got {x.dtype}")


_ROPE_KEYS = {"style": str, "theta": float, "dims": int, "scaling": str,
              "factor": float, "original_context": int, "beta_fast": float,
              "beta_slow": float, "low_freq_factor": float,
              "high_freq_factor": float, "attention_factor": float}
_ROPE_WORDS = {"style": ("llama", "gptj"),
               "scaling": ("none", "linear", "ntk", "yarn", "llama3")}


def _rope_attr(rope):
    """The `rope <...>` clause of a dict of #attn.rope parameters
    (docs/serving.md); the compiler checks their values."""
    if rope is None:
        return ""
    if not isinstance(rope, dict):
        raise TypeError(f"attention: rope must be a dict of #attn.rope "
                        f"parameters, got {type(rope).__name__}")
    parts = []
    for key, val in rope.items():
        kind = _ROPE_KEYS.get(key)
        if kind is None:
            raise ValueError(f"attention: unknown rope parameter {key!r} "
                             f"(one of {', '.join(_ROPE_KEYS)})")
        if kind is str:
            if val not in _ROPE_WORDS[key]:
                raise ValueError(f"attention: rope {key} must be one of "
                                 f"{', '.join(_ROPE_WORDS[key])}, got {val!r}")
            parts.append(f"{key} = {val}")
        elif kind is int:
            if isinstance(val, bool) or not isinstance(val, int):
                raise TypeError(f"attention: rope {key} must be an int, got "
                                f"{val!r}")
            parts.append(f"{key} = {val}")
        else:
            if isinstance(val, bool) or not isinstance(val, (int, float)):
                raise TypeError(f"attention: rope {key} must be a number, "
                                f"got {val!r}")
            parts.append(f"{key} = {float(val)!r}")
    return "rope <" + ", ".join(parts) + "> "


# The 8-bit cache formats (kv_dtype) and their MLIR element types.
KV_DTYPES = {"int8": "i8", "fp8_e4m3": "f8E4M3FN", "fp8_e5m2": "f8E5M2"}


def _code_type(x, what, kv_dtype):
    """The MLIR element type of an 8-bit cache operand: int8 tensors hold
    int8 codes, uint8 ones fp8 codes (kv_dtype names the format)."""
    name = str(x.dtype).replace("torch.", "")
    if name == "int8" and kv_dtype in (None, "int8"):
        return "i8"
    if name == "uint8" and kv_dtype in ("fp8_e4m3", "fp8_e5m2"):
        return KV_DTYPES[kv_dtype]
    raise TypeError(f"attention: a quantized {what} must be int8 codes "
                    f"(kv_dtype='int8') or uint8 fp8 codes (kv_dtype="
                    f"'fp8_e4m3' or 'fp8_e5m2'), got {x.dtype} with "
                    f"kv_dtype={kv_dtype!r}")


def _scale_type(s, x, mlir_dims, what):
    """The MLIR type of the scale `s` of quantized `x` (whose MLIR dims
    are `mlir_dims`, '?' where dynamic): each dim 1, x's size, or a
    static divisor of it."""
    rank = s.dim() if hasattr(s, "dim") else s.ndim
    if rank != len(x.shape):
        raise ValueError(f"attention: {what} must have the rank of its cache "
                         f"({len(x.shape)}), got shape {tuple(s.shape)}")
    st = _trace._mlir_dtype(s.dtype, f"attention: {what}")
    if st not in ("f32", "f16", "bf16"):
        raise TypeError(f"attention: {what} must be float32, float16 or "
                        f"bfloat16, got {s.dtype}")
    dims = []
    for n, m, sd in zip(x.shape, mlir_dims, s.shape):
        if sd == 1:
            dims.append("1")
        elif sd == n:
            dims.append(str(m))
        elif m != "?" and sd > 0 and n % sd == 0:
            dims.append(str(sd))
        else:
            raise ValueError(f"attention: {what} {tuple(s.shape)} does not "
                             f"fit its cache {tuple(x.shape)}: each dim must "
                             f"be 1, the cache's, or a divisor of a static "
                             f"one (heads, page size, head dim)")
    return f"tensor<{'x'.join(dims)}x{st}>"


def trace(q, k, v, score_mod=None, mask_mod=None, scale=None, sinks=None,
          return_lse=False, causal=False, kv_lens=None, block_table=None,
          page_layout="nhd", rope=None, k_scale=None, v_scale=None,
          kv_dtype=None, qo_indptr=None, plan=None):
    """The program attention() runs, as a _Program (text and captures).
    With kv_lens, each batch entry has its own key count; with block_table
    as well, k and v are page pools (docs/serving.md). With k_scale /
    v_scale, k / v are 8-bit caches (kv_dtype for uint8 fp8 codes)."""
    if kv_dtype is not None and kv_dtype not in KV_DTYPES:
        raise ValueError(f"attention: kv_dtype must be one of "
                         f"{sorted(KV_DTYPES)}, got {kv_dtype!r}")
    qt = _tensor_type(q, "q")
    kt = _code_type(k, "k", kv_dtype) if k_scale is not None else \
        _tensor_type(k, "k")
    vt = _code_type(v, "v", kv_dtype) if v_scale is not None else \
        _tensor_type(v, "v")
    if not ((k_scale is not None or kt == qt) and
            (v_scale is not None or vt == qt)):
        raise TypeError(f"attention: q, k and v must have one dtype, got "
                        f"{q.dtype}, {k.dtype}, {v.dtype}")
    B, H, Lq, D = q.shape
    # A ragged batch: q holds tokens [T, H, 1, D]; the requests are
    # kv_lens' entries (qo_indptr has one more).
    ragged = qo_indptr is not None
    if ragged:
        if kv_lens is None:
            raise ValueError("attention: qo_indptr needs kv_lens (the keys "
                             "of each request)")
        _index_type(kv_lens, 1, "kv_lens", "[batch]")
        _index_type(qo_indptr, 1, "qo_indptr", "[batch + 1]")
        if qo_indptr.shape[0] != kv_lens.shape[0] + 1:
            raise ValueError(f"attention: qo_indptr has {qo_indptr.shape[0]} "
                             f"entries, expected one more than the "
                             f"{kv_lens.shape[0]} requests of kv_lens")
        if plan is not None:
            _index_type(plan, 2, "plan", "[2, batch + 1]")
            if tuple(plan.shape) != (2, qo_indptr.shape[0]):
                raise ValueError(f"attention: plan has shape "
                                 f"{tuple(plan.shape)}, expected "
                                 f"(2, {qo_indptr.shape[0]})")
        B = kv_lens.shape[0]
    elif plan is not None:
        raise ValueError("attention: a plan needs qo_indptr")
    paged = block_table is not None
    if paged and kv_lens is None:
        raise ValueError("attention: a block_table needs kv_lens (the keys "
                         "of each request)")
    if page_layout not in ("nhd", "hnd"):
        raise ValueError(f"attention: page_layout must be 'nhd' or 'hnd', "
                         f"got {page_layout!r}")
    if paged:
        # Pools [pages, ps, Hkv, D] (nhd) or [pages, Hkv, ps, D] (hnd).
        if page_layout == "nhd":
            Pk, ps, Hkv, Dk = k.shape
            Pv, psv, Hv, Dv = v.shape
        else:
            Pk, Hkv, ps, Dk = k.shape
            Pv, Hv, psv, Dv = v.shape
        if (Pk, ps, Hkv) != (Pv, psv, Hv):
            raise ValueError(f"attention: key pool {tuple(k.shape)} and "
                             f"value pool {tuple(v.shape)} disagree in pages, "
                             f"page size or heads")
        if ps == 0:
            raise ValueError("attention: pages of 0 keys")
        _index_type(block_table, 2, "block_table", "[batch, max_pages]")
        if block_table.shape[0] != B:
            raise ValueError(f"attention: q has batch {B}, block_table has "
                             f"{block_table.shape[0]}")
        Bk = B
    else:
        Bk, Hkv, Lk, Dk = k.shape
        Bv, Hv, Lv, Dv = v.shape
        if (Bk, Hkv, Lk) != (Bv, Hv, Lv):
            raise ValueError(f"attention: k {tuple(k.shape)} and v "
                             f"{tuple(v.shape)} disagree in batch, heads or "
                             f"length")
    if kv_lens is not None and not ragged:
        _index_type(kv_lens, 1, "kv_lens", "[batch]")
        if kv_lens.shape[0] != B:
            raise ValueError(f"attention: q has batch {B}, kv_lens has "
                             f"{kv_lens.shape[0]}")
    if Dk != D:
        raise ValueError(f"attention: q and k head dims differ ({D} vs {Dk})")
    if B != Bk:
        raise ValueError(f"attention: q has batch {B}, k has {Bk}")
    if Hkv == 0 or H % Hkv:
        raise ValueError(f"attention: {H} query heads are not a multiple of "
                         f"{Hkv} key/value heads")
    if scale is not None and not isinstance(scale, (int, float)):
        raise TypeError(f"attention: scale must be a number, got "
                        f"{type(scale).__name__}")
    captures = []
    regions = []
    if score_mod is not None:
        if not callable(score_mod):
            raise TypeError("attention: score_mod must be callable")
        regions.append("score " + _trace_region(
            score_mod, ["%s", "%b", "%h", "%i", "%j"],
            ["f32", "index", "index", "index", "index"], captures, "s",
            "f32", "score_mod"))
    if mask_mod is not None:
        if not callable(mask_mod):
            raise TypeError("attention: mask_mod must be callable")
        regions.append("mask " + _trace_region(
            mask_mod, ["%b", "%h", "%i", "%j"],
            ["index", "index", "index", "index"], captures, "m", "i1",
            "mask_mod"))
    has_sinks = sinks is not None
    if has_sinks:
        if tuple(sinks.shape) != (H,):
            raise ValueError(f"attention: sinks must have shape [{H}] (one "
                             f"logit per query head), got "
                             f"{tuple(sinks.shape)}")
        st = _trace._mlir_dtype(sinks.dtype, "attention: sinks")
        if st not in ("f32", "f16", "bf16"):
            raise TypeError(f"attention: sinks must be floating point, got "
                            f"{sinks.dtype}")
        sink_ty = f"tensor<{H}x{st}>"
        conv = "" if st == "f32" else (
            f"\n        %sinkf = arith.extf %sinkv : {st} to f32")
        yv = "%sinkv" if st == "f32" else "%sinkf"
        regions.append(
            "sink {\n      ^bb0(%b: index, %h: index, %i: index):\n"
            f"        %sinkv = tensor.extract %sinks[%h] : {sink_ty}{conv}\n"
            f"        attn.yield {yv} : f32\n      }}")
    rows = "1" if ragged else "?"
    qty = f"tensor<?x{H}x{rows}x{D}x{qt}>"
    kty = f"tensor<?x{Hkv}x?x{D}x{kt}>"
    vty = f"tensor<?x{Hkv}x?x{Dv}x{vt}>"
    kdims, vdims = ["?", Hkv, "?", D], ["?", Hkv, "?", Dv]
    if paged:
        mid = f"{ps}x{Hkv}" if page_layout == "nhd" else f"{Hkv}x{ps}"
        kty = f"tensor<?x{mid}x{D}x{kt}>"
        vty = f"tensor<?x{mid}x{Dv}x{vt}>"
        middle = [ps, Hkv] if page_layout == "nhd" else [Hkv, ps]
        kdims, vdims = ["?"] + middle + [D], ["?"] + middle + [Dv]
    oty = f"tensor<?x{H}x{rows}x{Dv}x{qt}>"
    lty = f"tensor<?x{H}x{rows}xf32>"
    args = [f"%q: {qty}", f"%k: {kty}", f"%v: {vty}"]
    clauses = ""
    if kv_lens is not None:
        args.append("%kv_lens: tensor<?xi32>")
        clauses += "\n      kv_lens(%kv_lens : tensor<?xi32>)"
    if paged:
        args.append("%table: tensor<?x?xi32>")
        clauses += " pages(%table : tensor<?x?xi32>)"
        if page_layout == "hnd":
            clauses += " page_layout(hnd)"
    if k_scale is not None:
        kst = _scale_type(k_scale, k, kdims, "k_scale")
        args.append(f"%k_scale: {kst}")
        clauses += f" key_scale(%k_scale : {kst})"
    if v_scale is not None:
        vst = _scale_type(v_scale, v, vdims, "v_scale")
        args.append(f"%v_scale: {vst}")
        clauses += f" value_scale(%v_scale : {vst})"
    if ragged:
        args.append("%qo_indptr: tensor<?xi32>")
        clauses += "\n      qo_indptr(%qo_indptr : tensor<?xi32>)"
        if plan is not None:
            args.append("%plan: tensor<2x?xi32>")
            clauses += " plan(%plan : tensor<2x?xi32>)"
    if has_sinks:
        args.append(f"%sinks: {sink_ty}")
    args += [f"{c.name}: {c.mlir_type}" for c in captures]
    results = [oty] + ([lty] if return_lse else [])
    attrs = ("causal " if causal else "") + (
        f"scale({float(scale):.9e}) " if scale is not None else "") + \
        _rope_attr(rope)
    outs = "%init" + (", %linit" if return_lse else "")
    dyn = "%bsz" if ragged else "%bsz, %len"
    lines = [
        f"func.func @main({', '.join(args)}) -> ({', '.join(results)}) {{",
        "  %c0 = arith.constant 0 : index",
        "  %c2 = arith.constant 2 : index",
        f"  %bsz = tensor.dim %q, %c0 : {qty}",
        f"  %len = tensor.dim %q, %c2 : {qty}",
        f"  %init = tensor.empty({dyn}) : {oty}",
    ]
    if return_lse:
        lines.append(f"  %linit = tensor.empty({dyn}) : {lty}")
    result = "%o:2" if return_lse else "%o"
    lines += [
        f"  {result} = attn.attention {attrs}",
        f"      ins(%q, %k, %v : {qty}, {kty}, {vty}){clauses}",
        f"      outs({outs} : {', '.join(results)})",
    ]
    lines += ["      " + r for r in regions]
    lines.append(f"      -> {', '.join(results)}")
    rets = "%o#0, %o#1" if return_lse else "%o"
    lines.append(f"  return {rets} : {', '.join(results)}")
    lines.append("}")
    program = _Program("\n".join(lines) + "\n", captures, has_sinks,
                       return_lse)
    # The index tensors and scales follow k, v (and precede the sinks) in
    # @main.
    program.index_inputs = [x for x in (kv_lens, block_table, k_scale,
                                        v_scale, qo_indptr, plan)
                            if x is not None]
    return program


def to_mlir(q, k, v, score_mod=None, mask_mod=None, scale=None, sinks=None,
            return_lse=False, causal=False):
    """The attn IR that attention() compiles for these arguments."""
    return trace(q, k, v, score_mod, mask_mod, scale, sinks, return_lse,
                 causal).text


def _module(text, target="native", grad=False, filename="<attn.attention>"):
    """The compiled module of a generated program (compiled once)."""
    from . import compile as _compile
    key = (text, target, grad)
    with _lock:
        m = _modules.get(key)
    if m is None:
        m = _compile(text, target, grad=grad, filename=filename)
        with _lock:
            _modules[key] = m
    return m


def attention(q, k, v, score_mod=None, mask_mod=None, scale=None, sinks=None,
              return_lse=False, *, causal=False, block_mask=None,
              enable_gqa=True, rope=None):
    """Scaled dot-product attention with a traced score_mod / mask_mod.

    q [B, H, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv] (H a multiple of
    Hkv), float32, float16 or bfloat16, NumPy arrays or torch tensors (CPU).
    scale defaults to 1/sqrt(D). sinks: one logit per query head that enters
    the softmax's denominator. causal: the bottom-right-aligned causal mask
    (also expressible as a mask_mod). block_mask: what create_block_mask
    returns (its mask_mod is used). Returns O [B, H, Lq, Dv] (and the
    natural-log LSE [B, H, Lq] in f32 with return_lse); a row that sees no
    key gets zeros (and an LSE of -inf). With torch tensors that require
    grad, the result is differentiable (q, k, v, sinks and captured tensors).
    rope: a rotary embedding applied to q and k inside the kernel at their
    positions (key j at j, query row i at i + Lk - Lq), a dict of
    #attn.rope parameters, e.g. {"theta": 500000.0, "scaling": "llama3",
    "factor": 8.0, "original_context": 8192} (docs/serving.md).
    """
    if block_mask is not None:
        if mask_mod is not None:
            raise ValueError("attention: pass mask_mod or block_mask, not both")
        mask_mod = getattr(block_mask, "mask_mod", block_mask)
    if not enable_gqa and q.shape[1] != k.shape[1]:
        raise ValueError(f"attention: {q.shape[1]} query heads and "
                         f"{k.shape[1]} key heads need enable_gqa=True")
    program = trace(q, k, v, score_mod, mask_mod, scale, sinks, return_lse,
                    causal, rope=rope)
    inputs = [q, k, v] + program.index_inputs + (
        [sinks] if sinks is not None else []) + [
        c.tensor for c in program.captures]
    from . import autograd
    if autograd.needs_grad(inputs):
        return autograd.apply(program, inputs)
    m = _module(program.text)
    return m.main(*inputs)


class BlockMask:
    """What create_block_mask returns: the mask_mod and the sizes (attn
    classifies tiles itself, at compile time and per tile at run time)."""

    def __init__(self, mask_mod, B, H, Q_LEN, KV_LEN):
        self.mask_mod = mask_mod
        self.shape = (B, H, Q_LEN, KV_LEN)

    def __repr__(self):
        return f"BlockMask(shape={self.shape}, mask_mod={self.mask_mod})"


def create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device="cpu", **_):
    """FlexAttention's create_block_mask, for code written against it."""
    return BlockMask(mask_mod, B, H, Q_LEN, KV_LEN)


def flex_attention(query, key, value, score_mod=None, block_mask=None,
                   scale=None, enable_gqa=False, return_lse=False,
                   kernel_options=None):
    """torch.nn.attention.flex_attention's signature over attention()."""
    return attention(query, key, value, score_mod=score_mod,
                     block_mask=block_mask, scale=scale, return_lse=return_lse,
                     enable_gqa=enable_gqa)


def and_masks(*mods):
    def mask(b, h, q_idx, kv_idx):
        r = True
        for m in mods:
            r = m(b, h, q_idx, kv_idx) if r is True else r & m(b, h, q_idx,
                                                                kv_idx)
        return r
    return mask


def or_masks(*mods):
    def mask(b, h, q_idx, kv_idx):
        r = False
        for m in mods:
            r = m(b, h, q_idx, kv_idx) if r is False else r | m(b, h, q_idx,
                                                                 kv_idx)
        return r
    return mask


def noop_mask(b, h, q_idx, kv_idx):
    return q_idx >= 0
