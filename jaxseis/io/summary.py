"""The location summary every event writer reads: its schema, checks and derived quantities.

A location summary is the JSON-ready dict the inference produces for one event:

* ``params``: ``["x", "y", "z", "t0", "log_amplitude"]`` (:data:`PARAMS`);
* ``free``: 5 bools; a fixed parameter has std 0 and a zero covariance row;
* ``mean``, ``std``, ``q2_5``, ``q16``, ``q50``, ``q84``, ``q97_5``: 5 numbers each: ``x, y, z``
  in km in model coordinates (``z`` up from the model bottom), ``t0`` in s relative to the
  observation's reference time, ``log_amplitude`` the natural log of the source strength
  relative to the training source;
* ``cov``: the 5 x 5 posterior covariance (nested lists);
* ``relative_magnitude``: ``{"mean", "std"}`` or ``None``;
* ``method``: ``"nuts"``, ``"nested"`` or ``"laplace"`` (:data:`METHODS`; any short name is
  accepted);
* ``rhat_max``, ``ess_min``, ``divergences``, ``log_evidence``, ``log_evidence_err``,
  ``wall_s``, ``num_chains``, ``num_draws``: diagnostics, any of which may be ``None`` or absent
  (:data:`DIAGNOSTICS`).

:func:`check_summary` validates one and returns a :class:`LocationSummary` of arrays.

**Relative magnitude.** The emulators are trained on simulations of a unit source, so the
fitted amplitude ``A = exp(log_amplitude)`` is the source strength relative to it; with the
usual scaling of magnitude with two thirds of the log of the moment, ``M_rel = (2/3) log10(A)``
(:func:`relative_magnitude`), which is 0 for the training simulations' source. It orders
events by size; it is not calibrated to any magnitude scale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "DIAGNOSTICS",
    "METHODS",
    "PARAMS",
    "QUANTILES",
    "LocationSummary",
    "check_summary",
    "relative_magnitude",
]

PARAMS = ("x", "y", "z", "t0", "log_amplitude")
"""The event parameters, in summary order."""

METHODS = ("nuts", "nested", "laplace")
"""The inference methods of jaxseis."""

QUANTILES = ("q2_5", "q16", "q50", "q84", "q97_5")
"""The posterior quantiles of a summary (2.5, 16, 50, 84 and 97.5 %)."""

DIAGNOSTICS = (
    "rhat_max", "ess_min", "divergences", "log_evidence", "log_evidence_err", "wall_s",
    "num_chains", "num_draws",
)  # fmt: skip
"""Optional diagnostics of a summary (``None`` when the method has none)."""

_MAG_PER_LOG_AMPLITUDE = 2.0 / (3.0 * math.log(10.0))


def relative_magnitude(log_amplitude):
    """``M_rel = (2/3) log10(exp(log_amplitude))``: 0 for the training simulations' unit source.

    Linear in ``log_amplitude``, so a standard deviation scales by the same factor, 0.2895.
    """
    return _MAG_PER_LOG_AMPLITUDE * np.asarray(log_amplitude, dtype=np.float64)


class LocationSummary(NamedTuple):
    """A checked location summary (see the module docs for units).

    Attributes:
        mean, std: ``[5]`` posterior mean and standard deviation.
        quantiles: ``{"q2_5": [5], ...}`` (only those the summary holds).
        cov: ``[5, 5]`` posterior covariance.
        free: ``[5]`` bool, whether each parameter was sampled.
        relative_magnitude: ``(mean, std)`` of ``M_rel``, or ``None`` when ``log_amplitude``
            was fixed.
        method: inference method.
        diagnostics: the :data:`DIAGNOSTICS` present (values may be ``None``).
    """

    mean: np.ndarray
    std: np.ndarray
    quantiles: dict[str, np.ndarray]
    cov: np.ndarray
    free: np.ndarray
    relative_magnitude: tuple[float, float] | None
    method: str
    diagnostics: dict[str, Any]

    @property
    def position_km(self) -> np.ndarray:
        """Posterior mean position ``[3]`` (model coordinates, km)."""
        return self.mean[:3]

    @property
    def position_cov_km2(self) -> np.ndarray:
        """Position covariance ``[3, 3]`` (model coordinates, km^2)."""
        return self.cov[:3, :3]

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict (the schema of the module docs)."""
        out = {
            "params": list(PARAMS),
            "free": [bool(v) for v in self.free],
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            **{k: v.tolist() for k, v in self.quantiles.items()},
            "cov": self.cov.tolist(),
            "relative_magnitude": None
            if self.relative_magnitude is None
            else dict(zip(("mean", "std"), self.relative_magnitude, strict=True)),
            "method": self.method,
        }
        out.update(self.diagnostics)
        return out


def _vector(summary: Mapping, key: str) -> np.ndarray:
    try:
        v = np.asarray(summary[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"summary[{key!r}] must be 5 numbers, got {summary[key]!r}") from None
    if v.shape != (5,):
        raise ValueError(f"summary[{key!r}] must hold 5 numbers (one per parameter), got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"summary[{key!r}] holds NaN or infinite values: {v.tolist()}")
    return v


def _diagnostic(summary: Mapping, key: str):
    v = summary.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise ValueError(f"summary[{key!r}] must be a number or None, got {v!r}")
    if not math.isfinite(float(v)):
        return None  # strict JSON writes None for a missing number
    return int(v) if isinstance(v, int | np.integer) else float(v)


def check_summary(summary: Mapping | LocationSummary) -> LocationSummary:
    """Validate a location summary (module docs) and return it as arrays.

    Raises:
        ValueError: not a mapping, a missing key, parameters other than :data:`PARAMS`, vectors
            that are not 5 finite numbers, negative standard deviations, a covariance that is
            not 5 x 5, finite, symmetric and positive semi-definite, a fixed parameter with a
            non-zero std or covariance, a bad method name, relative magnitude or diagnostic.
    """
    if isinstance(summary, LocationSummary):
        return summary
    if not isinstance(summary, Mapping):
        raise ValueError(f"a location summary is a dict, got {type(summary).__name__}")
    missing = [k for k in ("params", "free", "mean", "std", "cov", "method") if k not in summary]
    if missing:
        raise ValueError(f"location summary lacks {missing}")
    if list(summary["params"]) != list(PARAMS):
        raise ValueError(f"summary['params'] must be {list(PARAMS)}, got {summary['params']!r}")
    free = summary["free"]
    if len(free) != 5 or not all(isinstance(v, bool | np.bool_) for v in free):
        raise ValueError(f"summary['free'] must be 5 bools, got {free!r}")
    free = np.array(free, dtype=bool)
    mean, std = _vector(summary, "mean"), _vector(summary, "std")
    if np.any(std < 0):
        raise ValueError(f"summary['std'] must be >= 0, got {std.tolist()}")
    quantiles = {k: _vector(summary, k) for k in QUANTILES if summary.get(k) is not None}
    try:
        cov = np.asarray(summary["cov"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("summary['cov'] must be a 5 x 5 nested list of numbers") from None
    if cov.shape != (5, 5) or not np.all(np.isfinite(cov)):
        raise ValueError(f"summary['cov'] must be 5 x 5 and finite, got shape {cov.shape}")
    scale = max(float(np.max(np.abs(cov))), 1e-300)
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-9 * scale):
        raise ValueError("summary['cov'] is not symmetric")
    w = np.linalg.eigvalsh(cov)
    if w[0] < -1e-9 * scale:
        raise ValueError(f"summary['cov'] is not positive semi-definite (eigenvalue {w[0]:.3g})")
    fixed = ~free
    if np.any(std[fixed] != 0) or np.any(cov[fixed] != 0) or np.any(cov[:, fixed] != 0):
        names = [p for p, f in zip(PARAMS, fixed, strict=True) if f]
        raise ValueError(f"fixed parameters {names} must have std 0 and zero covariance rows")
    method = summary["method"]
    if not isinstance(method, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", method):
        raise ValueError(
            f"summary['method'] must be a short name such as {METHODS}, got {method!r}"
        )
    mag = summary.get("relative_magnitude")
    if not free[4]:
        magnitude = None
    elif mag is None:
        magnitude = (float(relative_magnitude(mean[4])), float(relative_magnitude(std[4])))
    else:
        try:
            magnitude = (float(mag["mean"]), float(mag["std"]))
        except (TypeError, KeyError, ValueError):
            raise ValueError(
                f"summary['relative_magnitude'] must be {{'mean', 'std'}} or None, got {mag!r}"
            ) from None
        if not (np.isfinite(magnitude).all() and magnitude[1] >= 0):
            raise ValueError(f"summary['relative_magnitude'] must be finite, std >= 0: {mag!r}")
    diagnostics = {k: _diagnostic(summary, k) for k in DIAGNOSTICS if k in summary}
    return LocationSummary(
        mean, std, quantiles, 0.5 * (cov + cov.T), free, magnitude, method, diagnostics
    )
