"""What the Python tests share: `check` prints ok/FAIL lines (FileCheck
looks for FAIL), `expect_error` checks that a call raises the given kind of
exception with a message containing a needle, `finish` prints the count and
exits with it."""

import sys

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def expect_error(exc, needle, fn, what):
    try:
        fn()
    except exc as e:
        msg = str(e)
        check(needle in msg, f"{what}: {type(e).__name__}: {msg.splitlines()[0]}")
        return
    except Exception as e:  # the wrong kind
        check(False, f"{what}: raised {type(e).__name__}: {e}")
        return
    check(False, f"{what}: no exception")


def finish():
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)
