"""Shared runner of the mutation checks (test/lib/mutate_*.py): applies each
mutation (name, source file, old text, new text) to its file, rebuilds the
tools, runs the given lit tests and reports which of them catch it; the file
is restored after each. Exits non-zero unless every mutation is caught."""
import os
import subprocess
import sys

# The checkout, and the build directory (the script's first argument).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
LIT = ["/usr/bin/python3", "/usr/lib/llvm-22/bin/lit", "-q"]
TOOLS = ["attn-run", "attn-opt"]


def run(mutations, tests, build=BUILD):
    caught = 0
    for name, path, old, new in mutations:
        orig = open(path).read()
        assert old in orig, name
        try:
            open(path, "w").write(orig.replace(old, new))
            r = subprocess.run(["ninja", "-C", build] + TOOLS,
                               capture_output=True, text=True)
            if r.returncode:
                print("%-55s BUILD FAILED\n%s" % (name, r.stdout[-800:]))
                continue
            r = subprocess.run(LIT + tests, capture_output=True, text=True)
            failed = [l.split("::")[-1].strip() for l in r.stdout.splitlines()
                      if l.startswith("FAIL")]
            caught += bool(failed)
            print("%-55s %s" % (name, "caught by " + ", ".join(failed) if failed
                                else "NOT CAUGHT"), flush=True)
        finally:
            open(path, "w").write(orig)
    subprocess.run(["ninja", "-C", build] + TOOLS, capture_output=True)
    print("%d of %d mutations caught" % (caught, len(mutations)))
    sys.exit(0 if caught == len(mutations) else 1)
