"""attn.paged_attention, attn.append_kv and attn.csr_to_block_table from
Python against torch written from the math (docs/serving.md): a paged decode
step over shuffled, shared and partly filled pages in both layouts, torch
tensors updated in place, FlashInfer's CSR page lists, a score_mod on
logical positions, and bad arguments."""

import numpy as np
import torch

import attn
from helpers import check, expect_error, finish

torch.manual_seed(5)
rng = np.random.default_rng(5)


def rel(a, b):
    return ((a.double() - b.double()).abs().max()
            / b.double().abs().max().clamp(min=1e-30)).item()


def logical(pool, table, n, ps, layout):
    """[Hkv, n, D] keys of one request, read through its table."""
    rows = []
    for j in range(n):
        p, r = int(table[j // ps]), j % ps
        rows.append(pool[p, r] if layout == "nhd" else pool[p, :, r])
    if not rows:
        hkv = pool.shape[2] if layout == "nhd" else pool.shape[1]
        return torch.zeros(hkv, 0, pool.shape[3], dtype=torch.float64)
    return torch.stack(rows, 1).double()


def reference(q, kp, vp, lens, table, ps, layout, causal, bias=None):
    B, H, Lq, D = q.shape
    out = torch.zeros(B, H, Lq, D, dtype=torch.float64)
    lse = torch.full((B, H, Lq), -float("inf"), dtype=torch.float64)
    for b in range(B):
        n = int(lens[b])
        k = logical(kp, table[b], n, ps, layout)
        v = logical(vp, table[b], n, ps, layout)
        g = H // k.shape[0]
        for h in range(H):
            for i in range(Lq):
                j = torch.arange(n)
                s = (k[h // g] @ q[b, h, i].double()) / D ** 0.5
                if bias is not None:
                    s = s + bias(j)
                vis = j <= i + n - Lq if causal else torch.ones(n, dtype=torch.bool)
                if not vis.any():
                    continue
                p = torch.softmax(s[vis], 0)
                out[b, h, i] = p @ v[h // g][vis]
                lse[b, h, i] = torch.logsumexp(s[vis], 0)
    return out, lse


def pages_for(lens, ps, extra=2):
    """A shuffled pool's table: request 1 shares request 0's first page."""
    npages = [(n + ps - 1) // ps for n in lens]
    total = sum(npages) + extra
    perm = rng.permutation(total)
    table = np.full((len(lens), max(npages) + 1), 123456, dtype=np.int32)
    nxt = 0
    for b, c in enumerate(npages):
        for t in range(c):
            if b == 1 and t == 0 and lens[0] >= ps:
                table[b, 0] = table[0, 0]
                continue
            table[b, t] = perm[nxt]
            nxt += 1
    return total, torch.from_numpy(table)


for layout, ps, dtype in (("nhd", 16, torch.float32), ("hnd", 4, torch.bfloat16)):
    lens = [37, 20, 0, 5]
    total, table = pages_for(lens, ps)
    hkv, hq, d = 2, 4, 32
    shape = (total, ps, hkv, d) if layout == "nhd" else (total, hkv, ps, d)
    kp = torch.randn(shape).to(dtype)
    vp = torch.randn(shape).to(dtype)
    q = torch.randn(4, hq, 3, d).to(dtype)
    kl = torch.tensor(lens, dtype=torch.int32)
    o, l = attn.paged_attention(q, kp, vp, kl, table, causal=True,
                                page_layout=layout, return_lse=True)
    ro, rl = reference(q, kp, vp, kl, table, ps, layout, True)
    fin = torch.isfinite(rl)
    tol = 1e-5 if dtype == torch.float32 else 1.6e-2
    check(o.dtype == dtype and rel(o, ro) < tol
          and (l.double()[fin] - rl[fin]).abs().max() < 1e-4
          and torch.isneginf(l[~fin]).all() and (o[2] == 0).all(),
          f"paged_attention {layout} ps={ps} {dtype}: {rel(o, ro):.1e}")

# A score_mod on logical positions (ALiBi-like), NumPy inputs.
lens = [50, 9]
total, table = pages_for(lens, 16)
kp = torch.randn(total, 16, 1, 16)
vp = torch.randn(total, 16, 1, 16)
q = torch.randn(2, 2, 1, 16)
o = attn.paged_attention(q.numpy(), kp.numpy(), vp.numpy(),
                         np.array(lens, np.int32), table.numpy(),
                         score_mod=lambda s, b, h, i, j: s - 0.05 * j)
ro, _ = reference(q, kp, vp, lens, table, 16, "nhd", False,
                  bias=lambda j: -0.05 * j.double())
check(isinstance(o, np.ndarray) and rel(torch.from_numpy(o), ro) < 1e-5,
      f"paged_attention with a score_mod on logical positions: "
      f"{rel(torch.from_numpy(o), ro):.1e}")

# append_kv updates torch pools in place, converting f32 rows to f16;
# negative slots write nothing. Then a decode step reads them.
kp = torch.randn(6, 8, 2, 16).half()
vp = torch.randn(6, 8, 2, 16).half()
k_new = torch.randn(3, 2, 16)
v_new = torch.randn(3, 2, 16)
slots = torch.tensor([13, -1, 40], dtype=torch.int32)
want_k, want_v = kp.clone(), vp.clone()
for t, s in enumerate(slots.tolist()):
    if s >= 0:
        want_k[s // 8, s % 8] = k_new[t].half()
        want_v[s // 8, s % 8] = v_new[t].half()
rk, rv = attn.append_kv(k_new, v_new, slots, kp, vp)
check(rk is kp and rv is vp and torch.equal(kp, want_k) and torch.equal(vp, want_v),
      "append_kv: pools updated in place, padding skipped, f32 rows into f16")
expect_error(attn.ArgumentError, "slot 48 of token 0 is past the 48 rows",
             lambda: attn.append_kv(k_new, v_new,
                                    torch.tensor([48, 0, 1], dtype=torch.int32),
                                    kp, vp),
             "append_kv: a slot past the pool")
check(torch.equal(kp, want_k), "append_kv: a rejected call writes nothing")

# FlashInfer's CSR page lists as a block table.
indptr = [0, 3, 3, 4]
indices = [7, 2, 5, 1]
last = [5, 1, 16]
t, kl = attn.csr_to_block_table(indptr, indices, last, 16)
check(t.tolist() == [[7, 2, 5], [0, 0, 0], [1, 0, 0]] and kl.tolist() == [37, 0, 16],
      f"csr_to_block_table: {t.tolist()} {kl.tolist()}")
expect_error(ValueError, "last_page_len must be in [1, 16]",
             lambda: attn.csr_to_block_table([0, 1], [0], [17], 16),
             "csr_to_block_table: last page overfull")
expect_error(ValueError, "page indices must be in [0, 2147483647]",
             lambda: attn.csr_to_block_table([0, 1], [2**32 + 5], [3], 16),
             "csr_to_block_table: a page index past int32")
expect_error(ValueError, "must start at 0, not decrease",
             lambda: attn.csr_to_block_table([0, 2, 1], [0, 1], [1, 1], 16),
             "csr_to_block_table: decreasing indptr")

# Bad tables and arguments: clean errors, nothing read out of the pool.
kp = torch.randn(4, 16, 1, 16)
q = torch.randn(2, 1, 1, 16)
good = torch.tensor([[0, 1], [2, 3]], dtype=torch.int32)
expect_error(attn.ArgumentError, "page table entry [1, 0] is 9, outside the 4 pages",
             lambda: attn.paged_attention(q, kp, kp, torch.tensor([3, 20], dtype=torch.int32),
                                          torch.tensor([[0, 1], [9, 3]], dtype=torch.int32)),
             "paged_attention: entry past the pool")
expect_error(attn.ArgumentError, "key length 33 of request 0 is outside [0, 32]",
             lambda: attn.paged_attention(q, kp, kp, torch.tensor([33, 1], dtype=torch.int32), good),
             "paged_attention: length past the table")
expect_error(TypeError, "kv_lens must be int32",
             lambda: attn.paged_attention(q, kp, kp, torch.tensor([3, 1]), good),
             "paged_attention: int64 lengths")
expect_error(ValueError, "block_table has 3",
             lambda: attn.paged_attention(q, kp, kp, torch.tensor([3, 1], dtype=torch.int32),
                                          torch.zeros(3, 2, dtype=torch.int32)),
             "paged_attention: table batch")
expect_error(ValueError, "page_layout must be 'nhd' or 'hnd'",
             lambda: attn.paged_attention(q, kp, kp, torch.tensor([3, 1], dtype=torch.int32),
                                          good, page_layout="x"),
             "paged_attention: bad layout")
expect_error(TypeError, "not differentiable",
             lambda: attn.paged_attention(q.requires_grad_(), kp, kp,
                                          torch.tensor([3, 1], dtype=torch.int32), good),
             "paged_attention: gradients")

# Rotary embeddings (rope=): HF transformers' rotate_half form in torch at
# the logical positions, dense with gradients and through a paged cache.
def hf_rope(x, pos, theta=10000.0):
    d = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = pos.double()[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    half = torch.cat([-x[..., d // 2:], x[..., :d // 2]], -1)
    return x * cos + half * sin


q = torch.randn(2, 4, 5, 32, dtype=torch.float64)
k = torch.randn(2, 2, 9, 32, dtype=torch.float64)
v = torch.randn(2, 2, 9, 32, dtype=torch.float64)
qr, kr = hf_rope(q, torch.arange(4, 9)), hf_rope(k, torch.arange(9))
s_ = (qr @ kr.repeat_interleave(2, 1).transpose(-1, -2)) / 32 ** 0.5
vis = torch.arange(9)[None, :] <= torch.arange(5)[:, None] + 4
ref = torch.softmax(s_.masked_fill(~vis, -float("inf")), -1) @ v.repeat_interleave(2, 1)
qf, kf, vf = (t.float().requires_grad_() for t in (q, k, v))
got = attn.attention(qf, kf, vf, causal=True, rope={"theta": 10000.0})
check(rel(got, ref) < 2e-5, f"rope dense: rel {rel(got, ref):.2e}")
dout = torch.randn_like(ref)
gq, gk = torch.autograd.grad(got, (qf, kf), dout.float())
qd, kd = q.clone().requires_grad_(), k.clone().requires_grad_()
qr, kr = hf_rope(qd, torch.arange(4, 9)), hf_rope(kd, torch.arange(9))
s_ = (qr @ kr.repeat_interleave(2, 1).transpose(-1, -2)) / 32 ** 0.5
out = torch.softmax(s_.masked_fill(~vis, -float("inf")), -1) @ v.repeat_interleave(2, 1)
rq, rk = torch.autograd.grad(out, (qd, kd), dout)
check(rel(gq, rq) < 1e-4 and rel(gk, rk) < 1e-4,
      f"rope gradients: dq {rel(gq, rq):.2e}, dk {rel(gk, rk):.2e}")
# Paged: the cached keys are rotated at the position their request reads
# them at (a shared first page sits at the same positions in both).
lens = [21, 40]
pages, table = pages_for(lens, 16)
kp = torch.randn(pages, 16, 2, 32)
vp = torch.randn(pages, 16, 2, 32)
qd = torch.randn(2, 4, 3, 32)
got = attn.paged_attention(qd, kp, vp, torch.tensor(lens, dtype=torch.int32),
                           table, causal=True, rope={})
for b, n in enumerate(lens):
    kb = hf_rope(logical(kp, table[b], n, 16, "nhd"), torch.arange(n))
    vb = logical(vp, table[b], n, 16, "nhd")
    qb = hf_rope(qd[b].double(), torch.arange(n - 3, n))
    sb = (qb @ kb.repeat_interleave(2, 0).transpose(-1, -2)) / 32 ** 0.5
    vis = torch.arange(n)[None, :] <= torch.arange(3)[:, None] + n - 3
    want = torch.softmax(sb.masked_fill(~vis, -float("inf")), -1) @ vb.repeat_interleave(2, 0)
    check(rel(got[b], want) < 2e-5, f"rope paged request {b}: rel {rel(got[b], want):.2e}")
# Keys that are also the values (one buffer): only the keys are rotated,
# in the row and decode forms.
for lq in (5, 1):
    qs = torch.randn(2, 4, lq, 32)
    ks = torch.randn(2, 2, 9, 32)
    got = attn.attention(qs, ks, ks, causal=True, rope={"style": "gptj"})
    # gptj pairs (2k, 2k + 1) are llama's halves after a deinterleave.
    def gptj(x, pos):
        d = x.shape[-1]
        perm = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])
        y = hf_rope(x[..., perm], pos)
        out = torch.empty_like(y)
        out[..., perm] = y
        return out
    qr = gptj(qs.double(), torch.arange(9 - lq, 9))
    kr = gptj(ks.double(), torch.arange(9))
    sc = (qr @ kr.repeat_interleave(2, 1).transpose(-1, -2)) / 32 ** 0.5
    vis = torch.arange(9)[None, :] <= torch.arange(lq)[:, None] + 9 - lq
    want = torch.softmax(sc.masked_fill(~vis, -float("inf")), -1) @ \
        ks.double().repeat_interleave(2, 1)
    check(rel(got, want) < 2e-5, f"rope with k as v, Lq={lq}: rel {rel(got, want):.2e}")
expect_error(ValueError, "unknown rope parameter 'base'",
             lambda: attn.attention(qf, kf, vf, rope={"base": 1.0}), "rope: unknown key")
expect_error(ValueError, "rope scaling must be one of",
             lambda: attn.attention(qf, kf, vf, rope={"scaling": "dynamic"}), "rope: bad word")
expect_error(TypeError, "rope dims must be an int",
             lambda: attn.attention(qf, kf, vf, rope={"dims": 8.0}), "rope: float dims")

# Quantized caches: int8 per-token codes from attn.quantize_kv, appended
# into int8 pools with their scale pools, then a paged decode over them,
# against torch on the dequantized values; q8_0 scales; fp8 e4m3 with a
# per-tensor scale given as a number (vLLM's k_scale, v_scale).
ps, hkv, hq, d = 16, 2, 4, 64
lens = [37, 20, 0, 5]
total, table = pages_for(lens, ps)
kl = torch.tensor(lens, dtype=torch.int32)
kf = torch.randn(total, ps, hkv, d) * torch.rand(d) * 3
vf = torch.randn(total, ps, hkv, d)
kq, ks = attn.quantize_kv(kf.reshape(-1, hkv, d), (total * ps, hkv, 1))
vq, vs = attn.quantize_kv(vf.reshape(-1, hkv, d), (total * ps, hkv, 1))
check(kq.dtype == torch.int8 and ks.dtype == torch.float32 and
      torch.equal(ks.reshape(-1), (kf.reshape(-1, hkv, d).abs().amax(-1) / 127).reshape(-1)) and
      (kq.double() - kf.reshape(-1, hkv, d).double() / ks.double()).abs().max() <= 0.5 + 1e-4,
      "quantize_kv int8 per token: scales amax / 127, codes round(x / s)")
# Append the codes of pages 0..total into empty pools, row by row slots.
kp = torch.zeros(total, ps, hkv, d, dtype=torch.int8)
vp = torch.zeros(total, ps, hkv, d, dtype=torch.int8)
ksp = torch.zeros(total, ps, hkv, 1)
vsp = torch.zeros(total, ps, hkv, 1)
slots = torch.arange(total * ps, dtype=torch.int32)
attn.append_kv(kq, vq, slots, kp, vp)
attn.append_kv(ks, vs, slots, ksp, vsp)
check(torch.equal(kp.reshape(-1, hkv, d), kq) and torch.equal(vsp.reshape(-1, hkv, 1), vs),
      "append_kv: int8 codes and their f32 scales into their pools")
q = torch.randn(4, hq, 1, d)
o = attn.paged_attention(q, kp, vp, kl, table, causal=True, k_scale=ksp, v_scale=vsp)
ro, _ = reference(q, (kp.double() * ksp.double()).float(), (vp.double() * vsp.double()).float(),
                  kl, table, ps, "nhd", True)
check(rel(o, ro) < 1e-5, f"paged_attention over an int8 per-token cache: {rel(o, ro):.1e}")
# q8_0: f16 scales per 32 channels, bf16 queries.
kq, ks = attn.quantize_kv(kf.reshape(-1, hkv, d), (total * ps, hkv, d // 32),
                          scale_dtype="float16")
check(ks.dtype == torch.float16 and ks.shape == (total * ps, hkv, 2), "quantize_kv q8_0 scales")
qb = torch.randn(4, hq, 1, d).bfloat16()
o = attn.paged_attention(qb, kq.reshape(total, ps, hkv, d), vf.bfloat16(), kl, table,
                         k_scale=ks.reshape(total, ps, hkv, 2))
kd = (kq.reshape(total, ps, hkv, 2, 32).double() *
      ks.reshape(total, ps, hkv, 2, 1).double()).reshape(total, ps, hkv, d).bfloat16()
ro, _ = reference(qb, kd, vf.bfloat16(), kl, table, ps, "nhd", False)
check(rel(o, ro) < 1.6e-2, f"paged_attention over a q8_0 key cache: {rel(o, ro):.1e}")
# fp8 e4m3, per-tensor scales as numbers; the codes from a given scale.
k8 = attn.quantize_kv(kf, dtype="fp8_e4m3", scale=torch.full((1, 1, 1, 1), 0.02))
v8 = attn.quantize_kv(vf, dtype="fp8_e4m3", scale=torch.full((1, 1, 1, 1), 0.01))
check(k8.dtype == torch.uint8 and k8.shape == kf.shape, "quantize_kv fp8: uint8 codes")


def e4m3(c):
    c = c.long()
    e, m = (c & 0x7F) >> 3, c & 7
    v = torch.where(e == 0, m.double() * 2.0 ** -9,
                    (1 + m.double() / 8) * 2.0 ** (e.double() - 7))
    return torch.where(c & 0x80 != 0, -v, v)


o = attn.paged_attention(q, k8, v8, kl, table, causal=True, k_scale=0.02,
                         v_scale=0.01, kv_dtype="fp8_e4m3")
ro, _ = reference(q, (e4m3(k8) * 0.02).float(), (e4m3(v8) * 0.01).float(), kl, table, ps,
                  "nhd", True)
check(rel(o, ro) < 1e-5, f"paged_attention over an fp8 e4m3 cache: {rel(o, ro):.1e}")
# Within half a mantissa step where not saturated (|x| < 448 s), else
# the largest code.
inside = kf.abs() < 448 * 0.02
err = ((e4m3(k8) * 0.02) - kf.double()).abs() / kf.double().abs().clamp(min=0.02 * 2 ** -6)
check(err[inside].max() <= 2 ** -4 + 1e-6 and
      torch.equal(e4m3(k8)[~inside].abs(), torch.full_like(e4m3(k8)[~inside], 448.0)),
      f"fp8 e4m3 codes within half a mantissa step ({err[inside].max():.3g}), "
      f"{int((~inside).sum())} saturated to 448")
expect_error(TypeError, "a quantized k must be int8 codes",
             lambda: attn.paged_attention(q, k8, v8, kl, table, k_scale=0.02, v_scale=0.01),
             "paged_attention: uint8 codes without kv_dtype")
expect_error(ValueError, "k_scale (3, 16, 2, 1) does not fit its cache",
             lambda: attn.paged_attention(q, kp, vp, kl, table, k_scale=ksp[:3],
                                          v_scale=vsp), "paged_attention: a bad scale shape")
expect_error(ValueError, "does not fit x",
             lambda: attn.quantize_kv(kf, (1, 1, 1, 3)), "quantize_kv: bad scale shape")
expect_error(TypeError, "must both be 8-bit codes",
             lambda: attn.append_kv(kf[0], vq[:16], slots[:16], kp, vp),
             "append_kv: float rows into an int8 pool")
# A ragged batch (batch_attention): prefill chunks, decode steps and an idle
# request packed [T, H, D] by qo_indptr, over one paged pool, each chunk
# causal against its own cache; with plan_batch's plan, a plan in another
# order, and none; against paged_attention per request.
lens = [37, 20, 0, 5, 70]
lqs = [1, 6, 0, 1, 70]
total, table = pages_for(lens, 16)
hkv, hq, d = 2, 8, 32
kp = torch.randn(total, 16, hkv, d)
vp = torch.randn(total, 16, hkv, d)
kl = torch.tensor(lens, dtype=torch.int32)
indptr = torch.tensor(np.concatenate([[0], np.cumsum(lqs)]), dtype=torch.int32)
T = int(indptr[-1])
q = torch.randn(T, hq, d)
want_o = torch.zeros(T, hq, d, dtype=torch.float64)
want_l = torch.full((T, hq), -float("inf"), dtype=torch.float64)
for b, lq in enumerate(lqs):
    if lq == 0:
        continue
    t0 = int(indptr[b])
    qb = q[t0:t0 + lq].transpose(0, 1)[None]
    ro, rl = reference(qb, kp, vp, kl[b:b + 1], table[b:b + 1], 16, "nhd", True)
    want_o[t0:t0 + lq] = ro[0].transpose(0, 1)
    want_l[t0:t0 + lq] = rl[0].T
plan = attn.plan_batch(indptr, kl, hq, hkv)
check(plan.dtype == torch.int32 and tuple(plan.shape) == (2, 6) and
      plan[0, :5].sort().values.tolist() == [0, 1, 2, 3, 4] and plan[0, 5] == 64
      and plan[1].tolist()[-1] == 2 + 8 + 2 + 8 * 2 and plan[0, 0] == 4,
      f"plan_batch: the longest items first, then every request ({plan.tolist()})")
for what, p in (("plan", plan), ("no plan", None)):
    o, l = attn.batch_attention(q, kp, vp, indptr, kl, table, causal=True,
                                plan=p, return_lse=True)
    fin = torch.isfinite(want_l)
    check(o.shape == (T, hq, d) and rel(o, want_o) < 1e-5 and
          (l.double()[fin] - want_l[fin]).abs().max() < 1e-4 and
          torch.isneginf(l[~fin]).all(),
          f"batch_attention ({what}): {rel(o, want_o):.1e}")
# Any order that lists the chunks first is a valid plan; NumPy inputs.
order = plan.clone()
first = 0
for k, b in enumerate([1, 4, 0, 3, 2]):
    order[0, k] = b
    order[1, k] = first
    first += [0, hkv][lqs[b] == 1] if lqs[b] <= 1 else hq * -(-lqs[b] // 64)
o = attn.batch_attention(q.numpy(), kp.numpy(), vp.numpy(), indptr.numpy(),
                         kl.numpy(), table.numpy(), causal=True,
                         plan=order.numpy())
check(isinstance(o, np.ndarray) and rel(torch.from_numpy(o), want_o) < 1e-5,
      "batch_attention with a plan in batch order, chunks first (NumPy)")
chunk_late = order.clone()
chunk_late[0, :2] = torch.tensor([0, 1])
chunk_late[1, :2] = torch.tensor([0, hkv])
expect_error(attn.ArgumentError, "a chunk of 6 queries after a decode step",
             lambda: attn.batch_attention(q, kp, vp, indptr, kl, table,
                                          causal=True, plan=chunk_late),
             "batch_attention: a plan with a decode step before a chunk")
expect_error(attn.ArgumentError, "the plan was made for another batch",
             lambda: attn.batch_attention(q, kp, vp, indptr, kl, table,
                                          causal=True,
                                          plan=attn.plan_batch(indptr, kl, hq, hq)),
             "batch_attention: a plan with the wrong decode items")
bad = indptr.clone()
bad[2] = 0
expect_error(attn.ArgumentError, "below the entry before it",
             lambda: attn.batch_attention(q, kp, vp, bad, kl, table),
             "batch_attention: a decreasing qo_indptr")
expect_error(attn.ArgumentError, "below the entry before it",
             lambda: attn.plan_batch(bad, kl, hq, hkv),
             "plan_batch: a decreasing qo_indptr")
expect_error(ValueError, "expected one more than the 4 requests",
             lambda: attn.batch_attention(q, kp, vp, indptr, kl[:4], table[:4]),
             "batch_attention: qo_indptr and kv_lens disagree")
expect_error(ValueError, "must be [tokens, heads, D]",
             lambda: attn.batch_attention(q[None], kp, vp, indptr, kl, table),
             "batch_attention: a rank-4 q")
expect_error(TypeError, "must be an int32",
             lambda: attn.plan_batch(indptr.long(), kl, hq, hkv),
             "plan_batch: int64 pointer")

finish()
