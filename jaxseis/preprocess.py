"""Peak alignment of traces (the paper's Sec. 2.1), fractional shifts, and standardisers.

Every trace ``S_i`` is reduced to its alignment peak (amplitude ``A_i``, time ``t_i``) and to
an *aligned* trace: ``S_i`` scaled by ``A_ref / A_i`` and shifted by ``t_ref - t_i`` so that
its peak lands on the reference peak. Emulators learn the aligned traces; two Gaussian
processes learn the amplitude ratio ``A_i / A_ref`` and the time shift ``t_i - t_ref``;
:func:`unalign` puts a predicted trace back together. Shifts are fractional and
differentiable (Kaiser-windowed sinc interpolation), so the whole forward model has exact
gradients with respect to the source position.

Two rules for the alignment peak:

* ``"max"``: the paper's rule, the largest positive sample (an integer index);
* ``"first_peak"`` (default): the first local maximum whose amplitude exceeds ``threshold``
  (20 %) of the trace's largest absolute value, refined to a fractional time by a parabola
  through the three samples around it. This is the direct arrival: its time varies smoothly
  with the source position, whereas the largest peak can jump to a later arrival.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ALIGNMENT_RULES",
    "Alignment",
    "Standardizer",
    "align",
    "fit_alignment",
    "fit_standardizer",
    "fractional_shift",
    "peak_features",
    "unalign",
]

ALIGNMENT_RULES = ("first_peak", "max")
SINC_HALF_WIDTH = 8  # taps on each side of the interpolation kernel
KAISER_BETA = 9.0  # shifting forth and back recovers traces to ~1e-5 of their peak


class Standardizer(NamedTuple):
    """Affine standardisation ``(x - mean) / std`` fitted on training data.

    Attributes:
        mean: ``[d]`` (or broadcastable).
        std: ``[d]``, positive.
    """

    mean: np.ndarray
    std: np.ndarray

    def apply(self, x):
        return (x - self.mean) / self.std

    def invert(self, z):
        return z * self.std + self.mean


def fit_standardizer(x: np.ndarray, axis: int | tuple[int, ...] = 0) -> Standardizer:
    """Standardiser of ``x`` along ``axis``; zero spreads are replaced by 1."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axis)
    std = x.std(axis=axis)
    return Standardizer(mean, np.where(std > 0, std, 1.0))


def peak_features(
    traces, dt: float, rule: str = "first_peak", threshold: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Alignment peak of each trace ``[..., n_samples]``: ``(amplitude [...], time [...] s)``.

    See the module docstring for the two rules. Raises ``ValueError`` on non-finite traces, an
    unknown rule, or a trace without a positive peak.
    """
    x = np.asarray(traces, dtype=np.float64)
    if rule not in ALIGNMENT_RULES:
        raise ValueError(f"unknown alignment rule {rule!r}; use one of {ALIGNMENT_RULES}")
    if not np.all(np.isfinite(x)):
        raise ValueError("traces contain NaN or infinite values")
    flat = x.reshape(-1, x.shape[-1])
    n = flat.shape[-1]
    if rule == "max":
        k = np.argmax(flat, axis=-1)
        amp = flat[np.arange(len(flat)), k]
        t = k.astype(np.float64) * dt
    else:
        level = threshold * np.abs(flat).max(axis=-1, keepdims=True)
        mid = flat[:, 1:-1]
        is_peak = (mid >= flat[:, :-2]) & (mid > flat[:, 2:]) & (mid >= level) & (mid > 0)
        has = is_peak.any(axis=-1)
        k = np.argmax(is_peak, axis=-1) + 1
        k = np.where(has, k, np.clip(np.argmax(flat, axis=-1), 1, n - 2))
        rows = np.arange(len(flat))
        y0, y1, y2 = flat[rows, k - 1], flat[rows, k], flat[rows, k + 1]
        denom = y0 - 2 * y1 + y2
        safe = np.where(denom < 0, denom, -1.0)
        off = np.where(denom < 0, 0.5 * (y0 - y2) / safe, 0.0)
        off = np.clip(off, -0.5, 0.5)
        amp = y1 - 0.25 * (y0 - y2) * off
        t = (k + off) * dt
    if np.any(amp <= 0):
        raise ValueError("a trace has no positive peak to align on")
    return amp.reshape(x.shape[:-1]), t.reshape(x.shape[:-1])


def _kaiser_sinc(x):
    a = SINC_HALF_WIDTH
    inside = jnp.abs(x) < a
    arg = jnp.where(inside, 1.0 - (x / a) ** 2, 1.0)  # safe sqrt (and gradient) at the ends
    window = jnp.i0(KAISER_BETA * jnp.sqrt(arg)) / np.i0(KAISER_BETA)
    return jnp.where(inside, jnp.sinc(x) * window, 0.0)


def fractional_shift(trace, shift):
    """Delay ``trace [n]`` by ``shift`` samples (fractional, may be negative), zero fill.

    Band-limited interpolation with a Kaiser-windowed sinc kernel ``h`` (16 taps, beta 9):
    ``y[n] = sum_k x[k] h(n - shift - k)``. Shifting forth and back recovers the bundled
    traces to about 1e-5 of their peak. Differentiable in both arguments; use ``jax.vmap``
    for batches.

    With ``c = ceil(shift)`` and ``f = c - shift`` in ``[0, 1)``, the sum is a 16-tap filter
    with weights ``h(f - j)``, ``j = -7 .. 8``, applied to the trace delayed by ``c`` whole
    samples: the weights are computed once per trace, not once per sample. The delayed trace
    is one dynamic slice of ``n + 15`` samples of the zero-padded trace, and the 16 taps are
    static slices of it: under ``vmap`` that is one gather per trace instead of 16 (4 times
    the throughput on batches of 4096 traces of 501 samples here).
    """
    trace = jnp.asarray(trace)
    n = trace.shape[-1]
    a = SINC_HALF_WIDTH
    shift = jnp.asarray(shift, trace.dtype)
    c = jnp.ceil(shift)
    offsets = jnp.arange(-a + 1, a + 1)
    w = _kaiser_sinc((c - shift) - offsets.astype(trace.dtype))  # [2a]
    # y[k] = sum_j w_j x[k - c + j]: window [k - c - a + 1, k - c + a] of the zero-padded
    # trace; |c| >= n + a leaves only zeros, so c is clamped there and the window stays inside
    pad = n + 2 * a
    padded = jnp.pad(trace, (pad, pad))
    start = pad - jnp.clip(c, -(n + a), n + a).astype(jnp.int32) - a + 1
    window = jax.lax.dynamic_slice(padded, (start,), (n + 2 * a - 1,))
    out = w[0] * window[:n]
    for j in range(1, 2 * a):
        out = out + w[j] * window[j : j + n]
    return out


class Alignment(NamedTuple):
    """The reference peak that every trace is aligned onto.

    Attributes:
        ref_amplitude: ``A_ref`` in the traces' units.
        ref_time: ``t_ref`` in s.
        dt: sampling interval, s.
        rule: ``"first_peak"`` or ``"max"``.
        threshold: relative level of the ``"first_peak"`` rule.
        ref_index: index, in the training set, of the reference trace.
    """

    ref_amplitude: float
    ref_time: float
    dt: float
    rule: str = "first_peak"
    threshold: float = 0.2
    ref_index: int = -1


def fit_alignment(
    train_traces, dt: float, *, rule: str = "first_peak", seed: int = 0, threshold: float = 0.2
) -> Alignment:
    """Choose the reference peak from the **training** traces only.

    As in the paper, the reference is one training trace picked at random (seeded); the paper
    found the choice immaterial. Returns the :class:`Alignment`.
    """
    amp, t = peak_features(train_traces, dt, rule, threshold)
    i = int(np.random.default_rng(seed).integers(len(amp)))
    return Alignment(float(amp[i]), float(t[i]), float(dt), rule, float(threshold), i)


def align(alignment: Alignment, traces) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align traces ``[n, n_samples]`` on the reference peak.

    Returns ``(aligned [n, n_samples] float32, log_ratio [n], shift [n] s)`` where
    ``log_ratio = log(A_i / A_ref)`` and ``shift = t_i - t_ref``: the two quantities the peak
    GPs learn. ``unalign(aligned, log_ratio, shift, dt)`` inverts the transform.
    """
    x = np.asarray(traces, dtype=np.float32)
    amp, t = peak_features(x, alignment.dt, alignment.rule, alignment.threshold)
    log_ratio = np.log(amp / alignment.ref_amplitude)
    shift = t - alignment.ref_time
    shifted = jax.vmap(fractional_shift)(
        jnp.asarray(x), jnp.asarray(-shift / alignment.dt, x.dtype)
    )
    aligned = np.asarray(shifted) * np.exp(-log_ratio)[:, None]
    return aligned.astype(np.float32), log_ratio, shift


def unalign(aligned, log_ratio, shift, dt: float):
    """Put an aligned trace ``[n_samples]`` back at its amplitude and time (JAX, differentiable).

    ``trace = exp(log_ratio) * delay(aligned, shift / dt)``; ``log_ratio`` and ``shift`` (s) are
    scalars here: use ``jax.vmap`` for batches.
    """
    aligned = jnp.asarray(aligned)
    return jnp.exp(log_ratio) * fractional_shift(aligned, shift / dt)
