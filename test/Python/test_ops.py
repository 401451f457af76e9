"""attn.merge, attn.route, attn.experts and attn.gate from Python against
torch written from the ops' math, with gradients through torch autograd, and
their bad-input errors."""


import numpy as np
import torch
import torch.nn.functional as F

import attn
from helpers import check, expect_error, finish

torch.manual_seed(3)



def rel(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-30)).item()




# merge: three partials, some rows empty in some partials, one row in all.
o = [torch.randn(2, 3, 9, 8) for _ in range(3)]
l = [torch.randn(2, 3, 9) * 2 for _ in range(3)]
l[0][:, :, 0] = -float("inf")
l[1][:, :, 1:3] = -float("inf")
for t in range(3):
    l[t][:, :, 8] = -float("inf")
    o[t][torch.isinf(l[t])] = 0
mo, ml = attn.merge(o, l)
lse = torch.logsumexp(torch.stack([x.double() for x in l]), 0)
w = [torch.exp(x.double() - lse).nan_to_num(0.0) for x in l]
ref = sum(wi[..., None] * oi.double() for wi, oi in zip(w, o))
fin = torch.isfinite(lse)
check(rel(mo, ref) < 1e-6 and (ml.double()[fin] - lse[fin]).abs().max() < 1e-6
      and torch.isneginf(ml[~fin]).all() and (mo[:, :, 8] == 0).all(),
      f"merge of 3 partials with empty rows: {rel(mo, ref):.1e}")
mb, _ = attn.merge([o[0].bfloat16(), o[1]], [l[0], l[1]], out_dtype=torch.bfloat16)
check(mb.dtype == torch.bfloat16, "merge: bf16 partial and output")
# merge is differentiable (its adjoint), vs torch's logsumexp form.
og = [torch.randn(2, 3, 9, 8, requires_grad=True) for _ in range(2)]
lg = [torch.randn(2, 3, 9, requires_grad=True) for _ in range(2)]
mo, ml = attn.merge(og, lg)
(mo.sum() + (ml * ml).sum()).backward()
ot = [t.detach().clone().requires_grad_(True) for t in og]
lt = [t.detach().clone().requires_grad_(True) for t in lg]
lr = torch.logsumexp(torch.stack(lt), 0)
orr = sum(torch.exp(x - lr)[..., None] * y for x, y in zip(lt, ot))
(orr.sum() + (lr * lr).sum()).backward()
errs = [rel(a.grad, b.grad) for a, b in zip(og + lg, ot + lt)]
check(max(errs) < 1e-5, "merge gradients: " + " ".join(f"{e:.1e}" for e in errs))
# Stacked (one program for any number of partials): the same three, then
# five and none; gradients vs torch.
so, sl = attn.merge(torch.stack(o), torch.stack(l))
check(rel(so, ref) < 1e-6 and (sl.double()[fin] - lse[fin]).abs().max() < 1e-6
      and torch.isneginf(sl[~fin]).all() and (so[:, :, 8] == 0).all(),
      f"stacked merge of 3 partials with empty rows: {rel(so, ref):.1e}")
o5, l5 = torch.randn(5, 2, 9, 8), torch.randn(5, 2, 9)
so, sl = attn.merge(o5, l5)
lr5 = torch.logsumexp(l5.double(), 0)
check(rel(so, (torch.exp(l5.double() - lr5)[..., None] * o5.double()).sum(0)) < 1e-6,
      "stacked merge of 5 partials")
so, sl = attn.merge(o5[:0], l5[:0])
check(so.shape == (2, 9, 8) and (so == 0).all() and torch.isneginf(sl).all(),
      "stacked merge of no partials: O = 0, LSE = -inf")
og5 = torch.randn(4, 3, 7, 8, requires_grad=True)
lg5 = torch.randn(4, 3, 7, requires_grad=True)
mo, ml = attn.merge(og5, lg5)
(mo.sum() + (ml * ml).sum()).backward()
ot5 = og5.detach().clone().requires_grad_(True)
lt5 = lg5.detach().clone().requires_grad_(True)
lr = torch.logsumexp(lt5, 0)
((torch.exp(lt5 - lr)[..., None] * ot5).sum(0).sum() + (lr * lr).sum()).backward()
errs = [rel(og5.grad, ot5.grad), rel(lg5.grad, lt5.grad)]
check(max(errs) < 1e-5, "stacked merge gradients: " + " ".join(f"{e:.1e}" for e in errs))
# The partials' dim in the middle (FlashInfer's merge_states layout
# [L, S, H, D]), with gradients.
om = torch.randn(9, 3, 2, 8, requires_grad=True)
lm = torch.randn(9, 3, 2, requires_grad=True)
mo, ml = attn.merge(om, lm, dim=1)
(mo.sum() + (ml * ml).sum()).backward()
omt = om.detach().clone().requires_grad_(True)
lmt = lm.detach().clone().requires_grad_(True)
lr = torch.logsumexp(lmt, 1)
orr = (torch.exp(lmt - lr[:, None])[..., None] * omt).sum(1)
check(rel(mo, orr) < 1e-6 and rel(ml, lr) < 1e-6, "stacked merge along dim 1")
(orr.sum() + (lr * lr).sum()).backward()
errs = [rel(om.grad, omt.grad), rel(lm.grad, lmt.grad)]
check(max(errs) < 1e-5, "stacked merge along dim 1, gradients: " + " ".join(f"{e:.1e}" for e in errs))
so, _ = attn.merge(om.detach(), lm.detach(), dim=-3)
check(rel(so, orr) < 1e-6, "stacked merge: dim=-3 is dim 1 here")
expect_error(ValueError, "other than the last", lambda: attn.merge(o5, l5, dim=3), "stacked merge: the last dim")
expect_error(ValueError, "last dim", lambda: attn.merge(o5, l5, dim=-1), "stacked merge: dim=-1")
expect_error(ValueError, "without the last dim", lambda: attn.merge(o5, l5[:, :, :4]),
             "stacked merge: LSE shape")
expect_error(TypeError, "both be arrays", lambda: attn.merge(o5, list(l5)),
             "stacked merge: mixed forms")
expect_error(ValueError, "as many LSEs", lambda: attn.merge(o, l[:2]), "merge: counts differ")
expect_error(TypeError, "LSEs must be float32", lambda: attn.merge(o[:1], [l[0].double()]),
             "merge: f64 LSE")

# route: softmax top-2 renormalized, with the router's projection, counts.
x = torch.randn(37, 64)
wr = torch.randn(64, 8)
w, i, counts, psum = attn.route(x, 2, weight=wr, renormalize=True, return_counts=True)
p = torch.softmax(x @ wr, -1)
tv, ti = p.topk(2)
check(rel(w, tv / tv.sum(-1, keepdim=True)) < 1e-5 and torch.equal(i, ti.int()),
      "route: softmax top-2 renormalized")
check(torch.equal(counts, torch.bincount(ti.flatten(), minlength=8).int()) and
      rel(psum, p.sum(0)) < 1e-5, "route: counts and probability sums")
ws, isg = attn.route(x @ wr, 3, scoring="sigmoid", bias=torch.linspace(-1, 1, 8))
sel = (torch.sigmoid(x @ wr) + torch.linspace(-1, 1, 8)).topk(3).indices
check(torch.equal(isg, sel.int()) and rel(ws, torch.sigmoid(x @ wr).gather(1, sel)) < 1e-5,
      "route: sigmoid scoring with a selection bias")
expect_error(ValueError, "k = 9 exceeds the 8 experts", lambda: attn.route(x @ wr, 9), "route: k too big")
expect_error(ValueError, "weight must be [64, experts]", lambda: attn.route(x, 2, weight=wr.t()),
             "route: weight of the wrong shape")
expect_error(ValueError, "unknown scoring", lambda: attn.route(x @ wr, 2, scoring="max"),
             "route: unknown scoring")

# experts (and gradients through route + experts).
w1, w3 = (torch.randn(8, 64, 32) * 0.1 for _ in range(2))
w2 = torch.randn(8, 32, 64) * 0.1


def experts_ref(x, w, i, w1, w3, w2):
    y = torch.zeros_like(x)
    for s in range(i.shape[1]):
        e = i[:, s].long()
        h = F.silu(torch.einsum("td,tdf->tf", x, w1[e])) * torch.einsum("td,tdf->tf", x, w3[e])
        y = y + w[:, s:s + 1] * torch.einsum("tf,tfd->td", h, w2[e])
    return y


y = attn.experts(x, w, i, w1, w3, w2)
check(rel(y, experts_ref(x, w, i, w1, w3, w2)) < 1e-5, "experts: SwiGLU over routed pairs")
xs = [t.clone().requires_grad_(True) for t in (x, wr, w1, w3, w2)]
wg, ig = attn.route(xs[0], 2, weight=xs[1], renormalize=True)
(attn.experts(xs[0], wg, ig, *xs[2:]) ** 2).sum().backward()
xt = [t.clone().requires_grad_(True) for t in (x, wr, w1, w3, w2)]
pt = torch.softmax(xt[0] @ xt[1], -1)
tv, ti = pt.topk(2)
(experts_ref(xt[0], tv / tv.sum(-1, keepdim=True), ti, *xt[2:]) ** 2).sum().backward()
errs = [rel(a.grad, b.grad) for a, b in zip(xs, xt)]
check(max(errs) < 1e-4, "route + experts gradients: " + " ".join(f"{e:.1e}" for e in errs))
expect_error(TypeError, "indices must be int32", lambda: attn.experts(x, w, i.long(), w1, w3, w2),
             "experts: int64 indices")
expect_error(ValueError, "activation must be one of",
             lambda: attn.experts(x, w, i, w1, w3, w2, activation="tanh"), "experts: activation")

# gate: per-(b, h, token) sigmoid gate on a [B, H, L, D] output, gradients.
xo = torch.randn(2, 4, 11, 16, requires_grad=True)
g = torch.randn(2, 4, 11, requires_grad=True)
yg = attn.gate(xo, g, "sigmoid", dims=[0, 1, 2])
xo2 = xo.detach().clone().requires_grad_(True)
g2 = g.detach().clone().requires_grad_(True)
yr = xo2 * torch.sigmoid(g2)[..., None]
(yg * yr.detach()).sum().backward()
(yr * yr.detach()).sum().backward()
check(rel(yg, yr) < 1e-6 and rel(xo.grad, xo2.grad) < 1e-5 and rel(g.grad, g2.grad) < 1e-5,
      "gate: sigmoid per token, with gradients")
yn = attn.gate(np.ones((3, 5), np.float32), np.zeros((3, 5), np.float32), "swish")
check(isinstance(yn, np.ndarray) and np.allclose(yn, 0), "gate: NumPy, swish(0) = 0")
expect_error(ValueError, "must match x", lambda: attn.gate(xo, g, dims=[0, 1]), "gate: dims")

finish()
