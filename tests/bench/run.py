#!/usr/bin/python3
"""Run every benchmark under tests/bench/ (release build, private cluster)."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
rc = 0
for name in sorted(os.listdir(here)):
    if name.endswith("_bench.py"):
        print(f"== {name}", flush=True)
        rc |= subprocess.run([sys.executable, os.path.join(here, name)]).returncode
sys.exit(rc)
