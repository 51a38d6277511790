"""Wall time of one GP fit on the paper's 2000 training sources (issue target: 30 s or less).

The GP is the peak-time GP of the central receiver (``t - t_ref`` from the default alignment)
on the standardised features of the benchmark's 2000 training sources, fitted with the
defaults of :func:`jaxseis.gp.fit_gps` (hyperparameters by 3 restarts of 300 Adam steps on
600 events, then conditioned on all 2000), compilation included in the first repeat. Also the
two peak GPs together, as :func:`jaxseis.emulators.fit_peaks` fits them.

Writes ``bench/results/gp_fit.json`` and ``gp_fit.md``. Run: ``python bench/bench_gp_fit.py``
(about 3 min on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import benchlib
import numpy as np

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.geometry import source_features
from jaxseis.gp import fit_gps
from jaxseis.preprocess import align, fit_alignment


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    machine = benchlib.machine_info()
    data = em.training_data(js.load_benchmark(), 0)
    alignment = fit_alignment(data.train_traces, data.dt, seed=0)
    _, log_ratio, shift = align(alignment, data.train_traces)
    x = source_features(data.train_sources, data.receiver_km)
    one = []
    for r in range(args.repeats):
        tic = time.perf_counter()
        fit_gps(x, shift[:, None], seed=r)
        one.append(time.perf_counter() - tic)
        print(f"one GP, repeat {r}: {one[-1]:.1f} s", flush=True)
    tic = time.perf_counter()
    fit_gps(x, np.stack([log_ratio, shift], axis=1), seed=0)
    two = time.perf_counter() - tic
    print(f"two GPs: {two:.1f} s", flush=True)
    result = {
        "n_train": len(x),
        "one_gp_s": one,
        "one_gp_s_median": float(np.median(one)),
        "two_gps_s": two,
        "target_s": 30.0,
        "target_met": bool(np.median(one) <= 30.0),
        "machine": machine | {"load_end": benchlib.load_average()},
    }
    md = (
        "| quantity | value |\n| --- | --- |\n"
        f"| one GP on {len(x)} points, median of {len(one)} (s) | {np.median(one):.1f} |\n"
        f"| one GP, each repeat (s) | {', '.join(f'{t:.1f}' for t in one)} |\n"
        f"| two peak GPs together (s) | {two:.1f} |\n"
        f"| target (s) | 30 |\n\n{benchlib.machine_line(result['machine'])}\n"
    )
    benchlib.write_results("gp_fit", result, md, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
