"""Context-parallel (ring) attention on torch.distributed: 2 processes on
127.0.0.1 (gloo), each holding half of the sequence (zigzag layout: balanced
causal work), forward and backward; checked against one process.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/ring_attention.py
"""

import datetime
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import attn

WORLD, B, H, L, D = 2, 1, 4, 1024, 64


def data():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(B, H, L, D, generator=g) for _ in range(3)]


def zigzag(x, rank):
    c = L // (2 * WORLD)
    return torch.cat([x[:, :, rank * c:(rank + 1) * c],
                      x[:, :, (2 * WORLD - 1 - rank) * c:(2 * WORLD - rank) * c]], 2)


def run(rank, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    attn.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    q, k, v = (zigzag(x, rank).contiguous().requires_grad_(True) for x in data())
    o = attn.distributed.ring_attention(q, k, v, causal=True, layout="zigzag")
    o.sum().backward()
    queue.put((rank, o.detach().numpy(), q.grad.numpy()))
    dist.destroy_process_group()


if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=run, args=(r, port, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    got = dict((r, (torch.from_numpy(o), torch.from_numpy(g)))
               for r, o, g in (queue.get(timeout=120) for _ in procs))
    for p in procs:
        p.join(timeout=30)
    q, k, v = (x.requires_grad_(True) for x in data())
    o = attn.attention(q, k, v, mask_mod=lambda b, h, i, j: i >= j)
    o.sum().backward()
    for r in range(WORLD):
        err_o = (got[r][0] - zigzag(o.detach(), r)).abs().max().item()
        err_g = (got[r][1] - zigzag(q.grad, r)).abs().max().item()
        print(f"rank {r}: |o - single process| {err_o:.1e}, |dq - single| {err_g:.1e}")
