"""Confidence ellipsoids: chi-square scaling, QuakeML's Tait-Bryan angles, NonLinLoc's axes."""

import math

import numpy as np
import pytest
from scipy.stats import chi2

from jaxseis.io.ellipsoid import (
    Ellipsoid,
    chi2_scale,
    confidence_ellipsoid,
    ellipsoid_covariance,
    horizontal_ellipse,
    nonlinloc_ellipsoid,
)


def _random_cov(seed, scales=(1.0, 2.0, 5.0)):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q @ np.diag(np.square(scales)) @ q.T


def test_chi2_scale_covers_the_stated_probability():
    # NonLinLoc's 68 % values 3.53 (3-D) and 2.30 (2-D) are the 68.3 % quantiles
    assert chi2_scale(68.3, 3) ** 2 == pytest.approx(3.53, abs=3e-3)
    assert chi2_scale(68.3, 2) ** 2 == pytest.approx(2.30, abs=3e-3)
    assert chi2_scale(95.0, 3) ** 2 == pytest.approx(7.8147, abs=1e-4)
    # Monte Carlo: the fraction of Gaussian draws inside the 90 % ellipsoid
    cov = _random_cov(1)
    x = np.random.default_rng(2).multivariate_normal(np.zeros(3), cov, size=200_000)
    inside = np.einsum("ni,ij,nj->n", x, np.linalg.inv(cov), x) <= chi2_scale(90.0, 3) ** 2
    assert inside.mean() == pytest.approx(0.90, abs=0.003)


@pytest.mark.parametrize("seed", range(6))
def test_ellipsoid_axes_and_inverse(seed):
    cov = _random_cov(seed)
    k = chi2_scale(68.0, 3)
    e = confidence_ellipsoid(cov, k)
    lam = np.linalg.eigvalsh(cov)
    np.testing.assert_allclose([e.semi_minor, e.semi_intermediate, e.semi_major],
                               k * np.sqrt(lam), rtol=1e-12)  # fmt: skip
    assert 0 <= e.plunge_deg <= 90 and 0 <= e.azimuth_deg < 360 and 0 <= e.rotation_deg < 180
    np.testing.assert_allclose(ellipsoid_covariance(e, k), cov, atol=1e-12)


def test_quakeml_angle_conventions():
    """North-east-down frame: azimuth from north towards east, plunge positive down,
    rotation turning the minor axis down."""
    # major axis north, minor east, intermediate down: all angles 0
    e = confidence_ellipsoid(np.diag([9.0, 1.0, 4.0]), 1.0)
    assert (e.semi_major, e.semi_minor, e.semi_intermediate) == pytest.approx((3, 1, 2))
    assert (e.plunge_deg, e.azimuth_deg, e.rotation_deg) == pytest.approx((0, 0, 0), abs=1e-9)
    # major axis east: azimuth 90
    e = confidence_ellipsoid(np.diag([1.0, 9.0, 4.0]), 1.0)
    assert (e.plunge_deg, e.azimuth_deg) == pytest.approx((0, 90), abs=1e-9)
    # major axis straight down: plunge 90
    assert confidence_ellipsoid(np.diag([1.0, 4.0, 9.0]), 1.0).plunge_deg == pytest.approx(90)
    # major axis pointing north-east and 30 degrees down
    axis = np.array([math.cos(math.radians(30)) * np.sqrt(0.5)] * 2 + [math.sin(math.radians(30))])
    e = confidence_ellipsoid(np.outer(axis, axis) * 24 + np.eye(3), 1.0)
    assert (e.plunge_deg, e.azimuth_deg) == pytest.approx((30, 45), abs=1e-9)
    # minor axis turned from east towards down: rotation 90 makes it point down
    e = confidence_ellipsoid(np.diag([9.0, 4.0, 1.0]), 1.0)  # major N, minor down, inter. E
    assert e.rotation_deg == pytest.approx(90, abs=1e-9)


def test_horizontal_ellipse():
    h = horizontal_ellipse(np.array([[1.0, 0.0], [0.0, 4.0]]), 2.0)  # elongated east
    assert h == pytest.approx((2.0, 4.0, 90.0))
    c = np.array([[2.5, 1.5], [1.5, 2.5]])  # major axis north-east
    assert horizontal_ellipse(c, 1.0).azimuth_major_deg == pytest.approx(45.0)
    assert horizontal_ellipse(c, 1.0).semi_major == pytest.approx(2.0)


def test_nonlinloc_ellipsoid_axes():
    """Axes sorted smallest first, azimuth from y towards x, dip positive down (depth)."""
    cov = np.diag([4.0, 1.0, 9.0])  # (x, y, depth): smallest along y, intermediate along x
    e = nonlinloc_ellipsoid(cov, 3.53)
    k = math.sqrt(3.53)
    assert (e.len1, e.len2, e.len3) == pytest.approx((k, 2 * k, 3 * k))
    assert (e.az1, e.dip1) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert (e.az2 % 180, e.dip2) == pytest.approx((90.0, 0.0), abs=1e-9)
    assert nonlinloc_ellipsoid(np.zeros((3, 3))) is None
    assert chi2.cdf(3.53, 3) == pytest.approx(0.683, abs=1e-3)


@pytest.mark.parametrize(
    "cov, match",
    [
        (np.eye(2), "must be 3 x 3"),
        (np.full((3, 3), np.nan), "NaN or infinite"),
        (np.array([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]), "not symmetric"),
        (np.diag([1.0, -1.0, 1.0]), "not positive semi-definite"),
    ],
)
def test_bad_covariances(cov, match):
    with pytest.raises(ValueError, match=match):
        confidence_ellipsoid(cov, 1.0)


@pytest.mark.parametrize("args, match", [((0.0, 3), "confidence_level"), ((68.0, 0), "dof")])
def test_bad_scales(args, match):
    with pytest.raises(ValueError, match=match):
        chi2_scale(*args)


def test_ellipsoid_is_a_named_tuple():
    assert Ellipsoid._fields[:3] == ("semi_major", "semi_minor", "semi_intermediate")
