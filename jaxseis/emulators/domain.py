"""Where an emulator may be used: its model grid and its training box.

An emulator is fitted on sources of one model grid, inside a box (the smallest axis-aligned
box holding its training sources). Outside the grid it has no meaning: :func:`check_sources`
refuses such sources with a clear error, with a hint when the numbers look like metres.
Between the training box and the grid edge it extrapolates (in the water above the seabed,
for instance); what happens there is the user's choice, ``policy``:

* ``"warn"`` (default): a :class:`DomainWarning` saying how many sources lie outside the box;
* ``"error"``: a ``ValueError``;
* ``"ignore"``: nothing.

Emulators know their grid and training box (``Emulator.grid`` and ``Emulator.training_box_km``,
stored in the file header by :func:`jaxseis.emulators.save`). For emulators without a stored
box (a header without ``training_box_km``), :func:`training_box` derives it from the
training inputs of the GPs (the peak GPs, or the GPs of the core): their standardised features
``[dx, dy, dz, d]`` relative to the receiver, turned back into positions.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from jaxseis.geometry import DEFAULT_GRID, Grid, check_inside, describe_extent, metres_hint

__all__ = [
    "BOX_TOLERANCE_KM",
    "POLICIES",
    "DomainWarning",
    "check_box",
    "check_policy",
    "check_receiver",
    "check_sources",
    "derive_training_box",
    "training_box",
]

POLICIES = ("warn", "error", "ignore")
"""What to do with sources outside the training box but inside the grid."""

BOX_TOLERANCE_KM = 1e-6
"""Sources this close to the training box (km) count as inside (round-off of the scalers)."""


_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _outside_stacklevel() -> int:
    """``stacklevel`` of the first caller outside the jaxseis package (for warnings)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


class DomainWarning(UserWarning):
    """Sources outside an emulator's training box: its predictions there are extrapolations."""


def check_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`POLICIES`, else ``ValueError``."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    return policy


def derive_training_box(emulator) -> np.ndarray | None:
    """``[2, 3]`` lower and upper corners (km) of the training inputs of the emulator's GPs
    (the peak GPs, else ``core["gps"]``), or ``None`` when it has no GPs.

    The GPs may have been conditioned on a subset of the training sources (see
    :func:`jaxseis.gp.fit_gps`, ``n_condition``): the box is then that of the subset.
    """
    receiver = np.asarray(emulator.receiver_km, dtype=np.float64)
    if emulator.peak_gps is not None:
        g = emulator.peak_gps
        features = np.asarray(g.x) * np.asarray(g.x_scaler.std) + np.asarray(g.x_scaler.mean)
    elif isinstance(emulator.core, dict) and isinstance(emulator.core.get("gps"), dict):
        g = emulator.core["gps"]
        z = np.asarray(g["x"]) * np.asarray(g["x_scaler"]["std"]) + np.asarray(
            g["x_scaler"]["mean"]
        )
        features = emulator.feature_scaler.invert(z)
    else:
        return None
    sources = receiver + np.asarray(features, dtype=np.float64)[:, :3]
    # rounded to 1e-9 km: the scalers leave round-off such as 5.6e-17 at a zero coordinate
    return np.round(np.stack([sources.min(axis=0), sources.max(axis=0)]), 9)


def training_box(emulator) -> tuple[np.ndarray, np.ndarray]:
    """``(lower [3], upper [3])`` km: the box of the emulator's training sources.

    The stored box (``emulator.training_box_km``) if any, else :func:`derive_training_box`,
    else (an emulator of a family without GPs and no stored box) the whole grid.
    """
    box = getattr(emulator, "training_box_km", None)
    if box is None:
        box = derive_training_box(emulator)
    if box is None:
        box = _grid(emulator).extent_km
    box = np.asarray(box, dtype=np.float64)
    return box[0].copy(), box[1].copy()


def _grid(emulator) -> Grid:
    return getattr(emulator, "grid", None) or DEFAULT_GRID


def check_receiver(receiver_km, grid: Grid, where: str = "the emulator") -> None:
    """Raise ``ValueError`` if an emulator's receiver lies outside its grid."""
    r = np.asarray(receiver_km, dtype=np.float64).reshape(3)
    if not (np.all(np.isfinite(r)) and grid.contains(r)):
        raise ValueError(
            f"{where}: its receiver {r.tolist()} km lies outside its grid "
            f"({describe_extent(grid)}){metres_hint(r, grid)}"
        )


def _as_list(emulators) -> list:
    if hasattr(emulators, "receiver_km"):
        return [emulators]
    emulators = list(emulators)
    if not emulators:
        raise ValueError("no emulators given")
    return emulators


def _points(values, name: str) -> np.ndarray:
    if np.iscomplexobj(values):
        raise ValueError(f"{name} must be real numbers (x, y, z in km), got complex values")
    try:
        p = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers (x, y, z in km)") from None
    p = p[None] if p.ndim == 1 else p
    if p.ndim != 2 or p.shape[-1] != 3:
        raise ValueError(f"{name} must have shape [n, 3] (x, y, z in km); got {np.shape(values)}")
    if not np.all(np.isfinite(p)):
        rows = np.flatnonzero(~np.all(np.isfinite(p), axis=1))
        raise ValueError(f"{name} contain NaN or infinite coordinates (rows {rows[:5].tolist()})")
    return p


def check_sources(
    emulators, sources_km, policy: str = "warn", *, name: str = "sources"
) -> np.ndarray:
    """Check sources against emulators' grids and training boxes; returns them ``[n, 3]``.

    Args:
        emulators: an :class:`~jaxseis.emulators.Emulator` or a sequence of them.
        sources_km: ``[n, 3]`` or ``[3]`` positions, km.
        policy: for sources inside the grid but outside a training box: ``"warn"`` (a
            :class:`DomainWarning`), ``"error"`` (``ValueError``) or ``"ignore"``.
        name: what the sources are called in messages.

    Returns:
        The sources as a float64 array ``[n, 3]``.

    Raises:
        ValueError: bad shape, NaN, a source outside an emulator's grid (always), or outside
            a training box with ``policy="error"``.
    """
    check_policy(policy)
    emulators = _as_list(emulators)
    p = _points(sources_km, name)
    for grid in {_grid(e) for e in emulators}:
        check_inside(p, grid, name, "the model grid")
    if policy == "ignore":
        return p
    boxes = [training_box(e) for e in emulators]
    lower = np.max([b[0] for b in boxes], axis=0)
    upper = np.min([b[1] for b in boxes], axis=0)
    tol = BOX_TOLERANCE_KM
    outside = np.any((p < lower - tol) | (p > upper + tol), axis=1)
    if np.any(outside):
        i = int(np.flatnonzero(outside)[0])
        box = ", ".join(
            f"{axis} in [{lower[k]:.4g}, {upper[k]:.4g}]" for k, axis in enumerate("xyz")
        )
        message = (
            f"{int(outside.sum())} of {len(p)} {name} lie outside the emulators' training box "
            f"({box} km), e.g. {name}[{i}] = {np.round(p[i], 6).tolist()} km: the emulators "
            "extrapolate there"
        )
        if policy == "error":
            raise ValueError(message)
        warnings.warn(
            message + " (policy='error' refuses such sources, 'ignore' silences this)",
            DomainWarning,
            stacklevel=_outside_stacklevel(),
        )
    return p


def check_box(
    emulators, lower_km, upper_km, policy: str = "warn", *, name: str = "the prior box"
) -> None:
    """Check an axis-aligned box (e.g. a prior's) against emulators' grids and training boxes.

    The box lies inside a grid or training box exactly when its 8 corners do, so this is
    :func:`check_sources` on the corners (same ``policy`` and errors).
    """
    lo = _points(lower_km, f"{name}'s lower corner")[0]
    hi = _points(upper_km, f"{name}'s upper corner")[0]
    if np.any(lo > hi):
        raise ValueError(f"{name}: lower corner {lo.tolist()} exceeds upper {hi.tolist()} km")
    corners = np.array([[(lo, hi)[b >> k & 1][k] for k in range(3)] for b in range(8)])
    check_sources(emulators, corners, policy, name=f"corners of {name}")
