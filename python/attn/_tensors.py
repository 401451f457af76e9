"""Tensors handed to compiled functions, without copies.

Any object with ``__dlpack__`` (torch tensors, NumPy arrays, ...) is passed
as the DLTensor its capsule holds; the capsule stays unconsumed (its
destructor returns it to the producer) and alive for the call. NumPy arrays
DLPack cannot export (read-only ones, bool) are described from their
``__array_interface__``. libattnrt then validates each tensor against the
function's signature (dtype, rank, sizes, strides, alignment, overlap).
"""

import ctypes

from . import _capi

# Signature element types -> (DLPack code, bits), NumPy and torch dtype names.
DTYPES = {
    "f32": ((_capi.kDLFloat, 32), "float32", "float32"),
    "f16": ((_capi.kDLFloat, 16), "float16", "float16"),
    "bf16": ((_capi.kDLBfloat, 16), None, "bfloat16"),
    "f64": ((_capi.kDLFloat, 64), "float64", "float64"),
    "i8": ((_capi.kDLInt, 8), "int8", "int8"),
    "i32": ((_capi.kDLInt, 32), "int32", "int32"),
    "i64": ((_capi.kDLInt, 64), "int64", "int64"),
    "i1": ((_capi.kDLUInt, 8), "bool", "bool"),
    # fp8 codes: bytes (DLPack 0.6 has no fp8 codes; torch 1.13 no fp8 dtype).
    "f8e4m3": ((_capi.kDLUInt, 8), "uint8", "uint8"),
    "f8e5m2": ((_capi.kDLUInt, 8), "uint8", "uint8"),
}

_NUMPY_CODES = {"f": _capi.kDLFloat, "i": _capi.kDLInt, "u": _capi.kDLUInt,
                "b": _capi.kDLUInt}


def is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


def is_numpy(x):
    return type(x).__module__.split(".")[0] == "numpy" and hasattr(
        x, "__array_interface__")


class View:
    """A DLTensor* for one argument and what keeps its memory alive."""

    __slots__ = ("ptr", "keep")

    def __init__(self, ptr, keep):
        self.ptr = ptr
        self.keep = keep

    @property
    def tensor(self):
        return self.ptr.contents

    @property
    def data(self):
        t = self.ptr.contents
        return (t.data or 0) + t.byte_offset


def _from_array_interface(a, what):
    iface = a.__array_interface__
    kind = a.dtype.kind
    if kind not in _NUMPY_CODES or a.dtype.byteorder == ">":
        raise TypeError(f"{what}: unsupported NumPy dtype {a.dtype}")
    t = _capi.DLTensor()
    t.data = iface["data"][0]
    t.device = _capi.DLDevice(_capi.kDLCPU, 0)
    t.ndim = a.ndim
    t.dtype = _capi.DLDataType(_NUMPY_CODES[kind], a.dtype.itemsize * 8, 1)
    shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
    strides = (ctypes.c_int64 * max(a.ndim, 1))(
        *[s // a.dtype.itemsize for s in a.strides])
    if any(s % a.dtype.itemsize for s in a.strides):
        raise ValueError(f"{what}: strides {a.strides} are not multiples of "
                         f"the element size")
    t.shape = ctypes.cast(shape, _capi.c_int64_p)
    t.strides = ctypes.cast(strides, _capi.c_int64_p)
    t.byte_offset = 0
    return View(ctypes.pointer(t), (a, iface, shape, strides, t))


def view(x, what, writable=False):
    """A View of `x` (named `what` in errors); `writable` for outputs."""
    if is_torch(x):
        if writable and x.requires_grad:
            raise ValueError(f"{what} requires grad: an output is written in "
                             f"place (pass a tensor without requires_grad)")
        if x.requires_grad:
            x = x.detach()  # shares the storage
        if str(x.dtype) == "torch.bool":
            import torch
            x = x.view(torch.uint8)  # DLPack in torch 1.13 has no bool
        if x.is_conj() if hasattr(x, "is_conj") else False:
            raise ValueError(f"{what} is a lazily conjugated tensor")
    elif is_numpy(x):
        import numpy as np
        x = np.asarray(x)  # a NumPy scalar's memory lives in an array
        if writable and not x.flags.writeable:
            raise ValueError(f"{what} is a read-only array")
        if not x.flags.writeable or x.dtype.kind == "b":
            return _from_array_interface(x, what)
    elif not hasattr(x, "__dlpack__"):
        raise TypeError(f"{what}: expected a NumPy array, a torch tensor or an "
                        f"object with __dlpack__, got {type(x).__name__}")
    try:
        capsule = x.__dlpack__()
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        if is_numpy(x):
            return _from_array_interface(x, what)
        raise ValueError(f"{what}: cannot be passed without a copy: {e}") \
            from None
    ptr = _capi.capsule_tensor(capsule)
    return View(ctypes.cast(ptr, ctypes.POINTER(_capi.DLTensor)), (x, capsule))


def empty(shape, dtype, like):
    """A new tensor of the signature type `dtype`, of the kind of `like`
    (torch if any input is a torch tensor, else NumPy)."""
    if like is not None and is_torch(like):
        import torch
        return torch.empty(tuple(shape), dtype=getattr(torch, DTYPES[dtype][2]),
                           device=like.device)
    import numpy as np
    name = DTYPES[dtype][1]
    if name is None:
        raise TypeError(f"a {dtype} result needs torch tensors (NumPy has no "
                        f"{dtype}): pass torch inputs or out=")
    return np.empty(tuple(shape), dtype=name)
