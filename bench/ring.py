"""Ring attention on torch.distributed against one process.

    PYTHONPATH=build/python /usr/bin/python3 bench/ring.py [--seq=32768]
        [--heads=4] [--dim=64] [--runs=3] [--backward]

Causal attention over one sequence of --seq tokens (batch 1, --heads heads,
head dim --dim, f32), computed (a) by attn.distributed.ring_attention on 2
ranks (gloo on 127.0.0.1, zigzag layout, 1 thread each) and (b) by
attn.attention in one process on 2 threads. Prints the median wall time of
each and GFLOP/s counted as 4 * H * D * (visible pairs) for the forward
(x 2.5 more with --backward), with the largest difference of the outputs.
Compile time is excluded (warm-up call first); buffers are reused.
"""

import argparse
import datetime
import os
import re
import socket
import statistics
import subprocess
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import attn


def inputs(args):
    g = torch.Generator().manual_seed(0)
    shape = (1, args.heads, args.seq, args.dim)
    return [torch.randn(shape, generator=g) for _ in range(4)]


def causal(b, h, i, j):
    return i >= j


def shard(x, rank, world):
    c = x.shape[2] // (2 * world)
    return torch.cat([x[:, :, rank * c:(rank + 1) * c],
                      x[:, :, (2 * world - 1 - rank) * c:(2 * world - rank) * c]],
                     2).contiguous()


def timed(fn, runs):
    fn()  # warm-up: compiles (or loads) the programs
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(rank, world, port, args, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    attn.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600))
    try:
        q, k, v, do = (shard(x, rank, world) for x in inputs(args))
        if args.backward:
            for x in (q, k, v):
                x.requires_grad_(True)

        def step():
            dist.barrier()
            o = attn.distributed.ring_attention(q, k, v, causal=True,
                                                layout="zigzag")
            if args.backward:
                o.backward(do)
            dist.barrier()
            return o
        t = timed(step, args.runs)
        o = step().detach()
        queue.put((rank, t, o.numpy()))
    finally:
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seq", type=int, default=32768)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--backward", action="store_true")
    args = p.parse_args()
    world = 2
    L = args.seq
    flops = 4.0 * args.heads * args.dim * L * (L + 1) / 2
    if args.backward:
        flops *= 3.5
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, world, port, args, queue))
             for r in range(world)]
    for pr in procs:
        pr.start()
    got = {}
    for _ in range(world):
        rank, t, o = queue.get(timeout=3600)
        got[rank] = (t, torch.from_numpy(o))
    for pr in procs:
        pr.join(timeout=60)
    ring_t = max(t for t, _ in got.values())

    attn.set_num_threads(world)
    torch.set_num_threads(world)
    q, k, v, do = inputs(args)
    if args.backward:
        for x in (q, k, v):
            x.requires_grad_(True)

    def single():
        o = attn.attention(q, k, v, mask_mod=causal)
        if args.backward:
            o.backward(do)
        return o
    one_t = timed(single, args.runs)
    o = single().detach()
    c = L // (2 * world)
    chunks = [None] * (2 * world)
    for r in range(world):
        chunks[r] = got[r][1][:, :, :c]
        chunks[2 * world - 1 - r] = got[r][1][:, :, c:]
    err = (torch.cat(chunks, 2) - o).abs().max().item()
    peak = None
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "build", "bin", "attn-bench-fma-peak")
    if os.path.exists(tool):
        out = subprocess.run([tool, str(world)], capture_output=True,
                             text=True).stdout
        m = re.search(r"gflops=([0-9.]+)", out)
        peak = float(m.group(1)) if m else None

    def frac(t):
        return f" ({flops / t / 1e9 / peak:.0%} of peak)" if peak else ""
    what = "forward + backward" if args.backward else "forward"
    print(f"causal attention {what}, B=1 H={args.heads} D={args.dim} "
          f"L={L} f32, {args.runs} runs (median)")
    print("| run | time (s) | GFLOP/s |")
    print("|---|---|---|")
    print(f"| ring_attention, 2 ranks x 1 thread (gloo, zigzag) | {ring_t:.3f} | "
          f"{flops / ring_t / 1e9:.1f}{frac(ring_t)} |")
    print(f"| attn.attention, 1 process x 2 threads | {one_t:.3f} | "
          f"{flops / one_t / 1e9:.1f}{frac(one_t)} |")
    print(f"max |difference| of the outputs: {err:.1e}; FMA peak on "
          f"{world} threads, same run: "
          f"{f'{peak:.1f} GFLOP/s' if peak else 'not measured'}")


if __name__ == "__main__":
    main()
