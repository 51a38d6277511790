"""The ``Dataset`` container: traces of many sources at a few receivers, with a split.

::

    sources   [n_events, 3]                       km
    receivers [n_receivers, 3]                    km
    traces    [n_receivers, n_events, n_samples]  pressure, Pa (float32)
    dt                                            s
    split     [n_events]                          0 = train, 1 = validation, 2 = test

:func:`validate_dataset` checks a dataset's content (shapes, dtypes, finite values, split codes,
points inside the grid, plausible amplitudes); every writer and reader calls it.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from jaxseis.files import json_ready
from jaxseis.geometry import (
    DEFAULT_GRID,
    Grid,
    check_inside,
    grid_from_dict,
    nearest_points,
    real_array,
)

__all__ = ["MAX_ABS_TRACE", "SPLIT_CODES", "Dataset", "provenance_json", "validate_dataset"]

SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}
"""Split name -> the code stored in ``Dataset.split``."""

MAX_ABS_TRACE = 1e12
"""Largest ``|trace|`` accepted (Pa): beyond it the traces are not pressures in Pa (a wrong
unit or a corrupt scale). Float32 squares of such values still fit, so losses stay finite."""


class Dataset(NamedTuple):
    """Traces of many sources at a few receivers, with a train/validation/test split.

    Attributes:
        sources: ``[n_events, 3]`` source positions, km.
        receivers: ``[n_receivers, 3]`` receiver positions, km.
        traces: ``[n_receivers, n_events, n_samples]`` pressure, float32.
        dt: sampling interval, s.
        split: ``[n_events]`` int8 split codes (0 train, 1 validation, 2 test).
        provenance: JSON-serialisable description of how the data were made.
    """

    sources: np.ndarray
    receivers: np.ndarray
    traces: np.ndarray
    dt: float
    split: np.ndarray
    provenance: dict

    @property
    def n_events(self) -> int:
        return int(self.sources.shape[0])

    @property
    def n_receivers(self) -> int:
        return int(self.receivers.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.traces.shape[-1])

    @property
    def grid(self) -> Grid:
        """The grid the data were simulated on: ``provenance["grid"]`` (recorded by
        :func:`jaxseis.dataset.simulate_dataset`), else the default grid."""
        g = self.provenance.get("grid") if isinstance(self.provenance, dict) else None
        return DEFAULT_GRID if g is None else grid_from_dict(g)

    @property
    def times(self) -> np.ndarray:
        """Sample times ``[n_samples]``, s."""
        return np.arange(self.n_samples) * self.dt

    def indices(self, split: str) -> np.ndarray:
        """Event indices of a split: ``"train"``, ``"validation"`` or ``"test"``."""
        if split not in SPLIT_CODES:
            raise ValueError(f"unknown split {split!r}; use one of {list(SPLIT_CODES)}")
        return np.flatnonzero(self.split == SPLIT_CODES[split])

    def subset(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(sources [n, 3], traces [n_receivers, n, n_samples])`` of one split."""
        idx = self.indices(split)
        return self.sources[idx], self.traces[:, idx]

    def receiver_index(self, receiver_km, tol_km: float = 1e-6) -> int:
        """Index of the receiver at ``receiver_km`` (raises ``ValueError`` if absent)."""
        r = np.asarray(receiver_km, dtype=np.float64).reshape(3)
        index, dist = nearest_points(r, self.receivers)
        i = int(index[0])
        if dist[0] > tol_km:
            raise ValueError(
                f"no receiver at {r.tolist()} km in this dataset; receivers are "
                f"{np.round(self.receivers, 4).tolist()}"
            )
        return i

    def summary(self) -> str:
        """A short human-readable description."""
        counts = {k: int(np.sum(self.split == v)) for k, v in SPLIT_CODES.items()}
        peak = np.abs(self.traces).max(axis=-1)
        name = self.provenance.get("name", "unnamed")
        lines = [
            f"jaxseis Dataset '{name}': {self.n_events} events x {self.n_receivers} receivers x "
            f"{self.n_samples} samples at {self.dt * 1e3:g} ms",
            "  split: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
            f"  sources x {_rng(self.sources[:, 0])}, y {_rng(self.sources[:, 1])}, "
            f"z {_rng(self.sources[:, 2])} km",
            f"  peak |p| per trace: median {np.median(peak):.4g}, "
            f"range {peak.min():.4g}-{peak.max():.4g} Pa",
        ]
        for i, r in enumerate(self.receivers):
            lines.append(f"  receiver {i}: ({r[0]:.4f}, {r[1]:.4f}, {r[2]:.4f}) km")
        model = self.provenance.get("model")
        if model:
            lines.append(f"  model: {model}")
        solver = self.provenance.get("solver")
        if solver:
            lines.append(f"  solver: {json.dumps(solver)}")
        return "\n".join(lines)


def _rng(a: np.ndarray) -> str:
    return f"[{a.min():.4f}, {a.max():.4f}]"


def validate_dataset(ds: Dataset, where: str = "dataset") -> Dataset:
    """``ds`` checked and normalised (float64 positions, int8 split, JSON provenance).

    Raises:
        ValueError: the first problem, prefixed with ``where`` (e.g. the file name).
    """
    sources = real_array(ds.sources, f"{where}: sources")
    receivers = real_array(ds.receivers, f"{where}: receivers")
    traces = np.asarray(ds.traces)
    split = np.asarray(ds.split)
    if sources.ndim != 2 or sources.shape[1] != 3:
        raise ValueError(f"{where}: sources must have shape [n_events, 3], got {sources.shape}")
    if receivers.ndim != 2 or receivers.shape[1] != 3:
        raise ValueError(
            f"{where}: receivers must have shape [n_receivers, 3], got {receivers.shape}"
        )
    if sources.shape[0] == 0 or receivers.shape[0] == 0:
        raise ValueError(f"{where}: a dataset needs at least one event and one receiver")
    expected = (receivers.shape[0], sources.shape[0])
    if traces.ndim != 3 or traces.shape[:2] != expected:
        raise ValueError(
            f"{where}: traces must have shape [n_receivers, n_events, n_samples] = "
            f"[{expected[0]}, {expected[1]}, n_samples], got {traces.shape}"
        )
    if traces.dtype != np.float32:
        raise ValueError(f"{where}: traces must be float32, got {traces.dtype}")
    if traces.shape[2] < 2:
        raise ValueError(f"{where}: traces need at least 2 samples, got {traces.shape[2]}")
    if split.shape != (sources.shape[0],):
        raise ValueError(f"{where}: split must have shape [{sources.shape[0]}], got {split.shape}")
    if not np.all(np.isin(split, list(SPLIT_CODES.values()))):
        raise ValueError(f"{where}: split codes must be 0 (train), 1 (validation) or 2 (test)")
    for name, arr in (("sources", sources), ("receivers", receivers), ("traces", traces)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{where}: {name} contain NaN or infinite values")
    dt = ds.dt
    if not (isinstance(dt, int | float | np.integer | np.floating) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"{where}: dt must be a finite positive number (s), got {dt!r}")
    if not isinstance(ds.provenance, dict):
        raise ValueError(f"{where}: provenance must be a dict, got {type(ds.provenance).__name__}")
    try:
        provenance = json.loads(provenance_json(ds.provenance))
        grid = Dataset(sources, receivers, traces, dt, split, provenance).grid
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    for name, points in (("sources", sources), ("receivers", receivers)):
        check_inside(points, grid, f"{where}: {name}", "the dataset's grid")
    peak = np.abs(traces).max(axis=-1)
    if peak.max() > MAX_ABS_TRACE:
        r, i = np.unravel_index(int(np.argmax(peak)), peak.shape)
        raise ValueError(
            f"{where}: traces reach {peak.max():.3g} (receiver {r}, event {i}), more than "
            f"{MAX_ABS_TRACE:g} Pa: not pressures in Pa (a wrong unit or a corrupt scale)"
        )
    if np.any(peak == 0):
        r, i = np.argwhere(peak == 0)[0]
        raise ValueError(
            f"{where}: the trace of event {i} at receiver {r} is all zeros "
            f"({int(np.sum(peak == 0))} such traces): no signal to learn from"
        )
    return Dataset(sources, receivers, traces, float(dt), split.astype(np.int8), provenance)


def provenance_json(provenance: dict) -> str:
    """Strict JSON of the provenance (NumPy values converted; NaN refused)."""
    try:
        return json.dumps(json_ready(provenance), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"provenance is not JSON-serialisable ({err})") from None
