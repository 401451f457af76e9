#!/usr/bin/python3
"""Builds the GPU check bundle (see scripts/gpu-check and docs/gpu-backend.md).

The cases are those of test/Integration/gpu-emulation.test and
simt-emulation.test: their harness commands run here with the reference
backend only, through a wrapper of attn-run that records each run's program,
inputs and outputs. Every case is compiled ahead of time with attn-compile
--target=nvptx for each chip, and one driver per chip (bench/gpu-check.c,
a static libattnrt) is linked with its objects. The bundle needs an NVIDIA
driver and nothing of attn's toolchain.

    gpu_bundle.py --build=build --out=build/gpu-bundle [--only=NAME,...]
"""
import argparse
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
TESTS = ["test/Integration/gpu-emulation.test", "test/Integration/simt-emulation.test",
         "test/Integration/grad-gpu-emulation.test"]
CHIPS = ["sm_90"]  # sm_80 on request (--chips=sm_90,sm_80): both may not fit in 60 MiB packed

WRAPPER = """#!/bin/sh
# Records an attn-run command line, then runs it.
/usr/bin/python3 -c 'import json,sys; open(sys.argv[1],"a").write(json.dumps(sys.argv[2:])+"\\n")' "{log}" "$@"
exec "{attn_run}" "$@"
"""


def harness_commands(only):
    """(case name, argv) of every RUN line, backends set to reference."""
    subs = {"%check_attention": "check_attention.py", "%check_variant": "check_variant.py",
            "%check_routing": "check_routing.py", "%check_kvcache": "check_kvcache.py",
            "%check_linear": "check_linear.py", "%check_evict": "check_evict.py",
            "%check_grad_example": "check_grad_example.py"}
    seen, covered = {}, set()
    for test in TESTS:
        for line in open(os.path.join(ROOT, test)):
            m = re.match(r"; RUN: (%check_\w+) (.*?) \| FileCheck", line)
            if not m:
                continue
            args = shlex.split(m.group(2))
            workdir = args[args.index("--workdir") + 1]
            name = ("gg_" if "grad-" in test else "ge_" if "gpu-emulation" in test
                    else "se_") + workdir.split("/")[-1]
            # One case per program is enough from the second file (the
            # MoE weights alone are 13 MiB).
            key = next((args[i + 1] for i, x in enumerate(args)
                        if x in ("--variant", "--example", "--mlir")), name)
            if name.startswith("se_") and key in covered:
                continue
            covered.add(key)
            if only and name not in only:
                continue
            args = [a.replace("%S", os.path.join(ROOT, "test", "Integration"))
                    .replace("%attn_src", ROOT) for a in args]
            i = args.index("--backends")
            # Gradients: the expected values are the CPU backward's (itself
            # checked against finite differences by grad-examples.test).
            args[i + 1] = "cpu" if name.startswith("gg_") else "reference"
            seen[name] = [PY, os.path.join(ROOT, "test", "lib", subs[m.group(1)])] + args
    return seen


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--out", default=None)
    p.add_argument("--only", default="", help="comma-separated case names (all by default)")
    p.add_argument("--cc", default="cc", help="the C compiler command (with flags)")
    p.add_argument("--gpu-binary", choices=["auto", "ptx", "cubin"], default="auto",
                   help="cubins need the CUDA toolkit's ptxas here (auto: cubin if "
                        "$CUDA_HOME/bin/ptxas exists, PTX for the driver's JIT otherwise)")
    p.add_argument("--chips", default=",".join(CHIPS),
                   help="sm_90, sm_80, ... or cpu (the driver on host memory, to test the bundle)")
    a = p.parse_args()
    out = a.out or os.path.join(a.build, "gpu-bundle")
    only = [o for o in a.only.split(",") if o]
    chips = a.chips.split(",")
    cuda = os.environ.get("CUDA_HOME") or "/usr/local/cuda"
    binary = a.gpu_binary
    if binary == "auto":
        binary = "cubin" if os.access(os.path.join(cuda, "bin", "ptxas"), os.X_OK) else "ptx"
    gpu_flags = ["--gpu-binary=" + binary] + (["--cuda-path=" + cuda] if binary == "cubin" else [])
    attn_run = os.path.join(a.build, "bin", "attn-run")
    attn_compile = os.path.join(a.build, "bin", "attn-compile")
    shutil.rmtree(out, ignore_errors=True)
    work = os.path.join(out, "work")
    os.makedirs(work)
    log = os.path.join(work, "runs.jsonl")
    wrapper = os.path.join(work, "attn-run")
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(log=log, attn_run=attn_run))
    os.chmod(wrapper, 0o755)

    cases = []
    for name, argv in sorted(harness_commands(only).items()):
        argv = [x.replace("%t", os.path.join(work, "t")) for x in argv]
        argv[argv.index("--workdir") + 1] = os.path.join(work, name)
        open(log, "w").close()
        r = subprocess.run(argv + ["--attn-run", wrapper], capture_output=True, text=True)
        if r.returncode != 0:
            print("gpu_bundle: reference run of %s failed:\n%s%s" % (name, r.stdout, r.stderr))
            return 1
        runs = [json.loads(l) for l in open(log) if l.strip()]
        grad = name.startswith("gg_")
        if grad:  # the compiled backward's run only, as one function @main_grad
            runs = [r for r in runs if "--grad" in r and "--backend=cpu" in r]
        for n, run in enumerate(runs):
            src = run[0]
            fn = next((x.split("=", 1)[1] for x in run if x.startswith("--function=")), "main")
            if grad:
                combined = os.path.join(work, name + ".mlir")
                r = subprocess.run([os.path.join(a.build, "bin", "attn-opt"), src,
                                    "--attn-generate-backward=combined=true",
                                    # only @main_grad's kernels in the driver
                                    "--symbol-privatize=exclude=%s_grad" % fn,
                                    "--symbol-dce", "-o", combined],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print("gpu_bundle: attn-opt of %s failed:\n%s" % (src, r.stderr))
                    return 1
                src, fn = combined, fn + "_grad"
            ins = [x[len("--input=@"):] for x in run if x.startswith("--input=@")]
            outs = [x[len("--output=@"):] for x in run if x.startswith("--output=@")]
            case = name if len(runs) == 1 else "%s_%d" % (name, n)
            d = os.path.join(out, "cases", case)
            os.makedirs(d)
            shutil.copy(src, os.path.join(d, "case.mlir"))
            for k, f in enumerate(ins):
                shutil.copy(f, os.path.join(d, "in%d.npy" % k))
            for k, f in enumerate(outs):
                shutil.copy(f, os.path.join(d, "out%d.npy" % k))
            low = any(t in open(src).read() for t in ("xf16>", "xbf16>"))
            # A gradient carries the tensor cores' f16 rounding of the
            # training forward through the backward's differences.
            if len(ins) + len(outs) > 16:  # bench/gpu-check.c's call()
                print("gpu_bundle: %s has %d tensors; the driver calls at most 16" % (
                    case, len(ins) + len(outs)))
                return 1
            cases.append((case, fn, len(ins), 2e-2 if low or grad else 5e-3))

    # One object per case and chip, then one driver per chip.
    src_dir = os.path.join(work, "src")
    os.makedirs(src_dir)
    for chip in chips:
        objs, decls, table = [], [], []
        for case, fn, nin, tol in cases:
            ident = re.sub(r"\W", "_", case)
            obj = os.path.join(work, "%s_%s.o" % (ident, chip))
            target = (["--target=x86-64"] if chip == "cpu" else
                      ["--target=nvptx", "--chip=" + chip] + gpu_flags)
            cmd = [attn_compile, os.path.join(out, "cases", case, "case.mlir")] + target + [
                   "--name=c_" + ident, "-o", obj]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print("gpu_bundle: %s\n%s" % (" ".join(cmd), r.stderr))
                return 1
            objs.append(obj)
            sym = "c_%s_%s" % (ident, fn)
            decls.append("int %s();\nextern const char %s_signature[];" % (sym, sym))
            table.append('  {"%s", (entry_fn)%s, %s_signature, %d, %g},' % (case, sym, sym, nin, tol))
        with open(os.path.join(src_dir, "cases.inc"), "w") as f:
            f.write("/* Generated by scripts/gpu_bundle.py. */\n" + "\n".join(decls) +
                    "\nstatic const gpu_case cases[] = {\n" + "\n".join(table) + "\n};\n")
        exe = os.path.join(out, "attn-gpu-check-" + chip.replace("_", ""))
        cmd = shlex.split(a.cc) + ["-O2", "-std=gnu11"] + (["-DATTN_CHECK_CPU"] if chip == "cpu" else []) + [
               "-I" + os.path.join(ROOT, "runtime", "include"),
               "-I" + src_dir, os.path.join(ROOT, "bench", "gpu-check.c")] + objs + [
               os.path.join(a.build, "runtime", "libattnrt.a"), "-lm", "-lpthread", "-ldl",
               "-o", exe]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("gpu_bundle: link failed\n%s" % r.stderr)
            return 1

    # The benchmark's kernels as a shared library for bench/gpu.py.
    # The forward kernels as k_<name>, the causal and non-causal training
    # pairs (attn-compile --grad) as g_<name>_train and g_<name>_backward.
    mlir = os.path.join(work, "bench.mlir")
    grad_mlir = os.path.join(work, "bench_grad.mlir")
    subprocess.run([PY, os.path.join(ROOT, "bench", "gpu", "make_kernels.py"), mlir], check=True)
    subprocess.run([PY, os.path.join(ROOT, "bench", "gpu", "make_kernels.py"), grad_mlir, "--grad"],
                   check=True)
    obj = os.path.join(work, "bench.o")
    grad_obj = os.path.join(work, "bench_grad.o")
    chip = next((c for c in chips if c != "cpu"), None)
    if chip:
        for cmd in ([attn_compile, mlir, "--target=nvptx", "--chip=" + chip, "--name=k", "-o", obj]
                    + gpu_flags,
                    [attn_compile, grad_mlir, "--grad", "--target=nvptx", "--chip=" + chip,
                     "--name=g", "-o", grad_obj] + gpu_flags,
                    shlex.split(a.cc) + ["-shared", "-o", os.path.join(out, "libattn_gpu_bench.so"), obj,
                     grad_obj, os.path.join(a.build, "runtime", "libattnrt.a"), "-lm", "-lpthread",
                     "-ldl"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print("gpu_bundle: %s\n%s" % (" ".join(cmd), r.stderr))
                return 1
        shutil.copy(os.path.join(ROOT, "bench", "gpu.py"), out)

    with open(os.path.join(out, "run"), "w") as f:
        f.write("""#!/bin/bash
# Checks every kernel of this bundle on the GPU against the reference
# interpreter's outputs; writes results.txt. Needs an NVIDIA driver only.
cd "$(dirname "$0")"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1)
case "$cc" in 9.*) drv=./attn-gpu-check-sm90 ;; *) drv=./attn-gpu-check-sm80 ;; esac
[ -x "$drv" ] || drv=$(ls ./attn-gpu-check-sm* | head -n1)
# ./run [--no-bench] [--quick] [--sanitize]: the checks, with --sanitize
# again under each of compute-sanitizer's tools (memcheck, racecheck,
# initcheck, synccheck: any report fails the run), then the benchmark
# against PyTorch (bench/gpu.py); everything goes to results.txt.
bench=1; quick=; sanitize=
for a in "$@"; do
  case "$a" in
    --no-bench) bench= ;; --quick) quick=--quick ;; --sanitize) sanitize=1 ;;
    *) echo "run: unknown option $a (--no-bench, --quick, --sanitize)" >&2; exit 1 ;;
  esac
done
tee results.txt < manifest.txt
"$drv" --cases=cases 2>&1 | tee -a results.txt
status=${PIPESTATUS[0]}
[ "$status" = 2 ] && exit 2  # no device: nothing to time either
if [ -n "$sanitize" ]; then
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n1)
  if [ -z "$cs" ]; then
    echo "run: --sanitize needs compute-sanitizer (CUDA toolkit)" | tee -a results.txt
    status=1
  fi
  for tool in ${cs:+memcheck racecheck initcheck synccheck}; do
    "$cs" --tool "$tool" --error-exitcode 9 "$drv" --cases=cases > "sanitize-$tool.txt" 2>&1
    rc=$?
    echo "compute-sanitizer $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "sanitize-$tool.txt" | head -n1) (exit $rc)" | tee -a results.txt
    [ "$rc" = 0 ] || status=1
  done
fi
if [ -n "$bench" ] && [ -f gpu.py ]; then
  python3 gpu.py $quick --out=bench 2>&1 | tee -a results.txt
  [ -f bench.md ] && cat bench.md >> results.txt
fi
exit "$status"
""")
    os.chmod(os.path.join(out, "run"), 0o755)
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("attn %s\nchips: %s\nkernels: %s\ncases: %d\n" % (
            commit or "?", ", ".join(c for c in chips if c != "cpu"),
            "cubin (ptxas)" if binary == "cubin" else "PTX (driver JIT)", len(cases)))
    shutil.rmtree(work)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    # What travels to a GPU machine: one gzipped tar of the folder.
    archive = out.rstrip("/") + ".tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as t:
        t.add(out, arcname=os.path.basename(out.rstrip("/")))
    packed = os.path.getsize(archive)
    print("gpu bundle: %d cases, %d chip(s), %.1f MiB in %s, %.1f MiB packed in %s" % (
        len(cases), len(chips), size / 2**20, out, packed / 2**20, archive))
    if packed > 60 * 2**20:
        print("gpu_bundle: the packed bundle exceeds 60 MiB")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
