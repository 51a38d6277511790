"""The emulator as a pure function of the source, and checked, chunked prediction.

:func:`predictor_parts` splits an emulator into hashable static settings and a pytree of
arrays; :func:`apply_predictor` evaluates them (jit, vmap and grad safe), so emulators of one
family and configuration stack on a receiver axis (:mod:`jaxseis.forward`).
:func:`predict` refuses sources outside the model grid and, for sources outside the training
box, follows ``policy`` (:mod:`jaxseis.emulators.domain`); it evaluates large inputs in chunks
(:mod:`jaxseis.emulators.batching`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.base import Emulator
from jaxseis.emulators.batching import default_batch_size, map_batches
from jaxseis.emulators.domain import check_policy, check_sources
from jaxseis.emulators.registry import get_family
from jaxseis.geometry import source_features
from jaxseis.gp import GaussianProcesses, predict_gps
from jaxseis.preprocess import Standardizer, unalign

__all__ = [
    "X64_MESSAGE",
    "apply_predictor",
    "apply_predictor_spectrum",
    "has_core_gps",
    "make_predictor",
    "predict",
    "predictor_parts",
]

X64_MESSAGE = (
    "the peak-alignment GPs need float64: enable JAX's x64 mode "
    '(jax.config.update("jax_enable_x64", True)) or build and call the predictor inside '
    "`with jax.enable_x64(True):` (in float32 the predicted time shifts are off by tens of "
    "samples; pass gp_dtype=jnp.float32 explicitly to accept that)"
)


def _x64_enabled() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def predictor_parts(emulator: Emulator, dtype=jnp.float32, gp_dtype=None) -> tuple[tuple, dict]:
    """Split an emulator into hashable static settings and a pytree of arrays.

    ``apply_predictor(static, params, source)`` evaluates it. Emulators of the same family and
    configuration have identical ``static`` and parameter shapes, so their ``params`` can be
    stacked and the prediction ``vmap``-ed over receivers (:mod:`jaxseis.forward`).

    ``gp_dtype`` is the precision of the GPs (the peak GPs, and the GPs of PCA+GP, AE+GP and
    D18): float64 by default, which needs JAX's x64
    mode, both here and when the predictor is traced (``jax.config.update("jax_enable_x64",
    True)``, or build and call it inside ``with jax.enable_x64(True):``). The GP mean
    ``k @ alpha`` is a sum of 2000 terms with weights of up to about 5e4 (the fitted noise is
    small) that cancel: in float32 the predicted time shifts of the bundled emulators are off
    by tens of samples and the test R2D falls from 0.997 to 0.0-0.6. ``gp_dtype=jnp.float32``
    is accepted only when asked for explicitly (e.g. for timing).

    For a family with a linear output layer (``linear_head``), ``params["head"]`` holds that
    layer composed with the real DFT (for :func:`apply_predictor_spectrum`).

    Raises:
        ValueError: if the emulator has GPs, ``gp_dtype`` is not given and x64 is off.
    """
    if not isinstance(emulator, Emulator):
        raise TypeError(f"expected a fitted Emulator, got {type(emulator).__name__}")
    family = get_family(emulator.kind)
    has_gps = family.uses_alignment or has_core_gps(emulator.core)
    if gp_dtype is None:
        if has_gps and not _x64_enabled():
            raise ValueError(X64_MESSAGE)
        gp_dtype = jnp.float64 if _x64_enabled() else dtype

    def cast(tree, dt=dtype):
        return jax.tree.map(lambda a: jnp.asarray(a, dt), tree)

    core = {k: cast(v, gp_dtype if k == "gps" else dtype) for k, v in emulator.core.items()}
    params = {
        "receiver": cast(emulator.receiver_km, gp_dtype),
        "mean": cast(emulator.feature_scaler.mean),
        "std": cast(emulator.feature_scaler.std),
        "core": core,
    }
    if family.uses_alignment:
        g = emulator.peak_gps
        params["gps"] = cast(g._asdict() | {"x_scaler": g.x_scaler._asdict()}, gp_dtype)
        params["ref"] = jnp.asarray(emulator.alignment.ref_amplitude, dtype)
    if hasattr(family, "linear_head"):
        params["head"] = cast(_spectral_head(family, emulator))
    static = (
        emulator.kind,
        json.dumps(emulator.config, sort_keys=True),
        float(emulator.dt),
        jnp.dtype(gp_dtype).name,
        has_gps,
    )
    return static, params


def _spectral_head(family, emulator: Emulator) -> dict:
    """The family's linear output layer composed with the real DFT: ``kernel [h, 2, F]`` and
    ``bias [2, F]`` (real and imaginary parts of the ``F = n // 2 + 1`` one-sided bins) with
    ``rfft(hidden @ W + b) == hidden @ kernel + bias``; computed in float64."""
    _, kernel, bias = family.linear_head(emulator.core, emulator.config)
    kernel, bias = np.asarray(kernel, np.float64), np.asarray(bias, np.float64)
    n = kernel.shape[-1]
    phase = 2.0 * np.pi * np.outer(np.arange(n), np.arange(n // 2 + 1)) / n
    dft = np.stack([np.cos(phase), -np.sin(phase)])  # [2, n, F]
    return {"kernel": np.einsum("hn,cnf->hcf", kernel, dft), "bias": bias @ dft}


def has_core_gps(core: dict) -> bool:
    """Whether a family's parameters hold GPs (``core["gps"]``: PCA+GP, AE+GP, D18)."""
    return isinstance(core, dict) and "gps" in core


def _inputs(static: tuple, params: dict, source):
    """``(family, config, dt, features [4], standardised features [4])`` of a source
    ``[3]`` km for :func:`apply_predictor` and :func:`apply_predictor_spectrum`.

    Raises:
        ValueError: float64 GPs without x64 mode.
    """
    kind, config, dt, gp_dtype, has_gps = static
    if has_gps and gp_dtype == "float64" and not _x64_enabled():
        raise ValueError(X64_MESSAGE)
    feats = source_features(jnp.asarray(source, params["receiver"].dtype), params["receiver"])
    z = (feats.astype(params["mean"].dtype) - params["mean"]) / params["std"]
    return get_family(kind), json.loads(config), dt, feats, z


def _peaks(params: dict, feats):
    """The peak GPs' ``(log amplitude ratio, shift s)`` at the features ``[4]``."""
    g = params["gps"]
    gps = GaussianProcesses(**(g | {"x_scaler": Standardizer(**g["x_scaler"])}))
    return predict_gps(gps, feats)


def apply_predictor(static: tuple, params: dict, source, t0=0.0, log_amplitude=0.0):
    """Trace ``[n_samples]`` from :func:`predictor_parts` output.

    Args:
        static, params: from :func:`predictor_parts`.
        source: ``[3]`` position, km.
        t0: origin time, s: the trace is delayed by ``t0`` (fractional, zero fill).
        log_amplitude: natural log of the source strength relative to the training source:
            the trace is scaled by ``exp(log_amplitude)``.

    For families with peak alignment the delay and the scale join the predicted peak shift
    and amplitude ratio, so the trace is interpolated once.
    """
    family, config, dt, feats, z = _inputs(static, params, source)
    dtype = z.dtype
    aligned = family.predict_core(params["core"], config)(z).astype(dtype)
    t0 = jnp.asarray(t0, dtype)
    log_amplitude = jnp.asarray(log_amplitude, dtype)
    if not family.uses_alignment:
        return unalign(aligned, log_amplitude, t0, dt)
    log_ratio, shift = _peaks(params, feats)
    log_ratio = log_ratio.astype(dtype) + log_amplitude
    trace = unalign(aligned, log_ratio, shift.astype(dtype) + t0, dt)
    return params["ref"] * trace


def apply_predictor_spectrum(static: tuple, params: dict, source, bins: int):
    """The lowest ``bins`` bins ``[bins]`` (complex) of the one-sided spectrum (``rfft``) of the
    trace at ``source [3]`` km (origin time 0, unit source strength).

    For families with peak alignment, the predicted peak delay is applied as an exact phase
    ramp, i.e. a circular shift of the aligned trace, where :func:`apply_predictor` shifts
    with a 16-tap interpolator and zero fill: for the bundled emulators the two spectra differ
    by about 1e-3 of their norm. A family with a linear output layer
    (``linear_head``, see :class:`~jaxseis.emulators.base.Family`) evaluates the bins as one
    product with its output layer composed with the DFT (``params["head"]``), without forming
    the trace; others take the FFT of the aligned trace.
    """
    family, config, dt, feats, z = _inputs(static, params, source)
    dtype = z.dtype
    if "head" in params:
        hidden_fn, weights, _ = family.linear_head(params["core"], config)
        n = weights.shape[-1]
        kernel = params["head"]["kernel"][..., :bins]  # [h, 2, bins]
        bias = params["head"]["bias"][:, :bins]
        parts = hidden_fn(z).astype(dtype) @ kernel.reshape(kernel.shape[0], -1)
        re, im = (parts + bias.ravel()).reshape(2, bins)
        spectrum = jax.lax.complex(re, im)
    else:
        aligned = family.predict_core(params["core"], config)(z).astype(dtype)
        n = aligned.shape[-1]
        spectrum = jnp.fft.rfft(aligned)[:bins]
    if not family.uses_alignment:
        return spectrum
    log_ratio, shift = _peaks(params, feats)
    omega = (2.0 * jnp.pi / (n * dt)) * jnp.arange(bins, dtype=shift.dtype)
    scale = params["ref"].astype(log_ratio.dtype) * jnp.exp(log_ratio)
    return spectrum * (scale * jnp.exp(-1j * omega * shift))


def make_predictor(
    emulator: Emulator, dtype=jnp.float32, gp_dtype=None
) -> Callable[[jax.Array], jax.Array]:
    """Pure function ``source [3] km -> trace [n_samples]`` (jit, vmap and grad safe).

    Not jitted itself: wrap it in ``jax.jit`` or compose it into a larger jitted function.
    ``gp_dtype``: see :func:`predictor_parts` (float64 for the peak GPs under x64).
    """
    static, params = predictor_parts(emulator, dtype, gp_dtype)
    return partial(apply_predictor, static, params)


def predict(
    emulator: Emulator, sources_km, *, policy: str = "warn", batch_size: int | None = None
) -> np.ndarray:
    """Traces ``[n, n_samples]`` for sources ``[n, 3]`` (or ``[n_samples]`` for one ``[3]``), km.

    Validates the input (shape, finiteness, the domain: see
    :func:`jaxseis.emulators.domain.check_sources`) and evaluates the jitted, vmapped
    predictor in chunks of ``batch_size`` sources.

    Args:
        emulator: a fitted :class:`Emulator`.
        sources_km: ``[n, 3]`` or ``[3]`` positions, km.
        policy: sources inside the grid but outside the training box: ``"warn"`` (default),
            ``"error"`` or ``"ignore"``. Sources outside the grid are always an error.
        batch_size: sources per compiled call (memory grows linearly with it). Default
            (``None``): :func:`jaxseis.emulators.batching.default_batch_size`, as many as fit
            in 256 MiB of working memory (about 2700 for NN direct, 40 for D18). Up to one
            chunk of sources is evaluated in a single call on the input's own shape.

    Raises:
        ValueError: bad shape, NaN, sources outside the grid (with a hint when they look like
            metres), or outside the training box with ``policy="error"``.
    """
    check_policy(policy)
    single = np.ndim(sources_km) == 1
    s = check_sources(emulator, sources_km, policy)
    size = default_batch_size(emulator) if batch_size is None else batch_size
    with jax.enable_x64(True):  # float64 peak GPs (see predictor_parts); float32 network
        f = jax.jit(jax.vmap(make_predictor(emulator)))
        out = map_batches(lambda x: f(jnp.asarray(x, jnp.float64)), s, size)
    return out[0] if single else out
