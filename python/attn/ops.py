"""Python entries of attn ops other than attention: merge."""

from . import _trace
from .flex import _module


def merge(outputs, lses, out_dtype=None):
    """Merges partial attention outputs by their log-sum-exp (attn.merge):
    outputs [..., L, D] (f32/f16/bf16), lses [..., L] (f32, natural log, -inf
    for rows that saw no key). Returns (O, LSE): LSE = log sum exp(LSE_s),
    O = sum exp(LSE_s - LSE) O_s, O of out_dtype (default: the first
    partial's dtype). NumPy arrays or torch tensors."""
    outputs, lses = list(outputs), list(lses)
    if not outputs or len(outputs) != len(lses):
        raise ValueError(f"merge: expected as many LSEs as outputs (at least "
                         f"one), got {len(outputs)} and {len(lses)}")
    rank = len(outputs[0].shape)
    if rank < 2:
        raise ValueError("merge: outputs must be [..., length, dim]")
    types = [_trace._mlir_dtype(o.dtype, f"merge: output {i}")
             for i, o in enumerate(outputs)]
    ltypes = [_trace._mlir_dtype(l.dtype, f"merge: lse {i}")
              for i, l in enumerate(lses)]
    if any(t not in ("f32", "f16", "bf16") for t in types):
        raise TypeError(f"merge: outputs must be float32/16 or bfloat16, got "
                        f"{[str(o.dtype) for o in outputs]}")
    if any(t != "f32" for t in ltypes):
        raise TypeError(f"merge: LSEs must be float32, got "
                        f"{[str(l.dtype) for l in lses]}")
    ot = types[0] if out_dtype is None else _trace._mlir_dtype(
        out_dtype, "merge: out_dtype")
    dyn = "?x" * rank
    ldyn = "?x" * (rank - 1)
    pty = [f"tensor<{dyn}{t}>" for t in types]
    lty = f"tensor<{ldyn}f32>"
    oty = f"tensor<{dyn}{ot}>"
    n = len(outputs)
    args = [f"%o{i}: {t}" for i, t in enumerate(pty)] + [
        f"%l{i}: {lty}" for i in range(n)]
    dims = [f"  %c{d} = arith.constant {d} : index\n"
            f"  %d{d} = tensor.dim %o0, %c{d} : {pty[0]}" for d in range(rank)]
    text = (
        f"func.func @main({', '.join(args)}) -> ({oty}, {lty}) {{\n"
        + "\n".join(dims) + "\n"
        f"  %oi = tensor.empty({', '.join(f'%d{d}' for d in range(rank))}) : {oty}\n"
        f"  %li = tensor.empty({', '.join(f'%d{d}' for d in range(rank - 1))}) : {lty}\n"
        f"  %m:2 = attn.merge ins({', '.join(f'%o{i}' for i in range(n))} : "
        f"{', '.join(pty)})\n"
        f"      lse({', '.join(f'%l{i}' for i in range(n))} : "
        f"{', '.join([lty] * n)})\n"
        f"      outs(%oi, %li : {oty}, {lty}) -> {oty}, {lty}\n"
        f"  return %m#0, %m#1 : {oty}, {lty}\n}}\n")
    return _module(text).main(*outputs, *lses)
