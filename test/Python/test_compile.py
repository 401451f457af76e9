"""attn.compile: in-process compilation, the disk cache, zero-copy calls on
NumPy arrays and torch tensors (bf16 included), and errors as exceptions.

Run by compile.test: ATTN_CACHE_DIR points at a fresh folder.
"""

import os
import tracemalloc

import numpy as np
import torch

import attn
from helpers import check, expect_error, finish

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))





def reference(q, k, v, causal):
    """float64 attention written from the math (GQA: head h reads h // G)."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    G = q.shape[1] // k.shape[1]
    k = np.repeat(k, G, axis=1)
    v = np.repeat(v, G, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if causal:
        lq, lk = s.shape[-2:]
        i = np.arange(lq)[:, None]
        j = np.arange(lk)[None, :]
        s = np.where(j <= i + (lk - lq), s, -np.inf)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    return (p @ v) / p.sum(-1, keepdims=True)


GQA = """
func.func @main(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %l = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %init = tensor.empty(%b, %l) : tensor<?x4x?x16xf32>
  %o = attn.attention causal
      ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
      outs(%init : tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
"""

rng = np.random.default_rng(0)
q = rng.standard_normal((2, 4, 37, 16), dtype=np.float32)
k = rng.standard_normal((2, 2, 37, 16), dtype=np.float32)
v = rng.standard_normal((2, 2, 37, 16), dtype=np.float32)
ref = reference(q, k, v, True)

# Compile from text: a fresh compile, then the cache.
m = attn.compile(GQA)
check(not m.from_cache, "first compile is not from the cache")
check(os.path.exists(os.path.join(os.environ["ATTN_CACHE_DIR"], m.key + ".o")),
      "the object is in ATTN_CACHE_DIR")
m2 = attn.compile(GQA)
check(m2.from_cache and m2.key == m.key, "second compile loads the cached object")
m3 = attn.compile(GQA, cache=False)
check(not m3.from_cache, "cache=False compiles")
check(attn.compile(GQA, tune="kv_tile=32").key != m.key,
      "the options are part of the key")
check(sorted(m.functions) == ["main"], "functions: " + ", ".join(m.functions))
check(m.main.signature.startswith("in:f32:?0,4,?1,16"), "signature " + m.main.signature)

# NumPy in, NumPy out.
o = m.main(q, k, v)
check(isinstance(o, np.ndarray) and o.shape == (2, 4, 37, 16), "NumPy result")
check(np.abs(o - ref).max() < 1e-5, f"matches float64 (err {np.abs(o - ref).max():.2e})")
o2 = m2.main(q, k, v)
check(np.array_equal(o, o2), "the cached module computes the same bits")

# out=: the result lands in the caller's buffer, nothing else allocated.
out = np.full_like(o, np.nan)
r = m.main(q, k, v, out=out)
check(r is out and np.array_equal(out, o), "out= is written in place and returned")
big_q = rng.standard_normal((1, 4, 2048, 16), dtype=np.float32)
big_k = rng.standard_normal((1, 2, 2048, 16), dtype=np.float32)
big_o = np.empty((1, 4, 2048, 16), np.float32)
m.main(big_q, big_k, big_k, out=big_o)  # warm up (the runtime's buffers)
tracemalloc.start()
m.main(big_q, big_k, big_k, out=big_o)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
check(peak < 64 * 1024, f"a call on 1.5 MB of NumPy inputs allocates {peak} bytes "
      f"of Python memory (no copies)")
# The DLTensor handed to the kernel points at the caller's memory.
from attn import _tensors  # noqa: E402
tq = torch.from_numpy(q)
check(_tensors.view(q, "q").data == q.ctypes.data, "NumPy input passed by pointer")
check(_tensors.view(tq, "q").data == tq.data_ptr(), "torch input passed by pointer")
ro = q.copy()
ro.flags.writeable = False
check(_tensors.view(ro, "q").data == ro.ctypes.data, "read-only NumPy input by pointer")
check(np.array_equal(m.main(ro, k, v), o), "read-only input computes the same")

# torch in, torch out; a view of a bigger tensor (storage offset) too.
to = m.main(tq, torch.from_numpy(k), torch.from_numpy(v))
check(isinstance(to, torch.Tensor) and np.array_equal(to.numpy(), o), "torch result")
wide = torch.zeros(3, 4, 37, 16)
wide[1:] = tq
view = wide[1:]
check(view.storage_offset() > 0, "a view with a storage offset")
check(np.array_equal(m.main(view, torch.from_numpy(k), torch.from_numpy(v)).numpy(), o),
      "a view of a bigger tensor reads at its offset")
tout = torch.empty(2, 4, 37, 16)
m.main(tq, torch.from_numpy(k), torch.from_numpy(v), out=tout)
check(np.array_equal(tout.numpy(), o), "torch out= written in place")

# bf16 (torch only), from a file.
mb = attn.compile(os.path.join(SRC, "examples", "variants", "alibi_window_bf16.mlir"))
sig = mb.main.signature
check(":bf16:" in sig, "bf16 signature " + sig)
qb = torch.randn(1, 8, 45, 64).to(torch.bfloat16)
kb = torch.randn(1, 8, 45, 64).to(torch.bfloat16)
ob = mb.main(qb, kb, kb)
check(ob.dtype == torch.float32 and torch.isfinite(ob).all().item(),
      "bf16 torch tensors in, f32 out")
check(ob.shape == (1, 8, 45, 64), "bf16 result shape")
expect_error(attn.ArgumentError, "input 0", lambda: mb.main(
    qb.float().numpy(), kb.float().numpy(), kb.float().numpy()),
    "f32 NumPy arrays for bf16 inputs")

# Errors: each an exception with the reason; nothing crashes.
expect_error(attn.CompileError, "<source>:3:", lambda: attn.compile(
    "func.func @main() {\n  %0 = arith.constant 1 : index\n  %x = arith.bogus\n}\n"),
    "malformed IR names its location")
expect_error(attn.CompileError, "<source>:9:", lambda: attn.compile(
    GQA.replace("tensor<?x2x?x16xf32>", "tensor<?x3x?x16xf32>")),
    "a verifier error names its location")
expect_error(attn.ArgumentError, "input 0", lambda: m.main(q.astype(np.float64), k, v),
             "wrong dtype")
expect_error(attn.ArgumentError, "input 1", lambda: m.main(q, k[:, :1], v),
             "wrong head count")
expect_error(attn.ArgumentError, "input 2", lambda: m.main(q, k, v[:, :, :30]),
             "key and value lengths disagree")
expect_error(attn.ArgumentError, "compact row-major", lambda: m.main(
    np.swapaxes(q, 2, 3).copy().swapaxes(2, 3), k, v), "non-contiguous input")
expect_error(TypeError, "takes 3 input tensors", lambda: m.main(q, k), "too few inputs")
expect_error(TypeError, "expected a NumPy array", lambda: m.main(q.tolist(), k, v),
             "a list is not a tensor")
expect_error(ValueError, "read-only", lambda: m.main(q, k, v, out=ro), "read-only out=")
expect_error(attn.ArgumentError, "output 0", lambda: m.main(q, k, v, out=np.empty((2, 4, 36, 16), np.float32)),
             "out= of the wrong shape")
expect_error(TypeError, "out= gives 2", lambda: m.main(q, k, v, out=(out, out)),
             "out= with two tensors")
expect_error(attn.ArgumentError, "overlap", lambda: m.main(q, k, v, out=q),
             "out= overlapping an input")
expect_error(AttributeError, "no public function @forward", lambda: m.forward,
             "unknown function")
expect_error(attn.Error, "target 'sm_90'", lambda: attn.compile(GQA, target="sm_90"),
             "unknown target")
expect_error(FileNotFoundError, "nope.mlir", lambda: attn.compile("nope.mlir"),
             "missing file")
expect_error(ValueError, "set_num_threads", lambda: attn.set_num_threads(-1),
             "negative thread count")

# A tensor on a CUDA device (a __dlpack__ object that says so) is refused by
# the CPU kernel's validation.
import ctypes  # noqa: E402
from attn import _capi  # noqa: E402


class FakeCuda:
    def __init__(self, like):
        self.like = like
        self.managed = _capi.DLManagedTensor()
        t = self.managed.dl_tensor
        t.data = like.ctypes.data
        t.device = _capi.DLDevice(_capi.kDLCUDA, 0)
        t.ndim = like.ndim
        t.dtype = _capi.DLDataType(_capi.kDLFloat, 32, 1)
        self.shape = (ctypes.c_int64 * like.ndim)(*like.shape)
        t.shape = ctypes.cast(self.shape, _capi.c_int64_p)

    def __dlpack__(self, stream=None):
        new = ctypes.pythonapi.PyCapsule_New
        new.restype = ctypes.py_object
        new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        return new(ctypes.addressof(self.managed), b"dltensor", None)


expect_error(attn.ArgumentError, "input 0", lambda: m.main(FakeCuda(q), k, v),
             "a CUDA tensor for a CPU kernel")

# A cache folder that cannot be written is not an error.
mc = attn.compile(GQA, cache_dir="/proc/attn-cannot-write")
check(np.array_equal(mc.main(q, k, v), o), "an unwritable cache still compiles")

# A damaged cache entry is recompiled, not loaded.
mf = os.path.join(os.environ["ATTN_CACHE_DIR"], m.key + ".manifest")
with open(mf, "w") as f:
    f.write("garbage\n")
m4 = attn.compile(GQA)
check(not m4.from_cache and np.array_equal(m4.main(q, k, v), o),
      "a damaged manifest is recompiled")

# attn.load: kernels made ahead of time (a shared library and an object).
import subprocess  # noqa: E402
tmp = os.environ["ATTN_CACHE_DIR"]
src = os.path.join(SRC, "examples", "causal_gqa.mlir")
attn_compile = os.path.join(os.path.dirname(attn.__file__), "..", "..", "bin",
                            "attn-compile")
qg = rng.standard_normal((2, 8, 21, 64), dtype=np.float32)
kg = rng.standard_normal((2, 2, 21, 64), dtype=np.float32)
og = attn.compile(src).main(qg, kg, kg)
for kind, fname, extra in [("shared", "gqa.so", []), ("obj", "gqa.o", []),
                           ("shared", "named.so", ["--name=kern"])]:
    out_path = os.path.join(tmp, fname)
    subprocess.run([attn_compile, src, "--emit=" + kind, "-o", out_path] + extra,
                   check=True)
    lm = attn.load(out_path, name="kern" if extra else None)
    check(list(lm.functions) == ["main"] and np.array_equal(lm.main(qg, kg, kg), og),
          f"attn.load of --emit={kind} {fname} computes what attn.compile does")
    expect_error(attn.ArgumentError, "input 1: dim 1 is 1, expected 2",
                 lambda: lm.main(qg, kg[:, :1], kg), f"{fname}: its runtime's message")
expect_error(attn.ArgumentError, "no attn function named wrong_*",
             lambda: attn.load(os.path.join(tmp, "gqa.so"), name="wrong"),
             "attn.load with the wrong name")
expect_error(attn.ArgumentError, "not recognized", lambda: attn.load(src), "attn.load of a text file")

finish()
