"""attn.attention with FlexAttention-style score_mod / mask_mod, against a
float64 reference that applies the same mods to broadcast index tensors (as
FlexAttention's own tests do), and against hand-written NumPy for a few.

The mods are the ones FlexAttention's test suite uses (identity, times two,
squared, causal, inverse causal, relative bias, relative causal, ALiBi, head
offset, trigonometric), at odd lengths and head dims (17, 24, 94, 121), GQA,
batch 2, f32/f16/bf16, fully masked rows, sinks and the LSE.
"""


import numpy as np
import torch

import attn
from helpers import check, expect_error, finish

torch.manual_seed(0)



def reference(q, k, v, score_mod=None, mask_mod=None, scale=None, sinks=None):
    """O and LSE in float64; rows with nothing visible give 0 and -inf."""
    q, k, v = (x.double() for x in (q, k, v))
    B, H, Lq, D = q.shape
    G = H // k.shape[1]
    k = k.repeat_interleave(G, dim=1)
    v = v.repeat_interleave(G, dim=1)
    Lk = k.shape[2]
    scale = D ** -0.5 if scale is None else scale
    s = q @ k.transpose(-1, -2) * scale
    b = torch.arange(B).view(B, 1, 1, 1)
    h = torch.arange(H).view(1, H, 1, 1)
    i = torch.arange(Lq).view(1, 1, Lq, 1)
    j = torch.arange(Lk).view(1, 1, 1, Lk)
    if score_mod is not None:
        s = score_mod(s, b, h, i, j).double().expand(B, H, Lq, Lk)
    if mask_mod is not None:
        s = torch.where(mask_mod(b, h, i, j).expand(B, H, Lq, Lk), s,
                        torch.tensor(-float("inf"), dtype=torch.float64))
    if sinks is not None:
        s = torch.cat([s, sinks.double().view(1, H, 1, 1).expand(B, H, Lq, 1)], -1)
        v = torch.cat([v, torch.zeros(B, H, 1, v.shape[-1], dtype=v.dtype)], 2)
    m = s.max(-1, keepdim=True).values
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    p = torch.exp(s - m)
    den = p.sum(-1, keepdim=True)
    o = (p @ v) / torch.where(den == 0, torch.ones_like(den), den)
    lse = (torch.log(den) + m).squeeze(-1)
    return o, lse


def rel_err(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-30)).item()


# FlexAttention's test mods (torch functions on the traced values).
def _identity(score, b, h, m, n):
    return score


def _times_two(score, b, h, m, n):
    return score * 2


def _squared(score, b, h, m, n):
    return score * score


def _causal(score, b, h, token_q, token_kv):
    return torch.where(token_q >= token_kv, score, float("-inf"))


def _inverse_causal(score, b, h, m, n):
    return torch.where(m <= n, score, float("-inf"))


def _rel_bias(score, b, h, m, n):
    return score + (m - n)


def _rel_causal(score, b, h, m, n):
    return torch.where(m <= n, score + (m - n), float("-inf"))


def _generate_alibi_bias(num_heads):
    def _alibi_bias(score, b, h, m, n):
        scale = torch.exp2(-((h + 1) * 8.0 / num_heads))
        return score + (n - m) * scale
    return _alibi_bias


def _trig(score, b, h, m, n):
    return torch.sin(torch.cos(score)) + torch.tan(b)


def _trig2(score, b, h, m, n):
    cos_score = torch.cos(score)
    sin_score = torch.sin(score)
    z = cos_score * sin_score + torch.tan(b)
    return z


def _head_offset(dtype, H):
    head_offset = torch.rand(H, dtype=dtype)

    def score_mod(score, b, h, m, n):
        return score * head_offset[h]
    return score_mod


def causal_mask(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def sliding_window(w):
    def mask(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & (q_idx - kv_idx <= w)
    return mask


def prefix_lm(prefix):
    def mask(b, h, q_idx, kv_idx):
        return (kv_idx <= prefix) | (q_idx >= kv_idx)
    return mask


TOL = {torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}


def run(name, B=2, H=4, Hkv=None, Lq=37, Lk=None, D=24, Dv=None,
        dtype=torch.float32, score_mod=None, mask_mod=None, scale=None,
        sinks=None, lse=False):
    Hkv = Hkv or H
    Lk = Lk or Lq
    Dv = Dv or D
    q = torch.randn(B, H, Lq, D).to(dtype)
    k = torch.randn(B, Hkv, Lk, D).to(dtype)
    v = torch.randn(B, Hkv, Lk, Dv).to(dtype)
    ro, rl = reference(q, k, v, score_mod, mask_mod, scale, sinks)
    got = attn.attention(q, k, v, score_mod=score_mod, mask_mod=mask_mod,
                         scale=scale, sinks=sinks, return_lse=lse)
    o, l = got if lse else (got, None)
    ok = o.dtype == dtype and tuple(o.shape) == (B, H, Lq, Dv)
    ok = ok and bool(torch.isfinite(o.float()).all())
    err = rel_err(o, ro)
    tol = TOL[dtype]
    ok = ok and err <= tol
    msg = f"{name}: err {err:.1e} (tol {tol:.0e})"
    if lse:
        fin = torch.isfinite(rl)
        lerr = (l.double()[fin] - rl[fin]).abs().max().item() if fin.any() else 0
        same_inf = bool((torch.isinf(l) == ~fin).all())
        ok = ok and lerr <= 50 * tol and same_inf and l.dtype == torch.float32
        msg += f", lse err {lerr:.1e}"
    check(ok, msg)
    return q, k, v, o


# The FlexAttention score mods (f32, D = 24, L = 37: not a tile multiple).
for name, mod in [("identity", _identity), ("times_two", _times_two),
                  ("squared", _squared), ("causal", _causal),
                  ("rel_bias", _rel_bias), ("rel_causal", _rel_causal),
                  ("alibi", _generate_alibi_bias(4)), ("trig", _trig),
                  ("trig2", _trig2), ("head_offset", _head_offset(torch.float32, 4))]:
    run(name, score_mod=mod)
# inverse causal: the last row sees one key, rows keep at least one.
run("inverse_causal", score_mod=_inverse_causal, lse=True)

# Odd head dims and lengths, GQA, cross lengths.
run("d17_gqa", H=4, Hkv=2, Lq=19, Lk=33, D=17, score_mod=_rel_bias)
run("d94", H=2, Lq=70, D=94, score_mod=_causal)
run("d121", H=2, Hkv=1, Lq=65, D=121, mask_mod=causal_mask)
run("dv_differs", H=2, Lq=41, D=16, Dv=40, score_mod=_times_two)

# Masks: causal, sliding window, prefix-LM, and fully masked rows.
run("mask_causal", mask_mod=causal_mask, lse=True)
run("mask_window", Lq=100, D=16, mask_mod=sliding_window(9))
run("mask_prefix", Lq=70, D=16, mask_mod=prefix_lm(20))
run("mask_and_score", Lq=50, D=16, mask_mod=sliding_window(5),
    score_mod=_generate_alibi_bias(4), lse=True)
run("empty_rows", Lq=30, D=16,
    mask_mod=lambda b, h, q, kv: (q >= 10) & (kv <= q), lse=True)
run("decode", B=3, H=8, Hkv=2, Lq=1, Lk=77, D=32, score_mod=_rel_bias)
run("scale", D=16, scale=0.05, score_mod=_squared)

# Captured tensors: a bias [B, H, Lq, Lk], document ids, a per-head table.
bias = torch.randn(2, 4, 37, 37)
run("bias", score_mod=lambda s, b, h, q, kv: s + bias[b, h, q, kv])
doc = torch.tensor([[0] * 15 + [1] * 22, [0] * 30 + [1] * 7], dtype=torch.int32)
run("document", mask_mod=lambda b, h, q, kv: (doc[b, q] == doc[b, kv]) & (q >= kv))
isdoc = doc == 0
run("bool_capture", mask_mod=lambda b, h, q, kv: isdoc[b, kv] | (q == kv))
slopes = torch.rand(4, dtype=torch.float64)
run("f64_capture", score_mod=lambda s, b, h, q, kv: s - slopes[h] * (q - kv).abs())

# Computed indices into a capture: a relative-position table (T5 style),
# negative indices counting from the end as in torch, and 0-d tensors (read
# at run time) on either side of an operator.
rel = torch.randn(4, 2 * 37 - 1)
run("relative_table", score_mod=lambda s, b, h, q, kv: s + rel[h, q - kv + 36])
run("negative_index", score_mod=lambda s, b, h, q, kv: s + rel[h, kv - q])
temp = torch.tensor(1.7)
run("zero_d_tensor", score_mod=lambda s, b, h, q, kv: temp * s - torch.tensor(0.5) * (q - kv).abs() / temp)
# Out of range (the table is too short) or a division by zero: torch would
# raise; the kernel must not crash: indices are clamped, x // 0 reads x.
short_rel = torch.randn(4, 10)
for name, kw in [("clamped_index", dict(score_mod=lambda s, b, h, q, kv: s + short_rel[h, q + kv])),
                 ("div_by_zero", dict(mask_mod=lambda b, h, q, kv: (q // (kv - kv)) + q % (kv - kv) >= kv))]:
    o = attn.attention(torch.randn(1, 4, 37, 24), torch.randn(1, 4, 37, 24),
                       torch.randn(1, 4, 37, 24), **kw)
    check(bool(torch.isfinite(o).all()), f"{name}: runs, finite")

# Sinks (gpt-oss), with the LSE.
run("sinks", H=4, Hkv=2, D=16, sinks=torch.randn(4), mask_mod=causal_mask, lse=True)

# Half precision.
run("f16", dtype=torch.float16, D=32, score_mod=_rel_causal)
run("bf16", dtype=torch.bfloat16, H=4, Hkv=1, D=64, Lq=45, mask_mod=causal_mask,
    score_mod=_head_offset(torch.bfloat16, 4))

# NumPy arrays work too, and the result is a NumPy array.
qn = np.random.default_rng(1).standard_normal((1, 2, 9, 8), dtype=np.float32)
on = attn.attention(qn, qn, qn, mask_mod=causal_mask)
ro, _ = reference(*(torch.from_numpy(qn),) * 3, mask_mod=causal_mask)
check(isinstance(on, np.ndarray) and rel_err(torch.from_numpy(on), ro) < 2e-5,
      "NumPy inputs")

# Hand-written checks that do not share the mod's code: ALiBi and softcap.
q = torch.randn(1, 2, 23, 16)
k = torch.randn(1, 2, 23, 16)
v = torch.randn(1, 2, 23, 16)
o = attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: 20 * torch.tanh(s / 20))
qd, kd, vd = (x.double().numpy() for x in (q, k, v))
s = np.einsum("bhid,bhjd->bhij", qd, kd) / 4.0
s = 20 * np.tanh(s / 20)
p = np.exp(s - s.max(-1, keepdims=True))
expect = (p / p.sum(-1, keepdims=True)) @ vd
check(np.abs(o.double().numpy() - expect).max() < 2e-5, "softcap vs NumPy")

# Traced programs are cached: the second call compiles nothing.
from attn import flex  # noqa: E402
n = len(flex._modules)
attn.attention(q, k, v, score_mod=_rel_bias)
attn.attention(q, k, v, score_mod=_rel_bias)
check(len(flex._modules) == n + 1, "one compile for two calls")

# to_mlir shows the program.
text = attn.to_mlir(q, k, v, score_mod=_rel_bias, mask_mod=causal_mask)
check("attn.attention" in text and "score {" in text and "mask {" in text and
      "arith.subi" in text, "to_mlir")
print(text)

# FlexAttention's own API names.
bm = attn.create_block_mask(causal_mask, 1, 1, 23, 23)
o1 = attn.flex_attention(q, k, v, score_mod=_times_two, block_mask=bm)
o2 = attn.attention(q, k, v, score_mod=_times_two, mask_mod=causal_mask)
check(torch.equal(o1, o2), "flex_attention(block_mask=create_block_mask(...))")
o3 = attn.attention(q, k, v, mask_mod=attn.and_masks(causal_mask, sliding_window(3)))
o4 = attn.attention(q, k, v, mask_mod=sliding_window(3))
check(torch.equal(o3, o4), "and_masks")


# Bad input: each a Python exception that names the reason.


expect_error(attn.TracingError, "truth value",
             lambda: attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: s if i > j else 0),
             "Python if on a traced value")
expect_error(attn.TracingError, "torch.logsumexp",
             lambda: attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: torch.logsumexp(s, 0)),
             "an unsupported torch function")
expect_error(attn.TracingError, "must return a boolean",
             lambda: attn.attention(q, k, v, mask_mod=lambda b, h, i, j: i - j),
             "a mask_mod returning an integer")
expect_error(attn.TracingError, "rank 4 must be indexed by 4",
             lambda: attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: s + bias[b, h]),
             "a partly indexed capture")
expect_error(attn.TracingError, "rounding_mode",
             lambda: attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: s + torch.div(i, 2, rounding_mode="floor")),
             "keyword arguments of a torch function")
expect_error(attn.TracingError, "cannot use a Tensor",
             lambda: attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: torch.zeros(2) + s),
             "a whole tensor combined with a traced value")
expect_error(ValueError, "not a multiple",
             lambda: attn.attention(q, torch.randn(1, 3, 23, 16), torch.randn(1, 3, 23, 16)),
             "heads not a multiple")
expect_error(TypeError, "one dtype",
             lambda: attn.attention(q, k.half(), v), "mixed dtypes")
expect_error(ValueError, "[batch, heads, length, head_dim]",
             lambda: attn.attention(q[0], k, v), "a 3-D query")
expect_error(ValueError, "sinks must have shape [2]",
             lambda: attn.attention(q, k, v, sinks=torch.zeros(3)), "sinks of the wrong size")
short = torch.randn(1, 2, 10, 23)
expect_error(attn.ArgumentError, "a region reads it",
             lambda: attn.attention(q, k, v, score_mod=lambda s, b, h, i, j: s + short[b, h, i, j]),
             "a captured bias shorter than the sequence")

finish()
