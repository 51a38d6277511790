"""jaxns' settings against dynesty on the location likelihood (issue 17, part 4).

The likelihood of ``bench_location.py``'s ``nested_nn_direct`` run: the paper's event at the 4
location receivers with seeded noise at the paper's level, NN-direct emulators (the dense ones
from ``bench_location.py``'s cache, or ``--emulators bundled``), the paper's prior (x, y, z free).
Every setting runs cold in a fresh process: ``locate(method="nested")`` with compilation
included and no persistent compilation cache, one process at a time; dynesty's static sampler
(``bench_location.run_dynesty``: 500 live points, the jitted likelihood called from Python)
runs in the same sweep, also in a fresh process. With ``--repeat`` each jaxns setting is run a
second time in its process (compiled code cached), which splits its wall time into compilation
and sampling.

Per setting: wall s (``locate``'s, compilation included), likelihood calls, log Z and its error,
posterior means and sds (km), Kish ESS, ESS per second, and the checks against dynesty: log Z
within 0.5, means within 0.2 dynesty sd, sds within 10 %.

Writes ``bench/results/nested_settings.json`` and ``.md``.

Run: ``python bench/bench_nested_settings.py`` (about 10 min; ``--settings NAME ...`` for a
subset, ``--list`` for the names).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import benchlib
import numpy as np

RESULTS = benchlib.RESULTS
#: jaxns settings: NestedOptions fields over jaxseis' defaults (jaxns' own defaults but 3
#: slice steps per free parameter); ``jaxns_defaults`` restores jaxns' 5 per free parameter
SETTINGS = {
    "jaxns_defaults": {"num_slices": 15},
    "live90_slices9": {"num_slices": 9},
    "live90_slices6": {"num_slices": 6},
    "live60_slices6": {"root_allocation_degree": 60, "num_slices": 6},
    "live45_slices9": {"root_allocation_degree": 45, "num_slices": 9},
    "live45_slices6": {"root_allocation_degree": 45, "num_slices": 6},
    "live30_slices9": {"root_allocation_degree": 30, "num_slices": 9},
    "live45_slices6_dlogz1e-2": {"root_allocation_degree": 45, "num_slices": 6, "dlogz": 1e-2},
    "live90_slices9_dlogz1e-2": {"num_slices": 9, "dlogz": 1e-2},
    "live90_slices6_dlogz1e-2": {"num_slices": 6, "dlogz": 1e-2},
}
LOGZ_TOL = 0.5  # nats, against dynesty
MEAN_TOL = 0.2  # dynesty sds
WIDTH_TOL = 0.10  # relative


def build_likelihood(emulators: str):
    """The location bench's waveform likelihood and the truth (float64)."""
    import bench_location as bl
    import jax

    import jaxseis as js
    from jaxseis.likelihood import waveform_log_likelihood
    from jaxseis.pretrained import load_bundled

    paper_ems = load_bundled(bl.RECEIVERS)
    observed = bl.observed_data(paper_ems)
    if emulators == "dense":
        directory = bl.cache_models("nn_direct", "dense")
        if not (directory / f"nn_direct_r{bl.RECEIVERS[0]}.npz").exists():
            raise FileNotFoundError(
                f"no dense NN-direct emulators in {directory}; run bench/bench_location.py "
                "once (it trains them), or pass --emulators bundled"
            )
        ems, _ = bl.train_or_load("nn_direct", None, "dense")
    else:
        ems = paper_ems
    with jax.enable_x64(True):
        ll = waveform_log_likelihood(ems, observed)
    return ll, np.asarray(js.PAPER_EVENT_KM, dtype=np.float64)


def child(spec: dict) -> dict:
    """One cold run in this (fresh) process; returns its record."""
    import jax

    import jaxseis as js

    js.use_cpu_cores()  # as bench_location.py
    import bench_location as bl

    from jaxseis import inference

    ll, truth = build_likelihood(spec["emulators"])
    if spec["kind"] == "dynesty":
        with jax.enable_x64(True):
            s, _ = bl.run_dynesty(ll, truth, spec["nlive"], bl.SAMPLER_SEED)
        return {
            "wall_s": s["wall_s"],
            "n_likelihood_calls": s["n_likelihood_calls"],
            "log_evidence": s["log_evidence"],
            "log_evidence_err": s["log_evidence_err"],
            "mean_km": s["mean_km"],
            "std_km": s["std_km"],
            "ess": s["ess_min"],
            "nlive": s["nlive"],
        }
    options = inference.NestedOptions(num_draws=4000, **spec["options"])

    def once():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", inference.ConvergenceWarning)
            return inference.locate(
                ll, inference.paper_prior(), key=jax.random.key(bl.SAMPLER_SEED), options=options
            )

    idata = once()
    attrs = idata.posterior.attrs
    draws = inference.posterior_draws(idata)[:, :3]
    out = {
        "wall_s": float(attrs["wall_s"]),
        "n_likelihood_calls": int(attrs["nested_num_likelihood_evaluations"]),
        "n_samples": int(attrs["nested_num_samples"]),
        "log_evidence": float(attrs["log_evidence"]),
        "log_evidence_err": float(attrs["log_evidence_err"]),
        "mean_km": draws.mean(axis=0).tolist(),
        "std_km": draws.std(axis=0, ddof=1).tolist(),
        "ess": float(attrs["nested_ess"]),
        "termination_reason": int(attrs["nested_termination_reason"]),
    }
    if spec.get("repeat"):
        again = once()
        out["wall_repeat_s"] = float(again.posterior.attrs["wall_s"])
    return out


def run_child(spec: dict) -> dict:
    """``child(spec)`` in a fresh Python process without a persistent compilation cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child {spec} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def compare(run: dict, ref: dict) -> dict:
    """The acceptance checks of ``run`` against dynesty's ``ref``."""
    sd = np.asarray(ref["std_km"])
    mean_dev = np.abs(np.asarray(run["mean_km"]) - np.asarray(ref["mean_km"])) / sd
    width_dev = np.asarray(run["std_km"]) / sd - 1.0
    logz_dev = run["log_evidence"] - ref["log_evidence"]
    return {
        "log_evidence_minus_dynesty": float(logz_dev),
        "mean_dev_sd": mean_dev.tolist(),
        "width_rel_dev": width_dev.tolist(),
        "passes": bool(
            abs(logz_dev) <= LOGZ_TOL
            and np.all(mean_dev <= MEAN_TOL)
            and np.all(np.abs(width_dev) <= WIDTH_TOL)
        ),
    }


def markdown(result: dict) -> str:
    ref = result["runs"].get("dynesty")
    lines = [
        "| setting | options | wall (s) | compiled (s) | calls | log Z ± err | "
        "max mean dev. (sd) | max width dev. | Kish ESS | ESS/s | dynesty wall / wall | "
        "passes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in result["runs"].items():
        c = r.get("vs_dynesty")
        repeat = r.get("wall_repeat_s")
        if name == "dynesty":
            opts = f"nlive {r['nlive']}"
        else:
            opts = ", ".join(f"{k}={v}" for k, v in result["settings"][name].items())
        cells = [
            name,
            opts or "jaxns defaults",
            f"{r['wall_s']:.1f}",
            "" if repeat is None else f"{repeat:.1f}",
            f"{r['n_likelihood_calls']:,}",
            f"{r['log_evidence']:.2f} ± {r['log_evidence_err']:.2f}",
            "" if c is None else f"{max(c['mean_dev_sd']):.2f}",
            "" if c is None else f"{max(np.abs(c['width_rel_dev'])):.1%}",
            f"{r['ess']:.0f}",
            f"{r['ess'] / r['wall_s']:.1f}",
            "" if ref is None else f"{ref['wall_s'] / r['wall_s']:.2f}",
            "" if c is None else ("yes" if c["passes"] else "no"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Likelihood: {result['likelihood']}. Every run is cold: a fresh process, compilation "
        "included, no persistent compilation cache, one process at a time. 'compiled' is a "
        "second run in the same process. Checks against dynesty (same run): log Z within "
        f"{LOGZ_TOL}, means within {MEAN_TOL} dynesty sd, sds within {WIDTH_TOL:.0%}."
        + (
            f" Added later (`--add`), against the same dynesty run: {', '.join(result['added'])}."
            if result.get("added")
            else ""
        ),
        "",
        benchlib.machine_line(result["machine"]),
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, help="run only these")
    parser.add_argument("--list", action="store_true", help="print the settings and exit")
    parser.add_argument("--emulators", choices=("dense", "bundled"), default="dense")
    parser.add_argument("--dynesty-nlive", type=int, default=500)
    parser.add_argument("--repeat", action="store_true", help="also time a compiled rerun")
    parser.add_argument(
        "--add",
        action="store_true",
        help="add the settings to the existing result, against its dynesty run (no new one)",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return
    if args.list:
        for name, options in SETTINGS.items():
            print(name, options)
        return
    names = args.settings or list(SETTINGS)
    result = {
        "likelihood": (
            "bench_location's waveform likelihood, "
            + ("dense NN-direct emulators" if args.emulators == "dense" else "bundled NN direct")
            + ", 4 receivers, the paper's prior (x, y, z free)"
        ),
        "machine": benchlib.machine_info(),
        "settings": {name: SETTINGS[name] for name in names},
        "runs": {},
    }
    base = {"emulators": args.emulators}
    tic = time.perf_counter()
    previous = RESULTS / "nested_settings.json"
    if args.add:
        if not previous.exists():
            raise FileNotFoundError(f"--add needs an earlier result at {previous}")
        old = json.loads(previous.read_text())
        result["machine"]["load_start_added_runs"] = result["machine"]["load_start"]
        result["machine"]["load_start"] = old["machine"]["load_start"]
        result["settings"] = old["settings"] | result["settings"]
        result["runs"] = old["runs"]
        result["sweep_s"] = old.get("sweep_s", 0.0)
        result["added"] = sorted(set(old.get("added", [])) | set(names))
        ref = result["runs"]["dynesty"]
    else:
        print("--- dynesty", flush=True)
        ref = run_child(base | {"kind": "dynesty", "nlive": args.dynesty_nlive})
        result["runs"]["dynesty"] = ref
        print(json.dumps(ref), flush=True)
    for name in names:
        print(f"--- {name}: {SETTINGS[name]}", flush=True)
        spec = base | {"kind": "jaxns", "options": SETTINGS[name], "repeat": args.repeat}
        r = run_child(spec)
        r["vs_dynesty"] = compare(r, ref)
        r["ess_per_s"] = r["ess"] / r["wall_s"]
        r["dynesty_vs_jaxns_wall_ratio"] = ref["wall_s"] / r["wall_s"]
        result["runs"][name] = r
        print(json.dumps(r), flush=True)
        benchlib.write_results("nested_settings", result, markdown(result), echo=False)
    result["machine"]["load_end"] = benchlib.load_average()
    result["sweep_s"] = result.get("sweep_s", 0.0) + time.perf_counter() - tic
    benchlib.write_results("nested_settings", result, markdown(result))


if __name__ == "__main__":
    main()
