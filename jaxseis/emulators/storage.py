"""Emulator files: one ``.npz`` holding the arrays and a JSON header.

The header carries the format version, the family, its configuration, the model grid and the
training box. Files are written atomically (:func:`jaxseis.files.atomic_path`). Loading checks
the header's schema and every array's shape, dtype and values against the family
(:mod:`jaxseis.emulators.schema`) and refuses a corrupt file, or one of another version or
family, with one clear error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators import schema
from jaxseis.emulators.base import Emulator
from jaxseis.emulators.domain import check_receiver, derive_training_box, training_box
from jaxseis.emulators.registry import families
from jaxseis.files import atomic_path, json_ready
from jaxseis.geometry import DEFAULT_GRID, check_grid, grid_from_dict, grid_to_dict
from jaxseis.gp import GaussianProcesses
from jaxseis.preprocess import Alignment, Standardizer

__all__ = ["FORMAT_VERSION", "load", "save"]

FORMAT_VERSION = 1
"""Version of the emulator file format this jaxseis writes and reads."""


def _flatten(tree, prefix: str, out: dict) -> None:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, f"{prefix}/{k}", out)
    else:
        out[prefix] = np.asarray(tree)


def _unflatten(flat: dict, prefix: str) -> dict:
    root: dict = {}
    for key, value in flat.items():
        if not key.startswith(prefix + "/"):
            continue
        parts = key[len(prefix) + 1 :].split("/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(_key(p), {})
        node[_key(parts[-1])] = value
    return root


def _key(p: str):
    return int(p) if p.isdigit() else p


def save(emulator: Emulator, path: str | Path) -> Path:
    """Save an emulator as ``.npz``: arrays plus a JSON header (format version, family, config,
    grid, training box).

    The file is written atomically (:func:`jaxseis.files.atomic_path`): concurrent savers of
    one path leave one complete file, and an interrupted save leaves the old file (or none)
    and at most a temporary ``.NAME.<random>.partial`` that no ``*.npz`` pattern matches.
    Non-finite numbers in ``info`` (a training record) are stored as ``null``.

    Raises:
        ValueError: if the configuration is not JSON-serialisable or the arrays are not finite.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    _flatten(emulator.core, "core", arrays)
    arrays["feature_scaler/mean"] = np.asarray(emulator.feature_scaler.mean)
    arrays["feature_scaler/std"] = np.asarray(emulator.feature_scaler.std)
    if emulator.peak_gps is not None:
        g = emulator.peak_gps
        for name in ("x", "alpha", "log_amp", "log_scales", "log_noise", "y_mean", "y_std"):
            arrays[f"peak_gps/{name}"] = np.asarray(getattr(g, name))
        arrays["peak_gps/x_scaler_mean"] = np.asarray(g.x_scaler.mean)
        arrays["peak_gps/x_scaler_std"] = np.asarray(g.x_scaler.std)
    bad = [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.all(np.isfinite(a))]
    if bad:
        raise ValueError(f"cannot save an emulator with NaN or infinite parameters ({bad[0]})")
    grid = check_grid(emulator.grid)
    check_receiver(emulator.receiver_km, grid, "cannot save the emulator")
    header = {
        "format": "jaxseis.Emulator",
        "format_version": FORMAT_VERSION,
        "kind": emulator.kind,
        "receiver_km": np.asarray(emulator.receiver_km).tolist(),
        "dt": emulator.dt,
        "n_samples": emulator.n_samples,
        "alignment": None if emulator.alignment is None else emulator.alignment._asdict(),
        "config": emulator.config,
        "info": _nulls_for_nonfinite(emulator.info),
        "grid": grid_to_dict(grid),
        "training_box_km": np.stack(training_box(emulator)).tolist(),
    }
    try:
        text = json.dumps(json_ready(header), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot save the emulator: its header is not JSON ({err})") from None
    arrays["__header__"] = np.frombuffer(text.encode(), dtype=np.uint8)
    # an open file, so that NumPy adds no ".npz" to the temporary name
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def _nulls_for_nonfinite(tree):
    if isinstance(tree, dict):
        return {k: _nulls_for_nonfinite(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_nulls_for_nonfinite(v) for v in tree]
    if isinstance(tree, float | np.floating) and not math.isfinite(tree):
        return None
    return tree


def load(path: str | Path, kind: str | None = None) -> Emulator:
    """Load an emulator saved by :func:`save`, after checking it.

    The header must follow the schema of :mod:`jaxseis.emulators.schema` (a JSON object with
    the required keys and types, a known family); every array (feature standardiser, peak
    GPs, the family's core) must have the shape the header and family imply, a floating
    dtype and finite values; the receiver must lie inside the model grid (the header's
    ``grid``, else :data:`jaxseis.geometry.DEFAULT_GRID`). The training box is read from the
    header or, for files without it, derived from the GPs' training inputs.

    Args:
        path: the ``.npz`` file.
        kind: if given, refuse a file of another family.

    Raises:
        FileNotFoundError: missing file.
        ValueError: not an emulator file, corrupt (one message naming the file and the first
            problem), another format version or family.
    """
    known = families()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"emulator file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            flat = {k: z[k] for k in z.files}
        header = json.loads(flat.pop("__header__").tobytes().decode())
    except Exception as err:  # zip, npy, JSON or decoding errors all mean a corrupt file
        raise ValueError(f"{path} is not a readable jaxseis emulator file ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is corrupt: {schema.check_header(header, known)[0]}")
    if header.get("format") != "jaxseis.Emulator":
        raise ValueError(f"{path} is not a jaxseis emulator file")
    version = header.get("format_version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has emulator format version {version!r}; this jaxseis reads version "
            f"{FORMAT_VERSION}"
        )
    problems = schema.check_header(header, known)
    if problems:
        raise ValueError(f"{path} is corrupt: {_summary(problems)}")
    if kind is not None and header["kind"] != kind:
        raise ValueError(f"{path} holds a {header['kind']!r} emulator, not {kind!r}")
    family = known[header["kind"]]
    try:
        grid = grid_from_dict(header["grid"]) if "grid" in header else DEFAULT_GRID
        check_receiver(header["receiver_km"], grid, str(path))
        expected, described = schema.expected_arrays(family, header)
    except ValueError as err:
        raise ValueError(f"{path} is corrupt: {err}") from None
    problems = schema.check_arrays(flat, expected, described)
    if problems:
        raise ValueError(f"{path} is corrupt: {_summary(problems)}")
    peak = None
    if family.uses_alignment:
        peak = GaussianProcesses(
            x=flat["peak_gps/x"], alpha=flat["peak_gps/alpha"],
            log_amp=flat["peak_gps/log_amp"], log_scales=flat["peak_gps/log_scales"],
            log_noise=flat["peak_gps/log_noise"],
            x_scaler=Standardizer(flat["peak_gps/x_scaler_mean"], flat["peak_gps/x_scaler_std"]),
            y_mean=flat["peak_gps/y_mean"], y_std=flat["peak_gps/y_std"],
        )  # fmt: skip
    box = header.get("training_box_km")
    em = Emulator(
        kind=header["kind"],
        receiver_km=np.asarray(header["receiver_km"], dtype=np.float64),
        dt=float(header["dt"]),
        n_samples=int(header["n_samples"]),
        feature_scaler=Standardizer(flat["feature_scaler/mean"], flat["feature_scaler/std"]),
        alignment=None if header["alignment"] is None else Alignment(**header["alignment"]),
        peak_gps=peak,
        core=_unflatten(flat, "core"),
        config=header["config"],
        info=header["info"],
        grid=grid,
        training_box_km=None if box is None else np.asarray(box, dtype=np.float64),
    )
    if box is None:
        em = em._replace(training_box_km=derive_training_box(em))
    problem = _core_output_problem(family, em)
    if problem:
        raise ValueError(f"{path} is corrupt: {problem}")
    return em


def _summary(problems: list[str]) -> str:
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def _core_output_problem(family, emulator: Emulator) -> str | None:
    """Why the core does not map 4 features to a trace of ``n_samples`` (``None`` if it does)."""
    try:
        fn = family.predict_core(emulator.core, emulator.config)
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((schema.N_FEATURES,), jnp.float32))
    except Exception as err:  # any failure to trace the core means an inconsistent file
        text = str(err).strip().splitlines()
        return f"its core cannot be evaluated ({text[0] if text else type(err).__name__})"
    shape = getattr(out, "shape", None)
    if shape != (emulator.n_samples,):
        return f"its core gives traces of shape {shape}, expected ({emulator.n_samples},)"
    return None
