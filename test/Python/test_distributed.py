"""attn.distributed.ring_attention and attn.merge on torch.distributed (gloo,
127.0.0.1): 2 and 4 ranks, contiguous and zigzag layouts, causal and not, a
score_mod on global positions; outputs and q/k/v gradients equal the
single-process attn.attention over the whole sequence.
"""

import datetime
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import attn

B, H, HKV, D = 2, 4, 2, 16


def alibi(s, b, h, i, j):
    return s - (h + 1) * 0.25 * (i - j).abs()


CASES = [  # (world, layout, causal, score_mod, n per rank)
    (2, "contiguous", True, None, 19),
    (2, "zigzag", True, alibi, 14),
    (2, "contiguous", False, alibi, 11),
    (4, "zigzag", True, None, 10),
    (4, "contiguous", True, alibi, 9),
]


def data(world, n, seed):
    g = torch.Generator().manual_seed(seed)
    L = world * n
    q = torch.randn(B, H, L, D, generator=g)
    k = torch.randn(B, HKV, L, D, generator=g)
    v = torch.randn(B, HKV, L, D, generator=g)
    do = torch.randn(B, H, L, D, generator=g)
    return q, k, v, do


def shard(x, rank, world, n, layout):
    if layout == "contiguous":
        return x[:, :, rank * n:(rank + 1) * n]
    c = n // 2
    return torch.cat([x[:, :, rank * c:(rank + 1) * c],
                      x[:, :, (2 * world - 1 - rank) * c:(2 * world - rank) * c]], 2)


def reference(world, n, causal, mod, seed):
    q, k, v, do = data(world, n, seed)
    q.requires_grad_(True)
    k.requires_grad_(True)
    v.requires_grad_(True)
    mask = (lambda b, h, i, j: i >= j) if causal else None
    o = attn.attention(q, k, v, score_mod=mod, mask_mod=mask)
    o.backward(do)
    return o.detach(), q.grad, k.grad, v.grad


def moe_data(world):
    g = torch.Generator().manual_seed(11)
    xs = [torch.randn(11, 32, generator=g) for _ in range(world)]
    wr = torch.randn(32, 8, generator=g)
    w1, w3 = (torch.randn(8, 32, 32, generator=g) * 0.2 for _ in range(2))
    w2 = torch.randn(8, 32, 32, generator=g) * 0.2
    return xs, wr, w1, w3, w2


def moe_dy(world):
    g = torch.Generator().manual_seed(12)
    return [torch.randn(11, 32, generator=g) for _ in range(world)]


def moe_reference(world):
    xs, wr, w1, w3, w2 = moe_data(world)
    x = torch.cat(xs).requires_grad_(True)
    params = [t.clone().requires_grad_(True) for t in (wr, w1, w3, w2)]
    w, i = attn.route(x, 2, weight=params[0], renormalize=True)
    y = attn.experts(x, w, i, *params[1:])
    (y * torch.cat(moe_dy(world))).sum().backward()
    return y.detach(), x.grad, params[0].grad, params[1].grad, params[2].grad, params[3].grad


def worker(rank, world, port, cases, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    attn.set_num_threads(1)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=120))
    try:
        results = []
        run_cases(rank, world, cases, results)
        queue.put((rank, results))
    except Exception:
        import traceback
        queue.put((rank, "error: " + traceback.format_exc()))
    finally:
        dist.destroy_process_group()


def run_cases(rank, world, cases, results):
    for idx, (_, layout, causal, mod, n) in cases:
        q, k, v, do = data(world, n, idx)
        ql, kl, vl = (shard(x, rank, world, n, layout).contiguous().requires_grad_(True)
                      for x in (q, k, v))
        o = attn.distributed.ring_attention(ql, kl, vl, causal=causal,
                                            score_mod=mod, layout=layout)
        o.backward(shard(do, rank, world, n, layout).contiguous())
        results.append((idx, o.detach().numpy(), ql.grad.numpy(), kl.grad.numpy(),
                        vl.grad.numpy()))
    # Expert-parallel MoE: 11 tokens per rank, 8 experts over the ranks.
    xs, wr, w1, w3, w2 = moe_data(world)
    lo, hi = rank * 8 // world, (rank + 1) * 8 // world
    x = xs[rank].clone().requires_grad_(True)
    wrl = wr.clone().requires_grad_(True)
    l1, l3, l2 = (t[lo:hi].clone().requires_grad_(True) for t in (w1, w3, w2))
    y = attn.distributed.moe(x, wrl, l1, l3, l2, k=2, group=None)
    (y * moe_dy(world)[rank]).sum().backward()
    results.append(("moe", y.detach().numpy(), x.grad.numpy(), wrl.grad.numpy(),
                    l1.grad.numpy(), l3.grad.numpy(), l2.grad.numpy()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    failures = 0
    ctx = mp.get_context("spawn")
    for world in (2, 4):
        cases = [(i, c) for i, c in enumerate(CASES) if c[0] == world]
        queue = ctx.Queue()
        procs = [ctx.Process(target=worker, args=(r, world, PORTS[world], cases, queue))
                 for r in range(world)]
        for p in procs:
            p.start()
        got = {}
        try:
            for _ in range(world):
                rank, results = queue.get(timeout=300)
                if isinstance(results, str):
                    print(f"FAIL world {world} rank {rank}: {results}")
                    break
                got[rank] = results
        finally:
            for p in procs:
                p.join(timeout=60)
                if p.is_alive():
                    p.kill()
        if len(got) != world or any(p.exitcode for p in procs):
            print(f"FAIL world {world}: exit codes {[p.exitcode for p in procs]}")
            failures += 1
            continue
        for k, (idx, (_, layout, causal, mod, n)) in enumerate(cases):
            ref = reference(world, n, causal, mod, idx)
            errs = []
            for t in range(4):  # o, dq, dk, dv
                whole = ref[t]
                parts = [torch.from_numpy(got[r][k][1 + t]) for r in range(world)]
                mine = torch.cat(parts, 2) if layout == "contiguous" else None
                if layout == "zigzag":
                    c = n // 2
                    chunks = [None] * (2 * world)
                    for r in range(world):
                        chunks[r] = parts[r][:, :, :c]
                        chunks[2 * world - 1 - r] = parts[r][:, :, c:]
                    mine = torch.cat(chunks, 2)
                errs.append(((mine - whole).abs().max() / whole.abs().max()).item())
            ok = max(errs) < 1e-5
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} ring world={world} {layout} "
                  f"causal={causal} score_mod={'alibi' if mod else None} n={n}: "
                  f"o {errs[0]:.1e} dq {errs[1]:.1e} dk {errs[2]:.1e} dv {errs[3]:.1e}")
        # MoE: outputs, token gradients, the router's gradient summed over
        # the ranks (it is replicated) and each rank's experts' gradients.
        ref = moe_reference(world)
        parts = [got[r][-1] for r in range(world)]
        mine = [torch.cat([torch.from_numpy(p[1]) for p in parts]),
                torch.cat([torch.from_numpy(p[2]) for p in parts]),
                sum(torch.from_numpy(p[3]) for p in parts)]
        mine += [torch.cat([torch.from_numpy(p[j]) for p in parts]) for j in (4, 5, 6)]
        errs = [((a - b).abs().max() / b.abs().max()).item() for a, b in zip(mine, ref)]
        ok = max(errs) < 1e-5
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} moe world={world}: y {errs[0]:.1e} dx {errs[1]:.1e} "
              f"drouter {errs[2]:.1e} dw1 {errs[3]:.1e} dw3 {errs[4]:.1e} dw2 {errs[5]:.1e}")
    # attn.merge in one process: two halves of the keys merge to the whole.
    q, k, v, _ = data(1, 24, 99)
    o1, l1 = attn.attention(q, k[:, :, :10].contiguous(), v[:, :, :10].contiguous(),
                            return_lse=True)
    o2, l2 = attn.attention(q, k[:, :, 10:].contiguous(), v[:, :, 10:].contiguous(),
                            return_lse=True)
    o, l = attn.merge([o1, o2], [l1, l2])
    ow, lw = attn.attention(q, k, v, return_lse=True)
    err = max((o - ow).abs().max().item(), (l - lw).abs().max().item())
    ok = err < 1e-5
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} attn.merge of two key halves: {err:.1e}")
    print(f"{failures} failed")
    return failures


PORTS = {}

if __name__ == "__main__":
    for w in (2, 4):
        PORTS[w] = free_port()
    # Compile every program once here: the ranks load them from the cache.
    sys.exit(1 if main() else 0)
