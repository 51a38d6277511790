"""NUTS on one JAX device against the CPU split into one device per core, side by side.

The location experiment of ``bench_location.py`` with the bundled NN-direct emulators (the
paper's 2000 training sources, 4 receivers, noise seed 0; 4 chains x 1000 draws after 500
warm-up steps, the default global stage), and with the dense ones where ``bench_location.py``
has trained and cached them, run in fresh processes with 1 CPU device and with
:func:`jaxseis.use_cpu_cores` (one device per core), alternating, ``--repeats`` times each.
Each process has its own empty compilation cache, so every time includes compilation. Per
run: the wall time of :func:`jaxseis.locate`, its global stage and its warm-up plus sampling,
the ESS and the posterior mean (the same key gives different but equivalent draws on a
different device count: the rounding of batched evaluations differs).

Writes ``bench/results/devices.json`` and ``devices.md``. Run: ``python bench/bench_devices.py``
(about 4 min on 2 cores); ``--quick``: 4 x 200 draws after 100 warm-up steps, a global stage
of 4096 draws polishing 8 of them, ``devices_quick.*``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import benchlib
import numpy as np

from jaxseis.runtime import cache_dir

#: the dense NN-direct emulators that bench_location.py trains and caches (used when present)
DENSE = cache_dir() / "models" / "nn_direct_dense"

CHILD = r"""
import json, sys, warnings
import jax
import jaxseis as js
n, quick, models = int(sys.argv[1]), sys.argv[2] == "quick", sys.argv[3]
devices = js.use_cpu_cores(n) if n > 0 else js.use_cpu_cores()  # 0: one device per core
from jaxseis import inference
if models == "bundled":
    emus = js.load_bundled((1, 2, 3, 4))
else:
    emus = [js.emulators.load(f"{models}/nn_direct_r{r}.npz") for r in (1, 2, 3, 4)]
observed = js.observe(js.load_paper_event(), emus, noise_key=jax.random.key(0))
loglike = js.waveform_log_likelihood(emus, observed)
options = inference.NutsOptions()
if quick:
    stage = inference.GlobalStage(num_draws=4096, chunk_size=1024, num_polish=8,
                                  polish_steps=100)
    options = options._replace(num_warmup=100, num_draws=200, global_stage=stage)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", inference.ConvergenceWarning)
    idata = js.locate(loglike, js.paper_prior(), key=jax.random.key(1), options=options)
s = inference.summary_dict(idata)
a = idata.posterior.attrs
print(json.dumps({"emulators": models, "devices": devices, "wall_s": float(a["wall_s"]),
                  "wall_global_s": float(a["wall_global_s"]),
                  "wall_sampling_s": float(a["wall_sampling_s"]),
                  "ess_min": s["ess_min"], "rhat_max": s["rhat_max"],
                  "mean_km": s["mean_km"], "std_km": s["std_km"]}))
"""


def run_child(n: int, quick: bool, models: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    return benchlib.run_python(CHILD, str(n), "quick" if quick else "full", models, env=env)


def markdown(result: dict) -> str:
    lines = [
        "| emulators | devices | locate (s) | global stage (s) | warm-up + sampling (s) | "
        "ESS min | R-hat max |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['label']} | {r['devices']} | {r['wall_s']:.1f} | {r['wall_global_s']:.1f} | "
            f"{r['wall_sampling_s']:.1f} | {r['ess_min']:.0f} | {r['rhat_max']:.3f} |"
        )
    lines.append("")
    for label, m in result["median"].items():
        lines.append(
            f"Median, {label}: locate {m['1']['wall_s']:.1f} s on one device, "
            f"{m['split']['wall_s']:.1f} s split; warm-up + sampling "
            f"{m['1']['wall_sampling_s']:.1f} against {m['split']['wall_sampling_s']:.1f} s."
        )
    lines.append(benchlib.machine_line(result["machine"]))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 x 200 draws, small global stage")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        print("one usable core: nothing to split, no comparison written")
        return 0
    sets = {"bundled (2000 sources)": "bundled"}
    if not args.quick and all((DENSE / f"nn_direct_r{r}.npz").exists() for r in (1, 2, 3, 4)):
        sets["dense (22,000 sources)"] = str(DENSE)
    machine = benchlib.machine_info()
    runs = []
    for label, models in sets.items():
        for rep in range(args.repeats):
            for n in (1, 0):  # 0: one device per core
                runs.append({"label": label, **run_child(n, args.quick, models)})
                print(f"{label}, repeat {rep}: {runs[-1]}", flush=True)
    machine["load_end"] = benchlib.load_average()

    def median(group):
        return {
            k: float(np.median([r[k] for r in group]))
            for k in ("wall_s", "wall_global_s", "wall_sampling_s", "devices")
        }

    result = {
        "quick": args.quick,
        "runs": runs,
        "median": {
            label: {
                "1": median([r for r in runs if r["label"] == label and r["devices"] == 1]),
                "split": median([r for r in runs if r["label"] == label and r["devices"] > 1]),
            }
            for label in sets
        },
        "machine": machine,
    }
    name = benchlib.result_name("devices", args.quick)
    benchlib.write_results(name, result, markdown(result), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
