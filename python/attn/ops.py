"""Python entries of attn ops other than attention: merge."""

from . import _trace
from .flex import _module


def merge(outputs, lses, out_dtype=None, dim=0):
    """Merges partial attention outputs by their log-sum-exp (attn.merge):
    outputs [..., L, D] (f32/f16/bf16), lses [..., L] (f32, natural log, -inf
    for rows that saw no key). Returns (O, LSE): LSE = log sum exp(LSE_s),
    O = sum exp(LSE_s - LSE) O_s, O of out_dtype (default: the first
    partial's dtype). NumPy arrays or torch tensors; differentiable.

    outputs and lses may also each be one array holding the partials
    stacked along dim `dim` (default the leading one: [S, ..., L, D] and
    [S, ..., L]; FlashInfer's merge_states layout [L, S, H, D] is dim=1), any
    dim of the outputs but the last (attn.merge stacked: one compiled program
    for any S, including 0)."""
    if hasattr(outputs, "shape") or hasattr(lses, "shape"):
        return _merge_stacked(outputs, lses, out_dtype, dim)
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
    merge = (f"attn.merge ins({', '.join(f'%o{i}' for i in range(n))} : "
             f"{', '.join(pty)})\n"
             f"      lse({', '.join(f'%l{i}' for i in range(n))} : "
             f"{', '.join([lty] * n)})")
    return _merge_call(", ".join(args), ("%o0", pty[0], list(range(rank))),
                       rank, merge, oty, lty, [*outputs, *lses])


def _merge_call(params, first, rank, merge, oty, lty, inputs):
    """Compiles (once) and calls @main(params) -> (O, LSE) whose outputs
    take the sizes of `first` = (name, type, its dim for each output dim)
    and whose body is the attn.merge `merge` into them."""
    name, ty, src = first
    dims = [f"  %c{d} = arith.constant {src[d]} : index\n"
            f"  %d{d} = tensor.dim {name}, %c{d} : {ty}" for d in range(rank)]
    text = (
        f"func.func @main({params}) -> ({oty}, {lty}) {{\n"
        + "\n".join(dims) + "\n"
        f"  %oi = tensor.empty({', '.join(f'%d{d}' for d in range(rank))}) : {oty}\n"
        f"  %li = tensor.empty({', '.join(f'%d{d}' for d in range(rank - 1))}) : {lty}\n"
        f"  %m:2 = {merge}\n"
        f"      outs(%oi, %li : {oty}, {lty}) -> {oty}, {lty}\n"
        f"  return %m#0, %m#1 : {oty}, {lty}\n}}\n")
    return _module(text, grad=_needs_grad(*inputs),
                   filename="<attn.merge>").main(*inputs)


def _merge_stacked(outputs, lses, out_dtype, dim):
    if not (hasattr(outputs, "shape") and hasattr(lses, "shape")):
        raise TypeError("merge: stacked outputs and lses must both be arrays "
                        "(or both sequences of arrays)")
    rank = len(outputs.shape) - 1
    if rank < 2:
        raise ValueError(f"merge: stacked outputs must be [S, ..., length, "
                         f"dim], got shape {tuple(outputs.shape)}")
    if not isinstance(dim, int) or not -rank - 1 <= dim < rank:
        raise ValueError(f"merge: dim must be an int naming a dim of the "
                         f"outputs other than the last, got {dim!r}")
    dim = dim + rank + 1 if dim < 0 else dim
    if dim == rank:
        raise ValueError("merge: dim must not be the outputs' last dim")
    if tuple(lses.shape) != tuple(outputs.shape[:-1]):
        raise ValueError(f"merge: stacked lses must be the outputs' shape "
                         f"without the last dim, {tuple(outputs.shape[:-1])}, "
                         f"got {tuple(lses.shape)}")
    t = _float_type(outputs, "merge: outputs")
    if _trace._mlir_dtype(lses.dtype, "merge: lses") != "f32":
        raise TypeError(f"merge: LSEs must be float32, got {lses.dtype}")
    ot = t if out_dtype is None else _trace._mlir_dtype(out_dtype,
                                                        "merge: out_dtype")
    pty = f"tensor<{'?x' * (rank + 1)}{t}>"
    slty = f"tensor<{'?x' * rank}f32>"
    oty = f"tensor<{'?x' * rank}{ot}>"
    lty = f"tensor<{'?x' * (rank - 1)}f32>"
    src = [d if d < dim else d + 1 for d in range(rank)]
    return _merge_call(f"%o: {pty}, %l: {slty}", ("%o", pty, src), rank,
                       f"attn.merge stacked({dim}) ins(%o : {pty}) "
                       f"lse(%l : {slty})", oty, lty, [outputs, lses])


def _needs_grad(*xs):
    from . import autograd
    return autograd.needs_grad([x for x in xs if x is not None])


def _float_type(x, what):
    t = _trace._mlir_dtype(x.dtype, what)
    if t not in ("f32", "f16", "bf16"):
        raise TypeError(f"{what} must be float32, float16 or bfloat16, got "
                        f"{x.dtype}")
    return t


def route(logits, k=2, weight=None, scoring="softmax", renormalize=False,
          temperature=None, bias=None, routed_scale=None,
          return_counts=False):
    """Top-k routing (attn.route): logits [T, E], or tokens [T, Dm] with
    `weight` [Dm, E] (the router's projection, computed by the kernel).
    scoring: "softmax", "sigmoid", "topk_softmax" or "none"; bias [E] is
    added to the selection key only (DeepSeek-V3). Returns the weights
    [T, k] (f32) and the expert indices [T, k] (int32), and with
    return_counts the (token, expert) pairs per expert [E] (int32) and the
    probability sums per expert [E] (f32; the auxiliary balance losses).
    Differentiable in logits / tokens, weight (torch tensors)."""
    if len(logits.shape) != 2:
        raise ValueError(f"route: logits must be [tokens, experts] (or "
                         f"[tokens, dim] with weight=), got "
                         f"{tuple(logits.shape)}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"route: k must be a positive int, got {k!r}")
    xt = _float_type(logits, "route: logits")
    T, C = logits.shape
    if weight is not None:
        if len(weight.shape) != 2 or weight.shape[0] != C:
            raise ValueError(f"route: weight must be [{C}, experts], got "
                             f"{tuple(weight.shape)}")
        E = weight.shape[1]
        wt = _float_type(weight, "route: weight")
    else:
        E = C
    if k > E:
        raise ValueError(f"route: k = {k} exceeds the {E} experts")
    if scoring not in ("softmax", "sigmoid", "topk_softmax", "none"):
        raise ValueError(f"route: unknown scoring {scoring!r}")
    ins = [f"%x: tensor<?x{C}x{xt}>"]
    ins_ops, ins_types = ["%x"], [f"tensor<?x{C}x{xt}>"]
    args = [logits]
    if weight is not None:
        ins.append(f"%w: tensor<{C}x{E}x{wt}>")
        ins_ops.append("%w")
        ins_types.append(f"tensor<{C}x{E}x{wt}>")
        args.append(weight)
    bias_part = ""
    if bias is not None:
        if tuple(bias.shape) != (E,):
            raise ValueError(f"route: bias must be [{E}], got "
                             f"{tuple(bias.shape)}")
        bt = _float_type(bias, "route: bias")
        ins.append(f"%bias: tensor<{E}x{bt}>")
        bias_part = f" bias(%bias : tensor<{E}x{bt}>)"
        args.append(bias)
    attrs = []
    if temperature is not None:
        attrs.append(f"temperature = {float(temperature):.9e} : f32")
    if routed_scale is not None:
        attrs.append(f"routed_scale = {float(routed_scale):.9e} : f32")
    outs = [f"tensor<?x{k}xf32>", f"tensor<?x{k}xi32>"]
    inits = ["%w0 = tensor.empty(%t) : " + outs[0],
             "%i0 = tensor.empty(%t) : " + outs[1]]
    names = ["%w0", "%i0"]
    if return_counts:
        outs += [f"tensor<{E}xi32>", f"tensor<{E}xf32>"]
        inits += [f"%n0 = tensor.empty() : tensor<{E}xi32>",
                  f"%p0 = tensor.empty() : tensor<{E}xf32>"]
        names += ["%n0", "%p0"]
    results = ", ".join(outs)
    text = (
        f"func.func @main({', '.join(ins)}) -> ({results}) {{\n"
        f"  %c0 = arith.constant 0 : index\n"
        f"  %t = tensor.dim %x, %c0 : tensor<?x{C}x{xt}>\n"
        + "".join(f"  {i}\n" for i in inits) +
        f"  %r:{len(outs)} = attn.route top({k}) scoring({scoring})"
        f"{' renormalize' if renormalize else ''}\n"
        f"      ins({', '.join(ins_ops)} : {', '.join(ins_types)}){bias_part}\n"
        f"      outs({', '.join(names)} : {results})"
        f"{' {' + ', '.join(attrs) + '}' if attrs else ''} -> {results}\n"
        f"  return {', '.join(f'%r#{i}' for i in range(len(outs)))} : "
        f"{results}\n}}\n")
    return _module(text, grad=_needs_grad(*args),
                   filename="<attn.route>").main(*args)


_ACTIVATIONS = ("swish", "gelu", "identity", "sigmoid", "relu")


def experts(x, weights, indices, w1, w3, w2, activation="swish"):
    """Gated expert FFNs over routed pairs (attn.experts):
    y[t] = sum_s w[t, s] ((act(x[t] W1[e]) * (x[t] W3[e])) W2[e]) with
    e = indices[t, s] (slots outside [0, E) contribute nothing). x [T, Dm],
    weights [T, k] f32, indices [T, k] int32, W1/W3 [E, Dm, F],
    W2 [E, F, Dm]. Differentiable in x, weights and the expert weights."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"experts: activation must be one of "
                         f"{_ACTIVATIONS}, got {activation!r}")
    if len(x.shape) != 2:
        raise ValueError(f"experts: x must be [tokens, dim], got "
                         f"{tuple(x.shape)}")
    T, Dm = x.shape
    if len(w1.shape) != 3:
        raise ValueError(f"experts: w1 must be [experts, dim, hidden], got "
                         f"{tuple(w1.shape)}")
    E, _, F = w1.shape
    kk = weights.shape[1] if len(weights.shape) == 2 else None
    if kk is None or tuple(indices.shape) != tuple(weights.shape):
        raise ValueError(f"experts: weights and indices must both be "
                         f"[tokens, k], got {tuple(weights.shape)} and "
                         f"{tuple(indices.shape)}")
    xt = _float_type(x, "experts: x")
    wt = _float_type(w1, "experts: w1")
    it = _trace._mlir_dtype(indices.dtype, "experts: indices")
    if it != "i32":
        raise TypeError(f"experts: indices must be int32, got "
                        f"{indices.dtype}")
    types = [f"tensor<?x{Dm}x{xt}>", f"tensor<?x{kk}xf32>",
             f"tensor<?x{kk}xi32>", f"tensor<{E}x{Dm}x{F}x{wt}>",
             f"tensor<{E}x{Dm}x{F}x{wt}>", f"tensor<{E}x{F}x{Dm}x{wt}>"]
    names = ["%x", "%w", "%i", "%w1", "%w3", "%w2"]
    yt = f"tensor<?x{Dm}x{xt}>"
    text = (
        f"func.func @main({', '.join(f'{n}: {t}' for n, t in zip(names, types))})"
        f" -> {yt} {{\n"
        f"  %c0 = arith.constant 0 : index\n"
        f"  %t = tensor.dim %x, %c0 : {types[0]}\n"
        f"  %y0 = tensor.empty(%t) : {yt}\n"
        f"  %y = attn.experts {activation}\n"
        f"      ins({', '.join(names)} : {', '.join(types)})\n"
        f"      outs(%y0 : {yt}) -> {yt}\n"
        f"  return %y : {yt}\n}}\n")
    args = [x, weights, indices, w1, w3, w2]
    return _module(text, grad=_needs_grad(*args),
                   filename="<attn.experts>").main(*args)


def gate(x, g, activation="sigmoid", dims=None):
    """out = x * act(g) (attn.gate), g indexed by the dims of x listed in
    `dims` (default: all, an elementwise gate; [0, 1, 2] gates a
    [B, H, L, D] output per (batch, head, token)). activation: "sigmoid",
    "swish", "gelu", "relu", "identity". Differentiable in x and g."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"gate: activation must be one of {_ACTIVATIONS}, "
                         f"got {activation!r}")
    rank = len(x.shape)
    dims = list(range(rank)) if dims is None else list(dims)
    if len(g.shape) != len(dims) or any(
            g.shape[i] != x.shape[d] for i, d in enumerate(dims)):
        raise ValueError(f"gate: g {tuple(g.shape)} must match x "
                         f"{tuple(x.shape)} at dims {dims}")
    xt = _float_type(x, "gate: x")
    gt = _float_type(g, "gate: g")
    xty = f"tensor<{'?x' * rank}{xt}>"
    gty = f"tensor<{'?x' * len(dims)}{gt}>" if dims else f"tensor<{gt}>"
    dim_ops = "\n".join(
        f"  %c{d} = arith.constant {d} : index\n"
        f"  %d{d} = tensor.dim %x, %c{d} : {xty}" for d in range(rank))
    text = (
        f"func.func @main(%x: {xty}, %g: {gty}) -> {xty} {{\n{dim_ops}\n"
        f"  %init = tensor.empty({', '.join(f'%d{d}' for d in range(rank))}) : {xty}\n"
        f"  %y = attn.gate {activation} ins(%x, %g : {xty}, {gty})\n"
        f"      outs(%init : {xty}) dims([{', '.join(map(str, dims))}]) -> {xty}\n"
        f"  return %y : {xty}\n}}\n")
    return _module(text, grad=_needs_grad(x, g),
                   filename="<attn.gate>").main(x, g)
