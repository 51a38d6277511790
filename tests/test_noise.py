"""Noise models: validation, per-bin variances, Welch estimates and seeded generators."""

import jax
import numpy as np
import pytest

from jaxseis import noise as nz
from jaxseis.observation import draw_noise

DT, N = 0.004, 501


def test_white_noise_is_a_flat_spectrum():
    sigma = np.array([0.5, 2.0])
    white = nz.per_bin_variance(nz.WhiteNoise(sigma), N, DT)
    flat = nz.ColouredNoise(np.repeat((2 * sigma**2 * DT)[:, None], N // 2 + 1, axis=1), DT)
    np.testing.assert_allclose(nz.per_bin_variance(flat, N, DT), white, rtol=1e-12)
    assert white.shape == (2, N // 2 + 1)
    c = nz.rfft_weights(N)
    assert c.sum() == N and c[0] == 1 and np.all(c[1:] == 2)  # odd n: no Nyquist bin
    assert nz.rfft_weights(8).tolist() == [1, 2, 2, 2, 1]


@pytest.mark.parametrize(
    "noise, match",
    [
        (nz.WhiteNoise(np.array([1.0, 0.0])), "finite and > 0"),
        (nz.WhiteNoise(np.array([1.0, 2.0, 3.0])), "one value per receiver"),
        (nz.ColouredNoise(np.ones((2, 10)), DT), r"must be \[2, 251\]"),
        (nz.ColouredNoise(np.zeros((2, 251)), DT), r"receiver\(s\) \[0, 1\] has zeros"),
        (nz.ColouredNoise(np.full((2, 251), np.nan), DT), "non-finite"),
        (nz.ColouredNoise(np.ones((2, 251)), 0.002), "dt = 0.002 s"),
        (np.ones(3), "WhiteNoise or ColouredNoise"),
    ],
)
def test_check_noise_errors(noise, match):
    with pytest.raises(ValueError, match=match):
        nz.check_noise(noise, 2, N, DT)


def test_welch_estimate_of_white_noise_is_flat_at_its_level():
    rng = np.random.default_rng(0)
    x = 0.7 * rng.standard_normal((2, 20 * N))
    model = nz.estimate_noise(x, DT, N)
    s_k = nz.per_bin_variance(model, N, DT)
    assert model.psd.shape == (2, N // 2 + 1)
    np.testing.assert_allclose(np.median(s_k, axis=1), 0.49, rtol=0.08)
    assert np.all(np.abs(s_k / 0.49 - 1) < 0.6)  # no bin far off, DC and Nyquist included


def test_welch_estimate_recovers_a_marine_spectrum():
    """Coloured noise drawn with the marine-like spectrum (microseism peak, falling background)
    is estimated within 25 % (median over frequency) of the true spectrum."""
    model_true = nz.coloured_psd(nz.marine_psd, 1, N, DT, sigma=1.0)
    x = nz.coloured_noise(jax.random.key(3), nz.marine_psd, 1, 40 * N, DT, sigma=1.0)
    est = nz.estimate_noise(x, DT, N)
    ratio = est.psd[0, 2:] / model_true.psd[0, 2:]  # above the lowest (segment-limited) bins
    assert abs(np.median(ratio) - 1) < 0.25
    assert model_true.psd[0, 1] > 5 * model_true.psd[0, -1]  # it is coloured


def test_coloured_noise_is_seeded_and_scaled():
    a = nz.coloured_noise(jax.random.key(1), nz.marine_psd, 3, N, DT, sigma=[1.0, 2.0, 3.0])
    b = nz.coloured_noise(jax.random.key(1), nz.marine_psd, 3, N, DT, sigma=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a, b)
    long = nz.coloured_noise(jax.random.key(2), nz.marine_psd, 3, 100 * N, DT, sigma=[1, 2, 3])
    np.testing.assert_allclose(long.std(axis=1), [1.0, 2.0, 3.0], rtol=0.1)


def test_drawn_noise_has_the_model_spectrum():
    """Noise drawn from a ColouredNoise model has E|X_k|^2 = n S_k (its Whittle model)."""
    f = np.fft.rfftfreq(64, DT)
    model = nz.ColouredNoise(np.stack([nz.marine_psd(f), 2 * nz.marine_psd(f)]), DT)
    draws = np.stack([draw_noise(jax.random.key(i), model, 64) for i in range(2000)])
    power = np.mean(np.abs(np.fft.rfft(draws, axis=-1)) ** 2, axis=0) / 64
    np.testing.assert_allclose(power / nz.per_bin_variance(model, 64, DT), 1.0, atol=0.15)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.full((1, 400), np.nan), "NaN"),
        (np.ones((2, 400)), "flat"),
        (np.random.default_rng(0).normal(size=(1, 20)), "at least 32"),
        (np.zeros((2, 2, 2)), "n_receivers, n_noise"),
    ],
)
def test_estimate_noise_errors(x, match):
    with pytest.raises(ValueError, match=match):
        nz.estimate_noise(x, DT, N)


def test_default_sigma():
    assert nz.default_sigma(-100.0) == pytest.approx(5.6)
    with pytest.raises(ValueError, match="non-zero"):
        nz.default_sigma(0.0)
