"""Expert-parallel MoE on torch.distributed: 2 processes (gloo, 127.0.0.1)
with 4 of 8 SwiGLU experts each; tokens routed with attn.route, exchanged
with all_to_all_single, run by attn.experts and sent back. Checked against
one process with all experts.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/moe_expert_parallel.py
"""

import datetime
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import attn

WORLD, T, DM, F, E = 2, 64, 128, 256, 8


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(WORLD * T, DM, generator=g)
    router = torch.randn(DM, E, generator=g)
    w1, w3 = (torch.randn(E, DM, F, generator=g) * DM ** -0.5 for _ in range(2))
    w2 = torch.randn(E, F, DM, generator=g) * F ** -0.5
    return x, router, w1, w3, w2


def run(rank, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    attn.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    x, router, w1, w3, w2 = data()
    mine = slice(rank * E // WORLD, (rank + 1) * E // WORLD)
    y = attn.distributed.moe(x[rank * T:(rank + 1) * T], router,
                             w1[mine].contiguous(), w3[mine].contiguous(),
                             w2[mine].contiguous(), k=2)
    queue.put((rank, y.numpy()))  # (NumPy: no shared-memory handles)
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
    got = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    x, router, w1, w3, w2 = data()
    w, i = attn.route(x, 2, weight=router, renormalize=True)
    y = attn.experts(x, w, i, w1, w3, w2)
    err = (torch.cat([torch.from_numpy(got[r]) for r in range(WORLD)]) - y).abs().max().item()
    print(f"expert-parallel MoE on {WORLD} ranks vs one process: max |diff| {err:.1e}")
