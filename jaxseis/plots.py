"""Figures of a location: corner plots, trace comparisons, location maps.

Every function draws on a new :class:`matplotlib.figure.Figure` (no ``pyplot``, so no
backend is chosen or changed: a script, a notebook and a headless run all work) and returns
it; given a ``path``, it also writes the figure as PNG atomically
(:func:`jaxseis.files.atomic_path`). Positions are in km (model coordinates, ``z`` up from the
model bottom), times in s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxseis.likelihood.base import PARAMS

__all__ = ["corner_plot", "location_map", "save_figure", "trace_comparison"]

_UNITS = {"x": "km", "y": "km", "z": "km", "t0": "s", "log_amplitude": ""}
_TRUTH = {"color": "crimson", "lw": 1.0}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG at ``path`` (atomically); returns the path."""
    from jaxseis.files import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path


def _label(name: str) -> str:
    unit = _UNITS.get(name, "")
    return f"{name} ({unit})" if unit else name


def corner_plot(
    draws,
    names: Sequence[str] = PARAMS,
    *,
    truth=None,
    bins: int = 40,
    title: str | None = None,
    path: str | Path | None = None,
):
    """Marginal histograms and pairwise densities of posterior draws.

    Args:
        draws: ``[n, k]`` draws (e.g. :func:`jaxseis.inference.posterior_draws`), or an
            ``arviz.InferenceData`` from :func:`jaxseis.locate` (its free parameters).
        names: the ``k`` parameter names (ignored for InferenceData).
        truth: the true values ``[k]`` (marked), or None.
        bins: histogram bins per axis.
        title: figure title.
        path: write the figure there (PNG).

    Raises:
        ValueError: draws that are not ``[n, k]`` with ``k == len(names)`` and ``n >= 2``.
    """
    if hasattr(draws, "posterior"):
        from jaxseis.inference import posterior_draws

        names = [p for p in PARAMS if p in draws.posterior]
        draws = posterior_draws(draws, tuple(names))
    x = np.asarray(draws, dtype=np.float64)
    names = list(names)
    if x.ndim != 2 or x.shape[1] != len(names) or x.shape[0] < 2:
        raise ValueError(f"draws must be [n >= 2, {len(names)}] for {names}; got {x.shape}")
    k = len(names)
    fig = _figure(1.9 * k + 0.6, 1.9 * k + 0.4)
    axes = fig.subplots(k, k, squeeze=False)
    t = None if truth is None else np.asarray(truth, dtype=np.float64).ravel()[:k]
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(x[:, i], bins=bins, color="0.35", histtype="stepfilled", alpha=0.8)
                ax.set_yticks([])
                if t is not None:
                    ax.axvline(t[i], **_TRUTH)
            else:
                h, xe, ye = np.histogram2d(x[:, j], x[:, i], bins=bins)
                ax.pcolormesh(xe, ye, h.T, cmap="Greys", shading="flat", rasterized=True)
                if t is not None:
                    ax.plot(t[j], t[i], "x", color=_TRUTH["color"], ms=8, mew=2)
            if i == k - 1:
                ax.set_xlabel(_label(names[j]))
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(_label(names[i]))
            elif j > 0:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=7)
    fig.suptitle(title or "posterior" + ("; red: truth" if t is not None else ""))
    if path is not None:
        save_figure(fig, path)
    return fig


def trace_comparison(
    obs,
    fitted,
    *,
    clean=None,
    path: str | Path | None = None,
    title: str | None = None,
):
    """Observed traces against the model's, one panel per receiver.

    Args:
        obs: the :class:`~jaxseis.observation.Observation` (traces ``[n, n_samples]``).
        fitted: the model's traces ``[n, n_samples]`` (e.g. the forward model at the
            posterior mean), in the observation's receiver order.
        clean: optional noise-free traces ``[n, n_samples]`` (synthetic data).
        path: write the figure there (PNG).
        title: figure title.

    Raises:
        ValueError: ``fitted`` or ``clean`` of another shape than the observed traces.
    """
    fit = np.asarray(fitted, dtype=np.float64)
    if fit.shape != obs.traces.shape:
        raise ValueError(f"fitted traces {fit.shape} must match the observed {obs.traces.shape}")
    cl = None if clean is None else np.asarray(clean, dtype=np.float64)
    if cl is not None and cl.shape != obs.traces.shape:
        raise ValueError(f"clean traces {cl.shape} must match the observed {obs.traces.shape}")
    n = obs.n_receivers
    fig = _figure(8.0, 1.7 * n + 0.6)
    axes = np.atleast_1d(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
    t = obs.times
    for r, ax in enumerate(axes):
        ax.plot(t, obs.traces[r], color="0.65", lw=0.8, label="observed")
        if cl is not None:
            ax.plot(t, cl[r], color="k", lw=1.0, label="noise-free")
        ax.plot(t, fit[r], color="crimson", lw=1.0, ls="--", label="model")
        pos = np.round(obs.receivers_km[r], 3).tolist()
        ax.set_title(f"{obs.stations[r]} at {pos} km", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time after the reference time (s)")
    fig.supylabel("amplitude (trace units)", fontsize=9)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def location_map(
    positions_km,
    receivers_km,
    *,
    truth_km=None,
    stations: Sequence[str] = (),
    path: str | Path | None = None,
    title: str | None = None,
):
    """Map view (x, y) and vertical section (x, z) of located positions and the receivers.

    Args:
        positions_km: ``[n, 3]`` posterior draws of one event, or the mean positions of a
            catalogue's events.
        receivers_km: ``[m, 3]`` receivers (triangles).
        truth_km: true positions ``[3]`` or ``[n, 3]`` (red crosses), or None.
        stations: receiver codes to annotate.
        path: write the figure there (PNG).
        title: figure title.
    """
    p = np.asarray(positions_km, dtype=np.float64).reshape(-1, 3)
    rec = np.asarray(receivers_km, dtype=np.float64).reshape(-1, 3)
    fig = _figure(10.0, 4.6)
    ax_map, ax_sec = fig.subplots(1, 2)
    for ax, (a, b) in ((ax_map, (0, 1)), (ax_sec, (0, 2))):
        ax.scatter(p[:, a], p[:, b], s=4, alpha=0.4, color="0.3", lw=0, label="located")
        ax.scatter(rec[:, a], rec[:, b], marker="v", s=60, color="tab:blue", label="receivers")
        if truth_km is not None:
            tr = np.asarray(truth_km, dtype=np.float64).reshape(-1, 3)
            ax.plot(tr[:, a], tr[:, b], "x", color=_TRUTH["color"], ms=8, mew=2, label="truth")
        ax.set_xlabel(_label(PARAMS[a]))
        ax.set_ylabel(_label(PARAMS[b]))
    for code, r in zip(stations, rec, strict=False):
        ax_map.annotate(code, (r[0], r[1]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax_map.set_aspect("equal", adjustable="datalim")
    ax_map.set_title("map view", fontsize=9)
    ax_sec.set_title("section (z up from the model bottom)", fontsize=9)
    ax_map.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig
