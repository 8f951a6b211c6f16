#!/usr/bin/python3
"""Run every test: the C unit test binaries (ASan/UBSan build) and the end-to-end tests that
drive the real binary over HTTP against the private PostgreSQL cluster.

Ends with one line "N passed, N failed"; exits non-zero if anything failed.
    tests/run.py                 everything
    tests/run.py --unit-only     only the C unit tests
    tests/run.py -k login        only end-to-end tests whose id contains "login"
"""
import argparse
import os
import re
import subprocess
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))


def pg_env():
    out = subprocess.run([os.path.join(ROOT, "deploy", "dev", "pg.sh"), "env"], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def run_unit():
    passed = failed = 0
    env = dict(os.environ)
    env.update({k: v for k, v in pg_env().items() if k.startswith("PG")})
    bins = []
    for base, _, files in os.walk(os.path.join(ROOT, "build", "asan", "tests")):
        for f in files:
            p = os.path.join(base, f)
            if f.endswith("_test") and os.access(p, os.X_OK):
                bins.append(p)
    for b in sorted(bins):
        name = os.path.relpath(b, os.path.join(ROOT, "build", "asan"))
        try:
            out = subprocess.run([b], cwd=ROOT, capture_output=True, text=True, timeout=300,
                                 env=env)
            text = out.stdout + out.stderr
            rc = out.returncode
        except subprocess.TimeoutExpired as e:
            text, rc = (e.stdout or b"").decode() + "\nTIMEOUT", -1
        m = re.search(r"(\d+) passed, (\d+) failed\s*$", out.stdout if rc != -1 else "")
        p, f = (int(m.group(1)), int(m.group(2))) if m else (0, 1)
        if rc != 0 and f == 0:
            f = 1  # crashed or sanitizer report after the summary
        passed += p
        failed += f
        status = "ok" if f == 0 and rc == 0 else "FAIL"
        print(f"unit {name}: {p} passed, {f} failed [{status}]")
        if status != "ok":
            print("\n".join("    " + l for l in text.splitlines()[-60:]))
    return passed, failed


class CountingResult(unittest.TextTestResult):
    pass


def run_e2e(pattern):
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = [f"*{pattern}*"]
    suite = loader.discover(os.path.join(ROOT, "tests", "e2e"), pattern="test_*.py",
                            top_level_dir=os.path.join(ROOT, "tests", "e2e"))
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=CountingResult)
    res = runner.run(suite)
    bad = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    return res.testsRun - bad - len(res.skipped), bad, len(res.skipped)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("-k", dest="pattern")
    args = ap.parse_args()
    t0 = time.time()
    passed = failed = skipped = 0
    if not args.pattern:
        p, f = run_unit()
        passed += p
        failed += f
    if not args.unit_only:
        p, f, s = run_e2e(args.pattern)
        passed += p
        failed += f
        skipped += s
    print(f"time: {time.time() - t0:.0f}s")
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
