"""Confidence ellipsoids and ellipses of a position covariance, in QuakeML's and NonLinLoc's terms.

**Scaling.** For a Gaussian posterior with covariance ``C``, the region
``d^T C^-1 d <= k^2`` holds probability ``p`` when ``k^2`` is the ``p`` quantile of the
chi-square distribution with as many degrees of freedom as dimensions (3 for the ellipsoid, 2
for the horizontal ellipse); the semi-axes are ``k sqrt(lambda_i)`` with ``lambda_i`` the
eigenvalues of ``C`` (:func:`chi2_scale`). NonLinLoc uses fixed ``k^2`` values for its 68 %
regions: 3.53 in 3-D and 2.30 in 2-D (68.3 %; :data:`DELTA_CHI2_68_3`, :data:`DELTA_CHI2_68_2`).

**QuakeML's ellipsoid** (``ConfidenceEllipsoid``) is given in the north-east-down frame by its
semi-axes and three Tait-Bryan angles of the intrinsic rotation z-y'-x'' that carries the frame
onto (major, minor, intermediate): ``major_axis_azimuth`` (psi, about down, from north towards
east), ``major_axis_plunge`` (phi, positive when the major axis points down) and
``major_axis_rotation`` (theta, about the major axis, positive when the minor axis turns
down). The body axes are the columns of ``Rz(psi) Ry(-phi) Rx(theta)``. Here the plunge lies in
[0, 90], the azimuth in [0, 360) and the rotation in [0, 180) (the sign of the minor axis is
arbitrary).

**NonLinLoc's ellipsoid** (``STATISTICS`` line) is given in its rectangular frame (x, y,
depth) by the azimuth (from the ``y`` axis towards ``x``), dip (positive down) and length of the
smallest and intermediate axes and the length of the largest.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "DELTA_CHI2_68_2",
    "DELTA_CHI2_68_3",
    "Ellipsoid",
    "HorizontalEllipse",
    "NonLinLocEllipsoid",
    "chi2_scale",
    "confidence_ellipsoid",
    "ellipsoid_covariance",
    "horizontal_ellipse",
    "nonlinloc_ellipsoid",
]

DELTA_CHI2_68_3 = 3.53
"""NonLinLoc's chi-square value of its 68 % confidence ellipsoid (3 degrees of freedom)."""

DELTA_CHI2_68_2 = 2.30
"""NonLinLoc's chi-square value of its 68 % horizontal confidence ellipse (2 degrees of freedom)."""


class Ellipsoid(NamedTuple):
    """A confidence ellipsoid in QuakeML's conventions (lengths in the covariance's units).

    Attributes:
        semi_major, semi_minor, semi_intermediate: semi-axis lengths.
        plunge_deg: plunge of the major axis, degrees in [0, 90] (positive down).
        azimuth_deg: azimuth of the major axis, degrees in [0, 360) clockwise from north.
        rotation_deg: rotation about the major axis, degrees in [0, 180).
    """

    semi_major: float
    semi_minor: float
    semi_intermediate: float
    plunge_deg: float
    azimuth_deg: float
    rotation_deg: float


class HorizontalEllipse(NamedTuple):
    """A horizontal confidence ellipse (lengths in the covariance's units).

    Attributes:
        semi_minor, semi_major: semi-axis lengths.
        azimuth_major_deg: azimuth of the major axis, degrees in [0, 180) clockwise from north.
    """

    semi_minor: float
    semi_major: float
    azimuth_major_deg: float


class NonLinLocEllipsoid(NamedTuple):
    """NonLinLoc's ``STATISTICS`` ellipsoid in its rectangular frame (km, degrees).

    Axis 1 is the smallest, 2 the intermediate, 3 the largest; azimuths are measured from the
    frame's ``y`` axis towards ``x``, in [0, 360); dips are positive down, in [0, 90].
    """

    az1: float
    dip1: float
    len1: float
    az2: float
    dip2: float
    len2: float
    len3: float


def chi2_scale(confidence_level: float, dof: int) -> float:
    """``k`` such that ``d^T C^-1 d <= k^2`` holds ``confidence_level`` percent of a Gaussian
    with ``dof`` dimensions (``k = sqrt(chi2.ppf(level / 100, dof))``).

    Raises:
        ValueError: a level outside (0, 100) or ``dof`` < 1.
    """
    from scipy.stats import chi2

    if not 0 < confidence_level < 100:
        raise ValueError(f"confidence_level must lie in (0, 100) percent, got {confidence_level}")
    if int(dof) != dof or dof < 1:
        raise ValueError(f"dof must be a positive integer, got {dof}")
    return math.sqrt(float(chi2.ppf(confidence_level / 100.0, int(dof))))


def _check_cov(cov, n: int) -> np.ndarray:
    c = np.asarray(cov, dtype=np.float64)
    if c.shape != (n, n):
        raise ValueError(f"covariance must be {n} x {n}, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("covariance holds NaN or infinite values")
    scale = max(float(np.max(np.abs(c))), 1e-300)
    if not np.allclose(c, c.T, rtol=0, atol=1e-9 * scale):
        raise ValueError("covariance is not symmetric")
    return 0.5 * (c + c.T)


def _eigh(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, v = np.linalg.eigh(c)
    top = max(float(w[-1]), 0.0)
    if w[0] < -1e-9 * max(top, 1e-300):
        raise ValueError(f"covariance is not positive semi-definite (eigenvalue {w[0]:.3g})")
    return np.maximum(w, 0.0), v


def _rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _ry(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def confidence_ellipsoid(cov_ned, scale: float) -> Ellipsoid:
    """The ellipsoid ``d^T C^-1 d <= scale^2`` of a north-east-down covariance ``[3, 3]``.

    Semi-axes are ``scale * sqrt(eigenvalues)`` (the covariance's units, e.g. m for m^2);
    angles in QuakeML's conventions (see the module docs).

    Raises:
        ValueError: a covariance that is not 3 x 3, finite, symmetric and positive
            semi-definite.
    """
    w, v = _eigh(_check_cov(cov_ned, 3))
    major, minor = v[:, 2].copy(), v[:, 0].copy()
    if major[2] < 0:
        major = -major
    inter = np.cross(major, minor)
    rot = np.stack([major, minor, inter], axis=1)
    plunge = math.asin(min(1.0, max(-1.0, major[2])))
    azimuth = math.atan2(major[1], major[0])
    m = (_rz(azimuth) @ _ry(-plunge)).T @ rot
    theta = math.degrees(math.atan2(m[2, 1], m[1, 1])) % 180.0
    return Ellipsoid(
        semi_major=scale * math.sqrt(w[2]),
        semi_minor=scale * math.sqrt(w[0]),
        semi_intermediate=scale * math.sqrt(w[1]),
        plunge_deg=math.degrees(plunge),
        azimuth_deg=math.degrees(azimuth) % 360.0,
        rotation_deg=theta,
    )


def ellipsoid_covariance(ellipsoid: Ellipsoid, scale: float) -> np.ndarray:
    """The north-east-down covariance ``[3, 3]`` whose ``scale`` ellipsoid is ``ellipsoid``
    (the inverse of :func:`confidence_ellipsoid`)."""
    e = ellipsoid
    rot = (
        _rz(math.radians(e.azimuth_deg))
        @ _ry(-math.radians(e.plunge_deg))
        @ _rx(math.radians(e.rotation_deg))
    )
    lengths = np.array([e.semi_major, e.semi_minor, e.semi_intermediate]) / scale
    return rot @ np.diag(lengths**2) @ rot.T


def horizontal_ellipse(cov_ne, scale: float) -> HorizontalEllipse:
    """The ellipse ``d^T C^-1 d <= scale^2`` of a north-east covariance ``[2, 2]``."""
    w, v = _eigh(_check_cov(cov_ne, 2))
    n, e = v[:, 1]
    return HorizontalEllipse(
        semi_minor=scale * math.sqrt(w[0]),
        semi_major=scale * math.sqrt(w[1]),
        azimuth_major_deg=math.degrees(math.atan2(e, n)) % 180.0,
    )


def nonlinloc_ellipsoid(
    cov_local, delta_chi2: float = DELTA_CHI2_68_3
) -> NonLinLocEllipsoid | None:
    """NonLinLoc's ``STATISTICS`` ellipsoid of a covariance in its frame (x, y, depth), km^2.

    Semi-axes are ``sqrt(delta_chi2 * eigenvalue)`` (km). Returns ``None`` for a zero
    covariance (NonLinLoc then writes -1 for every value).
    """
    c = _check_cov(cov_local, 3)
    if not np.any(c):
        return None
    w, v = _eigh(c)

    def az_dip(axis):
        if axis[2] < 0:
            axis = -axis
        az = math.degrees(math.atan2(axis[0], axis[1])) % 360.0
        return az, math.degrees(math.asin(min(1.0, axis[2])))

    az1, dip1 = az_dip(v[:, 0])
    az2, dip2 = az_dip(v[:, 1])
    k = math.sqrt(delta_chi2)
    return NonLinLocEllipsoid(
        az1, dip1, k * math.sqrt(w[0]), az2, dip2, k * math.sqrt(w[1]), k * math.sqrt(w[2])
    )
