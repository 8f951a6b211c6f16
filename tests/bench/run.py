#!/usr/bin/python3
"""Run every benchmark under tests/bench/ (release build, private cluster)."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
# benchmark -> the argument sets it runs with (default: one run without arguments)
RUNS = {"sync_bench.py": [[], ["--sliding"]]}
rc = 0
for name in sorted(os.listdir(here)):
    if name.endswith("_bench.py"):
        for args in RUNS.get(name, [[]]):
            print(f"== {name} {' '.join(args)}", flush=True)
            rc |= subprocess.run([sys.executable, os.path.join(here, name)] + args).returncode
sys.exit(rc)
