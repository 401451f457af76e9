"""Tracing Python functions into the scalar regions of attn ops.

A region's arguments are handed to the user's function as `Value`s; every
operation on them appends an MLIR op (arith, math, tensor.extract) to the
region's body. Python numbers become constants; torch functions reach
`Value.__torch_function__` (torch.where, torch.exp2, torch.sin, ...), and so
does indexing a torch tensor with traced indices, which captures the tensor
as an extra argument of the function and reads it with `tensor.extract`.

Types: f32 (the score), index (b, h, q_idx, kv_idx), i1 (comparisons),
and the element types of captured tensors (f16, bf16, f32, f64, i32, i64,
i1). Mixed operations promote like torch: any float makes the operation
f32; integers meet as index (or i64 without an index).
"""

import math
import struct

_FLOATS = ("f16", "bf16", "f32", "f64")
_INTS = ("i32", "i64", "index")


class TracingError(TypeError):
    """A traced function used something that cannot become a region."""


def _f32_hex(x):
    return "0x%08X" % struct.unpack(">I", struct.pack(">f", float(x)))[0]


def _mlir_dtype(dtype, what):
    """The MLIR element type of a torch/NumPy dtype."""
    name = str(dtype).replace("torch.", "")
    table = {"float32": "f32", "float16": "f16", "bfloat16": "bf16",
             "float64": "f64", "int32": "i32", "int64": "i64", "bool": "i1"}
    if name not in table:
        raise TracingError(f"{what}: captured tensors of dtype {name} are not "
                           f"supported (float32/16, bfloat16, float64, int32, "
                           f"int64, bool)")
    return table[name]


class Capture:
    """A tensor a traced function reads: an extra argument of the program."""

    def __init__(self, tensor, index, dtype):
        self.tensor = tensor
        self.index = index
        self.dtype = dtype
        self.rank = tensor.dim() if hasattr(tensor, "dim") else tensor.ndim

    @property
    def mlir_type(self):
        dims = "?x" * self.rank
        return f"tensor<{dims}{self.dtype}>"

    @property
    def name(self):
        return f"%cap{self.index}"


class Tracer:
    """The body of one region being traced; captures are shared by all the
    regions of a program (pass the same `captures` list)."""

    def __init__(self, captures, prefix):
        self.lines = []
        self.captures = captures
        self.prefix = prefix
        self.count = 0
        self.constants = {}
        self.dims = {}
        # The region's own arguments: reads at these indices are checked
        # by the runtime against the tensor's sizes.
        self.region_args = set()

    def clamp_index(self, cap, d, v):
        """A computed index into dim d of a capture, made safe: negative
        indices count from the end (as in torch), and the result is clamped
        into [0, size - 1] (the runtime checks reads at a bare region index
        against the sizes; a computed one would otherwise read out of
        bounds)."""
        key = (cap.index, d)
        size = self.dims.get(key)
        if size is None:
            c = self.const(d, "index")
            size = self.emit(f"tensor.dim {cap.name}, {c.name} : "
                             f"{cap.mlir_type}", "index")
            self.dims[key] = size
        zero = self.const(0, "index")
        one = self.const(1, "index")
        neg = self.emit(f"arith.cmpi slt, {v.name}, {zero.name} : index",
                        "i1")
        wrapped = self.emit(f"arith.addi {v.name}, {size.name} : index",
                            "index")
        v = self.emit(f"arith.select {neg.name}, {wrapped.name}, {v.name} : "
                      f"index", "index")
        last = self.emit(f"arith.subi {size.name}, {one.name} : index",
                         "index")
        v = self.emit(f"arith.maxsi {v.name}, {zero.name} : index", "index")
        return self.emit(f"arith.minsi {v.name}, {last.name} : index",
                         "index")

    def fresh(self):
        self.count += 1
        return f"%{self.prefix}{self.count}"

    def emit(self, text, type_):
        name = self.fresh()
        self.lines.append(f"{name} = {text}")
        return Value(self, name, type_)

    def arg(self, name, type_):
        self.region_args.add(name)
        return Value(self, name, type_)

    # Constants -------------------------------------------------------------
    def const(self, x, type_):
        key = (repr(x), type_)
        if key in self.constants:
            return self.constants[key]
        if type_ == "f32":
            v = self.emit(f"arith.constant {_f32_hex(x)} : f32", "f32")
        elif type_ == "i1":
            v = self.emit(f"arith.constant {'true' if x else 'false'}", "i1")
        else:
            v = self.emit(f"arith.constant {int(x)} : {type_}", type_)
        self.constants[key] = v
        return v

    def lift(self, x, like=None):
        """A Value for x: a Value, or a Python number typed after `like`."""
        if isinstance(x, Value):
            if x.tracer is not self:
                raise TracingError("a traced value was used in another "
                                   "region's function (values do not carry "
                                   "over between score_mod and mask_mod)")
            return x
        if isinstance(x, bool):
            return self.const(x, "i1")
        if isinstance(x, int):
            t = like.type if like is not None and like.type in _INTS else (
                "f32" if like is not None and like.type in _FLOATS else "index")
            return self.const(x, t)
        if isinstance(x, float):
            return self.const(x, "f32")
        if hasattr(x, "item") and getattr(x, "ndim", None) == 0:
            if type(x).__module__.split(".")[0] == "torch":
                # A 0-d tensor is read at run time (a learned temperature
                # gets its gradient; a changed value needs no new program).
                return self.extract(x.reshape(1), (0,))
            return self.lift(x.item(), like)
        raise TracingError(f"cannot use a {type(x).__name__} in a traced "
                           f"function (numbers, traced values and captured "
                           f"tensors indexed by traced values are supported)")

    # Conversions -----------------------------------------------------------
    def to(self, v, type_):
        if v.type == type_:
            return v
        s = v.type
        if type_ == "f32":
            if s in ("f16", "bf16"):
                return self.emit(f"arith.extf {v.name} : {s} to f32", "f32")
            if s == "f64":
                return self.emit(f"arith.truncf {v.name} : f64 to f32", "f32")
            if s == "index":
                v = self.to(v, "i64")
                s = "i64"
            if s == "i1":
                return self.emit(f"arith.uitofp {v.name} : i1 to f32", "f32")
            return self.emit(f"arith.sitofp {v.name} : {s} to f32", "f32")
        if type_ == "index":
            if s == "i1":
                v = self.to(v, "i64")
            if v.type in ("i32", "i64"):
                return self.emit(f"arith.index_cast {v.name} : {v.type} to "
                                 f"index", "index")
        if type_ == "i64":
            if s == "index":
                return self.emit(f"arith.index_cast {v.name} : index to i64",
                                 "i64")
            if s == "i32":
                return self.emit(f"arith.extsi {v.name} : i32 to i64", "i64")
            if s == "i1":
                return self.emit(f"arith.extui {v.name} : i1 to i64", "i64")
        if type_ == "i1" and s == "i1":
            return v
        raise TracingError(f"cannot convert a {s} value to {type_}")

    def common(self, a, b):
        """Both operands converted to their common type."""
        a, b = (self.lift(a, b if isinstance(b, Value) else None),
                self.lift(b, a if isinstance(a, Value) else None))
        if a.type in _FLOATS or b.type in _FLOATS:
            t = "f32"
        elif "index" in (a.type, b.type):
            t = "index"
        elif a.type == "i1" and b.type == "i1":
            t = "i1"
        else:
            t = "i64" if "i64" in (a.type, b.type) or "i1" in (
                a.type, b.type) else a.type
        return self.to(a, t), self.to(b, t)

    def float_(self, x):
        return self.to(self.lift(x, None) if not isinstance(x, Value) else x,
                       "f32")

    # Operations ------------------------------------------------------------
    def binary(self, a, b, fop, iop):
        a, b = self.common(a, b)
        if a.type == "i1":  # booleans count as integers (torch: True + True = 2)
            a, b = self.to(a, "i64"), self.to(b, "i64")
        if a.type == "f32":
            if fop is None:
                raise TracingError("this operation needs integer operands")
            return self.emit(f"{fop} {a.name}, {b.name} : f32", "f32")
        if iop is None:
            a, b = self.to(a, "f32"), self.to(b, "f32")
            return self.emit(f"{fop} {a.name}, {b.name} : f32", "f32")
        return self.emit(f"{iop} {a.name}, {b.name} : {a.type}", a.type)

    def compare(self, a, b, fpred, ipred):
        a, b = self.common(a, b)
        if a.type == "f32":
            return self.emit(f"arith.cmpf {fpred}, {a.name}, {b.name} : f32",
                             "i1")
        if a.type == "i1":  # true is 1 (torch), not -1
            ipred = {"slt": "ult", "sle": "ule", "sgt": "ugt",
                     "sge": "uge"}.get(ipred, ipred)
        return self.emit(f"arith.cmpi {ipred}, {a.name}, {b.name} : {a.type}",
                         "i1")

    def unary_math(self, op, x):
        x = self.float_(x)
        return self.emit(f"math.{op} {x.name} : f32", "f32")

    def where(self, cond, a, b):
        cond = self.lift(cond)
        if cond.type != "i1":
            cond = self.compare(cond, 0, "une", "ne")
        a, b = self.common(a, b)
        return self.emit(f"arith.select {cond.name}, {a.name}, {b.name} : "
                         f"{a.type}", a.type)

    def floordiv(self, a, b):
        a, b = self.common(a, b)
        if a.type == "f32":
            q = self.emit(f"arith.divf {a.name}, {b.name} : f32", "f32")
            return self.emit(f"math.floor {q.name} : f32", "f32")
        # A zero divisor reads as 1 (x // 0 and x % 0 are x): integer
        # division by zero would trap the process, and a kernel cannot raise.
        zero = self.const(0, a.type)
        is_zero = self.emit(f"arith.cmpi eq, {b.name}, {zero.name} : "
                            f"{a.type}", "i1")
        b = self.emit(f"arith.select {is_zero.name}, {self.const(1, a.type).name}"
                      f", {b.name} : {a.type}", a.type)
        return self.emit(f"arith.floordivsi {a.name}, {b.name} : {a.type}",
                         a.type)

    def mod(self, a, b):
        a, b = self.common(a, b)
        q = self.floordiv(a, b)
        return self.binary(a, self.binary(q, b, "arith.mulf", "arith.muli"),
                           "arith.subf", "arith.subi")

    def pow(self, a, b):
        if isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 8:
            a = self.lift(a)
            if b == 0:
                return self.const(1.0 if a.type in _FLOATS else 1,
                                  "f32" if a.type in _FLOATS else a.type)
            r = a
            for _ in range(b - 1):
                r = self.binary(r, a, "arith.mulf", "arith.muli")
            return r
        a, b = self.float_(a), self.float_(b)
        return self.emit(f"math.powf {a.name}, {b.name} : f32", "f32")

    def extract(self, tensor, index):
        idx = index if isinstance(index, tuple) else (index,)
        rank = tensor.dim() if hasattr(tensor, "dim") else tensor.ndim
        if len(idx) != rank or any(i is Ellipsis or isinstance(i, slice)
                                   for i in idx):
            raise TracingError(
                f"a captured tensor of rank {rank} must be indexed by {rank} "
                f"scalars (one per dim), got {len(idx)} indices")
        cap = None
        for c in self.captures:
            if c.tensor is tensor:
                cap = c
        if cap is None:
            dtype = _mlir_dtype(tensor.dtype, "a captured tensor")
            if hasattr(tensor, "device") and str(tensor.device) != "cpu":
                raise TracingError(f"a captured tensor is on {tensor.device}; "
                                   f"attn.attention runs on the CPU")
            cap = Capture(tensor, len(self.captures), dtype)
            self.captures.append(cap)
        names = []
        for d, i in enumerate(idx):
            v = self.lift(i, None)
            if v.type == "f32":
                raise TracingError("a captured tensor was indexed by a "
                                   "floating-point value")
            v = self.to(v, "index")
            if v.name not in self.region_args:
                v = self.clamp_index(cap, d, v)
            names.append(v.name)
        return self.emit(f"tensor.extract {cap.name}[{', '.join(names)}] : "
                         f"{cap.mlir_type}", cap.dtype)


def _unary_float(op):
    return lambda x: x.tracer.unary_math(op, x) if isinstance(x, Value) \
        else getattr(math, op)(x)


class Value:
    """A traced scalar."""

    __slots__ = ("tracer", "name", "type")

    def __init__(self, tracer, name, type_):
        self.tracer = tracer
        self.name = name
        self.type = type_

    def __repr__(self):
        return f"<traced {self.type} {self.name}>"

    def __bool__(self):
        raise TracingError(
            "a traced value has no truth value: write conditions with "
            "torch.where / attn.where and combine them with & | ~ (not "
            "if/and/or/not)")

    def __index__(self):
        raise TracingError(
            "a traced value cannot index a NumPy array or a list: capture a "
            "torch tensor and index it (bias[b, h, q_idx, kv_idx])")

    def __float__(self):
        raise TracingError("a traced value has no Python value")

    __int__ = __float__

    def __hash__(self):
        return id(self)

    # Arithmetic.
    def __add__(self, o):
        return self.tracer.binary(self, o, "arith.addf", "arith.addi")

    def __radd__(self, o):
        return self.tracer.binary(o, self, "arith.addf", "arith.addi")

    def __sub__(self, o):
        return self.tracer.binary(self, o, "arith.subf", "arith.subi")

    def __rsub__(self, o):
        return self.tracer.binary(o, self, "arith.subf", "arith.subi")

    def __mul__(self, o):
        return self.tracer.binary(self, o, "arith.mulf", "arith.muli")

    def __rmul__(self, o):
        return self.tracer.binary(o, self, "arith.mulf", "arith.muli")

    def __truediv__(self, o):
        return self.tracer.binary(self, o, "arith.divf", None)

    def __rtruediv__(self, o):
        return self.tracer.binary(o, self, "arith.divf", None)

    def __floordiv__(self, o):
        return self.tracer.floordiv(self, o)

    def __rfloordiv__(self, o):
        return self.tracer.floordiv(o, self)

    def __mod__(self, o):
        return self.tracer.mod(self, o)

    def __rmod__(self, o):
        return self.tracer.mod(o, self)

    def __pow__(self, o):
        return self.tracer.pow(self, o)

    def __rpow__(self, o):
        return self.tracer.pow(o, self)

    def __neg__(self):
        return self.tracer.binary(0, self, "arith.subf", "arith.subi") \
            if self.type != "f32" else self.tracer.emit(
                f"arith.negf {self.name} : f32", "f32")

    def __pos__(self):
        return self

    def __abs__(self):
        if self.type in _FLOATS:
            x = self.tracer.float_(self)
            return self.tracer.emit(f"math.absf {x.name} : f32", "f32")
        return self.tracer.emit(f"math.absi {self.name} : {self.type}",
                                self.type)

    # Comparisons (ordered for floats, like torch; != is unordered).
    def __lt__(self, o):
        return self.tracer.compare(self, o, "olt", "slt")

    def __le__(self, o):
        return self.tracer.compare(self, o, "ole", "sle")

    def __gt__(self, o):
        return self.tracer.compare(self, o, "ogt", "sgt")

    def __ge__(self, o):
        return self.tracer.compare(self, o, "oge", "sge")

    def __eq__(self, o):
        return self.tracer.compare(self, o, "oeq", "eq")

    def __ne__(self, o):
        return self.tracer.compare(self, o, "une", "ne")

    # Logic (i1) and bitwise (integers).
    def _logic(self, o, op):
        a, b = self.tracer.common(self, o)
        if a.type == "f32":
            raise TracingError("& | ^ need boolean or integer operands")
        return self.tracer.emit(f"arith.{op} {a.name}, {b.name} : {a.type}",
                                a.type)

    def __and__(self, o):
        return self._logic(o, "andi")

    __rand__ = __and__

    def __or__(self, o):
        return self._logic(o, "ori")

    __ror__ = __or__

    def __xor__(self, o):
        return self._logic(o, "xori")

    __rxor__ = __xor__

    def __invert__(self):
        if self.type != "i1":
            raise TracingError("~ needs a boolean (a comparison)")
        t = self.tracer.const(True, "i1")
        return self.tracer.emit(f"arith.xori {self.name}, {t.name} : i1", "i1")

    # Tensor-like methods.
    def exp(self):
        return self.tracer.unary_math("exp", self)

    def exp2(self):
        return self.tracer.unary_math("exp2", self)

    def log(self):
        return self.tracer.unary_math("log", self)

    def log2(self):
        return self.tracer.unary_math("log2", self)

    def tanh(self):
        return self.tracer.unary_math("tanh", self)

    def sin(self):
        return self.tracer.unary_math("sin", self)

    def cos(self):
        return self.tracer.unary_math("cos", self)

    def tan(self):
        return self.tracer.unary_math("tan", self)

    def sqrt(self):
        return self.tracer.unary_math("sqrt", self)

    def rsqrt(self):
        return self.tracer.unary_math("rsqrt", self)

    def erf(self):
        return self.tracer.unary_math("erf", self)

    def floor(self):
        return self.tracer.unary_math("floor", self)

    def ceil(self):
        return self.tracer.unary_math("ceil", self)

    def abs(self):
        return abs(self)

    def sigmoid(self):
        return sigmoid(self)

    def float(self):
        return self.tracer.float_(self)

    def to(self, dtype=None, *args, **kwargs):
        name = str(dtype)
        if "int" in name:
            if self.type in _FLOATS:
                x = self.tracer.float_(self)
                return self.tracer.emit(f"arith.fptosi {x.name} : f32 to i64",
                                        "i64")
            return self.tracer.to(self, "i64")
        if dtype is None or "float" in name or "half" in name:
            return self.tracer.float_(self)
        raise TracingError(f"Value.to({name}) is not supported in a traced "
                           f"function (float and integer types are)")

    def clamp(self, min=None, max=None):
        return clamp(self, min, max)

    def __getitem__(self, item):
        raise TracingError("a traced scalar cannot be indexed")

    @property
    def device(self):
        return "cpu"  # torch.ones((), device=b.device), as in noop_mask

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name == "__getitem__":
            tensor, index = args
            tracer = _tracer_of(index)
            return tracer.extract(tensor, index)
        handler = _TORCH.get(name)
        if handler is None:
            raise TracingError(f"torch.{name} is not supported in a traced "
                               f"function")
        if kwargs:
            raise TracingError(f"torch.{name}: keyword arguments "
                               f"({', '.join(kwargs)}) are not supported in a "
                               f"traced function")
        tracer = _any_tracer(*args)
        lifted = []
        for a in args:
            if type(a).__module__.split(".")[0] == "torch" and hasattr(a, "dim"):
                if a.dim() != 0:
                    raise TracingError(
                        f"torch.{name}: a traced value cannot be combined with "
                        f"a tensor of shape {tuple(a.shape)}; index it with "
                        f"the traced indices instead")
                a = tracer.lift(a)
            lifted.append(a)
        return handler(*lifted)


def _tracer_of(x):
    if isinstance(x, Value):
        return x.tracer
    if isinstance(x, (tuple, list)):
        for e in x:
            t = _tracer_of(e)
            if t is not None:
                return t
    return None


def _any_tracer(*xs):
    for x in xs:
        t = _tracer_of(x)
        if t is not None:
            return t
    return None


def where(cond, a, b):
    """attn.where / torch.where on traced values."""
    t = _any_tracer(cond, a, b)
    if t is None:
        return a if cond else b
    return t.where(cond, a, b)


def sigmoid(x):
    if not isinstance(x, Value):
        return 1.0 / (1.0 + math.exp(-x))
    t = x.tracer
    x = t.float_(x)
    # 1 / (1 + e^-x)
    n = t.emit(f"arith.negf {x.name} : f32", "f32")
    e = t.emit(f"math.exp {n.name} : f32", "f32")
    return t.binary(1.0, t.binary(1.0, e, "arith.addf", None), "arith.divf",
                    None)


def _minmax(a, b, fop, iop):
    t = _any_tracer(a, b)
    if t is None:
        return (min if "min" in fop else max)(a, b)
    return t.binary(a, b, fop, iop)


def minimum(a, b):
    return _minmax(a, b, "arith.minimumf", "arith.minsi")


def maximum(a, b):
    return _minmax(a, b, "arith.maximumf", "arith.maxsi")


def clamp(x, min=None, max=None):
    if min is not None:
        x = maximum(x, min)
    if max is not None:
        x = minimum(x, max)
    return x


exp = _unary_float("exp")
exp2 = _unary_float("exp2")
log = _unary_float("log")
log2 = _unary_float("log2")
tanh = _unary_float("tanh")
sin = _unary_float("sin")
cos = _unary_float("cos")
tan = _unary_float("tan")
sqrt = _unary_float("sqrt")
erf = _unary_float("erf")
floor = _unary_float("floor")
ceil = _unary_float("ceil")


def _rsqrt(x):
    return x.tracer.unary_math("rsqrt", x) if isinstance(x, Value) \
        else 1.0 / math.sqrt(x)


def _binary_torch(fop, iop):
    def f(a, b, **_):
        t = _any_tracer(a, b)
        return t.binary(a, b, fop, iop)
    return f


_TORCH = {
    "where": lambda c, a, b: where(c, a, b),
    "exp": exp, "exp2": exp2, "log": log, "log2": log2, "tanh": tanh,
    "sin": sin, "cos": cos, "tan": tan, "sqrt": sqrt, "rsqrt": _rsqrt,
    "erf": erf, "floor": floor, "ceil": ceil,
    "sigmoid": sigmoid, "abs": lambda x: abs(x),
    "maximum": maximum, "minimum": minimum, "max": maximum, "min": minimum,
    "clamp": clamp, "clip": clamp,
    "add": _binary_torch("arith.addf", "arith.addi"),
    "sub": _binary_torch("arith.subf", "arith.subi"),
    "mul": _binary_torch("arith.mulf", "arith.muli"),
    "div": _binary_torch("arith.divf", None),
    "pow": lambda a, b: a ** b if isinstance(a, Value) else
    _any_tracer(b).pow(a, b),
    "neg": lambda x: -x, "negative": lambda x: -x,
    "logical_and": lambda a, b: a & b, "logical_or": lambda a, b: a | b,
    "logical_not": lambda a: ~a,
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "__add__": lambda a, b: a + b, "__radd__": lambda a, b: b + a,
    "__sub__": lambda a, b: a - b, "__rsub__": lambda a, b: b - a,
    "__mul__": lambda a, b: a * b, "__rmul__": lambda a, b: b * a,
    "__truediv__": lambda a, b: a / b, "__rtruediv__": lambda a, b: b / a,
    "__and__": lambda a, b: a & b, "__or__": lambda a, b: a | b,
    "__eq__": lambda a, b: a == b, "__ne__": lambda a, b: a != b,
    "__lt__": lambda a, b: a < b, "__le__": lambda a, b: a <= b,
    "__gt__": lambda a, b: a > b, "__ge__": lambda a, b: a >= b,
}
