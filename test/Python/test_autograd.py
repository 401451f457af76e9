"""Autograd through attn: gradients of q, k, v and of captured tensors
against torch autograd of a naive attention, and a small two-layer model
trained 50 steps twice from one seed (attn's attention vs the naive one):
the losses agree to 1e-4 relative at every step (f32).
"""


import torch

import attn
from helpers import check, finish




def naive(q, k, v, score_mod=None, mask_mod=None, sinks=None):
    B, H, L, D = q.shape
    G = H // k.shape[1]
    k = k.repeat_interleave(G, dim=1)
    v = v.repeat_interleave(G, dim=1)
    s = q @ k.transpose(-1, -2) / D ** 0.5
    b = torch.arange(B).view(B, 1, 1, 1)
    h = torch.arange(H).view(1, H, 1, 1)
    i = torch.arange(L).view(1, 1, L, 1)
    j = torch.arange(k.shape[2]).view(1, 1, 1, -1)
    if score_mod is not None:
        s = score_mod(s, b, h, i, j)
    if mask_mod is not None:
        s = s.masked_fill(~mask_mod(b, h, i, j), float("-inf"))
    if sinks is not None:
        s = torch.cat([s, sinks.view(1, H, 1, 1).expand(B, H, L, 1)], -1)
        p = torch.softmax(s, -1)[..., :-1]
    else:
        p = torch.softmax(s, -1)
    return p @ v


def causal(b, h, i, j):
    return i >= j


def grads_match(name, score_mod=None, mask_mod=None, H=4, Hkv=2, L=29, D=16,
                extra=(), sinks=None):
    torch.manual_seed(1)
    q = torch.randn(2, H, L, D, requires_grad=True)
    k = torch.randn(2, Hkv, L, D, requires_grad=True)
    v = torch.randn(2, Hkv, L, D, requires_grad=True)
    do = torch.randn(2, H, L, D)
    leaves = [q, k, v] + list(extra) + ([sinks] if sinks is not None else [])
    ref = naive(q, k, v, score_mod, mask_mod, sinks)
    ref_grads = torch.autograd.grad(ref, leaves, do)
    out = attn.attention(q, k, v, score_mod=score_mod, mask_mod=mask_mod,
                         sinks=sinks)
    check(out.requires_grad, f"{name}: the result requires grad")
    got = torch.autograd.grad(out, leaves, do)
    errs = [((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item()
            for a, b in zip(got, ref_grads)]
    ferr = ((out - ref).abs().max()).item()
    check(ferr < 1e-5 and max(errs) < 1e-4,
          f"{name}: forward {ferr:.1e}, gradients " +
          " ".join(f"{e:.1e}" for e in errs))
    # Determinism: the same bits twice.
    again = torch.autograd.grad(
        attn.attention(q, k, v, score_mod=score_mod, mask_mod=mask_mod,
                       sinks=sinks), leaves, do)
    check(all(torch.equal(a, b) for a, b in zip(got, again)),
          f"{name}: two backward runs give identical bits")


grads_match("causal_gqa", mask_mod=causal)
grads_match("softcap", score_mod=lambda s, b, h, i, j: 5 * torch.tanh(s / 5))
bias = torch.randn(4, 29, 29, requires_grad=True)
grads_match("learned_bias", score_mod=lambda s, b, h, i, j: s + bias[h, i, j],
            mask_mod=causal, extra=[bias])
slopes = torch.rand(4, requires_grad=True)
grads_match("alibi_slopes",
            score_mod=lambda s, b, h, i, j: s - slopes[h] * (i - j),
            mask_mod=causal, extra=[slopes])
grads_match("sinks", mask_mod=causal, sinks=torch.randn(4, requires_grad=True))
temperature = torch.tensor(1.5, requires_grad=True)  # 0-d: read at run time
grads_match("temperature", score_mod=lambda s, b, h, i, j: s / temperature,
            extra=[temperature])

# The LSE is differentiable too.
torch.manual_seed(2)
q = torch.randn(1, 2, 13, 8, requires_grad=True)
o, lse = attn.attention(q, q, q, mask_mod=causal, return_lse=True)
(o.sum() + lse.sum()).backward()
s = (q @ q.transpose(-1, -2)) / 8 ** 0.5
s = s.masked_fill(~torch.tril(torch.ones(13, 13, dtype=torch.bool)), float("-inf"))
q2 = q.detach().clone().requires_grad_(True)
s2 = (q2 @ q2.transpose(-1, -2)) / 8 ** 0.5
s2 = s2.masked_fill(~torch.tril(torch.ones(13, 13, dtype=torch.bool)), float("-inf"))
((torch.softmax(s2, -1) @ q2).sum() + torch.logsumexp(s2, -1).sum()).backward()
check(((q.grad - q2.grad).abs().max() / q2.grad.abs().max()).item() < 1e-4,
      "gradient through the LSE")


# Training equivalence: a two-layer causal attention model.
class Model(torch.nn.Module):
    def __init__(self, attention, d=32, heads=4, layers=2):
        super().__init__()
        self.attention = attention
        self.heads = heads
        self.qkv = torch.nn.ModuleList(torch.nn.Linear(d, 3 * d) for _ in range(layers))
        self.out = torch.nn.ModuleList(torch.nn.Linear(d, d) for _ in range(layers))
        self.head = torch.nn.Linear(d, 1)

    def forward(self, x):
        B, L, d = x.shape
        for qkv, out in zip(self.qkv, self.out):
            q, k, v = qkv(x).view(B, L, 3, self.heads, d // self.heads) \
                .permute(2, 0, 3, 1, 4)
            o = self.attention(q.contiguous(), k.contiguous(), v.contiguous())
            x = x + out(o.transpose(1, 2).reshape(B, L, d))
        return self.head(x).squeeze(-1)


def train(attention):
    torch.manual_seed(1234)
    model = Model(attention)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = torch.randn(4, 23, 32)
    target = torch.randn(4, 23)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = ((model(data) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


ours = train(lambda q, k, v: attn.attention(q, k, v, mask_mod=causal))
theirs = train(lambda q, k, v: naive(q, k, v, mask_mod=causal))
worst = max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))
check(worst < 1e-4, f"50 training steps: losses agree to {worst:.1e} relative "
      f"(first {ours[0]:.5f}/{theirs[0]:.5f}, last {ours[-1]:.5f}/{theirs[-1]:.5f})")
check(ours[-1] < 0.7 * ours[0], "the model learns")

# No grad mode: the plain forward runs (no saved state).
with torch.no_grad():
    o = attn.attention(q, q, q, mask_mod=causal)
check(not o.requires_grad, "torch.no_grad() runs the forward only")

finish()
