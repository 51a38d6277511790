"""Latency and throughput of the emulated forward model and of the waveform log-likelihood.

Writes ``bench/results/latency.json`` and ``latency.md``. For ``nn_direct`` and ``pca_nn``, the
composed forward model of one receiver (the central one): emulator core + amplitude and
time-shift GPs + fractional shift (:func:`jaxseis.emulators.make_predictor`), measured with
:func:`jaxseis.timing.forward_timing` beside a NumPy reference (``benchlib.measure_forward``):

* ``single_call_us``: a jitted call from Python on one source (dispatch included);
* ``in_loop_us``: per evaluation inside a compiled ``lax.scan`` over different sources;
* ``numpy_in_loop_us``: the same arithmetic in plain NumPy (``benchlib.numpy_forward``:
  network matmuls and LeakyReLU, the two GP kernel-vector dot products, the fractional shift as a
  16-tap correlation) in a Python loop over the same sources, measured in the same run: the BLAS
  floor; ``details.stages_in_loop_us`` splits both into network core, GPs and un-alignment;
  ``details.stages_batch_us`` splits a batch of the largest size the same way (µs per trace
  under ``vmap``; ``total`` is the whole model, measured again beside its stages);
* ``traces_per_s_1e3``, ``_1e4``, ``_1e5``: batches under ``vmap`` (``lax.map`` in chunks of
  4096 sources);
* each kind's ``sync_dispatch``: single call and loops again with
  ``jax_cpu_enable_async_dispatch`` off, measured in a fresh subprocess (the flag is read once
  per process, when JAX creates its CPU backend: see :mod:`jaxseis.timing`).

At the top level, ``loglike_grad_us_4rec``: value and gradient of the Gaussian waveform
log-likelihood of the paper's event at the 4 location receivers (bundled NN-direct emulators),
jitted, called from Python (and ``_sync``), and ``paper_eval_ms: 9.9``, the paper's time for one
emulated trace on a laptop, for reference. Everything runs as inference does: features and peak
GPs in float64 (``jax.enable_x64``), networks in float32 (float32 GPs cost the same but lose the
time shift to cancellation).

Emulators: the bundled NN-direct files (``jaxseis/data/models``; if absent, small ones trained
here, flagged in the results). PCA+NN has no bundled file: it is trained here on the central
receiver's 2000 training sources (seed 20210601) with a short schedule (``--pca-epochs``,
default 300; about 1-2 min with its peak GPs) or read with ``--pca-nn PATH``. Latency does not
depend on how well an emulator is trained, only on its shapes: the peak GPs are conditioned on
all 2000 training sources, as in the bundled files, but their hyperparameters get a cheap fit.

The machine is the one the numbers were measured on; its load average is recorded before and
after, since other jobs on a shared machine slow every figure down.

Run: ``python bench/bench_latency.py`` (about 10 min on 2 cores; on an otherwise idle machine);
``--quick``: fewer repeats, batches of 1e3 and 1e4 only, a 10-epoch PCA+NN (about 2 min),
written to ``latency_quick.json`` and ``latency_quick.md`` instead.
"""

from __future__ import annotations

import argparse
import json
import time

import benchlib

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.timing import DEFAULT_BATCH_SIZES
from jaxseis.train import TrainConfig

SEED = 20210601
PAPER_EVAL_MS = 9.9
GP_CHEAP = {"n_subset": 200, "n_iter": 50, "n_restarts": 1}
TARGETS = {
    "single_call_us_max": 100.0,
    "in_loop_over_numpy_max": 2.0,
    "traces_per_s_1e5_min": 1e5,
}


def _load_nn_direct(bench, quick: bool) -> tuple[list, str]:
    """The bundled NN-direct emulators of receivers 0-4, or small ones trained here."""
    from jaxseis.pretrained import load_bundled

    try:
        return load_bundled([0, 1, 2, 3, 4]), "bundled (jaxseis/data/models)"
    except FileNotFoundError as err:
        print(f"bundled emulators missing ({err}); training small ones", flush=True)
    config = TrainConfig(max_epochs=10 if quick else 50, progress=False)
    ems = [
        em.fit("nn_direct", em.training_data(bench, r, n_train=2000), seed=SEED, config=config,
               gp_options=GP_CHEAP)
        for r in range(5)
    ]  # fmt: skip
    return ems, f"FALLBACK: trained here, {config.max_epochs} epochs (bundled files missing)"


def _pca_nn(bench, path: str | None, epochs: int) -> tuple[em.Emulator, dict]:
    if path:
        e = em.load(path, kind="pca_nn")
        return e, {"source": str(path)}
    tic = time.perf_counter()
    e = em.fit(
        "pca_nn", em.training_data(bench, 0), seed=SEED,
        config=TrainConfig(max_epochs=epochs, patience=epochs, progress=False),
        gp_options=GP_CHEAP,
    )  # fmt: skip
    wall = time.perf_counter() - tic
    print(f"pca_nn trained in {wall:.0f} s", flush=True)
    return e, {
        "source": "trained here",
        "receiver": "central (benchmark row 0)",
        "n_train": e.info["n_train"],
        "epochs": e.info["epochs"],
        "seed": SEED,
        "peak_gp_options": GP_CHEAP,
        "best_val_loss": e.info["best_val_loss"],
        "train_wall_s": round(wall, 1),
    }


def _targets(r: dict) -> dict:
    out = {
        "single_call_le_100us": {
            "async": r["single_call_us"] <= TARGETS["single_call_us_max"],
            "sync": r["sync_dispatch"]["single_call_us"] <= TARGETS["single_call_us_max"],
        },
        "in_loop_within_2x_numpy": r["in_loop_over_numpy"] <= TARGETS["in_loop_over_numpy_max"],
    }
    if "traces_per_s_1e5" in r:
        out["traces_per_s_1e5_ge_1e5"] = r["traces_per_s_1e5"] >= TARGETS["traces_per_s_1e5_min"]
    return out


def markdown(result: dict) -> str:
    kinds = ("nn_direct", "pca_nn")
    batch_keys = [k for k in result["nn_direct"] if k.startswith("traces_per_s_")]
    rows = [
        "| one receiver, forward model | " + " | ".join(kinds) + " |",
        "| --- | " + " | ".join("---" for _ in kinds) + " |",
    ]

    def row(label, fn):
        rows.append(f"| {label} | " + " | ".join(fn(result[k]) for k in kinds) + " |")

    row(
        "single jitted call from Python, async dispatch (µs)",
        lambda r: f"{r['single_call_us']:.0f}",
    )
    row("single jitted call, sync dispatch (µs)",
        lambda r: f"{r['sync_dispatch']['single_call_us']:.0f}")  # fmt: skip
    row("in a compiled loop, per evaluation (µs)", lambda r: f"{r['in_loop_us']:.1f}")
    row("same, sync-dispatch process (µs)", lambda r: f"{r['sync_dispatch']['in_loop_us']:.1f}")
    row("NumPy floor, per evaluation (µs)", lambda r: f"{r['numpy_in_loop_us']:.1f}")
    row("in-loop / NumPy", lambda r: f"{r['in_loop_over_numpy']:.2f}")
    for stage in ("core", "gps", "unalign"):
        row(f"stage `{stage}` in loop, JAX / NumPy (µs)",
            lambda r, s=stage: "{:.1f} / {:.1f}".format(
                r["details"]["stages_in_loop_us"][s]["jax_in_loop_us"],
                r["details"]["stages_in_loop_us"][s]["numpy_in_loop_us"]))  # fmt: skip
    n_stage = result["nn_direct"]["details"]["stages_batch_n"]
    for stage in ("core", "gps", "unalign", "total"):
        row(f"stage `{stage}` in a batch of {n_stage:,} under vmap (µs per trace)",
            lambda r, s=stage: "{:.1f}".format(r["details"]["stages_batch_us"][s]))  # fmt: skip
    for k in batch_keys:
        row(f"batch of {k.rsplit('_', 1)[1]} under vmap (traces/s)", lambda r, k=k: f"{r[k]:,.0f}")
    for t in ("single_call_le_100us", "in_loop_within_2x_numpy", "traces_per_s_1e5_ge_1e5"):
        row(f"target `{t}` met", lambda r, t=t: json.dumps(r["targets"].get(t, "not measured")))
    ll = result
    more = [
        "",
        "| 4 receivers, Gaussian log-likelihood (NN direct) | value |",
        "| --- | --- |",
        f"| value and gradient, jitted, async dispatch (µs) | {ll['loglike_grad_us_4rec']:.0f} |",
        f"| value and gradient, sync dispatch (µs) | {ll['loglike_grad_us_4rec_sync']:.0f} |",
        f"| value only, async / sync (µs) | {ll['loglike']['loglike_us']:.0f} / "
        f"{ll['loglike_sync']['loglike_us']:.0f} |",
        f"| paper: one emulated trace on a laptop (ms) | {ll['paper_eval_ms']} |",
        "",
        f"{benchlib.machine_line(result['machine'])} Emulators: nn_direct "
        f"{result['emulators']['nn_direct']}; pca_nn "
        f"{result['emulators']['pca_nn']['source']}. Features and peak GPs in float64, "
        "networks in float32. Wall {:.0f} s{}.".format(
            result["wall_s"], ", --quick" if result["quick"] else ""
        ),
    ]
    return "\n".join(rows + more) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 1e5 batch")
    parser.add_argument("--pca-nn", metavar="PATH", help="a saved pca_nn emulator to time")
    parser.add_argument("--pca-epochs", type=int, default=300, help="epochs of the PCA+NN fit")
    args = parser.parse_args()
    tic = time.perf_counter()
    machine = benchlib.machine_info()
    bench = js.load_benchmark()

    ems, nn_source = _load_nn_direct(bench, args.quick)
    pca, pca_info = _pca_nn(bench, args.pca_nn, 10 if args.quick else args.pca_epochs)

    if args.quick:
        settings = {"n_repeat": 200, "n_loop": 200, "n_loop_repeat": 3,
                    "batch_sizes": (1_000, 10_000), "n_batch_repeat": 2}  # fmt: skip
        ll_repeat = 200
    else:
        settings = {"n_repeat": 2000, "n_loop": 2000, "n_loop_repeat": 7,
                    "batch_sizes": DEFAULT_BATCH_SIZES, "n_batch_repeat": 3}  # fmt: skip
        ll_repeat = 2000
    sync_settings = {**settings, "batch_sizes": (), "components": False}

    result: dict = {}
    for kind, e in (("nn_direct", ems[0]), ("pca_nn", pca)):
        print(f"{kind}: async dispatch (this process) ...", flush=True)
        r = benchlib.measure_forward(e, seed=SEED, **settings)
        print(f"{kind}: sync dispatch (subprocess) ...", flush=True)
        s = benchlib.in_fresh_process(
            "forward", [e], {"seed": SEED, **sync_settings}, sync_dispatch=True
        )
        keep = ("single_call_us", "in_loop_us", "numpy_in_loop_us", "in_loop_over_numpy")
        r["sync_dispatch"] = {k: s[k] for k in keep}
        r["sync_dispatch"]["details"] = s["details"]
        n_stage = max(settings["batch_sizes"])
        print(f"{kind}: stages in a batch of {n_stage} ...", flush=True)
        r["details"]["stages_batch_us"] = benchlib.stage_throughputs(
            e, n_stage, chunk_size=4096, n_repeat=settings["n_batch_repeat"], seed=SEED + 2
        )
        r["details"]["stages_batch_n"] = n_stage
        r["targets"] = _targets(r)
        result[kind] = r

    print("log-likelihood, 4 receivers ...", flush=True)
    loc = ems[1:]
    ll_kw = {"n_repeat": ll_repeat, "seed": SEED}
    ll = benchlib.measure_loglike(loc, **ll_kw)
    ll_sync = benchlib.in_fresh_process("loglike", loc, ll_kw, sync_dispatch=True)
    sigma = ll["sigma"]
    result.update({
        "loglike_grad_us_4rec": ll["loglike_grad_us"],
        "loglike_grad_us_4rec_sync": ll_sync["loglike_grad_us"],
        "paper_eval_ms": PAPER_EVAL_MS,
        "loglike": ll,
        "loglike_sync": ll_sync,
        "targets": TARGETS,
        "emulators": {"nn_direct": nn_source, "pca_nn": pca_info},
        "observed": "the paper's event (bundled noise-free simulation) at the 4 location "
                    f"receivers (jaxseis.observe); sigma = default_sigma(max |trace|) = "
                    f"{sigma:.4g} Pa; value and gradient in all five event parameters",
        "settings": {**{k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
                     "loglike_n_repeat": ll_repeat, "chunk_size": 4096, "seed": SEED,
                     "dtype": "features and peak GPs float64 (x64), networks float32"},
        "quick": bool(args.quick),
        "machine": machine | {"load_end": benchlib.load_average()},
        "wall_s": round(time.perf_counter() - tic, 1),
    })  # fmt: skip
    benchlib.write_results(benchlib.result_name("latency", args.quick), result, markdown(result))


if __name__ == "__main__":
    main()
