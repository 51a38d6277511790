"""Velocity and density models: the bundled 3-D marine model and user models.

Arrays are indexed ``[ix, iy, iz]`` on a :class:`~jaxseis.geometry.Grid`, with ``iz`` increasing
upward (``z`` is the height above the model bottom, in km). Velocities are in m/s, densities in
kg/m^3. NonLinLoc model grids are read and written by :mod:`jaxseis.io.nll_grid`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxseis.geometry import DEFAULT_GRID, SEABED_Z_KM, Grid, check_grid, real_array

__all__ = [
    "MARINE_LAYERS",
    "VelocityModel",
    "from_arrays",
    "gardner_density",
    "marine_model",
]

WATER_VP = 1500.0
WATER_RHO = 1000.0


class VelocityModel(NamedTuple):
    """P-wave velocity and density on a grid.

    Attributes:
        vp: P-wave velocity, ``[nx, ny, nz]`` in m/s.
        rho: density, ``[nx, ny, nz]`` in kg/m^3.
        grid: the grid the arrays live on.
        name: a short label recorded in dataset provenance.
    """

    vp: np.ndarray
    rho: np.ndarray
    grid: Grid = DEFAULT_GRID
    name: str = "user"

    @property
    def bulk_modulus(self) -> np.ndarray:
        """Bulk modulus ``K = rho * vp**2`` in Pa, ``[nx, ny, nz]``."""
        return self.rho * self.vp**2

    def summary(self) -> str:
        """One-line description of the model."""
        return (
            f"{self.name}: grid {self.grid.shape}, vp {self.vp.min():.0f}-{self.vp.max():.0f} m/s, "
            f"rho {self.rho.min():.0f}-{self.rho.max():.0f} kg/m3"
        )


def gardner_density(vp: np.ndarray) -> np.ndarray:
    """Gardner et al. (1974) density ``rho = 310 * vp**0.25`` (vp in m/s, rho in kg/m^3)."""
    return 310.0 * np.asarray(vp, dtype=np.float64) ** 0.25


def from_arrays(vp, rho=None, grid: Grid = DEFAULT_GRID, name: str = "user") -> VelocityModel:
    """Build a validated model from a user's arrays.

    Args:
        vp: P-wave velocity ``[nx, ny, nz]`` in m/s, ``z`` increasing upward.
        rho: density ``[nx, ny, nz]`` in kg/m^3; Gardner's relation from ``vp`` when omitted.
        grid: the grid the arrays are sampled on; its shape must match the arrays.
        name: label stored in provenance.

    Raises:
        ValueError: on a bad grid, a shape mismatch, complex, NaN, infinite or non-positive
            values, or values that look like km/s (``vp``) or g/cm^3 (``rho``).
    """
    grid = check_grid(grid)
    vp = real_array(vp, "vp")
    if vp.size and np.all(np.isfinite(vp)) and 0 < vp.max() <= _KM_LIKE_MAX:
        raise ValueError(
            f"vp looks like km/s (largest value {vp.max():g}); give it in m/s (multiply by 1000)"
        )
    rho = gardner_density(vp) if rho is None else real_array(rho, "rho")
    if rho.size and np.all(np.isfinite(rho)) and 0 < rho.max() <= _KM_LIKE_MAX:
        raise ValueError(
            f"rho looks like g/cm^3 (largest value {rho.max():g}); give it in kg/m^3 "
            "(multiply by 1000)"
        )
    for label, arr in (("vp", vp), ("rho", rho)):
        if arr.shape != tuple(grid.shape):
            raise ValueError(
                f"{label} has shape {arr.shape} but the grid has shape {tuple(grid.shape)}"
            )
        if not np.all(np.isfinite(arr)):
            n = int(np.sum(~np.isfinite(arr)))
            raise ValueError(f"{label} contains {n} NaN or infinite values")
        if np.any(arr <= 0):
            n = int(np.sum(arr <= 0))
            raise ValueError(f"{label} must be positive everywhere; {n} values are <= 0")
    return VelocityModel(vp=vp, rho=rho, grid=grid, name=name)


_KM_LIKE_MAX = 20.0
"""Largest ``vp`` (``rho``) read as km/s (g/cm^3) by mistake: no rock or fluid has a P
velocity of 20 m/s or a density of 20 kg/m^3."""


class _Layer(NamedTuple):
    depth_km: float  # nominal depth of the layer top below the seabed
    vp_top: float  # m/s at the top of the layer
    gradient: float  # m/s per km of depth inside the layer


MARINE_LAYERS: tuple[_Layer, ...] = (
    _Layer(0.00, 1650.0, 600.0),
    _Layer(0.10, 1850.0, 500.0),
    _Layer(0.24, 2100.0, 450.0),
    _Layer(0.42, 2380.0, 400.0),
    _Layer(0.64, 2700.0, 350.0),
    _Layer(0.90, 3000.0, 300.0),
    _Layer(1.18, 3350.0, 300.0),
    _Layer(1.50, 3700.0, 250.0),
    _Layer(1.84, 4050.0, 250.0),
    _Layer(2.14, 4350.0, 250.0),
)
"""The layers below the seabed of the bundled marine model (10 layers)."""


def _interface_depths(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Depth below the seabed (km) of the top of layers 1..9 at plan positions ``x, y`` (km).

    Each interface dips (up to about 3 degrees, in a direction that rotates with depth) and
    undulates (amplitude 6-20 m, wavelengths 0.35-0.9 km), so that the model is truly 3-D.
    """
    depths = []
    for k, layer in enumerate(MARINE_LAYERS[1:], start=1):
        azimuth = 0.35 + 0.55 * k  # radians: dip direction rotates with depth
        dip = 0.02 + 0.004 * k  # km of depth per km horizontally (1.1 to 3.3 degrees)
        amp = 0.006 + 0.0015 * k  # km
        lam1 = 0.9 - 0.05 * k
        lam2 = 0.55 - 0.02 * k
        plane = dip * ((x - 0.5) * np.cos(azimuth) + (y - 0.5) * np.sin(azimuth))
        wave = amp * (
            np.sin(2 * np.pi * x / lam1 + 0.7 * k) * np.cos(2 * np.pi * y / lam2 - 0.3 * k)
            + 0.5 * np.sin(2 * np.pi * (x + y) / (0.8 * lam1) + 1.3 * k)
        )
        depths.append(layer.depth_km + plane + wave)
    depths = np.stack(depths, axis=0)
    # keep at least 30 m between consecutive interfaces and 40 m below the seabed
    depths[0] = np.maximum(depths[0], 0.04)
    for k in range(1, depths.shape[0]):
        depths[k] = np.maximum(depths[k], depths[k - 1] + 0.03)
    return depths


def _lateral_perturbation(x, y, z) -> np.ndarray:
    """Smooth relative Vp perturbation in [-1, 1] (deterministic sum of 3-D harmonics)."""
    p = (
        np.sin(2 * np.pi * x / 0.7 + 0.4) * np.cos(2 * np.pi * y / 0.6 - 1.1)
        + 0.6 * np.sin(2 * np.pi * (x - y) / 0.45 + 2.0) * np.cos(2 * np.pi * z / 0.8)
        + 0.4 * np.cos(2 * np.pi * (0.6 * x + y) / 0.35 - 0.5)
    )
    return p / 2.0


def marine_model(grid: Grid = DEFAULT_GRID, lateral_variation: float = 0.03) -> VelocityModel:
    """The bundled deterministic 3-D marine model.

    Water (1500 m/s, 1000 kg/m^3) above the flat seabed at ``z = 2.43`` km; below it ten
    sediment and rock layers (:data:`MARINE_LAYERS`) whose Vp rises from 1650 m/s at the seabed
    to about 4500 m/s at the bottom of the model, with a vertical gradient inside each layer,
    interfaces that dip by 1-3 degrees and undulate by 6-20 m, and a smooth lateral Vp
    perturbation of ``lateral_variation`` (3 % by default). Density follows Gardner's relation.

    Args:
        grid: the grid on which to sample the model (the paper's 81 x 81 x 301 by default).
        lateral_variation: relative amplitude of the lateral Vp perturbation below the seabed.
    """
    xs, ys, zs = grid.axes_km()
    x, y, z = np.meshgrid(xs, ys, zs, indexing="ij")
    depth = SEABED_Z_KM - z  # km below the seabed; negative in the water
    tops = _interface_depths(x[:, :, 0], y[:, :, 0])  # [9, nx, ny]

    layer = np.zeros(x.shape, dtype=np.int64)
    for k in range(tops.shape[0]):
        layer += (depth >= tops[k][:, :, None]).astype(np.int64)
    vp_top = np.array([lay.vp_top for lay in MARINE_LAYERS])[layer]
    gradient = np.array([lay.gradient for lay in MARINE_LAYERS])[layer]
    all_tops = np.concatenate([np.zeros((1, *tops.shape[1:])), tops], axis=0)
    top_here = np.take_along_axis(
        np.broadcast_to(all_tops[:, :, :, None], (all_tops.shape[0], *x.shape)), layer[None], 0
    )[0]
    vp = vp_top + gradient * (depth - top_here)
    vp = vp * (1.0 + lateral_variation * _lateral_perturbation(x, y, z))

    water = depth < 0
    vp = np.where(water, WATER_VP, vp)
    rho = np.where(water, WATER_RHO, gardner_density(vp))
    return from_arrays(vp, rho, grid=grid, name="marine-10-layer-v1")
