"""Gaussian white-noise log-likelihood of observed traces, as in Spurio Mancini et al. (2021).

The observed traces ``d[r, t]`` of ``n_receivers`` receivers are modelled as the forward model's
traces ``f(s)[r, t]`` of the source ``s = (x, y, z)`` (km) plus independent Gaussian noise::

    log L(s) = -1/2 sum_{r,t} [ (d[r, t] - f(s)[r, t])**2 / v[r, t] + log(2 pi v[r, t]) ]
    v[r, t]  = sigma[r]**2 + e[r, t]

with ``sigma`` the noise standard deviation (a scalar or one per receiver, in the traces' own
amplitude units) and ``e`` an optional emulator error variance (e.g. estimated on the validation
split) that widens the likelihood where the emulator is less accurate.

The paper added noise of standard deviation 250 to traces whose reference peak was about 4476,
i.e. 5.6 % of the reference peak: :func:`default_sigma` gives that level for any amplitude scale.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "PAPER_RELATIVE_SIGMA",
    "add_noise",
    "default_sigma",
    "gaussian_log_likelihood",
]

PAPER_RELATIVE_SIGMA = 0.056
"""Noise standard deviation relative to the reference peak amplitude (250 / 4476 = 0.0559)."""


def default_sigma(reference_peak: float) -> float:
    """The paper's noise level for traces of the given reference peak amplitude.

    Args:
        reference_peak: peak amplitude of the reference trace (the traces' units); its absolute
            value is used.

    Returns:
        ``0.056 * |reference_peak|``, the noise standard deviation in the traces' units.
    """
    peak = np.asarray(reference_peak, dtype=np.float64)
    if peak.ndim != 0:
        raise ValueError(f"reference_peak must be a scalar amplitude; got shape {peak.shape}")
    if not np.isfinite(peak) or peak == 0:
        raise ValueError(f"reference_peak must be finite and non-zero; got {float(peak)}")
    return float(PAPER_RELATIVE_SIGMA * abs(peak))


def add_noise(traces, sigma, key: jax.Array) -> jax.Array:
    """Traces plus seeded Gaussian white noise.

    Args:
        traces: ``[..., n_receivers, n_samples]`` (or ``[n_samples]``) in any amplitude units.
        sigma: noise standard deviation, same units: a scalar or one per receiver
            (``[n_receivers]``, broadcast along the samples); ``>= 0``.
        key: ``jax.random`` key; the same key gives the same noise.

    Returns:
        ``traces + sigma * N(0, 1)`` with the shape and floating dtype of ``traces``.
    """
    x = jnp.asarray(traces)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    s = _check_sigma(sigma, allow_zero=True)
    if s.ndim == 1:
        if x.ndim < 2 or x.shape[-2] != s.shape[0]:
            raise ValueError(
                f"sigma has {s.shape[0]} values (one per receiver) but traces have shape "
                f"{x.shape}, expected [..., {s.shape[0]}, n_samples]"
            )
        s = s[:, None]
    noise = jax.random.normal(key, x.shape, dtype=x.dtype)
    return x + jnp.asarray(s, dtype=x.dtype) * noise


def gaussian_log_likelihood(
    forward: Callable[[jax.Array], jax.Array],
    observed,
    sigma,
    *,
    extra_variance=None,
) -> Callable[[jax.Array], jax.Array]:
    """The Gaussian white-noise log-likelihood of a source position.

    Args:
        forward: maps a source ``[3]`` (x, y, z in km) to traces ``[n_receivers, n_samples]``;
            must be traceable by JAX (it is jitted and differentiated through).
        observed: observed traces ``[n_receivers, n_samples]``, finite.
        sigma: noise standard deviation in the traces' units, ``> 0``: a scalar or one per
            receiver ``[n_receivers]``.
        extra_variance: optional emulator error variance (units squared), ``>= 0``, of shape
            ``[n_receivers, n_samples]`` or broadcastable to it (e.g. ``[n_receivers, 1]``);
            added to ``sigma**2``.

    Returns:
        A pure, jittable and differentiable function ``log_likelihood(source [3] km) -> []``
        giving the full normalised log-likelihood (including the ``log(2 pi v)`` terms) in nats.

    Raises:
        ValueError: for non-finite or non-2-D observed traces, ``sigma <= 0`` or non-finite,
            a negative or ill-shaped ``extra_variance``, or a forward model whose output shape
            (found with :func:`jax.eval_shape`) differs from the observed traces' (receiver
            count or sample count).
    """
    obs = _check_observed(observed)
    n_receivers = obs.shape[0]
    s = _check_sigma(sigma, allow_zero=False)
    if s.ndim == 1 and s.shape[0] != n_receivers:
        raise ValueError(
            f"sigma has {s.shape[0]} values but the observed traces have {n_receivers} "
            "receivers; give a scalar or one value per receiver"
        )
    _check_forward_shape(forward, obs.shape)
    var = (s[:, None] if s.ndim == 1 else s) ** 2
    if extra_variance is not None:
        var = var + _check_extra_variance(extra_variance, obs.shape)
    var = np.broadcast_to(var, obs.shape)
    # the normalisation in float64, once; the data term is evaluated in the default precision
    log_norm = -0.5 * float(np.sum(np.log(2.0 * np.pi * var)))
    dtype = jnp.result_type(float)
    obs_j = jnp.asarray(obs, dtype=dtype)
    inv_var = jnp.asarray(1.0 / var, dtype=dtype)

    def log_likelihood(source: jax.Array) -> jax.Array:
        """Gaussian log-likelihood (nats) of a source ``[3]`` in km."""
        residual = obs_j - forward(source)
        return log_norm - 0.5 * jnp.sum(residual * residual * inv_var)

    return log_likelihood


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_observed(observed) -> np.ndarray:
    obs = np.asarray(observed, dtype=np.float64)
    if obs.ndim != 2:
        raise ValueError(
            f"observed traces must have shape [n_receivers, n_samples]; got shape {obs.shape}"
        )
    if obs.size == 0:
        raise ValueError(f"observed traces are empty (shape {obs.shape})")
    if not np.all(np.isfinite(obs)):
        rows = np.flatnonzero(~np.all(np.isfinite(obs), axis=1))
        raise ValueError(
            f"observed traces contain NaN or infinite values (receivers {rows[:5].tolist()})"
        )
    return obs


def _check_sigma(sigma, *, allow_zero: bool) -> np.ndarray:
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim > 1:
        raise ValueError(f"sigma must be a scalar or one value per receiver; got shape {s.shape}")
    bound = "sigma must be >= 0" if allow_zero else "sigma must be > 0"
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{bound} and finite; got {s.tolist()}")
    if np.any(s < 0) or (not allow_zero and np.any(s == 0)):
        raise ValueError(f"{bound}; got {s.tolist()}")
    return s


def _check_extra_variance(extra_variance, shape: tuple[int, int]) -> np.ndarray:
    e = np.asarray(extra_variance, dtype=np.float64)
    try:
        np.broadcast_shapes(e.shape, shape)
    except ValueError:
        raise ValueError(
            f"extra_variance of shape {e.shape} does not broadcast to the observed traces' "
            f"shape {shape} [n_receivers, n_samples]"
        ) from None
    if np.broadcast_shapes(e.shape, shape) != shape:
        raise ValueError(
            f"extra_variance of shape {e.shape} would enlarge the observed traces' shape {shape}"
        )
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError("extra_variance must be finite and >= 0")
    return e


def _check_forward_shape(forward: Callable, shape: tuple[int, int]) -> None:
    if not callable(forward):
        raise ValueError(f"forward must be a callable source [3] -> traces; got {forward!r}")
    probe = jax.ShapeDtypeStruct((3,), jnp.result_type(float))
    out = jax.eval_shape(forward, probe)
    out_shape = tuple(getattr(out, "shape", ()))
    if len(out_shape) != 2:
        raise ValueError(
            f"forward(source) must return traces [n_receivers, n_samples]; got shape {out_shape}"
        )
    if out_shape[0] != shape[0]:
        raise ValueError(
            f"receiver count mismatch: the observed traces have {shape[0]} receivers but "
            f"forward(source) returns {out_shape[0]}"
        )
    if out_shape[1] != shape[1]:
        raise ValueError(
            f"sample count mismatch: the observed traces have {shape[1]} samples but "
            f"forward(source) returns {out_shape[1]}"
        )
