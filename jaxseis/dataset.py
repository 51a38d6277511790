"""The ``Dataset`` container, its file format, splits, and the bundled datasets.

A dataset holds the traces of many sources at a few receivers::

    sources   [n_events, 3]                    km
    receivers [n_receivers, 3]                 km
    traces    [n_receivers, n_events, n_samples]  pressure, Pa (float32)
    dt                                         s
    split     [n_events]                       0 = train, 1 = validation, 2 = test

Files are HDF5 (shuffle + gzip compression, readable from any language) with a format version,
and are validated on load: shapes, dtypes, finite values and the split codes.

Bundled with the package (``jaxseis/data``):

* ``benchmark.h5``: the benchmark dataset, 4000 sources by Latin hypercube on the grid nodes of
  x in [0, 1], y in [0, 1], z in [0, 2.42] km, traces at the central receiver and the 4 location
  receivers, split 2000/1000/1000 from a seed (:func:`make_benchmark` regenerates it);
* ``paper_event.h5``: the paper's event at (0.375, 0.3, 1.57) km simulated directly (not by
  reciprocity) at all 23 receivers, noise-free (:func:`make_paper_event`).

The dense training set (:func:`make_dense`) is cached outside the repository
(``$JAXSEIS_CACHE`` or ``~/.cache/jaxseis``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxseis.files import atomic_path, json_ready
from jaxseis.geometry import (
    DEFAULT_GRID,
    SEABED_Z_KM,
    Grid,
    benchmark_receivers_km,
    check_points,
    describe_extent,
    grid_from_dict,
    grid_to_dict,
    layout_23_km,
    metres_hint,
)
from jaxseis.runtime import cache_dir

__all__ = [
    "FORMAT_VERSION",
    "PAPER_EVENT_KM",
    "QUANT_BITS",
    "SPLIT_CODES",
    "Dataset",
    "bundled_path",
    "latin_hypercube_nodes",
    "load",
    "load_benchmark",
    "load_dense",
    "load_paper_event",
    "make_benchmark",
    "make_dense",
    "make_paper_event",
    "random_nodes",
    "save",
    "simulate_dataset",
    "split_indices",
]

FORMAT_VERSION = 1
SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}
PAPER_EVENT_KM = np.array([0.375, 0.3, 1.57])
"""The event located in the paper's Sec. 3.2.2, km."""

BENCHMARK_SEED = 20210601
DENSE_SEED = 20210602
SOURCE_Z_MAX_KM = SEABED_Z_KM - 0.01  # sources lie in the rock, at least one node below the seabed


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
        :func:`simulate_dataset`), else the default grid."""
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
        dist = np.linalg.norm(self.receivers - r, axis=1)
        i = int(np.argmin(dist))
        if dist[i] > tol_km:
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


# --------------------------------------------------------------------------------------------
# Validation and file format
# --------------------------------------------------------------------------------------------


MAX_ABS_TRACE = 1e12
"""Largest ``|trace|`` accepted (Pa): beyond it the traces are not pressures in Pa (a wrong
unit or a corrupt scale). Float32 squares of such values still fit, so losses stay finite."""


def _validate(ds: Dataset, where: str = "dataset") -> Dataset:
    sources = _float_array(ds.sources, "sources", where)
    receivers = _float_array(ds.receivers, "receivers", where)
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
        provenance = json.loads(_provenance_json(ds.provenance))
        grid = Dataset(sources, receivers, traces, dt, split, provenance).grid
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    for name, points in (("sources", sources), ("receivers", receivers)):
        inside = grid.contains(points)
        if not np.all(inside):
            i = int(np.flatnonzero(~inside)[0])
            raise ValueError(
                f"{where}: {name}[{i}] = {points[i].tolist()} km lies outside the dataset's grid "
                f"({describe_extent(grid)}){metres_hint(points, grid)}"
            )
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


def _float_array(values, name: str, where: str) -> np.ndarray:
    if np.iscomplexobj(values):
        raise ValueError(f"{where}: {name} must be real numbers, got complex values")
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be an array of numbers") from None


def _provenance_json(provenance: dict) -> str:
    """Strict JSON of the provenance (NumPy values converted; NaN refused)."""
    try:
        return json.dumps(json_ready(provenance), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"provenance is not JSON-serialisable ({err})") from None


QUANT_BITS = 23
"""Traces are stored as integers in units of ``2**-23`` of each trace's peak (see :func:`save`)."""


def _encode_traces(traces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantise each trace to ``2**-QUANT_BITS`` of its peak and take second differences.

    Returns ``(second differences [..., n_samples] int32, scale [...] float64)``. Decoding
    recovers every sample to within ``2**-23`` of the trace's peak (half a quantum plus the
    final float32 rounding): the float32 resolution at the peak. Smooth traces have small
    second differences, which compress well.
    """
    peak = np.abs(traces.astype(np.float64)).max(axis=-1)
    scale = np.where(peak > 0, peak, 1.0) * 2.0**-QUANT_BITS
    q = np.rint(traces / scale[..., None]).astype(np.int64)
    d2 = np.diff(np.diff(q, axis=-1, prepend=0), axis=-1, prepend=0)
    return d2.astype(np.int32), scale


def save(ds: Dataset, path: str | Path, encoding: str = "q23") -> Path:
    """Write a dataset to an HDF5 file, after validating it.

    The file is written atomically (:func:`jaxseis.files.atomic_path`): readers see the old
    file or the new one, never a partial one, and a failed save leaves nothing behind. Every
    array carries a Fletcher-32 checksum, verified by :func:`load`.

    Args:
        ds: the dataset.
        path: output file.
        encoding: ``"q23"`` (default) stores each trace as integers in units of ``2**-23`` of
            its peak, as second differences with shuffle + gzip: the values read back differ
            from the originals by at most ``2**-23`` of the trace's peak (the float32
            resolution at the peak) and the file is under half the size of ``"float32"``, which
            stores the float32 values losslessly with shuffle + gzip.

    Raises:
        ValueError: an invalid dataset (see :func:`load`), provenance that is not JSON, or
            an unknown encoding.
    """
    import h5py

    if encoding not in ("q23", "float32"):
        raise ValueError(f"encoding must be 'q23' or 'float32', got {encoding!r}")
    ds = _validate(ds)
    provenance = _provenance_json(ds.provenance)
    chunks = (1, min(ds.n_events, 256), ds.n_samples)
    opts = {"chunks": chunks, "shuffle": True, "compression": "gzip", "compression_opts": 9}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = "jaxseis.Dataset"
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["dt"] = ds.dt
        f.attrs["provenance"] = provenance
        f.attrs["trace_encoding"] = encoding
        f.create_dataset("sources", data=ds.sources, fletcher32=True)
        f.create_dataset("receivers", data=ds.receivers, fletcher32=True)
        f.create_dataset("split", data=ds.split, fletcher32=True)
        if encoding == "q23":
            d2, scale = _encode_traces(ds.traces)
            f.create_dataset("traces", data=d2, fletcher32=True, **opts)
            f.create_dataset("trace_scale", data=scale, fletcher32=True)
        else:
            f.create_dataset("traces", data=ds.traces, fletcher32=True, **opts)
    return Path(path)


def load(path: str | Path) -> Dataset:
    """Read and validate a dataset file written by :func:`save`.

    Checksums (Fletcher-32, in files written by :func:`save`) are verified as the arrays are
    read; the content is then validated like a new dataset (shapes, dtypes, finite values,
    split codes, sources and receivers inside the dataset's grid, plausible trace amplitudes).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not a jaxseis dataset, has another format version, fails its
            checksums, or its content is inconsistent; the message names the file.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 dataset file ({err})") from None
    with f:
        if f.attrs.get("format") != "jaxseis.Dataset":
            raise ValueError(f"{path} is not a jaxseis dataset file")
        version = f.attrs.get("format_version")
        if not (isinstance(version, int | np.integer) and version == FORMAT_VERSION):
            shown = version.item() if isinstance(version, np.generic) else version
            raise ValueError(
                f"{path} has dataset format version {shown!r}; this jaxseis reads version "
                f"{FORMAT_VERSION}"
            )
        missing = [k for k in ("sources", "receivers", "traces", "split") if k not in f]
        if missing:
            raise ValueError(f"{path} is missing the arrays {missing}")
        encoding = f.attrs.get("trace_encoding", "float32")
        if encoding not in ("q23", "float32"):
            raise ValueError(f"{path} has an unknown trace encoding {encoding!r}")
        try:
            traces = _read(f, "traces", path)
            if encoding == "q23":
                if "trace_scale" not in f:
                    raise ValueError(f"{path} is corrupt: the array trace_scale is missing")
                scale = _read(f, "trace_scale", path)
                if scale.shape != traces.shape[:-1] or traces.dtype != np.int32:
                    raise ValueError(f"{path} is corrupt: trace_scale does not match traces")
                traces = _decode_checked(traces, scale, path)
            provenance = json.loads(f.attrs.get("provenance", "{}"))
            ds = Dataset(
                sources=_read(f, "sources", path),
                receivers=_read(f, "receivers", path),
                traces=traces,
                dt=_scalar(f.attrs.get("dt"), path),
                split=_read(f, "split", path),
                provenance=provenance,
            )
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is corrupt: {_first_line(err)}") from None
    return _validate(ds, where=str(path))


def _read(f, name: str, path: Path) -> np.ndarray:
    """One array of an open dataset file; a failed read (checksum, decompression) is a
    ``ValueError`` naming the file and the array."""
    try:
        return f[name][...]
    except OSError as err:
        raise ValueError(
            f"{path} is corrupt: reading {name} failed its checksum or decompression "
            f"({_first_line(err)}); the file was damaged after it was written"
        ) from None


def _decode_checked(d2: np.ndarray, scale: np.ndarray, path: Path) -> np.ndarray:
    """Decode q23 traces, checking the scales: finite, positive, and each trace's largest
    quantised sample exactly ``2**23`` (``0`` for a zero trace, whose scale is ``2**-23``)."""
    scale = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(
            f"{path} is corrupt: trace_scale holds NaN, infinite or non-positive values"
        )
    q = np.cumsum(np.cumsum(d2.astype(np.int64), axis=-1), axis=-1)
    top = np.abs(q).max(axis=-1)
    ok = (top == 2**QUANT_BITS) | ((top == 0) & (scale == 2.0**-QUANT_BITS))
    if not np.all(ok):
        raise ValueError(
            f"{path} is corrupt: trace_scale or the encoded traces do not match "
            f"({int(np.sum(~ok))} traces)"
        )
    return (q * scale[..., None]).astype(np.float32)


def _scalar(value, path: Path) -> float:
    if not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{path} is corrupt: dt is {value!r}, not a number")
    return float(value)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# --------------------------------------------------------------------------------------------
# Sampling sources and splits
# --------------------------------------------------------------------------------------------


def split_indices(n_events: int, n_train: int, n_validation: int, seed: int) -> np.ndarray:
    """Seeded split codes ``[n_events]``: ``n_train`` train, ``n_validation`` validation, the
    rest test."""
    if n_train + n_validation > n_events or min(n_train, n_validation) < 0:
        raise ValueError(
            f"cannot split {n_events} events into {n_train} train and {n_validation} validation"
        )
    order = np.random.default_rng(seed).permutation(n_events)
    split = np.full(n_events, SPLIT_CODES["test"], dtype=np.int8)
    split[order[:n_train]] = SPLIT_CODES["train"]
    split[order[n_train : n_train + n_validation]] = SPLIT_CODES["validation"]
    return split


def _box_nodes(grid: Grid, z_max_km: float) -> np.ndarray:
    """Largest node index along each axis for sources (``[3]``)."""
    hi = np.asarray(grid.shape) - 1
    hi[2] = int(np.floor(grid.km_to_index([0, 0, z_max_km])[2] + 1e-9))
    return hi


def latin_hypercube_nodes(
    n: int, seed: int, grid: Grid = DEFAULT_GRID, z_max_km: float = SOURCE_Z_MAX_KM
) -> np.ndarray:
    """``n`` distinct grid nodes (km, ``[n, 3]``) by Latin hypercube sampling of the source box.

    A Latin hypercube over ``x, y`` in the grid and ``z`` in ``[0, z_max_km]`` is snapped to
    the nearest nodes (as in the paper); the few points that snap onto an already used node
    are redrawn uniformly from the unused nodes with the same seed.
    """
    from scipy.stats import qmc

    hi = _box_nodes(grid, z_max_km)
    u = qmc.LatinHypercube(d=3, seed=np.random.default_rng(seed)).random(n)
    nodes = np.rint(u * hi).astype(np.int64)
    rng = np.random.default_rng(seed + 1)
    flat = np.ravel_multi_index(tuple(nodes.T), tuple(hi + 1))
    _, first = np.unique(flat, return_index=True)
    dup = np.setdiff1d(np.arange(n), first)
    used = set(flat[first].tolist())
    for i in dup:
        while True:
            cand = rng.integers(0, hi + 1)
            f = int(np.ravel_multi_index(tuple(cand), tuple(hi + 1)))
            if f not in used:
                used.add(f)
                nodes[i] = cand
                break
    return grid.index_to_km(nodes)


def random_nodes(
    n: int,
    seed: int,
    grid: Grid = DEFAULT_GRID,
    z_max_km: float = SOURCE_Z_MAX_KM,
    exclude_km: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` distinct grid nodes (km, ``[n, 3]``) drawn uniformly from the source box.

    Nodes in ``exclude_km`` (e.g. the benchmark's sources) are never drawn.
    """
    hi = _box_nodes(grid, z_max_km)
    total = int(np.prod(hi + 1))
    excluded = np.array([], dtype=np.int64)
    if exclude_km is not None and len(exclude_km):
        ex = grid.nearest_node(exclude_km)
        excluded = np.ravel_multi_index(tuple(ex.T), tuple(hi + 1))
    if n > total - len(np.unique(excluded)):
        raise ValueError(f"cannot draw {n} distinct nodes from a box of {total} nodes")
    rng = np.random.default_rng(seed)
    chosen = np.array([], dtype=np.int64)
    while chosen.size < n:
        cand = rng.integers(0, total, size=2 * (n - chosen.size))
        cand = cand[~np.isin(cand, excluded) & ~np.isin(cand, chosen)]
        _, first = np.unique(cand, return_index=True)
        chosen = np.concatenate([chosen, cand[np.sort(first)]])[:n]
    return grid.index_to_km(np.stack(np.unravel_index(chosen, tuple(hi + 1)), axis=1))


# --------------------------------------------------------------------------------------------
# Making datasets
# --------------------------------------------------------------------------------------------


def simulate_dataset(
    model,
    receivers_km,
    sources_km,
    split: np.ndarray,
    config=None,
    *,
    provenance: dict | None = None,
    progress: Callable[[str], None] | None = print,
) -> Dataset:
    """Traces of many sources at a few receivers: one reciprocal simulation per receiver.

    Args:
        model: :class:`~jaxseis.velocity.VelocityModel`.
        receivers_km: ``[n_receivers, 3]`` km.
        sources_km: ``[n_events, 3]`` km.
        split: ``[n_events]`` split codes.
        config: :class:`~jaxseis.simulate.SolverConfig` (default settings when ``None``).
        provenance: extra entries recorded with the data (e.g. the seed).
        progress: called with a one-line message after each simulation (``None``: silent).
    """
    from jaxseis.simulate import SolverConfig, check_config, reciprocal_traces

    config = SolverConfig() if config is None else config
    receivers = check_points(receivers_km, "receivers_km", model.grid)
    sources = check_points(sources_km, "sources_km", model.grid)
    dt_solver = check_config(model, config)
    traces = []
    for i, r in enumerate(receivers):
        tic = time.perf_counter()
        traces.append(reciprocal_traces(model, r, sources, config))
        if progress is not None:
            progress(
                f"receiver {i + 1}/{len(receivers)} at ({r[0]:.4f}, {r[1]:.4f}, {r[2]:.4f}) km: "
                f"{len(sources)} traces in {time.perf_counter() - tic:.1f} s"
            )
    prov = {
        "model": model.name,
        "grid": grid_to_dict(model.grid),
        "solver": {**config._asdict(), "dt": dt_solver, "source_delay": config.t0},
        "method": "reciprocity: one simulation per receiver, source at the receiver",
        "units": {"traces": "Pa", "positions": "km", "dt": "s"},
        "source": "volume injection, volume acceleration = unit-peak Ricker (m^3/s^2)",
        "jaxseis_version": _version(),
    }
    prov.update(provenance or {})
    return _validate(Dataset(sources, receivers, np.stack(traces), config.record_dt, split, prov))


def _version() -> str:
    from jaxseis import __version__

    return __version__


def make_benchmark(
    seed: int = BENCHMARK_SEED,
    n_events: int = 4000,
    n_train: int = 2000,
    n_validation: int = 1000,
    model=None,
    config=None,
    receivers_km=None,
    progress: Callable[[str], None] | None = print,
) -> Dataset:
    """The benchmark dataset: Latin-hypercube sources, traces at the 5 benchmark receivers.

    With the defaults this regenerates ``jaxseis/data/benchmark.h5`` to float32 round-off.
    """
    from jaxseis.velocity import marine_model

    model = marine_model() if model is None else model
    receivers = benchmark_receivers_km(model.grid) if receivers_km is None else receivers_km
    sources = latin_hypercube_nodes(n_events, seed, model.grid)
    split = split_indices(n_events, n_train, n_validation, seed)
    return simulate_dataset(
        model, receivers, sources, split, config,
        provenance={"seed": seed, "sampling": "latin hypercube on grid nodes", "name": "benchmark"},
        progress=progress,
    )  # fmt: skip


def make_dense(
    n_train: int = 20000,
    seed: int = DENSE_SEED,
    benchmark: Dataset | None = None,
    model=None,
    config=None,
    progress: Callable[[str], None] | None = print,
) -> Dataset:
    """A dense training set from one reciprocal simulation per benchmark receiver.

    Sources: ``n_train`` extra grid nodes drawn uniformly (never a benchmark node), all labelled
    train, plus every benchmark event with its benchmark split label, so the benchmark's
    validation and test events stay held out and the benchmark's own training events remain
    training events. Traces of the benchmark events equal the bundled ones (same simulation).
    """
    from jaxseis.velocity import marine_model

    model = marine_model() if model is None else model
    bench = load_benchmark() if benchmark is None else benchmark
    extra = random_nodes(n_train, seed, model.grid, exclude_km=bench.sources)
    sources = np.concatenate([bench.sources, extra])
    split = np.concatenate([bench.split, np.zeros(n_train, dtype=np.int8)])
    return simulate_dataset(
        model, bench.receivers, sources, split, config,
        provenance={"seed": seed, "sampling": "benchmark + uniform grid nodes", "name": "dense",
                    "n_extra_train": n_train},
        progress=progress,
    )  # fmt: skip


def make_paper_event(model=None, config=None, receivers_km=None) -> Dataset:
    """The paper's event at (0.375, 0.3, 1.57) km simulated directly at the 23 receivers.

    Returned as a one-event :class:`Dataset` labelled test, noise-free.
    """
    from jaxseis.simulate import SolverConfig, check_config, simulate
    from jaxseis.velocity import marine_model

    model = marine_model() if model is None else model
    config = SolverConfig() if config is None else config
    receivers = layout_23_km(model.grid) if receivers_km is None else receivers_km
    traces = simulate(model, PAPER_EVENT_KM, receivers, config)
    prov = {
        "model": model.name,
        "grid": grid_to_dict(model.grid),
        "solver": {
            **config._asdict(),
            "dt": check_config(model, config),
            "source_delay": config.t0,
        },
        "method": "direct: source at the event, recorded at the receivers",
        "units": {"traces": "Pa", "positions": "km", "dt": "s"},
        "name": "paper_event",
        "noise": "none (add it at inference time from a seed)",
        "jaxseis_version": _version(),
    }
    return _validate(
        Dataset(PAPER_EVENT_KM[None, :], np.asarray(receivers), traces[:, None, :],
                config.record_dt, np.array([2], dtype=np.int8), prov)
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Bundled and cached files
# --------------------------------------------------------------------------------------------


def bundled_path(name: str) -> Path:
    """Path of a bundled data file (``"benchmark.h5"`` or ``"paper_event.h5"``)."""
    return Path(str(resources.files("jaxseis") / "data" / name))


def load_benchmark() -> Dataset:
    """The bundled benchmark dataset (4000 events x 5 receivers)."""
    return load(bundled_path("benchmark.h5"))


def load_paper_event() -> Dataset:
    """The bundled noise-free direct simulation of the paper's event at the 23 receivers."""
    return load(bundled_path("paper_event.h5"))


def load_dense(path: str | Path | None = None, *, create: bool = False, **kwargs) -> Dataset:
    """The dense training set from the cache; generated (about 1 min per receiver) if
    ``create`` and absent. ``kwargs`` go to :func:`make_dense`."""
    path = cache_dir() / "dense.h5" if path is None else Path(path)
    if not path.exists():
        if not create:
            raise FileNotFoundError(
                f"dense dataset not found at {path}; run `jaxseis simulate dense` to make it"
            )
        save(make_dense(**kwargs), path)
    return load(path)
