#!/usr/bin/python3
"""Mutation check of the tensor-core kernel generator against the GPU
emulator (issue 20): applies each mutation to codegen/gpu/TileAttention.cpp,
rebuilds attn-run, runs two gpu-emulation cases and reports whether they
catch it; restores the file. Not part of scripts/test (it rebuilds).

    /usr/bin/python3 test/lib/mutate_tile_attention.py [BUILD_DIR]
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
WORK = "/tmp/attn-mutations"
P = os.path.join(ROOT, 'codegen', 'gpu', 'TileAttention.cpp')
orig=open(P).read()
muts=[
 ("lanes 0 and 1 swapped in the fragment mapping", "  Value g = div(lane, 4), cq = rem(lane, 4);",
  "  Value laneM = select(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, cst(0)), cst(1), select(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, cst(1)), cst(0), lane));\n  Value g = div(laneM, 4), cq = rem(laneM, 4);"),
 ("barrier before the next tile dropped", "    // The next tile overwrites Ks and Vs.\n    gpu::BarrierOp::create(b, loc);", "    // dropped"),
 ("barrier after the K wait dropped", "    waitGroups(kToken, vToken ? 1 : 0);\n    gpu::BarrierOp::create(b, loc);", "    waitGroups(kToken, vToken ? 1 : 0);"),
 ("cp.async source row + 1", "ValueRange{bb, head, safeRow, col}, b.getIndexAttr(8), n,", "ValueRange{bb, head, add(safeRow, cst(1)), col}, b.getIndexAttr(8), n,"),
 ("cp.async destination row + 1", "b, loc, tokenType, dst, ValueRange{r, col}, src,", "b, loc, tokenType, dst, ValueRange{add(r, cst(1)), col}, src,"),
 ("split-KV merge reads the wrong packed row", "  Value p = add(mul(rem(head, group), cst(lq)), i); // row of the tile", "  Value p = i;"),
]
C = ["/usr/bin/python3", os.path.join(ROOT, "test", "lib", "check_attention.py"),
     "--attn-run", os.path.join(BUILD, "bin", "attn-run"), "--backends", "gpu-emulation"]
cases=[["--workdir",WORK + "/a","--dtype","f16","--hq","8","--hkv","2","--d","64","--causal","--lq","77","--lk","130","--lse"],
       ["--workdir",WORK + "/b","--dtype","bf16","--hq","32","--hkv","8","--d","128","--causal","--lq","1","--lk","600","--static-lq","--lse"]]
try:
  for name, old, new in muts:
    assert old in orig, name
    open(P,'w').write(orig.replace(old,new))
    r=subprocess.run(["ninja", "-C", BUILD, "attn-run"],capture_output=True,text=True)
    if r.returncode: print(name, "BUILD FAILED", r.stdout[-500:]); continue
    outs=[]
    for c in cases:
      r=subprocess.run(C+c,capture_output=True,text=True)
      line=[l for l in r.stdout.splitlines() if "FAIL" in l or "error" in l]
      outs.append(("caught: "+line[0][:230]) if r.returncode else "NOT CAUGHT")
    print("==", name); [print("  ", o) for o in outs]
    sys.stdout.flush()
finally:
  open(P,'w').write(orig)
  subprocess.run(["ninja", "-C", BUILD, "attn-run"],capture_output=True)
