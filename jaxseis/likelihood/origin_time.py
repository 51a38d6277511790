"""The origin time marginalised out of a waveform likelihood.

Without an emulator error model, the waveform likelihoods of :mod:`jaxseis.likelihood.waveform`
are quadratic in the traces. With the origin time ``t0`` applied as an exact (phase-ramp)
shift in the frequency domain, the log-likelihood of ``theta = (x, y, z, t0, log_amplitude)``
is::

    log L = log_norm - 1/2 (E_d - 2 A X(t0) + A^2 E_h)
    X(t0) = Re sum_k g_k exp(2 pi i k t0 / (n dt)),   g_k = sum_r w_rk D_rk conj(H_rk)

with ``A = exp(log_amplitude)``, ``D`` and ``H`` the one-sided spectra of the observed traces
and of the emulated ones at the position (``t0 = 0``, unit amplitude), ``w`` the likelihood's
weights per bin (``data["weight"]``: multiplicity over ``n`` times the noise variance per bin),
``E_d = sum w |D|^2`` and ``E_h = sum w |H|^2``. Under the prior's uniform origin time on
``[lo, hi]`` the marginal likelihood of the other four parameters is::

    log L_t0(x, y, z, log_amplitude) = log( 1/(hi - lo) integral_lo^hi L dt0 )

computed here by the trapezoid rule on a two-level grid of origin times: coarse nodes every
``dt / coarse`` s over the whole window (where ``L`` is broad, the rule converges
exponentially fast), and, within ``window`` coarse steps either side of the largest coarse
node, nodes every ``dt / (coarse * fine)`` s (where ``L`` is narrow: at high signal-to-noise
the origin time given the position is known to a fraction of a millisecond, and a grid too
coarse for it would leave a ripple in the marginal that makes NUTS take tiny steps). The
correlation ``X`` at the nodes is two matrix products with fixed cosine and sine tables.

This is the origin-time marginalisation of gravitational-wave inference (the coalescence time)
applied to microseismic events: a sampler of the four remaining parameters no longer has to
follow the narrow, curved ridge between depth and origin time, and
:meth:`OriginTimeMarginal.draw_t0` gives each draw its origin time from the exact conditional
distribution (on the same grid, log-linear between nodes), so the joint posterior of all five
parameters is recovered.

The spectra ``H`` come from :func:`jaxseis.forward.apply_spectra`: the emulators' predicted
peak delays, like ``t0``, are applied as phase ramps, i.e. circular shifts (exact for
band-limited traces that fit the window), where :func:`jaxseis.forward.apply_forward` shifts
with a 16-tap interpolator and zero fill (which attenuates the highest frequencies). For an
emulator family with a linear output layer (NN direct) the bins are one product of its last
hidden layer with the output layer composed with the DFT, without forming the traces. At the
true parameters of three test events of the bundled benchmark, the marginal differs from the
integral over ``t0`` of the interpolated model's likelihood by a small fraction of a nat.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.forward import ForwardModel, apply_forward, apply_spectra
from jaxseis.likelihood.base import Likelihood
from jaxseis.likelihood.waveform import WaveformFn, WaveformSearch, band_limited

__all__ = [
    "SIGNAL_DB",
    "OriginTimeMarginal",
    "draw_origin_times",
    "is_stationary",
    "marginal_of",
    "marginal_origin_time",
    "signal_bins",
    "why_not_marginal",
]

SIGNAL_DB = 50.0
""":func:`signal_bins` keeps the bins up to the highest within this many dB of the strongest
(above lies the emulators' numerical floor, 55 dB down for the bundled set)."""


@dataclasses.dataclass(frozen=True)
class OriginTimeMarginal:
    """``fn(theta, model, data)``: the waveform log-likelihood (nats) with the origin time
    marginalised over its uniform prior (``theta[3]`` is ignored); hashable by its settings.

    Attributes:
        static: the forward model's static settings.
        n_samples: trace length.
        dt: sampling interval, s.
        t0_window: ``(low, high)`` s, the prior's origin-time window.
        bins: the lowest ``bins`` frequency bins enter the correlation and the emulated
            traces' energy: the emulated traces are taken band-limited to them (the
            correlation's tables cost ``bins`` times the nodes per evaluation; the samplers
            use :func:`signal_bins`, where the emulators carry signal).
        coarse: coarse nodes per sample interval.
        fine: fine nodes per coarse interval.
        window: coarse intervals either side of the largest coarse node that are refined.
    """

    static: tuple
    n_samples: int
    dt: float
    t0_window: tuple[float, float]
    bins: int
    coarse: int = 2
    fine: int = 16
    window: int = 6

    # ------------------------------------------------------------------ the grid (static)

    @property
    def num_coarse(self) -> int:
        """Coarse intervals over the window."""
        lo, hi = self.t0_window
        return max(1, int(np.ceil((hi - lo) * self.coarse / self.dt - 1e-9)))

    @property
    def num_refined(self) -> int:
        """Coarse intervals refined around the peak."""
        return min(2 * self.window, self.num_coarse)

    def _tables(self):
        return _tables(self.n_samples, self.dt, self.t0_window, self.bins, self.num_coarse,
                       self.num_refined * self.fine, self.fine)  # fmt: skip

    # ------------------------------------------------------------------ evaluation

    def parts(self, theta, model, data):
        """``(base, t_lo [I], t_hi [I], lp_lo [I], lp_hi [I], log_len [I])``: the
        log-likelihood at ``t0`` is ``base + lp(t0)``, and the trapezoid rule's intervals
        ``[t_lo, t_hi]`` carry ``lp`` at both ends and ``log`` of their lengths (``-inf`` for
        coarse intervals replaced by refined ones)."""
        theta = jnp.asarray(theta)
        w, d = data["weight"], data["spec"]
        k = self.bins
        h = apply_spectra(self.static, model, theta[:3], k).astype(d.dtype)  # [R, k]
        amp = jnp.exp(theta[4].astype(w.dtype))
        e_d = jnp.sum(w * (d.real**2 + d.imag**2))
        e_h = jnp.sum(w[..., :k] * (h.real**2 + h.imag**2))
        g = jnp.sum((w * d)[..., :k] * jnp.conj(h), axis=0)  # [k]
        t_c, cos_c, sin_c, off, cos_f, sin_f = (jnp.asarray(a, w.dtype) for a in self._tables())
        lp_c = amp * (g.real @ cos_c - g.imag @ sin_c)  # [M + 1]
        m, r = self.num_coarse, self.num_refined
        peak = jax.lax.stop_gradient(jnp.argmax(lp_c))
        a = jnp.clip(peak - self.window, 0, m - r)
        t_a = t_c[a]
        # g_k exp(2 pi i k t_a / T), then the refined nodes' fixed phase offsets
        phase = 2.0 * jnp.pi * jnp.arange(k, dtype=w.dtype) * t_a / (self.n_samples * self.dt)
        ga = g * jnp.exp(1j * phase)
        lp_f = amp * (ga.real @ cos_f - ga.imag @ sin_f)  # [r * fine + 1]
        j = jnp.arange(m)
        step_c = t_c[1] - t_c[0]
        log_c = jnp.where((j >= a) & (j < a + r), -jnp.inf, jnp.log(step_c))
        t_f = t_a + off
        step_f = off[1] - off[0]
        log_f = jnp.full(r * self.fine, jnp.log(step_f), w.dtype)
        base = data["log_norm"] - 0.5 * (e_d + amp * amp * e_h)
        return (
            base,
            jnp.concatenate([t_c[:-1], t_f[:-1]]),
            jnp.concatenate([t_c[1:], t_f[1:]]),
            jnp.concatenate([lp_c[:-1], lp_f[:-1]]),
            jnp.concatenate([lp_c[1:], lp_f[1:]]),
            jnp.concatenate([log_c, log_f]),
        )

    def __call__(self, theta, model, data):
        base, _, _, lp_lo, lp_hi, log_len = self.parts(theta, model, data)
        lo, hi = self.t0_window
        mass = log_len + jnp.logaddexp(lp_lo, lp_hi) - jnp.log(2.0)
        return base + jax.nn.logsumexp(mass) - jnp.log(hi - lo)

    def draw_t0(self, key, theta, model, data):
        """An origin time (s) drawn from its conditional distribution given the other
        parameters of ``theta [5]``: the density is taken log-linear between the grid's
        nodes (exact for an exponential; for the narrow Gaussian peak of a high
        signal-to-noise event the draws' spread is within 1 % of the exact one), an interval
        is chosen by its mass, then a point of it by the inverse cdf."""
        _, t_lo, t_hi, lp_lo, lp_hi, log_len = self.parts(theta, model, data)
        b = jnp.clip(lp_hi - lp_lo, -700.0, 700.0)
        small = jnp.abs(b) < 1e-8
        safe = jnp.where(small, 1.0, b)
        # log of the interval's mass: its length times the logarithmic mean of its ends
        log_mean = jnp.maximum(lp_lo, lp_hi) + jnp.where(
            small, 0.0, jnp.log(-jnp.expm1(-jnp.abs(safe))) - jnp.log(jnp.abs(safe))
        )
        mass = log_len + log_mean
        k_int, k_in = jax.random.split(key)
        i = jax.random.categorical(k_int, jnp.where(jnp.isfinite(mass), mass, -jnp.inf))
        q = jax.random.uniform(k_in, (), dtype=t_lo.dtype)
        frac = jnp.where(small[i], q, jnp.log1p(q * jnp.expm1(safe[i])) / safe[i])
        lo, hi = self.t0_window
        return jnp.clip(t_lo[i] + frac * (t_hi[i] - t_lo[i]), lo, hi)


@functools.lru_cache(maxsize=16)
def _tables(n, dt, window, bins, num_coarse, num_fine, fine):
    """The coarse nodes ``[M + 1]`` with their cosine and sine tables ``[bins, M + 1]``, and
    the refined nodes' offsets from their first node ``[F + 1]`` with theirs."""
    lo, hi = window
    t_c = np.linspace(lo, hi, num_coarse + 1)
    step_f = (t_c[1] - t_c[0]) / fine
    off = step_f * np.arange(num_fine + 1)
    omega = 2.0 * np.pi * np.arange(bins) / (n * dt)
    ph_c, ph_f = np.outer(omega, t_c), np.outer(omega, off)
    return t_c, np.cos(ph_c), np.sin(ph_c), off, np.cos(ph_f), np.sin(ph_f)


def marginal_origin_time(
    model: ForwardModel,
    t0_window,
    *,
    bins: int | None = None,
    coarse: int = 2,
    fine: int = 16,
    window: int = 6,
) -> OriginTimeMarginal:
    """The waveform likelihood of a forward model with the origin time marginalised.

    Use it with the data of :func:`jaxseis.likelihood.waveform_data` for white noise (no
    ``extra_variance``) or coloured noise, without an emulator error model.

    Args:
        model: the forward model.
        t0_window: ``(low, high)`` s, the prior's origin-time window (``low < high``).
        bins: frequency bins of the correlation (default: all).
        coarse, fine, window: the grid (see :class:`OriginTimeMarginal`): coarse nodes at
            ``dt / coarse``, refined ``fine`` times within ``window`` coarse intervals of the
            peak.

    Raises:
        ValueError: an empty window or bad grid settings.
    """
    return _checked(model.static, model.n_samples, model.dt, t0_window, bins, coarse, fine,
                    window)  # fmt: skip


def signal_bins(static, params, lower, upper, n_samples: int, db: float = SIGNAL_DB) -> int:
    """The frequency bins where an emulator set carries signal: the lowest up to the highest
    within ``db`` dB of the strongest, over the emulated traces of 64 positions of a
    scrambled Sobol set (seed 0) in the box ``lower``, ``upper`` ``[3]`` km. The same for
    every event of an emulator set and prior, so one compiled program serves them all."""
    from scipy.stats import qmc

    lo, hi = np.asarray(lower, np.float64)[:3], np.asarray(upper, np.float64)[:3]
    positions = lo + (hi - lo) * qmc.Sobol(3, scramble=True, seed=0).random(64)
    traces = _traces(static, params, jnp.asarray(positions))
    spectra = np.fft.rfft(np.asarray(traces, np.float64), n=n_samples, axis=-1)
    return band_limited(spectra, db)


@functools.partial(jax.jit, static_argnums=0)
def _traces(static, params, positions):
    return jax.vmap(lambda p: apply_forward(static, params, p))(positions)


def why_not_marginal(fn, *, t0_free: bool, stationary: bool) -> str | None:
    """Why the origin time cannot be marginalised out of the likelihood function ``fn``, or
    None when it can: ``t0`` fixed by the prior, not a waveform likelihood, an emulator error
    model (its covariance is not a correlation in ``t0``), or non-stationary noise (white
    noise with ``extra_variance``)."""
    if not t0_free:
        return "the prior fixes t0"
    if not isinstance(fn, WaveformFn):
        return "only a waveform likelihood can have its origin time marginalised"
    if fn.emulator_error:
        return "the emulator error model's likelihood is not a correlation in t0"
    if not stationary:
        return "extra_variance makes the noise non-stationary"
    return None


def is_stationary(likelihood: Likelihood) -> bool:
    """Whether a waveform likelihood's noise is stationary: coloured (frequency domain) or
    white with one variance per receiver (no ``extra_variance``)."""
    data = likelihood.data
    if getattr(likelihood.fn, "domain", None) != "time" or data is None:
        return True
    inv_var = np.asarray(data["inv_var"])
    return not np.any(np.ptp(inv_var, axis=-1) > 1e-12 * np.max(inv_var, axis=-1))


def marginal_of(likelihood: Likelihood, t0_window, *, bins: int | None = None):
    """The marginal over ``t0`` of a waveform likelihood with its data
    (:func:`jaxseis.likelihood.waveform_log_likelihood`), over ``bins`` frequency bins
    (default: all).

    Raises:
        ValueError: naming why it cannot be computed (:func:`why_not_marginal`), or an empty
            window.
    """
    search = likelihood.search
    reason = why_not_marginal(likelihood.fn, t0_free=True, stationary=is_stationary(likelihood))
    if reason is None and not isinstance(search, WaveformSearch):
        reason = "only a waveform likelihood can have its origin time marginalised"
    if reason is None and likelihood.data is None:
        reason = "the likelihood has no data"
    if reason is not None:
        raise ValueError(reason)
    return _checked(search.static, search.n_samples, search.dt, t0_window, bins)


def _checked(static, n_samples, dt, t0_window, bins, coarse=2, fine=16, window=6):
    """An :class:`OriginTimeMarginal` from checked settings."""
    lo, hi = (float(v) for v in t0_window)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(
            f"the origin time must be free to be marginalised: t0 window ({lo}, {hi}) s needs "
            "low < high"
        )
    n_freq = int(n_samples) // 2 + 1
    bins = n_freq if bins is None else int(bins)
    if not 2 <= bins <= n_freq:
        raise ValueError(f"bins must be in [2, {n_freq}]; got {bins}")
    for name, v in (("coarse", coarse), ("fine", fine), ("window", window)):
        if not (isinstance(v, int) and v >= 1):
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    return OriginTimeMarginal(static, int(n_samples), float(dt), (lo, hi), bins, coarse, fine,
                              window)  # fmt: skip


def draw_origin_times(marginal: OriginTimeMarginal, key, theta, model, data) -> jax.Array:
    """Origin times ``[n]`` (s) drawn from their conditionals given the other parameters of
    draws ``theta [n, 5]`` (pure; one key per draw split from ``key``)."""
    keys = jax.random.split(key, theta.shape[0])
    return jax.vmap(marginal.draw_t0, (0, 0, None, None))(keys, theta, model, data)
