"""Noise models of observed traces: white, and stationary coloured noise with a spectrum.

A noise model says how the observed traces scatter around the true ones; the waveform
likelihoods (:mod:`jaxseis.likelihood.waveform`) are Gaussian under it.

* :class:`WhiteNoise`: independent samples of standard deviation ``sigma`` per receiver (the
  paper's model).
* :class:`ColouredNoise`: stationary Gaussian noise with a one-sided power spectral density
  ``psd(f)`` per receiver. The likelihood then whitens the residual in the frequency domain
  (Whittle's likelihood, as gravitational-wave inference does). White noise is the special case
  of a flat spectrum, ``psd = 2 sigma**2 dt``.

**Conventions.** ``psd`` is the one-sided density in (trace units)^2 / Hz at the frequencies
``numpy.fft.rfftfreq(n_samples, dt)``, with the factor two applied at every frequency, DC and
Nyquist included, so that white noise has a flat spectrum. The variance of a discrete Fourier
coefficient ``X_k = sum_t x_t exp(-2 pi i k t / n)`` of such noise is then
``E|X_k|^2 = n S_k`` with ``S_k = psd_k / (2 dt)``, the *per-bin variance* that
:func:`per_bin_variance` returns. The Whittle likelihood is the exact Gaussian density of noise
whose covariance is circulant with eigenvalues ``S_k``; for a window much longer than the noise's
correlation time the difference to the stationary (Toeplitz) density is small.

**Estimating the spectrum** (:func:`estimate_noise`): Welch's method on noise-only data (a
pre-event window of the same channel, or noise traces the user gives), interpolated onto the
observation window's frequencies.

**Generating noise** (:func:`white_noise`, :func:`coloured_noise`, :func:`marine_psd`): seeded
generators for tests and benchmarks; :func:`marine_psd` is a marine-like spectrum with a
microseism peak below 1 Hz and a background falling from 1 to 20 Hz, and :func:`coloured_noise`
draws stationary noise with any spectrum (long series cut into windows, so the windows are not
exactly circulant: a realistic test of the Whittle approximation).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "PAPER_RELATIVE_SIGMA",
    "ColouredNoise",
    "NoiseModel",
    "WhiteNoise",
    "check_noise",
    "coloured_noise",
    "coloured_psd",
    "coloured_std",
    "default_sigma",
    "estimate_noise",
    "marine_psd",
    "per_bin_variance",
    "rfft_weights",
    "white_noise",
]

PAPER_RELATIVE_SIGMA = 0.056
"""The paper's noise standard deviation relative to the reference peak (250 / 4476 = 0.0559)."""


class WhiteNoise(NamedTuple):
    """Independent Gaussian noise of standard deviation ``sigma`` (trace units), per receiver.

    Attributes:
        sigma: ``[n_receivers]``, ``> 0``.
    """

    sigma: np.ndarray


class ColouredNoise(NamedTuple):
    """Stationary Gaussian noise with a one-sided power spectral density per receiver.

    Attributes:
        psd: ``[n_receivers, n_samples // 2 + 1]`` in (trace units)^2 / Hz at
            ``numpy.fft.rfftfreq(n_samples, dt)``, ``> 0`` (see the module's conventions).
        dt: sampling interval of the window the spectrum belongs to, s.
    """

    psd: np.ndarray
    dt: float


NoiseModel = WhiteNoise | ColouredNoise
"""A noise model: :class:`WhiteNoise` or :class:`ColouredNoise`."""


def default_sigma(reference_peak: float) -> float:
    """The paper's noise level for traces of the given reference peak amplitude.

    Args:
        reference_peak: peak amplitude of the reference trace (trace units); its absolute value
            is used.

    Returns:
        ``0.056 * |reference_peak|``, the noise standard deviation in the traces' units.
    """
    peak = np.asarray(reference_peak, dtype=np.float64)
    if peak.ndim != 0:
        raise ValueError(f"reference_peak must be a scalar amplitude; got shape {peak.shape}")
    if not np.isfinite(peak) or peak == 0:
        raise ValueError(f"reference_peak must be finite and non-zero; got {float(peak)}")
    return float(PAPER_RELATIVE_SIGMA * abs(peak))


# --------------------------------------------------------------------------------------------
# Checks and conversions
# --------------------------------------------------------------------------------------------


def check_noise(noise: NoiseModel, n_receivers: int, n_samples: int, dt: float) -> NoiseModel:
    """Validate a noise model against an observation's shape; returns it with float64 arrays.

    Raises:
        ValueError: a noise model of another type, a receiver count or spectrum length that
            does not match, another sampling interval, or values that are not finite and
            positive (a spectrum with zeros cannot whiten).
    """
    if isinstance(noise, WhiteNoise):
        s = np.asarray(noise.sigma, dtype=np.float64)
        s = np.full(n_receivers, float(s)) if s.ndim == 0 else s
        if s.shape != (n_receivers,):
            raise ValueError(
                f"WhiteNoise.sigma has shape {s.shape}; give a scalar or one value per "
                f"receiver ({n_receivers})"
            )
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"WhiteNoise.sigma must be finite and > 0; got {s.tolist()}")
        return WhiteNoise(s)
    if isinstance(noise, ColouredNoise):
        p = np.asarray(noise.psd, dtype=np.float64)
        n_freq = n_samples // 2 + 1
        if p.ndim == 1:
            p = np.broadcast_to(p, (n_receivers, p.shape[0])).copy()
        if p.shape != (n_receivers, n_freq):
            raise ValueError(
                f"ColouredNoise.psd has shape {p.shape}; it must be [{n_receivers}, {n_freq}] "
                f"(one spectrum per receiver at numpy.fft.rfftfreq({n_samples}, dt))"
            )
        if not np.all(np.isfinite(p)) or np.any(p <= 0):
            bad = np.flatnonzero(~np.all(np.isfinite(p) & (p > 0), axis=1))
            raise ValueError(
                f"the noise spectrum of receiver(s) {bad.tolist()} has zeros, negative or "
                "non-finite values; a spectrum must be positive everywhere to whiten (estimate "
                "it from longer noise windows or add a floor)"
            )
        if not np.isclose(float(noise.dt), dt, rtol=1e-9, atol=0.0):
            raise ValueError(
                f"the noise spectrum is sampled for dt = {noise.dt} s but the traces have "
                f"dt = {dt} s"
            )
        return ColouredNoise(p, float(dt))
    raise ValueError(f"noise must be a WhiteNoise or ColouredNoise; got {type(noise).__name__}")


def per_bin_variance(noise: NoiseModel, n_samples: int, dt: float) -> np.ndarray:
    """``S_k``: the variance per Fourier bin, ``E|X_k|^2 / n``, ``[n_receivers, n // 2 + 1]``.

    For white noise ``S_k = sigma**2``; for coloured noise ``S_k = psd_k / (2 dt)``.
    """
    n_freq = n_samples // 2 + 1
    if isinstance(noise, WhiteNoise):
        s = np.asarray(noise.sigma, dtype=np.float64)
        return np.repeat((s**2)[:, None], n_freq, axis=1)
    return np.asarray(noise.psd, dtype=np.float64) / (2.0 * dt)


def rfft_weights(n_samples: int) -> np.ndarray:
    """Multiplicity ``c_k`` of each one-sided frequency bin ``[n // 2 + 1]``: 1 at DC (and at
    Nyquist for even ``n``), 2 elsewhere; ``sum(c) == n`` (Parseval for real signals)."""
    c = np.full(n_samples // 2 + 1, 2.0)
    c[0] = 1.0
    if n_samples % 2 == 0:
        c[-1] = 1.0
    return c


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------


def estimate_noise(
    noise_traces,
    dt: float,
    n_samples: int,
    *,
    segment_samples: int | None = None,
    floor: float = 1e-6,
) -> ColouredNoise:
    """A :class:`ColouredNoise` model estimated from noise-only data by Welch's method.

    Args:
        noise_traces: ``[n_receivers, n_noise]`` noise-only samples per receiver (e.g. a
            pre-event window), trace units, at ``dt``; ``n_noise`` must be at least
            ``segment_samples``.
        dt: sampling interval, s.
        n_samples: length of the observation window the model is for.
        segment_samples: Welch segment length (default: ``min(n_samples, n_noise // 4)``
            rounded down to even, at least 32; shorter segments average more and resolve
            less). Segments overlap by half and are Hann-tapered; the mean is removed, so
            the zero-frequency value is taken from the lowest non-zero frequency.
        floor: spectral values below ``floor`` times the receiver's median are raised to it,
            so that a notch in the estimate never gets an unbounded weight.

    Returns:
        One-sided spectra interpolated (linearly in frequency, on a log scale of the power)
        onto ``numpy.fft.rfftfreq(n_samples, dt)``.

    Raises:
        ValueError: NaN or infinite samples, flat (all-equal) traces, windows shorter than
            32 samples or than ``segment_samples``, or a bad ``dt``/``n_samples``.
    """
    from scipy.signal import welch

    x = np.asarray(noise_traces, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"noise_traces must be [n_receivers, n_noise]; got shape {x.shape}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds; got {dt}")
    if not (isinstance(n_samples, int | np.integer) and n_samples >= 2):
        raise ValueError(f"n_samples must be an integer >= 2; got {n_samples!r}")
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        raise ValueError(f"the noise windows of receiver(s) {bad.tolist()} contain NaN or inf")
    n_noise = x.shape[1]
    if segment_samples is None:
        segment_samples = max(32, min(int(n_samples), n_noise // 4) // 2 * 2)
    if n_noise < max(32, segment_samples):
        raise ValueError(
            f"the noise windows have {n_noise} samples; Welch's estimate needs at least "
            f"{max(32, segment_samples)} (give a longer pre-event window or more noise traces)"
        )
    flat = np.flatnonzero(np.ptp(x, axis=1) == 0)
    if flat.size:
        raise ValueError(
            f"the noise windows of receiver(s) {flat.tolist()} are flat (constant): a dead "
            "or clipped channel cannot give a noise spectrum"
        )
    freqs, p = welch(x, fs=1.0 / dt, nperseg=int(segment_samples), detrend="constant", axis=-1)
    # scipy's one-sided density leaves Nyquist (for even segments) undoubled; its DC bin is
    # biased low by the per-segment mean removal: take the next bin's value there
    if segment_samples % 2 == 0:
        p[:, -1] *= 2.0
    p[:, 0] = p[:, 1]
    med = np.median(p, axis=1, keepdims=True)
    p = np.maximum(p, floor * med)
    target = np.fft.rfftfreq(int(n_samples), dt)
    log_p = np.stack([np.interp(target, freqs, np.log(pr)) for pr in p])
    return ColouredNoise(np.exp(log_p), float(dt))


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


def white_noise(key: jax.Array, shape, sigma, dtype=None) -> jax.Array:
    """Seeded Gaussian white noise of shape ``[..., n_receivers, n_samples]``.

    ``sigma`` is a scalar or one value per receiver (broadcast along the samples).
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim == 1:
        if len(shape) < 2 or shape[-2] != s.shape[0]:
            raise ValueError(
                f"sigma has {s.shape[0]} values (one per receiver) but the shape is "
                f"{tuple(shape)}, expected [..., {s.shape[0]}, n_samples]"
            )
        s = s[:, None]
    elif s.ndim > 1:
        raise ValueError(f"sigma must be a scalar or one value per receiver; got {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigma must be finite and >= 0; got {s.ravel().tolist()}")
    return jnp.asarray(s, dtype) * jax.random.normal(key, tuple(shape), dtype=dtype)


def marine_psd(
    freqs_hz,
    *,
    level: float = 1.0,
    microseism_hz: float = 0.2,
    microseism_gain: float = 30.0,
    corner_hz: float = 1.0,
    slope: float = 1.5,
) -> np.ndarray:
    """A marine-like one-sided noise spectrum (relative units) at ``freqs_hz``.

    A microseism peak (log-normal in frequency, width 0.4 decades) at ``microseism_hz`` rising
    ``microseism_gain`` times above a background that is flat below ``corner_hz`` and falls as
    ``f**-slope`` above it (swell and ship noise falling from 1 to 20 Hz); ``level`` scales the
    background at low frequency. Positive everywhere.
    """
    f = np.abs(np.asarray(freqs_hz, dtype=np.float64))
    background = 1.0 / (1.0 + (f / corner_hz) ** slope)
    lf = np.log10(np.maximum(f, 1e-3) / microseism_hz)
    peak = microseism_gain * np.exp(-0.5 * (lf / 0.2) ** 2)
    return level * (background + peak)


def coloured_noise(
    key: jax.Array,
    psd_fn,
    n_receivers: int,
    n_samples: int,
    dt: float,
    *,
    sigma=None,
    oversample: int = 8,
) -> np.ndarray:
    """Seeded stationary noise ``[n_receivers, n_samples]`` with the spectrum ``psd_fn(f)``.

    Each receiver's noise is a window cut from a series ``oversample`` times longer, drawn with
    the exact spectrum of that longer (circulant) series, so the window itself is stationary
    but not circulant.

    Args:
        key: ``jax.random`` key.
        psd_fn: one-sided spectrum as a function of frequency (Hz), e.g. :func:`marine_psd`.
        n_receivers, n_samples, dt: shape and sampling of the output.
        sigma: if given (scalar or ``[n_receivers]``), the noise is scaled so that its
            standard deviation is ``sigma`` (the spectrum's shape is kept).
        oversample: length of the drawn series in windows.

    Returns:
        float64 NumPy noise; :func:`coloured_psd` gives the matching spectrum.
    """
    n_long = int(n_samples) * int(oversample)
    f = np.fft.rfftfreq(n_long, dt)
    s_k = np.asarray(psd_fn(f), dtype=np.float64) / (2.0 * dt)  # per-bin variance
    k_white, k_start = jax.random.split(key)
    white = np.asarray(jax.random.normal(k_white, (n_receivers, n_long)), dtype=np.float64)
    series = np.fft.irfft(np.fft.rfft(white, axis=-1) * np.sqrt(s_k), n=n_long, axis=-1)
    starts = np.asarray(jax.random.randint(k_start, (n_receivers,), 0, n_long - n_samples + 1))
    out = np.stack([series[r, s : s + n_samples] for r, s in enumerate(starts)])
    if sigma is not None:
        scale = np.asarray(sigma, dtype=np.float64) / coloured_std(psd_fn, dt)
        out = out * (scale[:, None] if np.ndim(scale) == 1 else scale)
    return out


def coloured_std(psd_fn, dt: float, n_grid: int = 1 << 16) -> float:
    """Standard deviation of stationary noise with the one-sided spectrum ``psd_fn`` at ``dt``
    (the square root of its integral from 0 to Nyquist)."""
    f = np.fft.rfftfreq(n_grid, dt)
    s_k = np.asarray(psd_fn(f), dtype=np.float64) / (2.0 * dt)
    return float(np.sqrt(np.sum(rfft_weights(n_grid) * s_k) / n_grid))


def coloured_psd(psd_fn, n_receivers: int, n_samples: int, dt: float, *, sigma=None):
    """The :class:`ColouredNoise` that :func:`coloured_noise` draws from (same ``sigma``
    scaling), at ``numpy.fft.rfftfreq(n_samples, dt)``: the known truth of a benchmark."""
    f = np.fft.rfftfreq(int(n_samples), dt)
    p = np.broadcast_to(np.asarray(psd_fn(f), dtype=np.float64), (n_receivers, f.size)).copy()
    if sigma is not None:
        scale = np.asarray(sigma, dtype=np.float64) / coloured_std(psd_fn, dt)
        p = p * (scale[:, None] ** 2 if np.ndim(scale) == 1 else scale**2)
    return ColouredNoise(p, float(dt))
