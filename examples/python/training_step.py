"""A training step through attn: gradients of q, k, v and of a learned
relative-position bias captured by the score_mod, from torch autograd over
attn's derived backward.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/training_step.py
"""

import torch

import attn

torch.manual_seed(0)
B, H, L, D = 2, 4, 64, 32
proj = torch.nn.Linear(D, 3 * D)
bias = torch.zeros(H, 2 * L - 1, requires_grad=True)  # one per head and offset
opt = torch.optim.Adam(list(proj.parameters()) + [bias], lr=1e-2)
x = torch.randn(B, L, D)
target = torch.randn(B, L, D)


def rel_bias(score, b, h, q_idx, kv_idx):
    return score + bias[h, q_idx - kv_idx + L - 1]


def causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


for step in range(20):
    opt.zero_grad()
    q, k, v = proj(x).view(B, L, 3, H, D // H).permute(2, 0, 3, 1, 4)
    o = attn.attention(q.contiguous(), k.contiguous(), v.contiguous(),
                       score_mod=rel_bias, mask_mod=causal)
    loss = ((o.transpose(1, 2).reshape(B, L, D) - target) ** 2).mean()
    loss.backward()
    opt.step()
    if step % 5 == 0 or step == 19:
        print(f"step {step:2d} loss {loss.item():.5f} "
              f"|d bias| {bias.grad.abs().sum():.4f}")
