"""Arrival picking: sub-sample peaks, the matched filter on noisy traces, bad input."""

import numpy as np
import pytest

from jaxseis.picking import DEFAULT_PICK_ERROR_S, pick_arrivals, pick_first_arrival
from jaxseis.simulate import ricker


def test_picker_recovers_sub_sample_arrivals_of_the_wavelet():
    dt, f0, t0 = 0.004, 8.0, 0.1875
    arrivals = np.random.default_rng(3).uniform(0.1, 1.0, size=30)
    t = np.arange(501) * dt
    traces = np.stack([ricker(t, f0, t0 + a) / (1 + a) for a in arrivals])
    picks = pick_arrivals(traces, dt, t0, labels=[f"S{i}" for i in range(30)])
    assert np.abs(picks.times_s - arrivals).max() < 0.25e-3
    assert picks.labels[3] == "S3"
    np.testing.assert_array_equal(picks.errors_s, np.full(30, DEFAULT_PICK_ERROR_S))


def test_matched_filter_picks_noisy_traces():
    dt, f0, t0 = 0.004, 8.0, 0.1875
    rng = np.random.default_rng(4)
    arrivals = rng.uniform(0.2, 1.0, size=40)
    t = np.arange(501) * dt
    traces = np.stack([ricker(t, f0, t0 + a) for a in arrivals])
    noisy = traces + 0.08 * rng.standard_normal(traces.shape)
    picks = pick_arrivals(noisy, dt, t0, wavelet_f0=f0)
    assert np.abs(picks.times_s - arrivals).max() < 2e-3
    clean = pick_first_arrival(traces, dt, t0, wavelet_f0=f0)
    assert np.abs(clean - arrivals).max() < 0.25e-3  # the filter keeps the peak time
    plain = pick_first_arrival(noisy, dt, t0)
    assert np.abs(plain - arrivals).max() > 0.05  # without it, noise peaks are picked


@pytest.mark.parametrize(
    "traces, kwargs, match",
    [
        (np.zeros((2, 50)), {}, "no arrival found"),
        (np.ones(50), {}, r"\[n, n_samples\]"),
        (np.ones((2, 50)), {"error_s": -0.001}, ">= 0"),
        (np.ones((2, 50)), {"labels": ["A"]}, "1 labels for 2 traces"),
        (np.full((2, 50), np.nan), {}, "NaN"),
        (np.ones((2, 50)), {"wavelet_f0": 0.0}, "positive frequency"),
    ],
)
def test_picker_bad_input(traces, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pick_arrivals(traces, 0.004, 0.1875, **kwargs)
