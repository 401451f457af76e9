"""attn: an ahead-of-time compiler for attention, gating and routing
operators, from Python.

    import attn
    m = attn.compile(open("examples/variants/softcap.mlir").read())
    o = m.main(q, k, v)              # NumPy arrays or torch tensors, no copies
    m.main(q, k, v, out=o)           # results written into the caller's buffer

docs/python.md describes the package.
"""

import ctypes
import os

from . import _capi
from . import _tensors
from . import autograd

__all__ = ["compile", "load", "Module", "Function", "Error", "CompileError",
           "ArgumentError", "TracingError", "set_num_threads",
           "get_num_threads", "default_cache_dir", "attention", "to_mlir",
           "flex_attention", "create_block_mask", "where", "exp", "exp2",
           "log", "log2", "tanh", "sigmoid", "sin", "cos", "tan", "sqrt",
           "minimum", "maximum", "clamp", "and_masks", "or_masks",
           "noop_mask", "BlockMask", "merge", "route", "experts", "gate",
           "paged_attention", "batch_attention", "plan_batch", "append_kv",
           "csr_to_block_table", "quantize_kv",
           "compiler_id", "distributed"]


class Error(RuntimeError):
    """A failure reported by libattn."""


class CompileError(Error, ValueError):
    """The IR is malformed, or a pass rejected it (the message has the
    locations)."""


class ArgumentError(Error, ValueError):
    """A tensor does not match the function's signature."""


def _raise(status, prefix=""):
    message = prefix + _capi.last_error()
    if status == _capi.INVALID_ARGUMENT:
        raise ArgumentError(message)
    raise Error(message)


def default_cache_dir():
    """$ATTN_CACHE_DIR, else $XDG_CACHE_HOME/attn, else ~/.cache/attn."""
    if os.environ.get("ATTN_CACHE_DIR"):
        return os.environ["ATTN_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "attn")


def set_num_threads(n):
    """Worker threads of the CPU kernels (0: all cores)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"set_num_threads: expected an int >= 0, got {n!r}")
    if _capi.lib().attn_set_num_threads(n):
        _raise(_capi.INVALID_ARGUMENT)


def get_num_threads():
    return _capi.lib().attn_get_num_threads()


def _parse_signature(signature):
    """[(is_output, dtype, dims)] per argument; "io" arguments (inputs the
    function updates in place) count as inputs."""
    args = []
    for field in signature.split(";"):
        parts = field.split(":")
        if parts[0] not in ("in", "out", "io"):
            continue  # a bound the runtime checks
        dims = [d for d in parts[2].split(",") if d] if len(parts) > 2 else []
        args.append((parts[0] == "out", parts[1], dims))
    return args


def _parse_inplace(signature):
    """(indices of the inputs updated in place, {result: input} of the
    results returned that way) from the "io:" fields and "alias:K:A"."""
    inputs, aliases, i = [], {}, 0
    for field in signature.split(";"):
        parts = field.split(":")
        if parts[0] in ("in", "io"):
            if parts[0] == "io":
                inputs.append(i)
            i += 1
        elif parts[0] == "alias":
            aliases[int(parts[1])] = int(parts[2])
    return inputs, aliases


class Function:
    """A compiled function: call it with its inputs (NumPy arrays, torch
    tensors or other __dlpack__ objects); it returns its results, allocated
    like the inputs or, with out=, written into the given tensors."""

    def __init__(self, module, index):
        lib = _capi.lib()
        self._module = module
        self._index = index
        self.name = lib.attn_module_function_name(module._handle,
                                                  index).decode()
        self.signature = lib.attn_module_function_signature(
            module._handle, index).decode()
        roles = lib.attn_module_function_roles(module._handle, index).decode()
        self.roles = roles.split(",") if roles else []
        args = _parse_signature(self.signature)
        self.input_types = [(t, d) for o, t, d in args if not o]
        self.output_types = [(t, d) for o, t, d in args if o]
        # Inputs updated in place (attn.append_kv's pools) and the results
        # that are those inputs.
        self.inplace_inputs, self.aliases = _parse_inplace(self.signature)

    @property
    def num_inputs(self):
        return len(self.input_types)

    @property
    def num_outputs(self):
        return len(self.output_types)

    def __repr__(self):
        return f"<attn.Function @{self.name} {self.signature}>"

    def _views(self, args, out):
        if len(args) != self.num_inputs:
            raise TypeError(f"@{self.name} takes {self.num_inputs} input "
                            f"tensors, got {len(args)}")
        views = [_tensors.view(a, f"@{self.name}: input {i}",
                               writable=i in self.inplace_inputs)
                 for i, a in enumerate(args)]
        if out is None:
            outs = None
        else:
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            if len(outs) != self.num_outputs:
                raise TypeError(f"@{self.name} has {self.num_outputs} "
                                f"results, out= gives {len(outs)}")
        return views, outs

    def __call__(self, *args, out=None):
        if out is None and (self.name + "_backward") in \
                self._module.functions and autograd.needs_grad(args):
            return autograd.call(self, args)
        lib = _capi.lib()
        handle = self._module._handle
        views, outs = self._views(args, out)
        n = self.num_inputs + self.num_outputs
        array = (ctypes.POINTER(_capi.DLTensor) * n)()
        for i, v in enumerate(views):
            array[i] = v.ptr
        if outs is None:
            like = next((a for a in args if _tensors.is_torch(a)), None)
            outs = []
            for k, (dtype, _) in enumerate(self.output_types):
                shape = (ctypes.c_int64 * 8)()
                ndim = ctypes.c_int32()
                dl = _capi.DLDataType()
                status = lib.attn_module_infer_shape(
                    handle, self._index, array, n, self.num_inputs + k, shape,
                    ctypes.byref(ndim), ctypes.byref(dl))
                if status:
                    _raise(status, f"@{self.name}: ")
                outs.append(_tensors.empty(shape[:ndim.value], dtype, like))
        out_views = [_tensors.view(o, f"@{self.name}: output {k}",
                                   writable=True)
                     for k, o in enumerate(outs)]
        for k, v in enumerate(out_views):
            array[self.num_inputs + k] = v.ptr
        status = lib.attn_module_call(handle, self._index, array, n)
        if status:
            _raise(status, f"@{self.name}: ")
        del views, out_views
        if self.aliases:
            # The results in order: an in-place input is returned as the
            # object the caller passed (now updated).
            it = iter(outs)
            outs = [args[self.aliases[k]] if k in self.aliases else next(it)
                    for k in range(len(outs) + len(self.aliases))]
        return outs[0] if len(outs) == 1 else tuple(outs)


class Module:
    """A compiled module: its public functions as attributes
    (``module.main``), by name (``module["main"]``) and in ``functions``."""

    def __init__(self, handle):
        self._handle = handle
        lib = _capi.lib()
        self.functions = {}
        for i in range(lib.attn_module_num_functions(handle)):
            f = Function(self, i)
            self.functions[f.name] = f
        self.from_cache = bool(lib.attn_module_from_cache(handle))
        self.key = lib.attn_module_key(handle).decode()

    def __getattr__(self, name):
        functions = self.__dict__.get("functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(f"the module has no public function @{name} "
                             f"(it has {', '.join('@' + f for f in functions)})")

    def __getitem__(self, name):
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"the module has no public function @{name}") \
                from None

    def __dir__(self):
        return list(super().__dir__()) + list(self.functions)

    def __del__(self):
        handle = self.__dict__.get("_handle")
        if handle and _capi._lib is not None:
            _capi._lib.attn_module_free(handle)
            self._handle = None



def _read_source(source_or_path):
    if isinstance(source_or_path, os.PathLike):
        path = os.fspath(source_or_path)
    elif isinstance(source_or_path, bytes):
        return source_or_path.decode(), "<source>"
    elif isinstance(source_or_path, str):
        if "\n" in source_or_path or "{" in source_or_path:
            return source_or_path, "<source>"
        path = source_or_path
    else:
        raise TypeError(f"compile: expected IR text or a path, got "
                        f"{type(source_or_path).__name__}")
    with open(path, encoding="utf-8") as f:
        return f.read(), path


def compile(source_or_path, target="native", *, grad=False, tune=None,
            cache=True, cache_dir=None, filename=None):
    """Compiles attn IR (text, or a path to a .mlir file) in this process
    and loads it.

    target: "native" (this CPU), "x86-64", "x86-64-avx2", "x86-64-avx512"
    or "gpu-emulation". grad: also @f_train and @f_backward of each @f.
    tune: CPU tile sizes as attn-compile --tune takes them. Objects are kept
    in cache_dir (default: default_cache_dir()) keyed by the IR, the
    compiler and the options; cache=False compiles without it.
    """
    text, name = _read_source(source_or_path)
    if not isinstance(target, str):
        raise TypeError(f"compile: target must be a str, got "
                        f"{type(target).__name__}")
    options = _capi.CompileOptions()
    options.target = target.encode()
    directory = (cache_dir or default_cache_dir()) if cache else ""
    options.cache_dir = os.fspath(directory).encode()
    options.grad = 1 if grad else 0
    options.tune = (tune or "").encode()
    options.filename = (filename or name).encode()
    data = text.encode("utf-8")
    handle = ctypes.c_void_p()
    lib = _capi.lib()
    status = lib.attn_compile(data, len(data), ctypes.byref(options),
                              ctypes.byref(handle))
    if status:
        message = _capi.last_error()
        if status == _capi.INVALID_ARGUMENT:
            raise CompileError(message)
        raise Error(message)
    return Module(handle.value)


def load(path, name=None):
    """Loads kernels compiled ahead of time: a shared library from
    `attn-compile --emit=shared` or an object from `--emit=obj`. name: the
    --name they were compiled with (default: the file's stem, which is
    attn-compile's default too)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"attn.load: no such file: {path}")
    handle = ctypes.c_void_p()
    status = _capi.lib().attn_load(os.path.abspath(path).encode(),
                                   name.encode() if name else None,
                                   ctypes.byref(handle))
    if status:
        _raise(status)
    return Module(handle.value)


def compiler_id():
    """A hash of libattn: part of every cache key."""
    return _capi.lib().attn_compiler_id().decode()


from ._trace import (TracingError, where, exp, exp2, log, log2, tanh,  # noqa
                     sigmoid, sin, cos, tan, sqrt, minimum, maximum, clamp)
from .flex import (attention, to_mlir, flex_attention, create_block_mask,  # noqa
                   and_masks, or_masks, noop_mask, BlockMask)
from .ops import merge, route, experts, gate  # noqa
from .serving import (paged_attention, batch_attention, plan_batch,  # noqa
                      append_kv, csr_to_block_table, quantize_kv)


def __getattr__(name):
    # attn.distributed imports torch: only when used.
    if name == "distributed":
        import importlib
        return importlib.import_module(".distributed", __name__)
    raise AttributeError(f"module 'attn' has no attribute {name!r}")
