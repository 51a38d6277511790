"""The main job on the bundled data: locate the paper's event with the pretrained emulators.

1. the bundled NN-direct emulators of the 4 location receivers (:mod:`jaxseis.pretrained`);
2. the observation (:func:`jaxseis.observe`): the paper's event (direct simulation) at those
   receivers plus seeded white noise at the paper's level (5.6 % of the largest peak,
   :func:`jaxseis.noise.default_sigma`);
3. the waveform likelihood of all five event parameters
   (:func:`jaxseis.waveform_log_likelihood`) under :func:`jaxseis.event_prior` (the paper's
   box, origin time and amplitude free), sampled with NUTS after the global stage
   (:func:`jaxseis.locate`);
4. the summary table, ``summary.json``, a corner plot (``corner.png``) and the traces at the
   posterior mean against the observed ones (``trace_fit.png``, :mod:`jaxseis.plots`).

The settings are :data:`FULL` (``quick=True``: :data:`QUICK`, a smaller global stage and fewer
draws), smaller than the library's :class:`~jaxseis.inference.NutsOptions` defaults because
this small, unimodal posterior converges with them and the demo is the first command a user
runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from jaxseis.inference import GlobalStage, NutsOptions

__all__ = ["DEMO_RECEIVERS", "FULL", "QUICK", "run"]

DEMO_RECEIVERS = (1, 2, 3, 4)
"""Benchmark rows of the 4 location receivers (the bundled emulators')."""

FULL = NutsOptions(
    num_warmup=400, num_draws=500, global_stage=GlobalStage(num_draws=16_384, num_polish=16)
)
"""The demo's settings: a global stage of 16,384 candidates (each scored at its best origin
time and amplitude by cross-correlation, so the mode is not missed), then 4 chains x 500 draws
after 400 warm-up steps: a bulk ESS above 1000 per parameter on this posterior."""

QUICK = NutsOptions(
    num_warmup=250,
    num_draws=400,
    global_stage=GlobalStage(num_draws=4096, num_polish=8, polish_steps=100),
)
"""``--quick``: a global stage of 4096 candidates and 4 chains x 400 draws after 250 warm-up
steps (for tests)."""


def _printer(quiet: bool) -> Callable[[str], None]:
    tic = time.perf_counter()

    def log(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - tic:6.1f} s] {message}", flush=True)

    return log


def run(
    *,
    quick: bool = False,
    output_dir: str | Path = "jaxseis-demo",
    seed: int = 0,
    models_dir: str | Path | None = None,
    overwrite: bool = True,
    quiet: bool = False,
    progress: bool | None = None,
) -> dict:
    """Run the demo; return the posterior summary (:func:`jaxseis.summary_dict`) with the
    truth, the noise level and the output paths.

    Args:
        quick: :data:`QUICK` settings instead of :data:`FULL`.
        output_dir: directory for ``summary.json``, ``corner.png``, ``trace_fit.png``
            (checked for writing before the sampling).
        seed: seeds the noise (``seed``) and the sampler (``seed + 1``).
        models_dir: emulator files made by ``jaxseis train --bundled -o DIR`` (default: the
            bundled ones).
        overwrite: accept an output directory that already holds files.
        quiet: print nothing (no progress bars either).
        progress: progress bars of the global stage and NUTS on stderr (``None``: when stderr
            is a terminal; see :func:`jaxseis.locate`).
    """
    import jax.numpy as jnp

    from jaxseis import inference, plots
    from jaxseis.dataset import load_paper_event
    from jaxseis.files import prepare_output_dir, write_json
    from jaxseis.forward import apply_forward, forward_model
    from jaxseis.likelihood import waveform_log_likelihood
    from jaxseis.observation import observe
    from jaxseis.pretrained import load_bundled

    log = _printer(quiet)
    out = prepare_output_dir(output_dir, overwrite=overwrite)
    emulators = load_bundled(DEMO_RECEIVERS, directory=models_dir)
    model = forward_model(emulators)
    log(f"{len(emulators)} pretrained NN-direct emulators, receivers (km):")
    for e in emulators:
        log(f"    {np.round(e.receiver_km, 3).tolist()} ({e.info.get('n_train')} sources)")
    event = load_paper_event()
    clean = observe(event, emulators)  # noise-free, for the plot
    obs = observe(event, emulators, noise_key=jax.random.key(seed))
    truth = np.asarray(obs.truth)
    sigma = float(np.asarray(obs.noise.sigma)[0])
    log(f"observed: the paper's event at {truth[:3].tolist()} km + noise sigma {sigma:.4g} Pa")
    options = QUICK if quick else FULL
    stage = options.global_stage
    log(
        f"NUTS, 5 parameters: global stage of {stage.num_draws} draws, then "
        f"{options.num_chains} chains x {options.num_draws} draws ({options.num_warmup} warm-up)"
    )
    lik = waveform_log_likelihood(model, obs)
    idata = inference.locate(
        lik, inference.event_prior(), key=jax.random.key(seed + 1), options=options,
        progress=False if quiet else progress,
    )  # fmt: skip
    summary = inference.summary_dict(idata)
    attrs = idata.posterior.attrs
    log(
        f"done: global stage {attrs.get('wall_global_s', 0):.1f} s, sampling "
        f"{attrs.get('wall_sampling_s', 0):.1f} s (compilation included)"
    )
    if not quiet:
        print(inference.summary_table(idata, truth=truth))
    err_m = 1000 * float(np.linalg.norm(np.asarray(summary["mean"][:3]) - truth[:3]))
    log(f"posterior mean {err_m:.0f} m from the truth")
    with jax.enable_x64(True):
        theta = jnp.asarray(summary["mean"], jnp.float64)
        fitted = np.asarray(apply_forward(model.static, model.params, theta))
    corner = plots.corner_plot(
        idata,
        truth=truth,
        path=out / "corner.png",
        title="posterior of the paper's event; red: truth",
    )
    del corner
    plots.trace_comparison(
        obs,
        fitted,
        clean=clean.traces,
        path=out / "trace_fit.png",
        title="observed, noise-free and emulated at the posterior mean",
    )
    files = {name: str(out / f"{name}.png") for name in ("corner", "trace_fit")}
    result = {
        **summary,
        "truth": truth.tolist(),
        "truth_km": truth[:3].tolist(),
        "distance_mean_to_truth_m": err_m,
        "sigma": sigma,
        "quick": quick,
        "seed": seed,
        "stations": list(obs.stations),
        "receivers_km": obs.receivers_km.tolist(),
        "files": {**files, "summary": str(out / "summary.json")},
    }
    write_json(out / "summary.json", result)
    log(f"wrote {out / 'summary.json'}, {files['corner']}, {files['trace_fit']}")
    return result
