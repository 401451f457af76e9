#!/usr/bin/env python3
"""Times attn's NVPTX kernels against PyTorch on one GPU, in one run.

Runs inside the bundle of scripts/gpu-check (needs libattn_gpu_bench.so
there, PyTorch >= 2.5 with CUDA, NumPy). For each case it times attn's kernel
(called through its C entry point with DLPack views of torch tensors, on
torch's current stream), torch.nn.functional.scaled_dot_product_attention
and torch.compile(flex_attention), checks attn's output against SDPA's, and
prints one table row: ms, TFLOP/s (visible query-key pairs only) or GB/s
(decode: the K/V cache bytes read), and the ratio of each peer's time to
attn's. The backward rows time attn's derived backward (the training pair's
second function) against PyTorch autograd of SDPA. attn's C entry point synchronizes its stream before returning, so
its times include one host synchronization per call (tens of microseconds;
it matters for decode only). Writes results.md and results.json.

    python3 gpu.py [--quick] [--lib=./libattn_gpu_bench.so]
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lib", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "libattn_gpu_bench.so"))
    p.add_argument("--quick", action="store_true", help="L up to 4096, fewer repetitions")
    p.add_argument("--out", default="results")
    p.add_argument("--flex-budget", type=int, default=360,
                   help="seconds after which flex_attention (one compilation per "
                        "shape) is no longer timed, to keep the run under 8 minutes")
    a = p.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print("gpu.py: no PyTorch (%s): benchmark skipped" % e)
        return 2
    if not torch.cuda.is_available():
        print("gpu.py: no CUDA device visible to PyTorch: benchmark skipped")
        return 2
    flex = None
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        # One compilation per shape and score_mod: past dynamo's default
        # limit of 8, flex_attention silently falls back to an unfused
        # implementation that materializes the scores (and would be timed).
        for knob in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, knob):
                setattr(torch._dynamo.config, knob, 256)
        flex = torch.compile(flex_attention, dynamic=False)
    except Exception as e:  # torch < 2.5
        print("gpu.py: flex_attention unavailable (%s); SDPA only" % e)
    lib = ctypes.CDLL(a.lib)
    lib.attnrt_cuda_set_stream.argtypes = [ctypes.c_void_p]
    lib.attnrt_last_error.restype = ctypes.c_char_p
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    print("device: %s, %d SMs, torch %s" % (props.name, props.multi_processor_count, torch.__version__))

    keep = []

    def dl(t):
        shape = (ctypes.c_int64 * t.dim())(*t.shape)
        keep.append(shape)
        code, bits = {torch.bfloat16: (4, 16), torch.float16: (2, 16), torch.float32: (2, 32),
                      torch.int32: (0, 32)}[t.dtype]
        x = DLTensor(ctypes.c_void_p(t.data_ptr()), DLDevice(2, t.device.index or 0), t.dim(),
                     DLDataType(code, bits, 1), shape, None, 0)
        keep.append(x)
        return ctypes.byref(x)

    def attn_call(fn, args, out):
        lib.attnrt_cuda_set_stream(ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
        status = getattr(lib, "k_" + fn)(*[dl(x) for x in args], dl(out))
        if status != 0:
            raise RuntimeError("k_%s: %s" % (fn, lib.attnrt_last_error().decode()))

    def call(sym, args, outs):
        lib.attnrt_cuda_set_stream(ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
        status = getattr(lib, sym)(*[dl(x) for x in list(args) + list(outs)])
        if status != 0:
            raise RuntimeError("%s: %s" % (sym, lib.attnrt_last_error().decode()))

    def timeit(f, reps):
        f()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        best = math.inf
        for _ in range(3):
            start.record()
            for _ in range(reps):
                f()
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / reps)
        return best

    rows = []
    started = time.time()
    lengths = [1024, 2048, 4096] + ([] if a.quick else [8192, 16384])
    bf = torch.bfloat16
    torch.manual_seed(0)

    def case(name, fn, q, k, v, extra, flops, nbytes, sdpa, score_mod=None, mask_mod=None):
        out = torch.empty_like(q)
        reps = 3 if a.quick else 10
        try:
            attn_call(fn, [q, k, v] + extra, out)
            torch.cuda.synchronize()
            ref = sdpa()
            err = (out.float() - ref.float()).abs().max().item()
            t_attn = timeit(lambda: attn_call(fn, [q, k, v] + extra, out), reps)
        except Exception as e:
            print("%s: attn failed: %s" % (name, e))
            rows.append(dict(case=name, error=str(e)))
            return
        t_sdpa = timeit(sdpa, reps)
        t_flex = None
        if flex is not None and time.time() - started > a.flex_budget:
            print("%s: flex_attention skipped (its compilations used the %d s budget)" % (
                name, a.flex_budget))
        elif flex is not None:
            try:
                bm = None
                if mask_mod is not None:
                    bm = create_block_mask(mask_mod, q.shape[0], None, q.shape[2], k.shape[2],
                                           device="cuda")
                ff = lambda: flex(q, k, v, score_mod=score_mod, block_mask=bm,
                                  enable_gqa=q.shape[1] != k.shape[1])
                t_flex = timeit(ff, reps)
            except Exception as e:
                print("%s: flex_attention failed: %s" % (name, e))
        r = dict(case=name, attn_ms=t_attn, sdpa_ms=t_sdpa, flex_ms=t_flex, max_abs_err_vs_sdpa=err)
        if flops:
            r["attn_tflops"] = flops / t_attn / 1e9
        if nbytes:
            r["attn_gbps"] = nbytes / t_attn / 1e6
        r["sdpa_over_attn"] = t_sdpa / t_attn
        r["flex_over_attn"] = t_flex / t_attn if t_flex else None
        rows.append(r)
        print("%-26s attn %8.3f ms %s  sdpa %8.3f ms (%.2fx)  flex %s  err %.3g" % (
            name, t_attn, ("%6.1f TFLOP/s" % r["attn_tflops"]) if flops else
            ("%6.0f GB/s" % r["attn_gbps"]), t_sdpa, t_sdpa / t_attn,
            ("%8.3f ms (%.2fx)" % (t_flex, t_flex / t_attn)) if t_flex else "-", err))

    B, H, D = 8, 16, 128
    for L in lengths:
        q, k, v = (torch.randn(B, H, L, D, device=dev, dtype=bf) for _ in range(3))
        for causal in (True, False):
            pairs = L * (L + 1) / 2 if causal else L * L
            case("%s L=%d" % ("causal" if causal else "non-causal", L),
                 "causal" if causal else "full", q, k, v, [], 4 * B * H * D * pairs, 0,
                 lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                 mask_mod=(lambda b, h, i, j: i >= j) if causal else None)
        del q, k, v

    # The backward (attn-compile --grad: the tensor-core FA-2 backward) against
    # PyTorch autograd of SDPA (its flash backward), bf16 gradients; FLOPs
    # 2.5x the forward's over the visible pairs.
    def backward_case(name, fn, q, k, v, causal, flops):
        reps = 3 if a.quick else 10
        do = torch.randn_like(q)
        try:
            o, o_saved = torch.empty_like(q), torch.empty_like(q)
            lse = torch.empty(q.shape[:3], device=dev, dtype=torch.float32)
            call("g_%s_train" % fn, [q, k, v], [o, o_saved, lse])
            grads = [torch.empty_like(x) for x in (q, k, v)]
            bwd = lambda: call("g_%s_backward" % fn, [q, k, v, o_saved, lse, do], grads)
            bwd()
            torch.cuda.synchronize()
            qr, kr, vr = (x.detach().clone().requires_grad_() for x in (q, k, v))
            out = F.scaled_dot_product_attention(qr, kr, vr, is_causal=causal)
            ref = torch.autograd.grad(out, (qr, kr, vr), do, retain_graph=True)
            err = max((g.float() - r.float()).abs().max().item() for g, r in zip(grads, ref))
            t_attn = timeit(bwd, reps)
            t_sdpa = timeit(lambda: torch.autograd.grad(out, (qr, kr, vr), do, retain_graph=True),
                            reps)
        except Exception as e:
            print("%s: failed: %s" % (name, e))
            rows.append(dict(case=name, error=str(e)))
            return
        r = dict(case=name, attn_ms=t_attn, sdpa_ms=t_sdpa, flex_ms=None,
                 max_abs_err_vs_sdpa=err, attn_tflops=flops / t_attn / 1e9,
                 sdpa_over_attn=t_sdpa / t_attn, flex_over_attn=None)
        rows.append(r)
        print("%-26s attn %8.3f ms %6.1f TFLOP/s  sdpa %8.3f ms (%.2fx)  err %.3g" % (
            name, t_attn, r["attn_tflops"], t_sdpa, t_sdpa / t_attn, err))

    if hasattr(lib, "g_causal_backward"):
        for L in lengths[:3]:
            q, k, v = (torch.randn(B, H, L, D, device=dev, dtype=bf) for _ in range(3))
            for causal in (True, False):
                pairs = L * (L + 1) / 2 if causal else L * L
                backward_case("backward %s L=%d" % ("causal" if causal else "non-causal", L),
                              "causal" if causal else "full", q, k, v, causal,
                              2.5 * 4 * B * H * D * pairs)
            del q, k, v

    # Decode: B = 64, Hq = 32, Hkv = 8, D = 128, 4096 keys.
    Bd, Lk = 64, 4096
    q = torch.randn(Bd, 32, 1, D, device=dev, dtype=bf)
    k, v = (torch.randn(Bd, 8, Lk, D, device=dev, dtype=bf) for _ in range(2))
    kv_bytes = 2 * Bd * 8 * Lk * D * 2
    case("decode Lk=4096", "decode", q, k, v, [], 0, kv_bytes,
         lambda: F.scaled_dot_product_attention(q, k.repeat_interleave(4, 1),
                                                v.repeat_interleave(4, 1)))
    del q, k, v

    L, B = 8192, 2
    q, k, v = (torch.randn(B, H, L, D, device=dev, dtype=bf) for _ in range(3))
    causal_mask = torch.ones(L, L, device=dev, dtype=torch.bool).tril()
    i = torch.arange(L, device=dev)
    pairs_causal = L * (L + 1) / 2

    def sdpa_bias(bias):
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias)

    scale = 1 / math.sqrt(D)

    def softcap_ref():  # no SDPA form: the peer column is eager PyTorch math

        s = (q.float() @ k.float().transpose(-1, -2)) * scale
        s = 30 * torch.tanh(s / 30)
        s = s.masked_fill(~causal_mask, -math.inf)
        return (s.softmax(-1) @ v.float()).to(bf)
    case("softcap L=8192", "softcap", q, k, v, [], 4 * B * H * D * pairs_causal, 0, softcap_ref,
         score_mod=lambda s, b, h, qi, kj: 30 * torch.tanh(s / 30),
         mask_mod=lambda b, h, qi, kj: qi >= kj)
    slopes = torch.exp2(-(torch.arange(H, device=dev) + 1) / 2.0)
    alibi = (-slopes[:, None, None] * (i[:, None] - i[None, :]).float()).masked_fill(~causal_mask, -math.inf)
    case("alibi L=8192", "alibi", q, k, v, [], 4 * B * H * D * pairs_causal, 0,
         sdpa_bias(alibi.to(bf)),
         score_mod=lambda s, b, h, qi, kj: s - torch.exp2(-(h + 1) / 2.0) * (qi - kj),
         mask_mod=lambda b, h, qi, kj: qi >= kj)
    del alibi
    W = 1024
    win = causal_mask & (i[:, None] < i[None, :] + W)
    pairs_win = sum(min(x + 1, W) for x in range(L))
    case("sliding window 1024 L=8192", "window", q, k, v, [], 4 * B * H * D * pairs_win, 0,
         sdpa_bias(win), mask_mod=lambda b, h, qi, kj: (qi >= kj) & (qi < kj + W))
    del win
    # Documents of 512..2048 tokens.
    lens, rest, g = [], L, torch.Generator().manual_seed(1)
    while rest > 0:
        n = min(rest, int(torch.randint(512, 2049, (1,), generator=g)))
        lens.append(n)
        rest -= n
    doc = torch.repeat_interleave(torch.arange(len(lens)), torch.tensor(lens)).to(dev, torch.int32)
    docs = doc[None].expand(B, L).contiguous()
    dmask = causal_mask & (doc[:, None] == doc[None, :])
    pairs_doc = sum(n * (n + 1) / 2 for n in lens)
    case("document mask L=8192", "document", q, k, v, [docs], 4 * B * H * D * pairs_doc, 0,
         sdpa_bias(dmask), mask_mod=lambda b, h, qi, kj: (qi >= kj) & (doc[qi] == doc[kj]))

    with open(a.out + ".json", "w") as f:
        json.dump(dict(device=props.name, torch=torch.__version__, rows=rows), f, indent=1)
    with open(a.out + ".md", "w") as f:
        f.write("device: %s, torch %s\n\n" % (props.name, torch.__version__))
        f.write("| case | attn ms | attn TFLOP/s or GB/s | SDPA ms | SDPA/attn | flex ms | flex/attn | max abs err vs SDPA |\n")
        f.write("|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            if "error" in r:
                f.write("| %s | failed: %s |||||||\n" % (r["case"], r["error"]))
                continue
            perf = ("%.1f TFLOP/s" % r["attn_tflops"]) if "attn_tflops" in r else ("%.0f GB/s" % r["attn_gbps"])
            f.write("| %s | %.3f | %s | %.3f | %.2f | %s | %s | %.3g |\n" % (
                r["case"], r["attn_ms"], perf, r["sdpa_ms"], r["sdpa_over_attn"],
                "%.3f" % r["flex_ms"] if r["flex_ms"] else "-",
                "%.2f" % r["flex_over_attn"] if r["flex_over_attn"] else "-",
                r["max_abs_err_vs_sdpa"]))
    print("wrote %s.md and %s.json" % (a.out, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
