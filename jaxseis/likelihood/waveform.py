"""Gaussian waveform likelihoods of the event parameters, white or coloured noise.

The observed traces ``d[r, t]`` are the forward model's traces ``f(theta)[r, t]``
(:mod:`jaxseis.forward`) plus Gaussian noise (:mod:`jaxseis.noise`).

**White noise, time domain** (the paper's model, ``domain="time"``)::

    log L = -1/2 sum_{r,t} [ (d - f)^2 / v + log(2 pi v) ],   v[r, t] = sigma[r]^2 + e[r, t]

with ``e`` an optional emulator error variance (:func:`jaxseis.forward.validation_error_variance`).

**Coloured noise, frequency domain** (Whittle, ``domain="frequency"``): with ``D_k``, ``F_k`` the
one-sided discrete Fourier transforms of ``d`` and ``f``, ``S_k`` the noise's variance per bin
and ``c_k`` the bin multiplicity (:func:`jaxseis.noise.rfft_weights`)::

    log L = -1/2 sum_{r,k} c_k [ |D_k - F_k|^2 / (n S_k) + log(2 pi S_k) ]

the exact Gaussian density of circulant-stationary noise; for white noise (``S_k = sigma^2``)
it equals the time-domain likelihood to round-off (Parseval).

**Fast global search.** Both carry a :class:`WaveformSearch`: for candidate positions it
cross-correlates the emulated traces (``t0 = 0``, unit amplitude) with the observed ones in the
noise-weighted inner product, at every lag of the prior's origin-time window at once (a
matrix product with an inverse-DFT table, :meth:`WaveformSearch.within`), takes the
least-squares amplitude at each lag and returns the best lag and amplitude within the prior's
windows. A global stage built on it cannot cycle-skip in ``t0``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.base import Emulator
from jaxseis.forward import ForwardModel, apply_forward, event_vector, forward_model
from jaxseis.likelihood.base import PARAMS, Likelihood
from jaxseis.likelihood.emulator_error import (
    EmulatorError,
    band_mask,
    band_power,
    emulator_error_terms,
)
from jaxseis.noise import WhiteNoise, rfft_weights
from jaxseis.observation import Observation

__all__ = [
    "WaveformFn",
    "WaveformSearch",
    "band_limited",
    "waveform_data",
    "waveform_log_likelihood",
    "waveform_template",
]

_LAG_UPSAMPLE = 2  # lags of the global search at dt / 2, refined by a parabola


@dataclasses.dataclass(frozen=True)
class WaveformFn:
    """``fn(theta, model, data)`` of the waveform likelihoods (hashable by its settings)."""

    static: tuple
    domain: str
    emulator_error: bool = False

    def __call__(self, theta, model, data):
        pred = apply_forward(self.static, model, theta)
        if self.emulator_error:
            return self._with_error(pred, data)
        if self.domain == "time":
            r = data["traces"] - pred.astype(data["traces"].dtype)
            return data["log_norm"] - 0.5 * jnp.sum(r * r * data["inv_var"])
        spec = jnp.fft.rfft(pred.astype(data["weight"].dtype), axis=-1)
        r = data["spec"] - spec
        return data["log_norm"] - 0.5 * jnp.sum(data["weight"] * (r.real**2 + r.imag**2))

    def fisher(self, theta, model, data):
        """``(log L [], gradient [5], Fisher information [5, 5])`` at ``theta [5]``.

        The likelihood is Gaussian in the residual, so ``-(Hessian)`` is the Fisher
        information ``J^T W J`` (``J`` the forward model's Jacobian, five forward-mode
        derivatives) plus a term proportional to the residual, which Gauss-Newton drops: the
        Levenberg-Marquardt polish of the global stage uses this cheaper, always positive
        semi-definite curvature.
        """
        pred, jac = _forward_jacobian(self.static, model, theta)
        if self.emulator_error:
            # exact value and gradient; the curvature of the diagonal part at the current
            # variances (the low-rank arrival term dropped: Gauss-Newton only steers)
            ll, grad = jax.value_and_grad(self.__call__)(theta, model, data)
            spec = jnp.fft.rfft(pred.astype(data["weight"].dtype), axis=-1)
            w = data["mult"] / (data["noise_var"] + data["err_floor"])
            jspec = jnp.fft.rfft(jac.astype(w.dtype), axis=-2)
            info = jnp.einsum(
                "rf,rfkl->kl", w, (jnp.conj(jspec)[..., :, None] * jspec[..., None, :]).real
            )
            return ll, grad, info
        if self.domain == "time":
            w = data["inv_var"]
            r = data["traces"] - pred.astype(w.dtype)
            jac = jac.astype(w.dtype)
            ll = data["log_norm"] - 0.5 * jnp.sum(r * r * w)
            grad = jnp.einsum("rt,rtk->k", w * r, jac)
            info = jnp.einsum("rtk,rt,rtl->kl", jac, w, jac)
            return ll, grad, info
        w = data["weight"]
        spec = jnp.fft.rfft(pred.astype(w.dtype), axis=-1)
        jspec = jnp.fft.rfft(jac.astype(w.dtype), axis=-2)  # [r, f, k]
        r = data["spec"] - spec
        ll = data["log_norm"] - 0.5 * jnp.sum(w * (r.real**2 + r.imag**2))
        grad = jnp.einsum("rf,rfk->k", w, (jnp.conj(jspec) * r[..., None]).real)
        info = jnp.einsum(
            "rf,rfkl->kl", w, (jnp.conj(jspec)[..., :, None] * jspec[..., None, :]).real
        )
        return ll, grad, info

    def _with_error(self, pred, data):
        """Whittle likelihood with the emulator error marginalised (see
        :mod:`jaxseis.likelihood.emulator_error`): the waveform error diagonal per bin, the
        arrivals' errors of all receivers by the Woodbury identity."""
        dtype = data["mult"].dtype
        spec = jnp.fft.rfft(pred.astype(dtype), axis=-1)  # [r, k]
        var = data["noise_var"] + data["err_floor"]  # n V_k, [r, k]
        w = data["mult"] / var
        resid = data["spec"] - spec
        quad = jnp.sum(w * (resid.real**2 + resid.imag**2), axis=-1)  # [r]
        log_det = jnp.sum(data["mult"] * jnp.log(2.0 * jnp.pi * var / data["n"]), axis=-1)
        basis = spec[..., None] * data["err_basis"]  # [r, k, b]
        n_rec = basis.shape[0]
        gram = jnp.einsum("rk,rki,rkj->rij", w, jnp.conj(basis), basis).real  # [r, b, b]
        proj = jnp.einsum("rk,rki,rk->ri", w, jnp.conj(basis), resid).real.reshape(-1)
        block = jax.scipy.linalg.block_diag(*[gram[i] for i in range(n_rec)])  # [br, br]
        root = data["err_chol"]  # covariance = root root^T
        inner = jnp.eye(root.shape[0], dtype=dtype) + root.T @ block @ root
        chol = _small_cholesky(inner)
        u = _forward_substitution(chol, root.T @ proj)
        log_det_inner = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
        return -0.5 * (jnp.sum(quad + log_det) - jnp.sum(u * u) + log_det_inner)


@functools.lru_cache(maxsize=8)
def _dft_tables(k: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``cos, sin [k, length]`` of ``2 pi (i j mod length) / length``: the real inverse DFT of
    ``k`` bins on a grid of ``length`` points (exact integer phases)."""
    phase = 2.0 * np.pi * (np.outer(np.arange(k), np.arange(length)) % length) / length
    return np.cos(phase), np.sin(phase)


def _forward_jacobian(static, model, theta):
    """``(traces [r, n], Jacobian [r, n, 5])`` of the forward model at ``theta [5]``.

    Forward mode in two parts: the position's three directions pass through the emulators;
    those of ``t0`` and the amplitude only through the final shift and scale (the position
    held constant, so the networks carry no tangent for them), which costs about half of
    five directions through everything."""
    theta = event_vector(theta)
    dtype = theta.dtype
    pos, rest = theta[:3], theta[3:]
    pred, jvp_pos = jax.linearize(
        lambda p: apply_forward(static, model, jnp.concatenate([p, rest])), pos
    )
    _, jvp_rest = jax.linearize(
        lambda r: apply_forward(static, model, jnp.concatenate([pos, r])), rest
    )
    jac_pos = jax.vmap(jvp_pos, out_axes=-1)(jnp.eye(3, dtype=dtype))
    jac_rest = jax.vmap(jvp_rest, out_axes=-1)(jnp.eye(2, dtype=dtype))
    return pred, jnp.concatenate([jac_pos, jac_rest], axis=-1)


def _small_cholesky(a):
    """Lower Cholesky factor of a small SPD matrix ``[m, m]`` in plain array operations.

    XLA's CPU runtime calls LAPACK for ``jnp.linalg.cholesky``; with the program split over
    two CPU devices, concurrent LAPACK calls left the catalogue waiting forever (measured
    with the 16 x 16 Woodbury matrix of four receivers). ``m`` column steps of vector
    operations avoid the library call and cost little at this size.
    """
    m = a.shape[-1]
    low = jnp.zeros_like(a)
    for j in range(m):
        row = low[j, :j]
        d = jnp.sqrt(a[j, j] - jnp.dot(row, row))
        col = (a[j + 1 :, j] - low[j + 1 :, :j] @ row) / d
        low = low.at[j, j].set(d).at[j + 1 :, j].set(col)
    return low


def _forward_substitution(low, b):
    """``low^-1 b`` for a lower triangular ``low [m, m]`` and ``b [m]``."""
    x = jnp.zeros_like(b)
    for j in range(b.shape[-1]):
        x = x.at[j].set((b[j] - jnp.dot(low[j, :j], x[:j])) / low[j, j])
    return x


def band_limited(spectra, db: float = 50.0) -> int:
    """The number of low-frequency bins of ``spectra [..., n_freq]`` up to the highest whose
    power (summed over the leading axes) is within ``db`` dB of the strongest bin's (at least
    2): the bins a search over them needs (:meth:`WaveformSearch.profile`)."""
    axes = tuple(range(np.ndim(spectra) - 1))
    power = np.sum(np.abs(np.asarray(spectra, np.complex128)) ** 2, axis=axes)
    if not power.max() > 0:
        return int(power.shape[-1])
    strong = np.flatnonzero(power >= power.max() * 10.0 ** (-db / 10.0))
    return int(max(2, strong[-1] + 1))


@dataclasses.dataclass(frozen=True)
class WaveformSearch:
    """The cross-correlation search over ``(t0, log_amplitude)`` at candidate positions.

    Attributes:
        static: the forward model's static settings.
        n_samples: trace length.
        dt: sampling interval, s.
        t0_range: ``(low, high)`` s, or ``None``: the origin times the correlation is
            computed at (with one lag of margin each side); ``None`` computes it at every lag
            of the circular grid. The ``t0_window`` given to :meth:`profile` must lie inside
            it (:meth:`within` builds a search for the prior's window).
    """

    static: tuple
    n_samples: int
    dt: float
    t0_range: tuple[float, float] | None = None

    def within(self, low: float, high: float) -> WaveformSearch:
        """This search with its correlation computed at the lags of ``[low, high]`` s only
        (the prior's origin-time window): a window of 0.6 s of a 2 s trace needs under a
        third of the lags. The candidates' scores do not change, bar float32 round-off in
        the correlation that chooses the lag."""
        low, high = float(low), float(high)
        if not low <= high:
            raise ValueError(f"the origin-time range needs low <= high; got ({low}, {high})")
        return dataclasses.replace(self, t0_range=(low, high))

    def _check_window(self, low, high) -> None:
        """Refuse a concrete ``t0`` window outside :attr:`t0_range` (a traced one cannot be
        checked: the callers build both from the same prior)."""
        if self.t0_range is None:
            return
        try:
            low, high = float(low), float(high)
        except TypeError:  # traced under jit
            return
        lo, hi = self.t0_range
        if low < lo - 1e-9 or high > hi + 1e-9:
            raise ValueError(
                f"the t0 window ({low}, {high}) s leaves the search's origin-time range "
                f"({lo}, {hi}) s; build the search for it: search.within({low}, {high})"
            )

    def spectra(self, sources, model) -> jax.Array:
        """One-sided spectra ``[m, n_receivers, n // 2 + 1]`` of the emulated traces at
        positions ``[m, 3]`` km, with ``t0 = 0`` and unit amplitude."""
        traces = jax.vmap(lambda s: apply_forward(self.static, model, s))(sources)
        return jnp.fft.rfft(traces.astype(jnp.result_type(float)), axis=-1)

    def profile(self, spectra, data, t0_window, log_amplitude_window):
        """Best ``(log L, t0, log_amplitude)`` per candidate, ``[m]`` each.

        Args:
            spectra: ``[m, n_receivers, k]`` from :meth:`spectra` (``k = n_freq``), or their
                first ``k < n_freq`` bins when the traces carry no power above those
                (:func:`band_limited`): the search then uses the data's first ``k`` bins
                and a lag grid 4 times finer than the Nyquist step of ``k`` bins.
            data: the likelihood's data (``spec``, ``weight``, ``log_norm``).
            t0_window: ``(low, high)`` s; equal values fix ``t0``.
            log_amplitude_window: ``(low, high)``; equal values fix the amplitude.

        ``log L`` is that of circularly shifted traces (exact in the frequency domain's model,
        close to the zero-filled shift of the forward model when the traces fit the window).
        """
        w, d = data["weight"], data["spec"]
        data_energy = jnp.sum(w * (d.real**2 + d.imag**2))  # over every bin
        k = spectra.shape[-1]
        w, d = w[..., :k], d[..., :k]
        g = jnp.sum(w * d * jnp.conj(spectra), axis=-2)  # [m, k]
        energy = jnp.sum(w * (spectra.real**2 + spectra.imag**2), axis=(-2, -1))  # [m]
        lo_t, hi_t = t0_window
        lo_a, hi_a = log_amplitude_window
        n = self.n_samples
        self._check_window(lo_t, hi_t)

        def value(c, e):
            amp = jnp.clip(jnp.where(e > 0, c / jnp.where(e > 0, e, 1.0), 0.0),
                           jnp.exp(lo_a), jnp.exp(hi_a))  # fmt: skip
            return data["log_norm"] - 0.5 * (data_energy - 2 * amp * c + amp**2 * e), amp

        # cross-correlation at every lag of a length n * U circular grid (lag step dt / U),
        # or of a coarser one that still samples band-limited spectra 4 times per Nyquist step
        length, step = n * _LAG_UPSAMPLE, self.dt / _LAG_UPSAMPLE
        if k < n // 2 + 1 and 8 * (k - 1) < length:
            length, step = 8 * (k - 1), n * self.dt / (8 * (k - 1))
        # corr_j = sum_k Re(g_k exp(2 pi i k j / length)), as two float32 matrix products with
        # the (static) cosine and sine tables: several times faster here than a batched
        # inverse FFT of every candidate (only the k bins given enter, k - 1 < length / 2).
        # The lags are only chosen with it: log L at the refined lag is evaluated exactly.
        cos, sin = _dft_tables(g.shape[-1], length)
        index = np.arange(length)
        lag_of = np.where(index < length // 2, index, index - length) * step
        if self.t0_range is not None:
            # the lags of the static range and one more each side (the parabola's neighbours),
            # in increasing order: neighbouring columns are neighbouring lags
            order = np.argsort(lag_of, kind="stable")
            keep = order[(lag_of[order] >= self.t0_range[0] - 1.5 * step)
                         & (lag_of[order] <= self.t0_range[1] + 1.5 * step)]  # fmt: skip
            if keep.size < length:
                cos, sin, lag_of = cos[:, keep], sin[:, keep], lag_of[keep]
        length = lag_of.size
        f32 = jnp.float32
        corr = g.real.astype(f32) @ jnp.asarray(cos, f32) - g.imag.astype(f32) @ jnp.asarray(
            sin, f32
        )
        lags = jnp.asarray(lag_of, dtype=energy.dtype)
        inside = (lags >= lo_t) & (lags <= hi_t)
        # the profile log L increases with the correlation (the amplitude is positive), so
        # the best lag is the correlation's largest in the window: log L is needed at three
        # lags only
        j = jnp.argmax(jnp.where(inside, corr, -jnp.inf), axis=-1)

        def at(i):
            c = jnp.take_along_axis(corr, (i % length)[:, None], axis=-1)[:, 0]
            c = c.astype(energy.dtype)
            return jnp.where(inside[i % length], value(c, energy)[0], -jnp.inf)

        # parabolic refinement of the best lag, kept inside the window
        y0, y1, y2 = at(j - 1), at(j), at(j + 1)
        denom = y0 - 2 * y1 + y2
        ok = jnp.isfinite(y0) & jnp.isfinite(y2) & (denom < 0)
        off = jnp.where(ok, 0.5 * (y0 - y2) / jnp.where(ok, denom, -1.0), 0.0)
        t0 = jnp.clip(lags[j] + jnp.clip(off, -0.5, 0.5) * step, lo_t, hi_t)
        # the correlation at the refined (or fixed) lag, evaluated exactly: Re sum_k g_k z^k
        # with z = exp(2 pi i t0 / (n dt)), by Horner's rule (one complex exponential per
        # candidate instead of one per bin: eight times faster, the same to 1e-13)
        z = jnp.exp(2j * jnp.pi * t0 / (n * self.dt)).astype(g.dtype)
        acc, _ = jax.lax.scan(lambda a, gk: (a * z + gk, None), jnp.zeros_like(z),
                              jnp.moveaxis(g, -1, 0)[::-1], unroll=8)  # fmt: skip
        c = acc.real
        ll, amp = value(c, energy)
        return ll, t0, jnp.log(amp)


def waveform_data(
    model: ForwardModel,
    obs: Observation,
    *,
    extra_variance=None,
    emulator_error: EmulatorError | None = None,
    domain=None,
    band_hz=None,
):
    """The event's arrays of a waveform likelihood (``data`` of :class:`Likelihood`).

    Args:
        model: the forward model (its receivers define the order).
        obs: the observation; its receivers are matched to the model's by position.
        extra_variance: optional emulator error variance ``[n_receivers, n_samples]`` (or
            broadcastable), trace units squared, added to the white noise's variance
            (time domain only; it does not follow ``t0`` or the amplitude: prefer
            ``emulator_error``).
        emulator_error: the emulator set's :class:`~jaxseis.likelihood.EmulatorError`
            (from :func:`~jaxseis.likelihood.fit_emulator_error`), marginalised in the
            likelihood (frequency domain, white or coloured noise).
        domain: ``"time"`` (white noise only) or ``"frequency"``; default: ``"time"`` for
            white noise without an emulator error model or band, else ``"frequency"``.
        band_hz: ``(low, high)`` Hz: the frequency-domain likelihood sums over the bins in
            this band only (the likelihood of the band-passed traces; exact for the Whittle
            model, whose bins are independent). Default: the emulator error model's
            ``band_hz`` (where the emulators' training simulations carry signal), else all
            bins.

    Returns:
        ``(data dict of float64 NumPy arrays, domain)``.
    """
    if not isinstance(obs, Observation):
        raise ValueError(f"expected an Observation; got {type(obs).__name__}")
    obs = obs.match(model.receivers_km, what="the emulator set")
    if not np.isclose(obs.dt, model.dt, rtol=1e-9, atol=0.0) or obs.n_samples != model.n_samples:
        raise ValueError(
            f"the observed traces have {obs.n_samples} samples at {obs.dt * 1e3:g} ms but the "
            f"emulators predict {model.n_samples} samples at {model.dt * 1e3:g} ms; resample "
            "and cut the observed traces to the emulators' window"
        )
    white = isinstance(obs.noise, WhiteNoise)
    if domain is None:
        plain = emulator_error is None and band_hz is None
        domain = "time" if white and plain else "frequency"
    if domain not in ("time", "frequency"):
        raise ValueError(f"domain must be 'time' or 'frequency'; got {domain!r}")
    if domain == "time" and not white:
        raise ValueError("coloured noise needs domain='frequency' (the Whittle likelihood)")
    if emulator_error is not None and extra_variance is not None:
        raise ValueError("give either extra_variance or emulator_error, not both")
    if extra_variance is not None and domain != "time":
        raise ValueError("extra_variance is supported with white noise in the time domain only")
    if emulator_error is not None and domain != "frequency":
        raise ValueError("an emulator error model needs domain='frequency'")
    if emulator_error is not None:
        if not isinstance(emulator_error, EmulatorError):
            raise ValueError(
                f"emulator_error must be an EmulatorError; got {type(emulator_error).__name__}"
            )
        emulator_error = emulator_error.check()
    n = obs.n_samples
    c = rfft_weights(n) * _band_mask(band_hz, emulator_error, domain, n, obs.dt)
    spec = np.fft.rfft(obs.traces, axis=-1)
    if domain == "time":
        var = np.broadcast_to((np.asarray(obs.noise.sigma) ** 2)[:, None], obs.traces.shape)
        if extra_variance is not None:
            var = var + _check_extra_variance(extra_variance, obs.traces.shape)
        s_k = np.repeat(var.mean(axis=1, keepdims=True), c.size, axis=1)  # for the search
        data = {
            "traces": obs.traces,
            "inv_var": 1.0 / var,
            "log_norm": np.float64(-0.5 * np.sum(np.log(2.0 * np.pi * var))),
        }
    else:
        s_k = obs.per_bin_variance()
        data = {"log_norm": np.float64(-0.5 * np.sum(c * np.log(2.0 * np.pi * s_k)))}
    data["spec"] = spec
    data["weight"] = c / (n * s_k)
    if emulator_error is not None:
        # the observed signal power in the error model's band per receiver, less the noise's
        # (E|N_k|^2 = n S_k): it sets the waveform error's floor
        band = emulator_error.band_hz
        noise = band_power(np.sqrt(n * s_k), band, n, obs.dt)
        power = np.maximum(band_power(spec, band, n, obs.dt) - noise, 0.0)
        data.update(emulator_error_terms(emulator_error, model.receivers_km, model.dt, n, power))
        data["noise_var"] = n * s_k
        data["mult"] = c
        data["n"] = np.float64(n)
    return data, domain


def waveform_log_likelihood(
    emulators: Sequence[Emulator] | ForwardModel,
    obs: Observation,
    *,
    extra_variance=None,
    emulator_error: EmulatorError | None = None,
    domain: str | None = None,
    band_hz=None,
) -> Likelihood:
    """The Gaussian waveform likelihood of an observation under an emulator set.

    Args:
        emulators: one emulator per receiver (any order: matched to the observation's stations
            by position), or a :class:`~jaxseis.forward.ForwardModel` built once with
            :func:`jaxseis.forward.forward_model` (which saves that work per event).
        obs: the :class:`~jaxseis.observation.Observation`; its noise model chooses the
            likelihood (white: time domain; coloured: Whittle, frequency domain).
        extra_variance, emulator_error, domain, band_hz: see :func:`waveform_data`.

    Returns:
        A :class:`~jaxseis.likelihood.Likelihood` of all five event parameters (fix ``t0``
        and the amplitude in the prior to reproduce the paper's set-up), evaluated in float64,
        with the cross-correlation search of :class:`WaveformSearch`.

    Raises:
        ValueError: mismatched receivers (the unmatched one named), sampling or window
            length, a bad noise model or extra variance.
    """
    model = emulators if isinstance(emulators, ForwardModel) else forward_model(emulators)
    data, domain = waveform_data(
        model,
        obs,
        extra_variance=extra_variance,
        emulator_error=emulator_error,
        domain=domain,
        band_hz=band_hz,
    )
    lik = waveform_template(model, domain, emulator_error=emulator_error is not None)
    return lik._replace(data=data, stations=obs.match(model.receivers_km).stations)


def waveform_template(
    model: ForwardModel, domain: str = "time", *, emulator_error: bool = False
) -> Likelihood:
    """The waveform likelihood of a forward model without data: its function, search, model
    arrays and domain checks, to which :func:`waveform_data` of each event is added (the
    catalogue's locator builds it once). ``emulator_error``: whether the data will carry an
    emulator error model (frequency domain only)."""
    if emulator_error and domain != "frequency":
        raise ValueError("an emulator error model needs domain='frequency'")
    window = None
    if model.reference_arrival_s is not None:
        window = (model.reference_arrival_s, model.n_samples * model.dt)
    return Likelihood(
        fn=WaveformFn(model.static, domain, emulator_error),
        model=model.params,
        data=None,
        uses=PARAMS,
        x64=model.x64,
        search=WaveformSearch(model.static, model.n_samples, model.dt),
        receivers_km=model.receivers_km,
        extent_km=model.extent_km,
        domain_km=model.training_box_km,
        resolution_km=model.grid_spacing_km,
        window=window,
    )


def _band_mask(band_hz, emulator_error, domain: str, n: int, dt: float) -> np.ndarray:
    """``[n // 2 + 1]`` 1.0 for the bins the likelihood sums over, else 0.0."""
    if band_hz is None and emulator_error is not None:
        band_hz = emulator_error.band_hz
    if band_hz is None:
        return np.ones(n // 2 + 1)
    if domain != "frequency":
        raise ValueError("band_hz needs domain='frequency' (the Whittle likelihood)")
    try:
        low, high = (float(v) for v in np.asarray(band_hz, dtype=np.float64).reshape(2))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"band_hz must be two frequencies (low, high) in Hz; got {band_hz!r}"
        ) from err
    freqs = np.fft.rfftfreq(n, dt)
    inside = band_mask((low, high), n, dt)
    if not (np.isfinite(low) and np.isfinite(high) and low < high) or not inside.any():
        raise ValueError(
            f"band_hz ({low:g}, {high:g}) Hz holds no frequency bin of the {n}-sample window "
            f"(bins every {freqs[1]:g} Hz up to {freqs[-1]:g} Hz); give low < high inside it"
        )
    return inside


def _check_extra_variance(extra_variance, shape: tuple[int, int]) -> np.ndarray:
    e = np.asarray(extra_variance, dtype=np.float64)
    try:
        out = np.broadcast_shapes(e.shape, shape)
    except ValueError:
        out = None
    if out != shape:
        raise ValueError(
            f"extra_variance of shape {e.shape} does not broadcast to the observed traces' "
            f"shape {shape} [n_receivers, n_samples]"
        )
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError("extra_variance must be finite and >= 0")
    return np.broadcast_to(e, shape)
