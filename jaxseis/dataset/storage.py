"""Dataset files: HDF5 with a format version, checksums and validation on load.

Shuffle + gzip compression, readable from any language. Traces are stored either as float32
or (the default ``"q23"``) quantised to ``2**-23`` of each trace's peak as second
differences, which compress to under half the size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jaxseis.dataset.container import Dataset, provenance_json, validate_dataset
from jaxseis.files import atomic_path

__all__ = ["FORMAT_VERSION", "QUANT_BITS", "load", "save"]

FORMAT_VERSION = 1
"""Version of the dataset file format this jaxseis writes and reads."""

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
    ds = validate_dataset(ds)
    provenance = provenance_json(ds.provenance)
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
    return validate_dataset(ds, where=str(path))


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
