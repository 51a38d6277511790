"""The paper's Table 1 and Fig. 8: accuracy, cost and size of the 8 emulator families.

For each family (``nn_direct``, ``pca_nn``, ``pca_gp``, ``ae_nn``, ``ae_gp``, ``cvae``,
``wgan_gp``, ``d18``), at the central receiver (benchmark row 0), trained on the benchmark's
2000 training sources (the validation split for early stopping only; the test split is read
only here, after fitting), once per seed (0, 1, 2 by default), this measures:

* ``r2d``: the paper's Eq. 12 (:func:`jaxseis.metrics.r2d`) between the 1000 test traces and
  the emulated traces, full traces after un-alignment (:func:`jaxseis.emulators.predict`: peak
  GPs and the GP cores of PCA+GP, AE+GP and D18 in float64, networks in float32, as
  inference runs them); diagnostics ``r2d_float64`` (everything in float64) and
  ``r2d_float32_gps`` (every GP in float32: their mean ``k @ alpha`` cancels, and the peak
  time shifts go wrong by tens of samples: R2D 0.03 instead of 0.998 for NN direct);
* ``train_s``: the wall time of :func:`jaxseis.emulators.fit` (``info["fit_s"]``: alignment,
  peak GPs, the family's core, its compilation; the paper's "total time to preprocess, train
  and postprocess"). The peak GPs of one seed are fitted once
  (:func:`jaxseis.emulators.fit_peaks`) and shared by the aligned families, each of which
  counts their fit time in its own ``train_s``;
* ``eval_ms``: one call of the jitted single-source predictor
  (``jax.jit(make_predictor(e))`` under ``jax.enable_x64``, ``block_until_ready``), the median
  of ``N_CALLS`` calls on test sources after warm-up;
* ``traces_per_s``: the jitted, vmapped predictor on a batch of the 1000 test sources (median
  of ``N_BATCH`` calls after warm-up);
* ``size_mb``: the size of the :func:`jaxseis.emulators.save` file (compressed ``.npz``,
  1 MB = 1e6 bytes).

Per family: mean and (population) standard deviation of ``r2d`` and ``train_s`` over the
seeds, the mean over seeds of ``eval_ms`` and ``traces_per_s``, the file size of the first
seed. ``dense``: ``nn_direct`` and ``pca_nn`` trained once (first seed) on the dense dataset
(:func:`jaxseis.load_dense`: the 2000 benchmark training sources plus 20,000 uniform grid
nodes, the benchmark's validation and test splits unchanged), R2D on the same test traces.

Settings (``full_settings``): the paper's protocol for the networks (Adam, batch 256, early
stopping with patience 100, up to 20,000 epochs, best validation state); the package
defaults for the peak GPs and the GP families; for the WGAN-GP the paper's 100 critic steps
per generator step and learning rate 1e-4, stopped after ``WGAN_EPOCHS`` generator epochs
(its validation error still falls slowly there: see :mod:`jaxseis.emulators.wgan`); D18 with
its defaults (hyperparameters of its 200 GPs on 300 events, conditioned on all 2000).

Writes ``bench/results/table1.json``, ``table1.md`` (our numbers beside the paper's Table 1)
and ``table1_fig8.png`` (Fig. 8: three test traces, truth against every family, first seed).
The JSON and markdown are rewritten after every family, so an interrupted run keeps what it
finished.

Cost on the 2-core development machine, one seed, measured while other jobs ran (load 2-6):
fit plus evaluation, nn_direct 2.5-4 min (1400-1600 epochs), pca_nn 1.7 min, pca_gp 4-5 min,
ae_nn 4 min, d18 17 min at load 6 (the process had about half a core); the peak GPs (3
restarts of 300 Adam steps on 600 events) take 1.5-2 min of every aligned family's fit.
Estimated, not measured: ae_gp ~5 min, cvae ~4 min, wgan_gp ~8 min (100 epochs at 3.4 s).
One seed of the 8 families: about 45 min, 3 seeds about 2 h 15 min, plus the dense protocol
(~10 min; NN direct trains at 2.4 epochs/s on 22,000 sources). Run it on a quiet machine
(the timings are part of the result)::

    python bench/bench_table1.py            # the full table, 3 seeds, and the dense protocol
    python bench/bench_table1.py --quick    # smoke test, ~3 min: writes table1_quick.*

Other flags: ``--kinds nn_direct d18`` (a subset), ``--seeds 0 1 2``, ``--no-dense``,
``--name`` (output base name), ``--out`` (output directory).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import benchlib
import jax
import jax.numpy as jnp
import numpy as np

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.dataset import load_dense
from jaxseis.emulators import d18 as d18_family
from jaxseis.emulators.pca import DEFAULT_CORE_GP_OPTIONS
from jaxseis.metrics import r2d
from jaxseis.timing import batch_throughput, call_latency
from jaxseis.train import TrainConfig

KINDS = ("nn_direct", "pca_nn", "pca_gp", "ae_nn", "ae_gp", "cvae", "wgan_gp", "d18")
DENSE_KINDS = ("nn_direct", "pca_nn")
# the dense networks train for at most this many epochs (about 4 min for NN direct here): the
# validation loss still falls slowly after 1000 epochs, at 2.4 epochs/s on 22,000 sources
DENSE_MAX_EPOCHS = 500
RECEIVER = 0  # the central receiver (0.5, 0.5, 2.43) km
FIG_SEED = 20210608  # picks the test sources of Fig. 8
N_FIG = 3
N_CALLS = 1000  # single-source calls timed (quick: 200)
N_BATCH = 5  # batched calls timed (quick: 3)
WGAN_EPOCHS = 100

LABELS = {
    "nn_direct": "NN direct (A)",
    "pca_nn": "PCA + NN (B)",
    "pca_gp": "PCA + GP (C)",
    "ae_nn": "AE + NN (D)",
    "ae_gp": "AE + GP (E)",
    "cvae": "CVAE (F)",
    "wgan_gp": "WGAN-GP (G)",
    "d18": "D18",
}

# The paper's Table 1 (mean and std of 3 runs on an Intel Core i7-8750H laptop CPU; D18's R2D
# and training time are from Das et al. 2018, run on an HPC cluster).
PAPER = {
    "nn_direct": {"r2d": 0.9500, "r2d_std": 0.0006, "train_s": 270, "train_s_std": 12,
                  "eval_ms": 9.9, "eval_ms_std": 0.6, "size_mb": 2.32},
    "pca_nn": {"r2d": 0.9443, "r2d_std": 0.0006, "train_s": 180, "train_s_std": 1,
               "eval_ms": 8.6, "eval_ms_std": 0.2, "size_mb": 0.71},
    "pca_gp": {"r2d": 0.9433, "r2d_std": 0.0006, "train_s": 1463, "train_s_std": 27,
               "eval_ms": 97.9, "eval_ms_std": 2.6, "size_mb": 1.52},
    "ae_nn": {"r2d": 0.9496, "r2d_std": 0.0021, "train_s": 228, "train_s_std": 12,
              "eval_ms": 9.3, "eval_ms_std": 1.0, "size_mb": 4.46},
    "ae_gp": {"r2d": 0.9472, "r2d_std": 0.0029, "train_s": 488, "train_s_std": 23,
              "eval_ms": 25.4, "eval_ms_std": 1.4, "size_mb": 4.59},
    "cvae": {"r2d": 0.9477, "r2d_std": 0.0005, "train_s": 302, "train_s_std": 7,
             "eval_ms": 9.3, "eval_ms_std": 0.5, "size_mb": 4.37},
    "wgan_gp": {"r2d": 0.9214, "r2d_std": 0.0048, "train_s": 1069, "train_s_std": 59,
                "eval_ms": 9.9, "eval_ms_std": 0.3, "size_mb": 4.07},
    "d18": {"r2d": 0.89, "r2d_std": None, "train_s": 29232, "train_s_std": None,
            "eval_ms": 621.0, "eval_ms_std": 8.8, "size_mb": 5.12,
            "note": "R2D (~0.89) and training time from D18 (HPC cluster); evaluation time "
                    "measured by the paper on its laptop"},
    "machine": "Intel Core i7-8750H CPU @ 2.20GHz (laptop)",
    "evaluation_time": "the paper's 'single likelihood evaluation time'",
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def _train_config(**kw) -> dict:
    return {**TrainConfig()._asdict(), "progress": False, **kw}


def full_settings() -> dict:
    """Per family, the JSON-serialisable options of :func:`jaxseis.emulators.fit`.

    ``config`` entries are :class:`~jaxseis.train.TrainConfig` fields; ``gp_options`` ``{}``
    means the defaults of :func:`jaxseis.gp.fit_gps` (3 restarts of 300 Adam steps on 600
    events, conditioned on all training events).
    """
    paper_nn = _train_config(batch_size=256, max_epochs=20000, patience=100)
    return {
        "nn_direct": {"gp_options": {}, "config": paper_nn},
        "pca_nn": {"gp_options": {}, "config": paper_nn},
        "pca_gp": {"gp_options": {}, "core_gp_options": dict(DEFAULT_CORE_GP_OPTIONS)},
        "ae_nn": {"gp_options": {}, "config": paper_nn},
        "ae_gp": {
            "gp_options": {}, "config": paper_nn,
            "core_gp_options": dict(DEFAULT_CORE_GP_OPTIONS),
        },
        "cvae": {"gp_options": {}, "config": paper_nn},
        "wgan_gp": {
            "gp_options": {},
            "config": _train_config(batch_size=256, max_epochs=WGAN_EPOCHS, patience=100,
                                    epochs_per_call=10),
            "n_critic": 100, "learning_rate": 1e-4,
        },
        "d18": {"core_gp_options": dict(d18_family.DEFAULT_GP_OPTIONS)},
    }  # fmt: skip


def quick_settings() -> dict:
    """Tiny settings for a smoke test of the whole pipeline (minutes, not a result)."""
    cfg = _train_config(batch_size=50, max_epochs=100, patience=30, epochs_per_call=50)
    peak = {"n_subset": 200, "n_iter": 60, "n_restarts": 1}
    core = {"n_subset": 100, "n_iter": 40, "n_restarts": 1}
    return {
        "nn_direct": {"gp_options": peak, "config": cfg},
        "pca_nn": {"gp_options": peak, "config": cfg},
        "pca_gp": {"gp_options": peak, "core_gp_options": core},
        "ae_nn": {"gp_options": peak, "config": cfg},
        "ae_gp": {"gp_options": peak, "config": cfg, "core_gp_options": core},
        "cvae": {"gp_options": peak, "config": cfg},
        "wgan_gp": {"gp_options": peak, "config": cfg, "n_critic": 5, "learning_rate": 1e-3},
        "d18": {"core_gp_options": {**core, "batch_size": 50}},
    }


def fit_kwargs(settings: dict) -> dict:
    """Keyword arguments of :func:`jaxseis.emulators.fit` from JSON settings."""
    kw = dict(settings)
    if "config" in kw:
        kw["config"] = TrainConfig(**kw["config"])
    if "gp_options" in kw:
        kw["gp_options"] = dict(kw["gp_options"]) or None
    return kw


def shared_peaks(kind: str, data, seed: int, settings: dict, cache: dict) -> dict:
    """``fit`` keyword arguments with the peak GPs fitted once per seed and GP options.

    Every aligned family of one seed reuses the same :func:`jaxseis.emulators.fit_peaks`
    result (the fit would recompute identical GPs); its wall time is counted in the training
    time of each family (``info["fit_s"]``), as if each had fitted its own.
    """
    kw = fit_kwargs(settings[kind])
    if not em.FAMILIES[kind].uses_alignment:
        return kw
    gp_options = kw.pop("gp_options", None)
    key = (seed, json.dumps(gp_options, sort_keys=True))
    if key not in cache:
        cache[key] = em.fit_peaks(data, seed=seed, gp_options=gp_options)
    return {**kw, "peaks": cache[key]}


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def predict_with(e: em.Emulator, sources: np.ndarray, dtype=jnp.float32, gp_dtype=None):
    """Traces ``[n, n_samples]`` from the jitted, vmapped predictor under ``jax.enable_x64``:
    the networks in ``dtype``, every GP in ``gp_dtype`` (default float64)."""
    with jax.enable_x64(True):
        f = jax.jit(jax.vmap(em.make_predictor(e, dtype=dtype, gp_dtype=gp_dtype)))
        return np.asarray(f(jnp.asarray(sources, jnp.float64)))


def evaluate(
    e: em.Emulator,
    test_sources: np.ndarray,
    test_traces: np.ndarray,
    *,
    n_calls: int = N_CALLS,
    n_batch: int = N_BATCH,
    workdir: str | Path | None = None,
) -> dict:
    """Everything Table 1 reports for one fitted emulator (a JSON-serialisable dict).

    ``r2d``, ``eval_ms`` and ``traces_per_s``: the predictor as :func:`em.predict` and
    inference run it (every GP in float64, networks in float32). Diagnostics: ``r2d_float64``
    with everything in float64, ``r2d_float32_gps`` with every GP in float32.
    """
    sources = np.asarray(test_sources, np.float32)
    with jax.enable_x64(True):
        predictor = em.make_predictor(e)
        eval_ms = call_latency(jax.jit(predictor), sources, n_repeat=n_calls, n_warmup=5).median
        eval_ms *= 1e-3
        # the whole test set as one vmap chunk
        batch = batch_throughput(predictor, sources, chunk_size=len(sources), n_repeat=n_batch)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        size = em.save(e, Path(tmp) / f"{e.kind}.npz").stat().st_size
    info = e.info
    out = {
        "r2d": r2d(test_traces, em.predict(e, test_sources)),
        "r2d_float64": r2d(test_traces, predict_with(e, test_sources, jnp.float64)),
        "train_s": float(info["fit_s"]),
        "core_train_s": None if "train_s" not in info else float(info["train_s"]),
        "peak_gp_fit_s": float(info.get("peak_gp_fit_s", 0.0)),
        "eval_ms": eval_ms,
        "traces_per_s": batch.per_s,
        "size_mb": size / 1e6,
        "n_train": int(info["n_train"]),
    }
    if e.peak_gps is not None or "gps" in e.core:
        pred = predict_with(e, test_sources, gp_dtype=jnp.float32)
        out["r2d_float32_gps"] = r2d(test_traces, pred) if np.all(np.isfinite(pred)) else None
    for key in ("epochs", "best_epoch"):
        if key in info:
            out[key] = int(info[key])
    return out


def _mean_or_none(values):
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v and len(v) == len(values) else None


def summarise(kind: str, runs: list[dict], settings: dict) -> dict:
    """Mean and population std over seeds, as the paper's Table 1."""
    r = np.array([x["r2d"] for x in runs])
    t = np.array([x["train_s"] for x in runs])
    ev = np.array([x["eval_ms"] for x in runs])
    return {
        "label": LABELS[kind],
        "r2d_mean": float(r.mean()),
        "r2d_std": float(r.std()),
        "r2d_per_seed": r.tolist(),
        "r2d_float64_mean": float(np.mean([x["r2d_float64"] for x in runs])),
        "r2d_float32_gps_mean": _mean_or_none([x.get("r2d_float32_gps") for x in runs]),
        "train_s_mean": float(t.mean()),
        "train_s": float(t.mean()),
        "train_s_std": float(t.std()),
        "eval_ms": float(ev.mean()),
        "eval_ms_std": float(ev.std()),
        "traces_per_s": float(np.mean([x["traces_per_s"] for x in runs])),
        "size_mb": float(runs[0]["size_mb"]),
        "seeds": [x["seed"] for x in runs],
        "runs": runs,
        "settings": settings,
    }


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


def _pm(mean, std, fmt) -> str:
    if mean is None:
        return ""
    s = format(mean, fmt)
    return s if std is None else f"{s} ± {format(std, fmt)}"


def markdown(result: dict) -> str:
    """Our Table 1 beside the paper's."""
    rows = [
        "| model | R2D | R2D (paper) | training (s) | training (s, paper) | evaluation (ms) "
        "| evaluation (ms, paper) | traces/s (batched) | size (MB) | size (MB, paper) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    models = result.get("models", {})
    for kind in KINDS:
        if kind not in models:
            continue
        s, p = models[kind], PAPER[kind]
        one = len(s["seeds"]) < 2  # no spread to show

        def ours(key, fmt, s=s, one=one):
            return _pm(s[key if key != "r2d" else "r2d_mean"], None if one else s[key + "_std"],
                       fmt)  # fmt: skip

        paper_r2d = "~ 0.89" if kind == "d18" else _pm(p["r2d"], p["r2d_std"], ".4f")
        rows.append(
            f"| {s['label']} | {ours('r2d', '.4f')} | {paper_r2d} "
            f"| {_pm(s['train_s_mean'], None if one else s['train_s_std'], '.0f')} "
            f"| {_pm(p['train_s'], p['train_s_std'], '.0f')} "
            f"| {ours('eval_ms', '.3f')} "
            f"| {_pm(p['eval_ms'], p['eval_ms_std'], '.1f')} | {s['traces_per_s']:,.0f} "
            f"| {s['size_mb']:.2f} | {p['size_mb']:.2f} |"
        )
    seeds = sorted({sd for s in models.values() for sd in s["seeds"]})
    notes = [
        "",
        f"Central receiver, {result['n_train']} training sources, "
        f"{result['n_test']} test traces; mean ± std over seeds {seeds}. R2D: Eq. 12 on full "
        "traces (`em.predict`: GPs in float64, networks in float32). Training: the whole "
        "`fit` (alignment, peak GPs, core, compilation; the peak GPs are fitted once per seed "
        "and their time is counted in every aligned family). Evaluation: one jitted "
        "single-source call (median). Size: the saved `.npz` (compressed). Paper: Intel "
        "i7-8750H laptop; "
        "D18's R2D and training time from Das et al. (2018) on an HPC cluster.",
    ]
    notes += [
        "",
        "Precision of the prediction (R2D, mean over seeds): as used (GPs float64, networks "
        "float32), everything in float64, and every GP in float32:",
        "",
        "| model | as used | all float64 | GPs float32 |",
        "| --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        if kind in models:
            s = models[kind]
            f32 = s["r2d_float32_gps_mean"]
            notes.append(
                f"| {s['label']} | {s['r2d_mean']:.4f} | {s['r2d_float64_mean']:.4f} "
                f"| {'(no GPs)' if f32 is None else format(f32, '.4f')} |"
            )
    if result.get("quick"):
        notes.append("")
        notes.append("**Quick mode: tiny settings, a smoke test, not a result.**")
    dense = result.get("dense") or {}
    if dense:
        notes += [
            "",
            "Dense training set (one seed), same validation and test traces:",
            "",
            f"| model | training sources | R2D | R2D, {result['n_train']} sources (first seed) "
            "| training (s) | epochs |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for kind, d in dense.items():
            if "skipped" in d:
                notes.append(f"| {LABELS[kind]} | skipped: {d['skipped']} | | | | |")
                continue
            base = result.get("models", {}).get(kind, {}).get("r2d_per_seed", [None])[0]
            base_s = "" if base is None else f"{base:.4f}"
            notes.append(
                f"| {LABELS[kind]} | {d['n_train']} | {d['r2d']:.4f} | {base_s} "
                f"| {d['train_s']:.0f} | {d.get('epochs', '')} |"
            )
    notes += [
        "",
        f"{benchlib.machine_line(result['machine'])} Wall time "
        f"{result.get('wall_s', 0) / 60:.0f} min.",
    ]
    return "\n".join(rows + notes) + "\n"


def figure(path: Path, times: np.ndarray, sources: np.ndarray, truth: np.ndarray, preds: dict):
    """Fig. 8: per family (rows), three test traces (columns), truth against the emulator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if k in preds]
    n = len(sources)
    fig, axes = plt.subplots(len(kinds), n, figsize=(4.2 * n, 1.7 * len(kinds) + 0.8),
                             sharex="col", squeeze=False)  # fmt: skip
    for j in range(n):
        peak = times[np.argmax(np.abs(truth[j]))]
        lo, hi = peak - 0.15, peak + 0.35
        axes[0, j].set_title(f"({sources[j][0]:.3f}, {sources[j][1]:.3f}, "
                             f"{sources[j][2]:.3f}) km", fontsize=9)  # fmt: skip
        for i, kind in enumerate(kinds):
            ax = axes[i, j]
            ax.plot(times, truth[j], "k--", lw=1.2, label="simulation")
            ax.plot(times, preds[kind][j], color=f"C{i}", lw=1.0, label=LABELS[kind])
            rho = np.corrcoef(truth[j], preds[kind][j])[0, 1]
            ax.text(0.98, 0.05, f"r = {rho:.3f}", transform=ax.transAxes, ha="right",
                    fontsize=7)  # fmt: skip
            ax.set_xlim(lo, hi)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel(LABELS[kind], fontsize=8)
        axes[-1, j].set_xlabel("time (s)")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle("test traces at the central receiver: simulation (dashed) and emulators "
                 "(first seed)", fontsize=10)  # fmt: skip
    benchlib.save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def dense_protocol(kinds, settings, seed, test_sources, test_traces, quick, log) -> dict:
    """``nn_direct`` and ``pca_nn`` trained on the dense dataset, R2D on the benchmark test."""
    try:
        dense = load_dense()
    except FileNotFoundError as err:
        return {k: {"skipped": str(err)} for k in kinds}
    test = dense.indices("test")
    if not np.array_equal(dense.sources[test], test_sources):
        raise ValueError("the dense dataset's test split is not the benchmark's")
    data = em.training_data(dense, RECEIVER, n_train=1000 if quick else None)
    out, peaks = {}, {}
    for kind in kinds:
        # condition the peak GPs on a subset: the exact GP on 22,000 points is minutes and
        # 3.9 GB per GP (the hyperparameters are fitted on a subset anyway)
        gp = {**(settings[kind].get("gp_options") or {}), "n_condition": 5000}
        kw = shared_peaks(kind, data, seed, {kind: {**settings[kind], "gp_options": gp}}, peaks)
        if "config" in kw and not quick:  # a budget: 11 times longer epochs than on 2000
            kw["config"] = kw["config"]._replace(max_epochs=DENSE_MAX_EPOCHS)
        log(f"dense {kind}: {len(data.train_sources)} training sources ...")
        e = em.fit(kind, data, seed=seed, **kw)
        res = {
            "n_train": int(e.info["n_train"]),
            "r2d": r2d(test_traces, em.predict(e, test_sources)),
            "train_s": float(e.info["fit_s"]),
            "seed": seed,
            "peak_gp_n_condition": 5000,
            "max_epochs": None if quick else DENSE_MAX_EPOCHS,
        }
        for key in ("epochs", "best_epoch"):
            if key in e.info:
                res[key] = int(e.info[key])
        log(f"dense {kind}: R2D {res['r2d']:.4f}, {res['train_s']:.0f} s")
        out[kind] = res
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings (200 training sources, few epochs, 1 seed)",
    )
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="seeds (default 0 1 2; quick: 0)"
    )
    parser.add_argument("--no-dense", action="store_true", help="skip the dense protocol")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS, help="output directory")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="also save every fitted emulator in this directory (<kind>_s<seed>.npz)",
    )
    parser.add_argument(
        "--name", default=None, help="output base name (default table1; quick: table1_quick)"
    )
    args = parser.parse_args(argv)  # fmt: skip
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    name = args.name or benchlib.result_name("table1", args.quick)
    n_calls, n_batch = (200, 3) if args.quick else (N_CALLS, N_BATCH)
    settings = quick_settings() if args.quick else full_settings()
    n_train = 200 if args.quick else None
    tic0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - tic0:7.0f} s] {msg}", flush=True)

    b = js.load_benchmark()
    data = em.training_data(b, RECEIVER, n_train=n_train)
    test = b.indices("test")
    test_sources, test_traces = b.sources[test], b.traces[RECEIVER, test]
    fig_idx = np.sort(np.random.default_rng(FIG_SEED).choice(len(test), N_FIG, replace=False))
    result = {
        "quick": bool(args.quick),
        "receiver_km": b.receivers[RECEIVER].tolist(),
        "n_train": len(data.train_sources),
        "n_validation": len(data.val_sources),
        "n_test": len(test),
        "protocol": {
            "r2d": "jaxseis.metrics.r2d (Eq. 12) on the test traces, em.predict (GPs "
            "float64, networks float32)",
            "r2d_float64": "the same with everything in float64",
            "r2d_float32_gps": "the same with every GP in float32 (diagnostic)",
            "train_s": "em.fit wall time (info['fit_s']), compilation included; the peak GPs "
            "are fitted once per seed (em.fit_peaks) and their time is added to every "
            "aligned family",
            "eval_ms": f"jitted single-source predictor (as em.predict: under x64, GPs "
            f"float64), median of {n_calls} calls after warm-up, block_until_ready",
            "traces_per_s": f"jitted vmapped predictor on the {len(test)} test sources, median "
            f"of {n_batch} calls",
            "size_mb": "em.save file (compressed .npz), 1e6 bytes",
            "std": "population standard deviation over seeds (numpy default)",
        },
        "fig8_test_sources_km": test_sources[fig_idx].tolist(),
        "machine": benchlib.machine_info(),
    }
    out_json, out_md = args.out / f"{name}.json", args.out / f"{name}.md"

    def write():
        result["machine"]["load_end"] = benchlib.load_average()
        result["wall_s"] = time.perf_counter() - tic0
        result["paper"] = PAPER
        benchlib.write_results(name, result, markdown(result), args.out, echo=False)

    log(f"Table 1: kinds {args.kinds}, seeds {seeds}, {result['n_train']} training sources, "
        f"{'quick' if args.quick else 'full'} settings -> {out_json}")  # fmt: skip
    fig_preds, peaks = {}, {}
    for kind in args.kinds:
        runs = []
        for seed in seeds:
            log(f"{kind} seed {seed}: fitting ...")
            e = em.fit(kind, data, seed=seed, **shared_peaks(kind, data, seed, settings, peaks))
            if args.keep is not None:
                em.save(e, args.keep / f"{kind}_s{seed}.npz")
            run = {"seed": seed, **evaluate(e, test_sources, test_traces, n_calls=n_calls,
                                            n_batch=n_batch)}  # fmt: skip
            if not runs:
                fig_preds[kind] = em.predict(e, test_sources[fig_idx])
            runs.append(run)
            log(f"{kind} seed {seed}: R2D {run['r2d']:.4f}, fit {run['train_s']:.0f} s, "
                f"eval {run['eval_ms']:.3f} ms, {run['traces_per_s']:,.0f} traces/s, "
                f"{run['size_mb']:.2f} MB")  # fmt: skip
        result.setdefault("models", {})[kind] = summarise(kind, runs, settings[kind])
        write()
    if fig_preds:
        figure(args.out / f"{name}_fig8.png", b.times, test_sources[fig_idx],
               test_traces[fig_idx], fig_preds)  # fmt: skip
    dense_kinds = [k for k in DENSE_KINDS if k in args.kinds]
    if not args.no_dense and dense_kinds:
        result["dense"] = dense_protocol(dense_kinds, settings, seeds[0], test_sources,
                                         test_traces, args.quick, log)  # fmt: skip
    write()
    log(f"done: {out_json}, {out_md}")
    print(markdown(result))


if __name__ == "__main__":
    sys.exit(main())
