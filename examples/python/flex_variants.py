"""FlexAttention-style variants with attn: score_mod / mask_mod written as
Python functions, traced into the regions of one attn.attention op and
compiled once per distinct program.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/flex_variants.py
"""

import torch

import attn

B, H, HKV, L, D = 2, 8, 2, 300, 64
q = torch.randn(B, H, L, D)
k = torch.randn(B, HKV, L, D)
v = torch.randn(B, HKV, L, D)


def causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def sliding_window(b, h, q_idx, kv_idx):
    return (q_idx >= kv_idx) & (q_idx - kv_idx < 128)


def alibi(score, b, h, q_idx, kv_idx):
    slope = torch.exp2(-((h + 1) * 8.0 / H))
    return score - slope * (q_idx - kv_idx)


def softcap(score, b, h, q_idx, kv_idx):
    return 30.0 * torch.tanh(score / 30.0)


# Document masking: ids captured from the enclosing scope become an extra
# argument of the compiled function, read with tensor.extract.
doc = torch.repeat_interleave(torch.tensor([0, 1, 2]), torch.tensor([100, 150, 50]))
doc = doc.expand(B, L).to(torch.int32).contiguous()


def document(b, h, q_idx, kv_idx):
    return (doc[b, q_idx] == doc[b, kv_idx]) & (q_idx >= kv_idx)


for name, kwargs in [("causal", dict(mask_mod=causal)),
                     ("sliding window", dict(mask_mod=sliding_window)),
                     ("ALiBi", dict(score_mod=alibi, mask_mod=causal)),
                     ("soft cap", dict(score_mod=softcap, mask_mod=causal)),
                     ("document", dict(mask_mod=document)),
                     ("sinks", dict(mask_mod=sliding_window, sinks=torch.zeros(H)))]:
    o, lse = attn.attention(q, k, v, return_lse=True, **kwargs)
    print(f"{name:15s} out {tuple(o.shape)} mean {o.mean():+.4f}  "
          f"lse mean {lse.mean():.3f}")

# The program attn compiles for one of them:
print(attn.to_mlir(q, k, v, score_mod=alibi, mask_mod=causal))
