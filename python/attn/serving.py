"""Serving entries: attention over paged KV caches, appending to them, and
FlashInfer's CSR page lists as attn's block tables (docs/serving.md)."""

import numpy as np

from . import _tensors, _trace
from .flex import KV_DTYPES, _module, trace


def _needs_grad(xs):
    return any(getattr(x, "requires_grad", False) for x in xs)


def _scale_tensor(s, like, what):
    """A scale as a tensor: a number becomes a [1, 1, 1, 1] float32 one (a
    per-tensor scale) of like's kind (torch or NumPy)."""
    if s is None or hasattr(s, "shape"):
        return s
    if not isinstance(s, (int, float)):
        raise TypeError(f"paged_attention: {what} must be a number or a "
                        f"tensor, got {type(s).__name__}")
    if _tensors.is_torch(like):
        import torch
        return torch.full((1, 1, 1, 1), float(s), dtype=torch.float32)
    return np.full((1, 1, 1, 1), float(s), dtype=np.float32)


def paged_attention(q, k_pool, v_pool, kv_lens, block_table, *, causal=False,
                    page_layout="nhd", scale=None, score_mod=None,
                    mask_mod=None, sinks=None, return_lse=False, rope=None,
                    k_scale=None, v_scale=None, kv_dtype=None):
    """Attention over a paged KV cache (attn.attention ... kv_lens(...)
    pages(...)).

    q [B, H, Lq, D]; k_pool, v_pool [pages, page_size, Hkv, D]
    (page_layout="nhd", vLLM's and FlashInfer's default) or
    [pages, Hkv, page_size, D] ("hnd"); kv_lens int32 [B], the keys of each
    request; block_table int32 [B, max_pages], its pages in order (entries
    past ceil(kv_lens[b] / page_size) are never read). Key j of request b is
    row j % page_size of page block_table[b, j // page_size]. causal aligns
    each request to its own bottom-right corner (j <= i + kv_lens[b] - Lq);
    score_mod and mask_mod see logical positions. Returns O [B, H, Lq, D]
    (and the natural-log LSE with return_lse); a row with no key gives 0.
    Bad lengths or table entries raise attn.ArgumentError before the
    kernel runs. rope: a rotary embedding of q and the cached keys (held
    before RoPE) at their logical positions, as attn.attention takes it.
    k_scale / v_scale: the pools are 8-bit caches (docs/serving.md,
    "Quantized caches"): int8 codes, or uint8 fp8 codes with
    kv_dtype="fp8_e4m3" / "fp8_e5m2"; each scale a number (per tensor,
    vLLM's k_scale) or a tensor of the pool's rank whose dims are 1, the
    pool's, or divisors of its static ones (per token [pages, ps, Hkv, 1],
    q8_0 [pages, ps, Hkv, D // 32]). Not differentiable (serving reads the
    cache)."""
    k_scale = _scale_tensor(k_scale, q, "k_scale")
    v_scale = _scale_tensor(v_scale, q, "v_scale")
    inputs = (q, k_pool, v_pool, kv_lens, block_table)
    if _needs_grad(inputs + ((sinks,) if sinks is not None else ())):
        raise TypeError("paged_attention: not differentiable (train with "
                        "attn.attention on dense keys)")
    program = trace(q, k_pool, v_pool, score_mod, mask_mod, scale, sinks,
                    return_lse, causal, kv_lens=kv_lens,
                    block_table=block_table, page_layout=page_layout,
                    rope=rope, k_scale=k_scale, v_scale=v_scale,
                    kv_dtype=kv_dtype)
    args = [q, k_pool, v_pool] + program.index_inputs + (
        [sinks] if sinks is not None else []) + [
        c.tensor for c in program.captures]
    return _module(program.text, filename="<attn.paged_attention>").main(*args)


def _rows(x, shape):
    """x (NumPy or torch) viewed with `shape` (no copy)."""
    return x.reshape(shape) if _tensors.is_numpy(x) else x.view(shape)


def batch_attention(q, k, v, qo_indptr, kv_lens, block_table=None, *,
                    plan=None, causal=False, page_layout="nhd", scale=None,
                    score_mod=None, mask_mod=None, sinks=None,
                    return_lse=False, rope=None, k_scale=None, v_scale=None,
                    kv_dtype=None):
    """Attention over a ragged batch: prefill chunks and decode steps in one
    call (FlashInfer's batch prefill; attn.attention ... qo_indptr(...)).

    q [T, H, D]: the queries of every request packed one after the other;
    request b owns tokens qo_indptr[b] .. qo_indptr[b + 1] - 1 (int32
    [B + 1], from 0 to T; a chunk of one query is a decode step, of none an
    idle request), and sees its kv_lens[b] keys: page pools with
    block_table as paged_attention takes them, or dense k, v [B, Hkv, L, D]
    without. causal aligns each chunk to its request's bottom-right corner;
    score_mod / mask_mod see the request b and the row i within its chunk.
    plan: plan_batch's result for this qo_indptr and kv_lens, reused by
    every layer of a step (optional; a plan for another batch raises
    attn.ArgumentError). Returns O [T, H, Dv] (and the LSE [T, H])."""
    if q.ndim != 3:
        raise ValueError(f"batch_attention: q must be [tokens, heads, D], "
                         f"got shape {tuple(q.shape)}")
    k_scale = _scale_tensor(k_scale, q, "k_scale")
    v_scale = _scale_tensor(v_scale, q, "v_scale")
    if _needs_grad((q, k, v) + ((sinks,) if sinks is not None else ())):
        raise TypeError("batch_attention: not differentiable (serving reads "
                        "the cache)")
    T, H, D = q.shape
    q4 = _rows(q, (T, H, 1, D))
    program = trace(q4, k, v, score_mod, mask_mod, scale, sinks, return_lse,
                    causal, kv_lens=kv_lens, block_table=block_table,
                    page_layout=page_layout, rope=rope, k_scale=k_scale,
                    v_scale=v_scale, kv_dtype=kv_dtype, qo_indptr=qo_indptr,
                    plan=plan)
    args = [q4, k, v] + program.index_inputs + (
        [sinks] if sinks is not None else []) + [
        c.tensor for c in program.captures]
    r = _module(program.text, filename="<attn.batch_attention>").main(*args)
    o, lse = (r if return_lse else (r, None))
    o = _rows(o, (T, H, o.shape[3]))
    return (o, _rows(lse, (T, H))) if return_lse else o


def plan_batch(qo_indptr, kv_lens, num_heads, decode_items):
    """The plan of a ragged batch (libattnrt's attnrt_plan_ragged), once per
    step for every layer's batch_attention: an int32 [2, B + 1] tensor (like
    qo_indptr: NumPy or torch). num_heads: the query heads; decode_items:
    the work items of a decode request, the KV heads (the kernel packs a
    group's query heads into one tile) or, when score_mod / mask_mod read
    the head or row, the query heads (docs/serving.md)."""
    from . import _raise
    for x, name, shape in ((qo_indptr, "qo_indptr", "[batch + 1]"),
                           (kv_lens, "kv_lens", "[batch]")):
        if not hasattr(x, "shape") or len(x.shape) != 1 or \
                "int32" not in str(x.dtype):
            raise TypeError(f"plan_batch: {name} must be an int32 {shape} "
                            f"tensor")
    for x, name in ((num_heads, "num_heads"), (decode_items, "decode_items")):
        if not isinstance(x, int) or x <= 0:
            raise ValueError(f"plan_batch: {name} must be a positive int, "
                             f"got {x!r}")
    shape = (2, qo_indptr.shape[0])
    if _tensors.is_torch(qo_indptr):
        import torch
        plan = torch.empty(shape, dtype=torch.int32)
    else:
        plan = np.empty(shape, dtype=np.int32)
    from . import _capi
    views = [_tensors.view(x, f"plan_batch: {n}")
             for x, n in ((qo_indptr, "qo_indptr"), (kv_lens, "kv_lens"))]
    out = _tensors.view(plan, "plan_batch: plan", writable=True)
    status = _capi.lib().attn_plan_ragged(views[0].ptr, views[1].ptr,
                                          num_heads, decode_items, out.ptr)
    if status:
        _raise(status, "plan_batch: ")
    del views, out
    return plan


def append_kv(k, v, slots, k_pool, v_pool, *, page_layout="nhd"):
    """Writes new key/value rows into their slots of the pools, in place
    (attn.append_kv; vLLM's reshape_and_cache): k, v [tokens, Hkv, D]
    (float32/16, bfloat16, converted to the pools' dtype; or 8-bit codes,
    int8 / uint8, into pools of their dtype, copied), slots int32
    [tokens] (page * page_size + row; negative: padding, written nowhere),
    pools as paged_attention takes them. Returns (k_pool, v_pool), the
    objects passed in. A slot past the pools raises attn.ArgumentError
    and writes nothing."""
    if page_layout not in ("nhd", "hnd"):
        raise ValueError(f"append_kv: page_layout must be 'nhd' or 'hnd', "
                         f"got {page_layout!r}")
    for x, what, rank in ((k, "k", 3), (v, "v", 3), (slots, "slots", 1),
                          (k_pool, "k_pool", 4), (v_pool, "v_pool", 4)):
        if not hasattr(x, "shape") or len(x.shape) != rank:
            raise ValueError(f"append_kv: {what} must have rank {rank}, got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
    def mlir_type(x, w):
        # 8-bit caches: int8 codes, or uint8 fp8 codes (copied as bytes).
        name = str(x.dtype).replace("torch.", "")
        if name == "int8":
            return "i8"
        if name == "uint8":
            return "f8E4M3FN"
        return _trace._mlir_dtype(x.dtype, f"append_kv: {w}")
    types = [mlir_type(x, w)
             for x, w in ((k, "k"), (v, "v"), (slots, "slots"),
                          (k_pool, "k_pool"), (v_pool, "v_pool"))]
    if types[2] != "i32":
        raise TypeError(f"append_kv: slots must be int32, got {slots.dtype}")
    for t, w in zip(types[:2] + types[3:], ("k", "v", "k_pool", "v_pool")):
        if t not in ("f32", "f16", "bf16", "i8", "f8E4M3FN"):
            raise TypeError(f"append_kv: {w} must be float32, float16, "
                            f"bfloat16 or 8-bit codes (int8, uint8), got {t}")
    for t, w in ((types[0], "k"), (types[1], "v")):
        if (t in ("i8", "f8E4M3FN") or types[3] in ("i8", "f8E4M3FN")) and \
                t != types[3]:
            raise TypeError(f"append_kv: {w} ({t}) and the pools "
                            f"({types[3]}) must both be 8-bit codes of one "
                            f"dtype (quantize with attn.quantize_kv)")
    if tuple(k_pool.shape) != tuple(v_pool.shape) or types[3] != types[4]:
        raise ValueError(f"append_kv: k_pool {tuple(k_pool.shape)} and v_pool "
                         f"{tuple(v_pool.shape)} must have one shape and dtype")
    heads = 2 if page_layout == "nhd" else 1
    rows = 1 if page_layout == "nhd" else 2
    hkv, d = k_pool.shape[heads], k_pool.shape[3]
    for x, w in ((k, "k"), (v, "v")):
        if tuple(x.shape[1:]) != (hkv, d) or x.shape[0] != slots.shape[0]:
            raise ValueError(f"append_kv: {w} must be [{slots.shape[0]}, {hkv}, "
                             f"{d}] (one row per slot), got {tuple(x.shape)}")
    ps = k_pool.shape[rows]
    mid = f"{ps}x{hkv}" if page_layout == "nhd" else f"{hkv}x{ps}"
    pool = f"tensor<?x{mid}x{d}x{types[3]}>"
    kt = f"tensor<?x{hkv}x{d}x{types[0]}>"
    vt = f"tensor<?x{hkv}x{d}x{types[1]}>"
    lay = " page_layout(hnd)" if page_layout == "hnd" else ""
    text = (f"func.func @main(%k: {kt}, %v: {vt}, %s: tensor<?xi32>, "
            f"%kp: {pool}, %vp: {pool}) -> ({pool}, {pool}) {{\n"
            f"  %a, %b = attn.append_kv ins(%k, %v : {kt}, {vt}) "
            f"slots(%s : tensor<?xi32>){lay}\n"
            f"      outs(%kp, %vp : {pool}, {pool}) -> {pool}, {pool}\n"
            f"  return %a, %b : {pool}, {pool}\n}}\n")
    return _module(text, filename="<attn.append_kv>").main(
        k, v, slots, k_pool, v_pool)


def quantize_kv(x, scale_shape=None, *, dtype="int8", scale=None,
                scale_dtype="float32"):
    """attn.quantize_kv: x (float32/16, bfloat16, any rank >= 1) as 8-bit
    codes, q = round(x / s) to nearest even, saturated. dtype: "int8"
    (codes int8), "fp8_e4m3" or "fp8_e5m2" (codes uint8). The scales'
    shape gives the groups: each dim 1, x's, or a divisor of x's (e.g.
    [T, H, 1] per token and head, [T, H, D // 32] q8_0, [1] * rank per
    tensor). Without scale, returns (codes, scales) with scales = max |x|
    per group / largest code (127, 448, 57344) in scale_dtype; with scale
    (a tensor of that shape: vLLM's calibrated k_scale), returns codes."""
    if dtype not in KV_DTYPES:
        raise ValueError(f"quantize_kv: dtype must be one of "
                         f"{sorted(KV_DTYPES)}, got {dtype!r}")
    if not hasattr(x, "shape") or len(x.shape) < 1:
        raise ValueError("quantize_kv: x must be a tensor of rank >= 1")
    xt = _trace._mlir_dtype(x.dtype, "quantize_kv: x")
    if xt not in ("f32", "f16", "bf16"):
        raise TypeError(f"quantize_kv: x must be float32, float16 or "
                        f"bfloat16, got {x.dtype}")
    if scale is not None:
        scale_shape = tuple(scale.shape)
        st = _trace._mlir_dtype(scale.dtype, "quantize_kv: scale")
    else:
        if scale_shape is None:
            raise ValueError("quantize_kv: give scale_shape (or scale)")
        st = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}.get(
            str(scale_dtype).replace("torch.", ""))
    if st not in ("f32", "f16", "bf16"):
        raise TypeError(f"quantize_kv: scales must be float32, float16 or "
                        f"bfloat16, got {scale_dtype if scale is None else scale.dtype}")
    shape = tuple(x.shape)
    if len(scale_shape) != len(shape) or any(
            s <= 0 or n % s for n, s in zip(shape, scale_shape)):
        raise ValueError(f"quantize_kv: scale shape {tuple(scale_shape)} "
                         f"does not fit x {shape}: each dim must be 1, x's, "
                         f"or a divisor of it")
    code = KV_DTYPES[dtype]
    # x's first dim is dynamic (tokens); the scale's first dim follows it
    # unless it is 1.
    xdims = ["?"] + [str(n) for n in shape[1:]]
    sdims = ["1" if scale_shape[0] == 1 else "?"] + [
        str(s) for s in scale_shape[1:]]
    if scale_shape[0] not in (1, shape[0]):
        raise ValueError("quantize_kv: the scales' first dim must be 1 or "
                         "x's (one per token)")
    xty = f"tensor<{'x'.join(xdims)}x{xt}>"
    cty = f"tensor<{'x'.join(xdims)}x{code}>"
    sty = f"tensor<{'x'.join(sdims)}x{st}>"
    sdyn = "%n" if sdims[0] == "?" else ""
    head = ("func.func @main(%x: " + xty +
            (f", %s: {sty}) -> {cty} {{\n" if scale is not None else
             f") -> ({cty}, {sty}) {{\n") +
            "  %c0 = arith.constant 0 : index\n"
            f"  %n = tensor.dim %x, %c0 : {xty}\n"
            f"  %q0 = tensor.empty(%n) : {cty}\n")
    if scale is not None:
        body = (f"  %q = attn.quantize_kv ins(%x : {xty}) scale(%s : {sty}) "
                f"outs(%q0 : {cty}) -> {cty}\n  return %q : {cty}\n}}\n")
        return _module(head + body, filename="<attn.quantize_kv>").main(
            x, scale)
    body = (f"  %s0 = tensor.empty({sdyn}) : {sty}\n"
            f"  %q, %s = attn.quantize_kv ins(%x : {xty}) outs(%q0, %s0 : "
            f"{cty}, {sty}) -> {cty}, {sty}\n"
            f"  return %q, %s : {cty}, {sty}\n}}\n")
    return _module(head + body, filename="<attn.quantize_kv>").main(x)


def csr_to_block_table(indptr, indices, last_page_len, page_size):
    """FlashInfer's page lists (kv_indptr [B + 1], kv_indices,
    kv_last_page_len [B], last pages holding 1..page_size keys; empty
    requests have no pages) as attn's (block_table [B, max_pages],
    kv_lens [B]), int32 NumPy arrays; unused table entries are 0."""
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    last = np.asarray(last_page_len, dtype=np.int64)
    if indptr.ndim != 1 or indptr.size < 1 or last.shape != (indptr.size - 1,):
        raise ValueError("csr_to_block_table: indptr must be [B + 1] and "
                         "last_page_len [B]")
    counts = np.diff(indptr)
    if indptr[0] != 0 or (counts < 0).any() or indptr[-1] > indices.size:
        raise ValueError("csr_to_block_table: indptr must start at 0, not "
                         "decrease, and end within indices")
    if ((counts > 0) & ((last < 1) | (last > page_size))).any():
        raise ValueError(f"csr_to_block_table: last_page_len must be in "
                         f"[1, {page_size}] for requests with pages")
    i32 = np.iinfo(np.int32).max
    if indices.size and (indices.min() < 0 or indices.max() > i32):
        raise ValueError("csr_to_block_table: page indices must be in "
                         f"[0, {i32}]")
    bsz = counts.size
    lens = np.where(counts > 0, (counts - 1) * page_size + last, 0)
    if lens.size and lens.max() > i32:
        raise ValueError(f"csr_to_block_table: a request of {lens.max()} keys "
                         f"does not fit int32 lengths")
    table = np.zeros((bsz, max(int(counts.max(initial=0)), 1)), dtype=np.int32)
    for b in range(bsz):
        table[b, :counts[b]] = indices[indptr[b]:indptr[b + 1]]
    return table, lens.astype(np.int32)
