"""PyTorch autograd for compiled functions.

A module compiled with grad=True has, for each public @f, @f_train (the
results, then the saved O and LSE of each attention) and @f_backward (the
inputs, the saved state, one gradient per result -> one gradient per
floating-point input): docs/training.md. Calling @f on torch tensors that
require grad (with grad mode on) runs @f_train inside a
torch.autograd.Function whose backward calls @f_backward, so loss.backward()
reaches q, k, v and every captured tensor that requires grad.
"""

from . import _tensors


def needs_grad(inputs):
    if not any(_tensors.is_torch(x) for x in inputs):
        return False
    import torch
    return torch.is_grad_enabled() and any(
        _tensors.is_torch(x) and x.requires_grad for x in inputs)


_function_class = None


def _function():
    global _function_class
    if _function_class is not None:
        return _function_class
    import torch

    class AttnFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, fn, *inputs):
            module = fn._module
            train = module[fn.name + "_train"]
            outs = train(*inputs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            n = fn.num_outputs
            ys, saved = outs[:n], outs[n:]
            ctx.fn = fn
            ctx.num_inputs = len(inputs)
            ctx.save_for_backward(*inputs, *saved)
            ctx.mark_non_differentiable(*[y for y in ys
                                          if not y.is_floating_point()])
            return ys[0] if n == 1 else ys

        @staticmethod
        def backward(ctx, *dys):
            fn = ctx.fn
            backward = fn._module[fn.name + "_backward"]
            tensors = ctx.saved_tensors
            inputs = tensors[:ctx.num_inputs]
            saved = tensors[ctx.num_inputs:]
            grads = []
            # (Gradients of unused results arrive as zeros: autograd
            # materializes them.)
            for (dtype, _), dy in zip(fn.output_types, dys):
                if dtype not in ("f32", "f16", "bf16", "f64"):
                    continue
                want = getattr(torch, _tensors.DTYPES[dtype][2])
                grads.append(dy.to(want).contiguous())
            dxs = backward(*inputs, *saved, *grads)
            dxs = dxs if isinstance(dxs, tuple) else (dxs,)
            it = iter(dxs)
            result = [None]
            for (dtype, _), x in zip(fn.input_types, inputs):
                if dtype in ("f32", "f16", "bf16", "f64"):
                    g = next(it)
                    result.append(g.to(x.dtype) if g.dtype != x.dtype else g)
                else:
                    result.append(None)
            return tuple(result)

    _function_class = AttnFunction
    return AttnFunction


def call(fn, inputs):
    """fn(*inputs) through autograd (fn's module has fn_train/_backward)."""
    import torch
    tensors = [x if _tensors.is_torch(x) else torch.from_numpy(x)
               for x in inputs]
    return _function().apply(fn, *tensors)


def apply(program, inputs):
    """attn.attention's differentiable path."""
    from .flex import _module
    m = _module(program.text, grad=True)
    return call(m.main, inputs)
