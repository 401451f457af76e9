"""ctypes bindings of libattn (tools/libattn/attn.h) and the DLPack structs.

libattn is the compiler and the runtime in one shared library with a plain C
API. ctypes rather than a compiled extension: one C ABI serves Python and any
other FFI, the package builds without Python headers, and no C++ exception
can cross into the interpreter (every entry point returns a status).
"""

import ctypes
import os

c_int64_p = ctypes.POINTER(ctypes.c_int64)


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice),
                ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", c_int64_p), ("strides", c_int64_p),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


class CompileOptions(ctypes.Structure):
    _fields_ = [("target", ctypes.c_char_p), ("cache_dir", ctypes.c_char_p),
                ("grad", ctypes.c_int), ("tune", ctypes.c_char_p),
                ("filename", ctypes.c_char_p)]


kDLCPU = 1
kDLCUDA = 2
# DLDataTypeCode
kDLInt, kDLUInt, kDLFloat, kDLBfloat, kDLBool = 0, 1, 2, 4, 6

# libattnrt status codes.
OK, INVALID_ARGUMENT, UNSUPPORTED, INTERNAL = 0, 1, 2, 3

_lib = None


def library_path():
    """The libattn.so this package loads: $ATTN_LIBRARY, else the one next
    to this file."""
    return os.environ.get("ATTN_LIBRARY") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "libattn.so")


def lib():
    global _lib
    if _lib is not None:
        return _lib
    path = library_path()
    try:
        handle = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"attn: cannot load {path}: {e}") from None
    P = ctypes.POINTER
    vp = ctypes.c_void_p
    sig = {
        "attn_compile": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t,
                                        P(CompileOptions), P(vp)]),
        "attn_module_free": (None, [vp]),
        "attn_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p,
                                     P(vp)]),
        "attn_module_from_cache": (ctypes.c_int, [vp]),
        "attn_module_key": (ctypes.c_char_p, [vp]),
        "attn_module_num_functions": (ctypes.c_int, [vp]),
        "attn_module_function_name": (ctypes.c_char_p, [vp, ctypes.c_int]),
        "attn_module_function_signature": (ctypes.c_char_p,
                                           [vp, ctypes.c_int]),
        "attn_module_function_roles": (ctypes.c_char_p, [vp, ctypes.c_int]),
        "attn_module_lookup": (ctypes.c_int, [vp, ctypes.c_char_p]),
        "attn_module_infer_shape": (ctypes.c_int, [
            vp, ctypes.c_int, P(P(DLTensor)), ctypes.c_int32, ctypes.c_int32,
            c_int64_p, P(ctypes.c_int32), P(DLDataType)]),
        "attn_module_call": (ctypes.c_int, [vp, ctypes.c_int, P(P(DLTensor)),
                                            ctypes.c_int32]),
        "attn_last_error": (ctypes.c_char_p, []),
        "attn_set_num_threads": (ctypes.c_int, [ctypes.c_int]),
        "attn_get_num_threads": (ctypes.c_int, []),
        "attn_plan_ragged": (ctypes.c_int, [P(DLTensor), P(DLTensor),
                                            ctypes.c_int64, ctypes.c_int64,
                                            P(DLTensor)]),
        "attn_compiler_id": (ctypes.c_char_p, []),
    }
    for name, (res, args) in sig.items():
        fn = getattr(handle, name)
        fn.restype = res
        fn.argtypes = args
    _lib = handle
    return handle


def last_error():
    return lib().attn_last_error().decode("utf-8", "replace")


_capsule_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get_pointer.restype = ctypes.c_void_p
_capsule_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.restype = ctypes.c_int
_capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]


def capsule_tensor(capsule):
    """The DLTensor* of an unconsumed "dltensor" capsule (the capsule keeps
    ownership: its destructor calls the producer's deleter)."""
    if not _capsule_is_valid(capsule, b"dltensor"):
        raise TypeError("__dlpack__ did not return a 'dltensor' capsule")
    return _capsule_get_pointer(capsule, b"dltensor")
