"""Run every benchmark in ``bench/``, one after the other, each in its own process.

Sequential on purpose: on a small machine two heavy jobs at once distort every timing. Each
script writes its JSON and markdown table to ``bench/results/``; this script prints how long
each took and stops at the first failure (non-zero exit code).

Run: ``python bench/run_all.py`` (``make bench``), or ``--quick`` for the quick modes (results
of the quick modes go to ``*_quick`` files where a script has one), or ``--only latency edt``.
Full run: about 2 hours on 2 cores the first time (the Table 1 emulators and the location
emulators are trained; later runs reuse the cached location emulators).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: in order of increasing cost; latency first, on a quiet machine
SCRIPTS = {
    "latency": "bench_latency.py",
    "devices": "bench_devices.py",
    "simulate": "bench_simulate.py",
    "edt": "bench_edt.py",
    "gp_fit": "bench_gp_fit.py",
    "location": "bench_location.py",
    "coverage": "bench_coverage.py",
    "io": "bench_io.py",
    "catalogue": "bench_catalogue.py",
    "events": "bench_events.py",
    "table1": "bench_table1.py",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), help="run only these")
    args = parser.parse_args()
    names = args.only or list(SCRIPTS)
    if args.quick and "simulate" in names:
        print("=== simulate: no quick mode (about 5 min), skipped with --quick")
        names = [n for n in names if n != "simulate"]
    for name in names:
        quick = ["--quick"] if args.quick and name != "gp_fit" else []
        cmd = [sys.executable, str(HERE / SCRIPTS[name]), *quick]
        print(f"=== {name}: {' '.join(cmd)}", flush=True)
        tic = time.perf_counter()
        code = subprocess.call(cmd, cwd=HERE.parent)
        print(f"=== {name}: exit code {code} after {time.perf_counter() - tic:.0f} s", flush=True)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
