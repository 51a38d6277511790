"""The main job on the bundled data: locate the paper's event with the pretrained emulators.

Steps (each reported with its time):

1. load the bundled benchmark dataset and the paper's event (direct simulation, noise-free);
2. load the bundled pretrained NN-direct emulators of the 4 location receivers
   (:mod:`jaxseis.pretrained`);
3. observed traces: the event at those receivers plus seeded Gaussian noise at the paper's
   level (5.6 % of the largest peak, :func:`jaxseis.likelihood.waveform.default_sigma`);
4. the posterior of the source position under the paper's uniform prior, sampled with NUTS
   (:func:`jaxseis.inference.locate`, global stage included);
5. the Table-2-style summary, ``summary.json``, a corner plot (``corner.png``) and a
   trace-fit plot (``trace_fit.png``: observed traces, the noise-free truth and the emulated
   traces at the posterior mean) in ``output_dir``.

The peak GPs run in float64 (the predicted time shifts need it; see
:func:`jaxseis.forward.make_forward`), inside ``jax.enable_x64(True)`` only: the rest of the
process keeps its precision.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np

__all__ = ["DEMO_RECEIVERS", "run"]

#: benchmark rows of the 4 location receivers
DEMO_RECEIVERS = (1, 2, 3, 4)


def _log(tic: float, message: str) -> None:
    print(f"[{time.perf_counter() - tic:6.1f} s] {message}", flush=True)


def run(
    *,
    quick: bool = False,
    output_dir: str | Path = "jaxseis-demo",
    seed: int = 0,
    models_dir: str | Path | None = None,
) -> dict:
    """Run the demo; return the posterior summary (as :func:`jaxseis.inference.summary_dict`)
    with the truth and the output paths.

    Args:
        quick: fewer NUTS draws and a smaller global stage (for tests, about a third of the
            time); the result is still a converged posterior of the same event.
        output_dir: directory for ``summary.json``, ``corner.png``, ``trace_fit.png``.
        seed: seeds the noise (``seed``) and the sampler (``seed + 1``).
        models_dir: directory of emulator files made by ``jaxseis train --bundled -o DIR``
            (default: the bundled ones).
    """
    import jax.numpy as jnp

    import jaxseis as js
    from jaxseis import inference
    from jaxseis.forward import make_forward
    from jaxseis.likelihood.waveform import add_noise, default_sigma, gaussian_log_likelihood
    from jaxseis.pretrained import load_bundled

    tic = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    bench = js.load_benchmark()
    event = js.load_paper_event()
    _log(tic, f"bundled data: {bench.n_events} benchmark sources x {bench.n_receivers} receivers")
    emulators = load_bundled(DEMO_RECEIVERS, directory=models_dir)
    rows = [event.receiver_index(e.receiver_km) for e in emulators]
    _log(tic, "pretrained NN-direct emulators at receivers (km):")
    for e in emulators:
        print(f"           {np.round(e.receiver_km, 3).tolist()}  ({e.info['n_train']} sources)")
    truth = np.asarray(event.sources[0], dtype=np.float64)
    clean = np.asarray(event.traces[rows, 0], dtype=np.float64)
    sigma = default_sigma(np.abs(clean).max())
    observed = np.asarray(add_noise(clean, sigma, jax.random.key(seed)))
    _log(tic, f"observed: the paper's event at {truth.tolist()} km + noise sigma {sigma:.4g} Pa")

    if quick:
        stage = inference.GlobalStage(num_draws=20_000, num_polish=8, polish_steps=200)
        settings = {"num_chains": 4, "num_warmup": 300, "num_draws": 600}
    else:
        stage = inference.GlobalStage()
        settings = {"num_chains": 4, "num_warmup": 500, "num_draws": 1000}
    with jax.enable_x64(True):
        forward = make_forward(emulators)
        loglike = gaussian_log_likelihood(forward, observed, sigma)
        _log(tic, f"NUTS: {settings} with a global stage of {stage.num_draws} prior draws")
        idata = inference.locate(
            loglike,
            inference.paper_prior(),
            method="nuts",
            key=jax.random.key(seed + 1),
            global_stage=stage,
            **settings,
        )
        summary = inference.summary_dict(idata)
        fitted = np.asarray(forward(jnp.asarray(summary["mean_km"])))
    _log(tic, "posterior:")
    print(inference.summary_table(idata, truth=truth))
    err_m = 1000 * np.linalg.norm(np.asarray(summary["mean_km"]) - truth)
    print(f"posterior mean {err_m:.0f} m from the truth")

    corner = out / "corner.png"
    trace_fit = out / "trace_fit.png"
    _plot_corner(idata, truth, corner)
    _plot_trace_fit(emulators, observed, clean, fitted, bench.dt, trace_fit)
    result = {
        **summary,
        "truth_km": truth.tolist(),
        "distance_mean_to_truth_m": float(err_m),
        "sigma": sigma,
        "quick": quick,
        "seed": seed,
        "receivers_km": [np.asarray(e.receiver_km).tolist() for e in emulators],
        "files": {"corner": str(corner), "trace_fit": str(trace_fit)},
    }
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    _log(tic, f"wrote {out / 'summary.json'}, {corner}, {trace_fit}")
    return result


def _plot_corner(idata, truth: np.ndarray, path: Path) -> None:
    """Pairwise posterior densities and marginals (arviz), truth marked."""
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = az.plot_pair(
        idata,
        var_names=["x", "y", "z"],
        kind="kde",
        marginals=True,
        reference_values={"x": truth[0], "y": truth[1], "z": truth[2]},
        reference_values_kwargs={"color": "crimson", "marker": "x", "markersize": 10},
        figsize=(7, 7),
    )
    fig = np.asarray(axes).ravel()[0].get_figure()
    fig.suptitle("posterior of the source position (km); x: truth")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _plot_trace_fit(emulators, observed, clean, fitted, dt: float, path: Path) -> None:
    """Observed (noisy), noise-free and emulated traces at the posterior mean per receiver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(observed.shape[-1]) * dt
    fig, axes = plt.subplots(len(emulators), 1, figsize=(8, 2 * len(emulators)), sharex=True)
    for ax, e, obs, cl, fit in zip(
        np.atleast_1d(axes), emulators, observed, clean, fitted, strict=True
    ):
        ax.plot(t, obs, color="0.7", lw=0.8, label="observed (with noise)")
        ax.plot(t, cl, color="k", lw=1.0, label="noise-free simulation")
        ax.plot(t, fit, color="crimson", lw=1.0, ls="--", label="emulator at posterior mean")
        ax.set_ylabel("p (Pa)")
        ax.set_title(f"receiver {np.round(e.receiver_km, 3).tolist()} km", fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper right")
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
