"""The differentiable multi-receiver forward model: event parameters -> traces at every receiver.

An event is ``theta = (x, y, z, t0, log_amplitude)``: the source position (km), the origin time
relative to the observation's reference time (s) and the natural log of the source strength
relative to the training simulations' source (:data:`jaxseis.inference.PARAMS`). For each
receiver, the trace is the emulator's prediction at the position, delayed by ``t0`` with the
differentiable fractional shift and scaled by ``exp(log_amplitude)``
(:func:`jaxseis.emulators.predictor.apply_predictor`).

A :class:`ForwardModel` splits an emulator set into a hashable ``static`` part (families and
configurations) and a pytree of arrays ``params``: :func:`apply_forward` is a pure function of
both, so the arrays can be passed to a compiled function as an argument instead of being
embedded in it. Emulators of the same family and configuration are **stacked** (their
parameter pytrees gain a leading receiver axis and one ``vmap`` evaluates all receivers); mixed
families are evaluated one after the other in the same function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.base import Emulator
from jaxseis.emulators.domain import training_box
from jaxseis.emulators.predictor import (
    X64_MESSAGE,
    apply_predictor,
    apply_predictor_spectrum,
    has_core_gps,
    predict,
    predictor_parts,
)
from jaxseis.geometry import DEFAULT_GRID, check_position

__all__ = [
    "ForwardModel",
    "apply_forward",
    "apply_spectra",
    "event_vector",
    "forward_model",
    "make_forward",
    "validation_error_variance",
]


class ForwardModel(NamedTuple):
    """An emulator set as ``static`` settings plus arrays.

    Attributes:
        static: hashable: ``("stacked", predictor static)`` or ``("loop", (static, ...))``.
        params: pytree of NumPy arrays (stacked on a leading receiver axis when stacked).
        receivers_km: ``[n_receivers, 3]``, in the order of the traces.
        dt: sampling interval, s.
        n_samples: trace length.
        x64: whether evaluation needs JAX's float64 mode (the GPs).
        extent_km: ``[2, 3]`` corners of the model grid the emulators were trained on.
        training_box_km: ``[2, 3]`` the box where every emulator has training sources (the
            intersection of their training boxes).
        grid_spacing_km: ``[3]`` node spacing of that grid (the training sources' resolution).
        reference_arrival_s: time of the emulators' reference peak after the origin (the
            latest over receivers), s, or None without peak alignment: a typical arrival.
    """

    static: tuple
    params: Any
    receivers_km: np.ndarray
    dt: float
    n_samples: int
    x64: bool
    extent_km: np.ndarray
    training_box_km: np.ndarray
    grid_spacing_km: np.ndarray
    reference_arrival_s: float | None


def forward_model(
    emulators: Sequence[Emulator], *, dtype=jnp.float32, stack: bool | None = None
) -> ForwardModel:
    """Split emulators (one per receiver, in the order of the observed traces) into a
    :class:`ForwardModel`.

    Args:
        emulators: fitted emulators sharing ``dt`` and ``n_samples``.
        dtype: float dtype of the networks and traces; the GPs always run in float64.
        stack: evaluate the receivers with one ``vmap`` over stacked parameters (``True``,
            one family and configuration) or one after the other (``False``). Default: stack,
            except for families whose core holds GPs (PCA+GP, AE+GP, D18), where the loop is
            faster.

    Raises:
        ValueError: no emulator, differing sampling, or ``stack=True`` for mixed families.
    """
    emulators = list(emulators)
    if not emulators:
        raise ValueError("the forward model needs at least one emulator")
    if len({(float(e.dt), int(e.n_samples)) for e in emulators}) != 1:
        raise ValueError("all emulators must share dt and n_samples")
    if stack is None:
        stack = not any(has_core_gps(e.core) for e in emulators)
    with jax.enable_x64(True):
        parts = [predictor_parts(e, dtype, jnp.float64) for e in emulators]
    parts = [(s, jax.tree.map(np.asarray, p)) for s, p in parts]
    x64 = any(s[-1] for s, _ in parts)  # the last static entry: the emulator has GPs
    receivers = np.stack([np.asarray(e.receiver_km, dtype=np.float64) for e in emulators])
    grids = {getattr(e, "grid", DEFAULT_GRID) for e in emulators}
    if len(grids) != 1:
        raise ValueError("all emulators must be trained on one model grid")
    grid = grids.pop()
    extent = grid.extent_km
    for r in receivers:
        check_position(r, extent, "the model grid (an emulator's receiver)")
    boxes = np.stack([np.stack(training_box(e)) for e in emulators])
    box = np.stack([boxes[:, 0].max(axis=0), boxes[:, 1].min(axis=0)])
    peaks = [e.alignment.ref_time for e in emulators if e.alignment is not None]
    common = (
        receivers, float(emulators[0].dt), int(emulators[0].n_samples), x64, extent, box,
        np.asarray(grid.spacing_km, dtype=np.float64), max(peaks) if peaks else None,
    )  # fmt: skip
    if stack:
        stacked = _stack(parts)
        if stacked is None:
            if len(emulators) > 1:
                raise ValueError(
                    "stack=True needs emulators of one family, configuration and shape"
                )
        else:
            return ForwardModel(("stacked", stacked[0]), stacked[1], *common)
    return ForwardModel(("loop", tuple(s for s, _ in parts)), [p for _, p in parts], *common)


def _stack(parts):
    """``(static, stacked params)`` if all parts share static settings and shapes, else None."""
    if len({s for s, _ in parts}) != 1:
        return None
    shapes = [jax.tree.map(np.shape, p) for _, p in parts]
    if any(jax.tree.structure(s) != jax.tree.structure(shapes[0]) for s in shapes):
        return None
    if any(jax.tree.leaves(s) != jax.tree.leaves(shapes[0]) for s in shapes):
        return None
    return parts[0][0], jax.tree.map(lambda *leaves: np.stack(leaves), *[p for _, p in parts])


def event_vector(theta) -> jax.Array:
    """``theta`` as the 5 event parameters: ``[3]`` positions get ``t0 = 0`` and
    ``log_amplitude = 0``; ``[..., 5]`` is returned as is."""
    theta = jnp.asarray(theta)
    if theta.shape[-1] == 3:
        pad = jnp.zeros((*theta.shape[:-1], 2), theta.dtype)
        return jnp.concatenate([theta, pad], axis=-1)
    if theta.shape[-1] != 5:
        raise ValueError(
            f"event parameters must be [3] (x, y, z km) or [5] (x, y, z, t0, log_amplitude); "
            f"got shape {theta.shape}"
        )
    return theta


def apply_forward(static: tuple, params, theta) -> jax.Array:
    """Traces ``[n_receivers, n_samples]`` of an event ``theta [5]`` (or a position ``[3]``).

    Pure: works under ``jit``, ``vmap`` and ``grad`` (exact gradients, including through the
    fractional time shift). Needs JAX's x64 mode when the model has GPs.
    """
    theta = event_vector(theta)
    source, t0, log_amp = theta[:3], theta[3], theta[4]
    mode, statics = static
    if mode == "stacked":
        return jax.vmap(apply_predictor, in_axes=(None, 0, None, None, None))(
            statics, params, source, t0, log_amp
        )
    return jnp.stack(
        [apply_predictor(s, p, source, t0, log_amp) for s, p in zip(statics, params, strict=True)]
    )


def apply_spectra(static: tuple, params, position, bins: int) -> jax.Array:
    """The lowest ``bins`` bins ``[n_receivers, bins]`` (complex) of the one-sided spectra
    (``rfft``) of the traces from a source at ``position [3]`` km, origin time 0 and unit
    strength, with the emulators' peak delays applied as exact phase ramps (see
    :func:`jaxseis.emulators.predictor.apply_predictor_spectrum`: within about 1e-3 of the
    spectra of :func:`apply_forward`'s traces for the bundled emulators). Pure, like
    :func:`apply_forward`."""
    source = jnp.asarray(position)[:3]
    mode, statics = static
    if mode == "stacked":
        return jax.vmap(apply_predictor_spectrum, in_axes=(None, 0, None, None))(
            statics, params, source, bins
        )
    return jnp.stack(
        [apply_predictor_spectrum(s, p, source, bins) for s, p in zip(statics, params, strict=True)]
    )


def make_forward(
    emulators: Sequence[Emulator] | ForwardModel,
    *,
    dtype=jnp.float32,
    jit: bool = True,
    stack: bool | None = None,
) -> Callable[[jax.Array], jax.Array]:
    """One function ``theta -> traces [n_receivers, n_samples]`` with the arrays closed over.

    ``theta`` is ``[5]`` (x, y, z km, t0 s, log_amplitude) or a position ``[3]`` (``t0 = 0``,
    unit amplitude). Call it (and build it) with JAX's x64 mode on when the emulators have GPs
    (``with jax.enable_x64(True):``); the likelihood constructors of
    :mod:`jaxseis.likelihood` do that themselves.

    Args:
        emulators: one emulator per receiver, in the order of the observed traces, or a
            :class:`ForwardModel`.
        dtype, stack: see :func:`forward_model`.
        jit: return the function jitted (default) or plain (to compose into a larger jit).
    """
    model = emulators if isinstance(emulators, ForwardModel) else forward_model(
        emulators, dtype=dtype, stack=stack
    )  # fmt: skip
    if model.x64 and not jax.config.read("jax_enable_x64"):
        raise ValueError(X64_MESSAGE)
    params = jax.tree.map(jnp.asarray, model.params)

    def forward(theta):
        return apply_forward(model.static, params, theta)

    return jax.jit(forward) if jit else forward


def validation_error_variance(emulator: Emulator, sources_km, traces) -> np.ndarray:
    """Per-sample variance ``[n_samples]`` of the emulator's error on held-out traces.

    Estimate it on the **validation** split (never the test split) and pass it, stacked over
    receivers, as ``extra_variance`` to :func:`jaxseis.likelihood.waveform_log_likelihood` to
    account for emulator error.
    """
    pred = predict(emulator, sources_km)
    resid = np.asarray(traces, dtype=np.float64) - pred
    return resid.var(axis=0) + resid.mean(axis=0) ** 2
