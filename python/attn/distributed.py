"""Scale-out on torch.distributed.

ring_attention: context-parallel (ring) attention. The sequence is sharded
over the ranks of a process group; key/value blocks travel around the ring
(isend/irecv to the next rank, overlapped with the local block's attention)
and each rank merges the partial outputs of its queries by their LSE
(attn.merge). The backward passes (K, V, dK, dV) around the same ring: each
rank adds its queries' contribution to the block it holds, using the global
O and LSE saved by the forward (FlashAttention-2's backward is exact per key
block given those), and after a full turn the gradients are back with their
owner.

Layouts: "contiguous" (rank r holds positions [r n, (r + 1) n)) and
"zigzag" (the sequence in 2W chunks, rank r holds chunks r and 2W - 1 - r:
the causal work is balanced). Pairs of chunks are classified at the block
level: hidden (skipped), on the diagonal (causal) or fully visible.
"""

import torch
import torch.distributed as dist

from . import flex
from .ops import merge


def _global_rank(group, r):
    if group is None:
        return r
    if hasattr(dist, "get_global_rank"):
        return dist.get_global_rank(group, r)
    return dist.distributed_c10d._get_global_rank(group, r)


def _chunks(rank, world, n, layout):
    """This rank's (global start, local start, length) chunks."""
    if layout == "contiguous":
        return [(rank * n, 0, n)]
    if layout == "zigzag":
        if n % 2:
            raise ValueError(f"ring_attention: layout='zigzag' needs an even "
                             f"local length, got {n}")
        c = n // 2
        return [(rank * c, 0, c), ((2 * world - 1 - rank) * c, c, c)]
    raise ValueError(f"ring_attention: layout must be 'contiguous' or "
                     f"'zigzag', got {layout!r}")


def _classify(qc, kc, causal):
    """'full', 'diagonal' or None (hidden) for a query and a key chunk."""
    if not causal:
        return "full"
    (qs, _, ql), (ks, _, kl) = qc, kc
    if ks >= qs + ql:
        return None
    if ks + kl - 1 <= qs:
        return "full"
    if ks == qs and kl == ql:
        return "diagonal"
    raise AssertionError("chunks overlap partially")  # equal chunk sizes


def _slice(x, start, length):
    if start == 0 and length == x.shape[2]:
        return x
    return x[:, :, start:start + length].contiguous()


class _Pair:
    """The program of one (query chunk, key chunk) pair: its text, module
    and captured tensors (the chunks' global offsets, for a score_mod)."""

    def __init__(self, q, k, v, kind, qstart, kstart, score_mod, scale):
        mod = None
        if score_mod is not None:
            off = torch.tensor([qstart, kstart], dtype=torch.int64)

            def mod(s, b, h, i, j):
                return score_mod(s, b, h, i + off[0], j + off[1])
        program = flex.trace(q, k, v, mod, None, scale, None, True,
                             kind == "diagonal")
        self.module = flex._module(program.text, grad=True)
        self.captures = [c.tensor for c in program.captures]

    def forward(self, q, k, v):
        return self.module.main(q, k, v, *self.captures)

    def backward(self, q, k, v, o, lse, do, dlse):
        g = self.module.main_backward(q, k, v, *self.captures, o, lse, do,
                                      dlse)
        return g[:3]


class _Ring:
    def __init__(self, q, k, v, group, causal, score_mod, layout, scale):
        self.group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        self.next = _global_rank(group, (self.rank + 1) % self.world)
        self.prev = _global_rank(group, (self.rank - 1) % self.world)
        n = q.shape[2]
        if k.shape[2] != n or v.shape[2] != n:
            raise ValueError(f"ring_attention: q, k and v must hold the same "
                             f"shard length, got {q.shape[2]}, {k.shape[2]}, "
                             f"{v.shape[2]}")
        # Every rank must hold a shard of the same length (else the ring's
        # exchanges would not match): checked collectively.
        lens = torch.tensor([n, -n], dtype=torch.int64)
        dist.all_reduce(lens, op=dist.ReduceOp.MAX, group=group)
        if int(lens[0]) != n or -int(lens[1]) != n:
            raise ValueError(f"ring_attention: every rank must pass a shard of "
                             f"the same length; this rank has {n}, others "
                             f"between {-int(lens[1])} and {int(lens[0])}")
        self.n = n
        self.causal = causal
        self.score_mod = score_mod
        self.layout = layout
        self.scale = scale
        self.qchunks = _chunks(self.rank, self.world, n, layout)
        self.qslices = {}  # (q's data, chunk) -> its contiguous copy
        self.programs = {}  # (chunk, key chunk start) -> _Pair

    def exchange(self, tensors):
        """Posts sends of `tensors` to the next rank and receives of the
        same shapes from the previous one; returns (received, wait)."""
        recv = [torch.empty_like(t) for t in tensors]
        reqs = [dist.isend(t, self.next, group=self.group) for t in tensors]
        reqs += [dist.irecv(r, self.prev, group=self.group) for r in recv]

        def wait():
            for r in reqs:
                r.wait()
        return recv, wait

    def pairs(self, step, q, k, v):
        """The visible (query chunk, key chunk, program) of a step."""
        s = (self.rank - step) % self.world
        for qi, qc in enumerate(self.qchunks):
            for kc in _chunks(s, self.world, self.n, self.layout):
                kind = _classify(qc, kc, self.causal)
                if kind is None:
                    continue
                # A query chunk is copied out once, and each pair traced
                # once, for the forward and the backward together.
                qq = self.qslices.get((q.data_ptr(), qi))
                if qq is None:
                    qq = _slice(q, qc[1], qc[2])
                    self.qslices[(q.data_ptr(), qi)] = qq
                kk = _slice(k, kc[1], kc[2])
                vv = _slice(v, kc[1], kc[2])
                pair = self.programs.get((qi, kc[0]))
                if pair is None:
                    pair = self.programs[(qi, kc[0])] = _Pair(
                        qq, kk, vv, kind, qc[0], kc[0], self.score_mod,
                        self.scale)
                yield qi, qc, kc, qq, kk, vv, pair

    def forward(self, q, k, v):
        acc = [None] * len(self.qchunks)
        cur = [k, v]
        for step in range(self.world):
            if step + 1 < self.world:
                nxt, wait = self.exchange(cur)
            for qi, qc, kc, qq, kk, vv, pair in self.pairs(step, q, *cur):
                o, lse = pair.forward(qq, kk, vv)
                if acc[qi] is None:
                    acc[qi] = (o.float(), lse)
                else:
                    acc[qi] = merge([acc[qi][0], o], [acc[qi][1], lse],
                                    out_dtype=torch.float32)
            if step + 1 < self.world:
                wait()
                cur = nxt
        o = torch.cat([a[0] for a in acc], 2).to(q.dtype)
        lse = torch.cat([a[1] for a in acc], 2)
        return o.contiguous(), lse.contiguous()

    def backward(self, q, k, v, o, lse, do):
        dq = torch.zeros(q.shape, dtype=torch.float32)
        cur = [k, v]
        grads = [torch.zeros(k.shape, dtype=torch.float32),
                 torch.zeros(v.shape, dtype=torch.float32)]
        do = do.to(o.dtype).contiguous()
        for step in range(self.world):
            if step + 1 < self.world:
                nxt, wait = self.exchange(cur)
            for qi, qc, kc, qq, kk, vv, pair in self.pairs(step, q, *cur):
                oo = _slice(o, qc[1], qc[2])
                ll = lse[:, :, qc[1]:qc[1] + qc[2]].contiguous()
                dd = _slice(do, qc[1], qc[2])
                dq_p, dk_p, dv_p = pair.backward(qq, kk, vv, oo, ll, dd,
                                                 torch.zeros_like(ll))
                dq[:, :, qc[1]:qc[1] + qc[2]] += dq_p.float()
                grads[0][:, :, kc[1]:kc[1] + kc[2]] += dk_p.float()
                grads[1][:, :, kc[1]:kc[1] + kc[2]] += dv_p.float()
            # The block's gradients go on with it; after the last step they
            # are back with the block's owner.
            grads, gwait = self.exchange(grads)
            if step + 1 < self.world:
                wait()
                cur = nxt
            gwait()
        return dq.to(q.dtype), grads[0].to(k.dtype), grads[1].to(v.dtype)


class _RingFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, ring):
        o, lse = ring.forward(q, k, v)
        ctx.ring = ring
        ctx.save_for_backward(q, k, v, o, lse)
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = ctx.ring.backward(q, k, v, o, lse, do)
        return dq, dk, dv, None


def ring_attention(q, k, v, group=None, causal=False, score_mod=None,
                   layout="contiguous", scale=None):
    """Sequence-parallel attention over the ranks of `group`.

    Each rank passes its shard q [B, H, n, D], k, v [B, Hkv, n, D(v)] (CPU
    torch tensors, contiguous) and gets back the output rows of its shard:
    with layout="contiguous" rank r holds positions [r n, (r + 1) n); with
    layout="zigzag" the sequence is cut into 2W chunks of n / 2 and rank r
    holds chunks r and 2W - 1 - r (in that order). causal: each query sees
    the keys at or before its global position. score_mod gets global
    q_idx / kv_idx. Differentiable in q, k and v.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"ring_attention: {name} must be a torch tensor")
        if x.device.type != "cpu":
            raise ValueError(f"ring_attention: {name} is on {x.device}; attn "
                             f"runs on the CPU")
    if not dist.is_initialized():
        raise RuntimeError("ring_attention: torch.distributed is not "
                           "initialized (init_process_group)")
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    ring = _Ring(q, k, v, group, causal, score_mod, layout, scale)
    if torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v)):
        return _RingFunction.apply(q, k, v, ring)
    return ring.forward(q, k, v)[0]


def moe(x, router_weight, w1, w3, w2, k=2, group=None, scoring="softmax",
        renormalize=True, activation="swish", bias=None, routed_scale=None):
    """Expert-parallel mixture of experts over the ranks of `group`.

    x [T, Dm]: this rank's tokens; router_weight [Dm, E] (the same on every
    rank); w1, w3 [E_local, Dm, F] and w2 [E_local, F, Dm]: this rank's
    experts, rank r owning experts [r E_local, (r + 1) E_local). Each rank
    routes its tokens (attn.route, top k), sends every routed (token,
    expert) pair to the expert's owner with all_to_all_single (split sizes
    from the router's per-expert counts), runs its experts on what it
    received (attn.experts), sends the results back and combines them with
    the routing weights. Returns y [T, Dm]. Differentiable (torch autograd
    through the exchanges) in x, router_weight and the local experts.
    """
    import torch.distributed.nn.functional as dnn
    from .ops import route, experts

    world = dist.get_world_size(group)
    if len(w1.shape) != 3:
        raise ValueError(f"moe: w1 must be [local experts, dim, hidden], got "
                         f"{tuple(w1.shape)}")
    e_local = w1.shape[0]
    E = router_weight.shape[1]
    if E != e_local * world:
        raise ValueError(f"moe: the router has {E} experts, but {world} "
                         f"ranks x {e_local} local experts make "
                         f"{e_local * world}")
    T, Dm = x.shape
    w, idx, counts, _ = route(x, k, weight=router_weight, scoring=scoring,
                              renormalize=renormalize, bias=bias,
                              routed_scale=routed_scale, return_counts=True)
    flat = idx.reshape(-1).long()
    dest = torch.where(flat >= 0, flat // e_local,
                       torch.full_like(flat, world))  # dropped slots last
    _, order = torch.sort(dest, stable=True)
    # Pairs per destination rank (the router's per-expert counts summed over
    # each rank's experts; counted from the indices themselves so that the
    # split sizes agree with `order` whatever the router dropped).
    send_counts = torch.bincount(dest, minlength=world + 1)[:world]
    assert int(send_counts.sum()) == int(counts.sum()), "router counts"
    n_send = int(send_counts.sum())
    order = order[:n_send]
    token = order // k
    send_split = send_counts.tolist()
    recv_counts = torch.empty_like(send_counts)
    dist.all_to_all_single(recv_counts, send_counts, group=group)
    recv_split = recv_counts.tolist()
    n_recv = sum(recv_split)
    # Tokens (differentiable) and their local expert ids to the owners.
    x_send = x[token]
    x_recv = dnn.all_to_all_single(x.new_empty((n_recv, Dm)), x_send,
                                   recv_split, send_split, group=group)
    e_send = (flat[order] - dest[order] * e_local).to(torch.int32)
    e_recv = torch.empty(n_recv, dtype=torch.int32)
    dist.all_to_all_single(e_recv, e_send, recv_split, send_split,
                           group=group)
    if n_recv:
        ones = torch.ones(n_recv, 1)
        y_recv = experts(x_recv.contiguous(), ones, e_recv.view(-1, 1),
                         w1, w3, w2, activation=activation)
    else:  # keeps the experts in the graph (zero gradients)
        y_recv = x_recv * 0 + (w1.sum() + w3.sum() + w2.sum()) * 0
    # Results back to the tokens' ranks, weighted and summed per token.
    y_pairs = dnn.all_to_all_single(x.new_empty((n_send, Dm)), y_recv,
                                    send_split, recv_split, group=group)
    weight = w.reshape(-1)[order].unsqueeze(1)
    return torch.zeros(T, Dm, dtype=y_pairs.dtype).index_add(
        0, token, y_pairs * weight)
