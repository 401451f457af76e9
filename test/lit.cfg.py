# lit configuration of the attn test suite.
import os
import shutil

import lit.formats

config.name = "attn"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lib", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")

python = "/usr/bin/python3"  # Debian's interpreter: it has NumPy.
config.environment["PATH"] = os.pathsep.join(
    [config.attn_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# Keep thread counts deterministic and small: the CI machine has 2 cores.
config.environment["ATTN_NUM_THREADS"] = "2"
if config.sanitize:
    config.environment["ASAN_OPTIONS"] = "detect_leaks=1"
    config.available_features.add("sanitize")

config.substitutions.append(("%python", python))
# The Python package from the build tree, with a cache of its own per test.
# Under --sanitize the interpreter preloads the sanitizers' runtimes, so that
# the instrumented libattn.so it loads can run (leaks are the interpreter's).
_preload = ""
if config.sanitize:
    import subprocess
    _libs = [subprocess.run([config.c_compiler, "-print-file-name=" + l],
                            capture_output=True, text=True).stdout.strip()
             for l in ("libasan.so", "libubsan.so")]
    _preload = "LD_PRELOAD='%s' ASAN_OPTIONS=detect_leaks=0 " % " ".join(_libs)
config.substitutions.append(("%attn_python", "env " + _preload + "PYTHONPATH=" +
    os.path.join(config.attn_obj_root, "python") + " " + python))
config.substitutions.append(("%attn_src", config.attn_src_root))
config.substitutions.append(("%attn_build", os.path.dirname(config.attn_tools_dir)))
config.substitutions.append(("%attn_obj", config.attn_obj_root))
config.substitutions.append(("%attnrt_lib", config.attn_runtime_lib))
config.substitutions.append(("%runtime_include", os.path.join(config.attn_src_root, "runtime", "include")))
config.substitutions.append(("%cc", config.c_compiler +
    (" -fsanitize=address,undefined" if config.sanitize else "")))
config.substitutions.append(("%check_variant",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_variant.py"))))
config.substitutions.append(("%check_routing",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_routing.py"))))
config.substitutions.append(("%check_linear",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_linear.py"))))
config.substitutions.append(("%check_evict",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_evict.py"))))
config.substitutions.append(("%check_kvcache",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_kvcache.py"))))
config.substitutions.append(("%check_trig",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_trig.py"))))
config.substitutions.append(("%check_grad_example",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_grad_example.py"))))
config.substitutions.append(("%check_grad",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_grad.py"))))
config.substitutions.append(("%check_attention",
    "%s %s" % (python, os.path.join(config.attn_src_root, "test", "lib", "check_attention.py"))))

# Tests that run AVX-512 code need a host that has it.
try:
    with open("/proc/cpuinfo") as f:
        if " avx512f " in f.read():
            config.available_features.add("avx512")
except OSError:
    pass

if shutil.which("ptxas", path="/usr/local/cuda/bin"):
    config.available_features.add("ptxas")

# The stand-in driver of test/Runtime/fake-cuda.c, for the host side of the
# CUDA backend on machines without a GPU.
config.substitutions.append(("%fake_cuda",
    os.path.join(config.attn_obj_root, "lib", "libattn-fake-cuda.so")))

# Tests that run kernels on an NVIDIA GPU need a driver and a device.
def _has_cuda_device():
    import ctypes
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 \
        and count.value > 0

if _has_cuda_device():
    config.available_features.add("cuda-device")
