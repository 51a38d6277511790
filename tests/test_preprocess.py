import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxseis as js
from jaxseis import preprocess as pp


@pytest.fixture(scope="module")
def traces():
    b = js.load_benchmark()
    return b.traces[0, b.indices("train")[:300]], b.dt


def test_fractional_shift_matches_analytic_delay():
    t = np.arange(501) * 0.004
    f = lambda t: np.exp(-(((t - 0.8) / 0.03) ** 2)) * np.cos(2 * np.pi * 8 * (t - 0.8))
    for shift in (0.0, 3.0, -7.25, 12.6):
        out = np.asarray(pp.fractional_shift(jnp.asarray(f(t), jnp.float32), shift))
        np.testing.assert_allclose(out, f(t - shift * 0.004), atol=2e-4)


def test_integer_shift_is_exact_and_zero_filled():
    x = jnp.asarray(np.random.default_rng(0).normal(size=64), jnp.float32)
    out = np.asarray(pp.fractional_shift(x, 5.0))
    np.testing.assert_allclose(out[5:], np.asarray(x[:-5]), atol=1e-6)
    np.testing.assert_allclose(out[:5], 0.0, atol=1e-6)


def _shift_by_definition(x, shift):
    """``y[m] = sum_k x[k] h(m - shift - k)`` with the Kaiser-windowed sinc ``h``, NumPy."""
    a, n = pp.SINC_HALF_WIDTH, len(x)
    u = np.arange(n)[:, None] - shift - np.arange(n)[None, :]
    inside = np.abs(u) < a
    window = np.i0(pp.KAISER_BETA * np.sqrt(np.where(inside, 1 - (u / a) ** 2, 0.0)))
    h = np.where(inside, np.sinc(u) * window / np.i0(pp.KAISER_BETA), 0.0)
    return h @ x


def test_fractional_shift_follows_its_definition_at_any_shift():
    """Shifts within, at the edge of and beyond the trace (where only zeros remain), one by
    one and batched under vmap, against the sum that defines the shift."""
    n, a = 40, pp.SINC_HALF_WIDTH
    x = np.random.default_rng(1).normal(size=n)
    shifts = [0.0, 0.37, -2.5, 13.9, -(n - 1.2), n - 0.5, n + a - 0.3, -(n + a) + 0.3, n + a + 5.0,
              -(n + a) - 7.5, 1e4]  # fmt: skip
    with jax.enable_x64(True):
        batched = np.asarray(jax.vmap(pp.fractional_shift, (None, 0))(x, jnp.asarray(shifts)))
        for s, row in zip(shifts, batched, strict=True):
            want = _shift_by_definition(x, s)
            np.testing.assert_allclose(np.asarray(pp.fractional_shift(x, s)), want, atol=1e-12)
            np.testing.assert_allclose(row, want, atol=1e-12)
        g = jax.grad(lambda s: jnp.sum(jnp.asarray(x) * pp.fractional_shift(x, s)))(3.3)
        fd = (
            x @ _shift_by_definition(x, 3.3 + 1e-6) - x @ _shift_by_definition(x, 3.3 - 1e-6)
        ) / 2e-6
        assert float(g) == pytest.approx(fd, rel=1e-6)


def test_align_then_unalign_reproduces_traces(traces):
    """Property test: transform then inverse recovers every trace where no sample left the
    window (to the interpolation accuracy, 1e-4 of the peak)."""
    x, dt = traces
    for rule in pp.ALIGNMENT_RULES:
        al = pp.fit_alignment(x, dt, rule=rule, seed=1)
        aligned, log_ratio, shift = pp.align(al, x)
        back = np.asarray(
            jax.vmap(pp.unalign, in_axes=(0, 0, 0, None))(aligned, log_ratio, shift, dt)
        )
        n = x.shape[1]
        s = -shift / dt
        k = np.arange(n)[None]
        lo = np.maximum(0, -s)[:, None] + 10
        hi = (n - np.maximum(0, s))[:, None] - 10
        inside = (k >= lo) & (k < hi)
        err = np.abs(back - x) * inside / np.abs(x).max(axis=1, keepdims=True)
        assert err.max() < 1e-4, (rule, err.max())
        # every aligned trace has its peak on the reference
        amp, t = pp.peak_features(aligned, dt, rule, al.threshold)
        np.testing.assert_allclose(amp, al.ref_amplitude, rtol=5e-3)
        np.testing.assert_allclose(t, al.ref_time, atol=0.25 * dt if rule != "max" else 1e-9)


def test_fit_alignment_uses_a_training_trace(traces):
    x, dt = traces
    al = pp.fit_alignment(x, dt, seed=3)
    amp, t = pp.peak_features(x[al.ref_index], dt)
    assert al.ref_amplitude == pytest.approx(float(amp)) and al.ref_time == pytest.approx(float(t))
    assert pp.fit_alignment(x, dt, seed=3) == al


def test_unalign_is_differentiable_in_amplitude_and_fractional_shift(traces):
    x, dt = traces
    al = pp.fit_alignment(x, dt, seed=0)
    aligned, _, _ = pp.align(al, x[:1])
    w = jnp.asarray(np.random.default_rng(0).normal(size=x.shape[1]), jnp.float32)

    def f(params):
        return jnp.sum(w * pp.unalign(aligned[0], params[0], params[1], dt))

    p0 = jnp.array([0.1, 0.0173])
    g = np.asarray(jax.grad(f)(p0))
    for i, h in enumerate((1e-3, 2e-4)):
        e = np.zeros(2)
        e[i] = h
        fd = (f(p0 + e) - f(p0 - e)) / (2 * h)
        assert g[i] == pytest.approx(float(fd), rel=2e-2, abs=1e-3)


def test_first_peak_rule_is_smooth_where_max_rule_is_integer(traces):
    x, dt = traces
    _, t_first = pp.peak_features(x, dt, "first_peak")
    _, t_max = pp.peak_features(x, dt, "max")
    assert np.allclose(t_max / dt, np.round(t_max / dt))
    assert not np.allclose(t_first / dt, np.round(t_first / dt))
    assert np.median(np.abs(t_first - t_max)) < dt


def test_peak_features_errors():
    with pytest.raises(ValueError, match="unknown alignment rule"):
        pp.peak_features(np.ones((2, 10)), 0.004, "biggest")
    with pytest.raises(ValueError, match="NaN"):
        pp.peak_features(np.full((2, 10), np.nan), 0.004)
    with pytest.raises(ValueError, match="no positive peak"):
        pp.peak_features(-np.ones((1, 10)), 0.004, "max")


def test_standardizer_round_trip():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 4))
    s = pp.fit_standardizer(x)
    np.testing.assert_allclose(s.apply(x).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(s.invert(s.apply(x)), x)
