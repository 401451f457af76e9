"""Per-call overhead of the Python package (numbers quoted in docs/python.md).

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py

A compiled one-query-row GQA kernel called with NumPy arrays and out= (the
whole call, kernel and thread pool included), attn.attention on tiny torch
tensors with a cached program (tracing + lookup + call), and the tracing
alone (attn.to_mlir). Mean of 2000 calls each.
"""
import time, torch, numpy as np, attn
q = torch.randn(1, 1, 1, 16)
m = attn.compile("examples/causal_gqa.mlir")
qq = np.zeros((1, 8, 1, 64), np.float32); kk = np.zeros((1, 2, 1, 64), np.float32); o = np.empty_like(qq)
m.main(qq, kk, kk, out=o)
n = 2000; t = time.perf_counter()
for _ in range(n): m.main(qq, kk, kk, out=o)
call = (time.perf_counter() - t) / n
rb = lambda s, b, h, i, j: s + (i - j)
attn.attention(q, q, q, score_mod=rb)
t = time.perf_counter()
for _ in range(n): attn.attention(q, q, q, score_mod=rb)
full = (time.perf_counter() - t) / n
t = time.perf_counter()
for _ in range(n): attn.to_mlir(q, q, q, score_mod=rb)
tr = (time.perf_counter() - t) / n
print(f"call (1-row GQA kernel, out=): {call*1e6:.1f} us; attn.attention cached, tiny: {full*1e6:.1f} us; tracing alone: {tr*1e6:.1f} us")
