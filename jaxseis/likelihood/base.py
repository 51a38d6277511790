"""The :class:`Likelihood` container shared by every likelihood of the event parameters.

A likelihood is a pure function ``fn(theta, model, data) -> log L`` (nats) of the event
parameters ``theta = (x, y, z, t0, log_amplitude)`` (:data:`PARAMS`), of arrays that do not
depend on the event (``model``: emulator parameters, travel-time tables) and of the event's own
arrays (``data``: observed traces and noise weights, or picks). ``fn`` is hashable and compares
equal for equal settings, so a compiled program that takes ``model`` and ``data`` as arguments
serves every event of the same shapes: :func:`jaxseis.locate` and the catalogue locator compile
once per likelihood kind, not once per event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import check_position

__all__ = [
    "PARAMS",
    "POSITION",
    "Likelihood",
    "PositionFunction",
    "as_likelihood",
    "evaluate",
]

PARAMS = ("x", "y", "z", "t0", "log_amplitude")
"""The event parameters: position (km), origin time relative to the reference time (s), natural
log of the source strength relative to the training source."""

POSITION = PARAMS[:3]
"""The position parameters (km)."""


class Likelihood(NamedTuple):
    """A log-likelihood of the event parameters with its model and data arrays.

    Attributes:
        fn: hashable pure function ``fn(theta [5], model, data) -> []`` (nats).
        model: pytree of arrays that do not depend on the event.
        data: pytree of the event's arrays (same structure and shapes for every event of one
            kind, so that one compiled program serves them all).
        uses: the parameters ``fn`` depends on (a subset of :data:`PARAMS`, in that order).
        x64: whether ``fn`` must run in JAX's float64 mode (GP emulators).
        search: optional hashable fast global search over ``(t0, log_amplitude)`` for given
            positions (the waveform likelihoods' cross-correlation; see
            :mod:`jaxseis.inference.global_stage`), or None.
        receivers_km: ``[n_receivers, 3]`` km of the data, in ``fn``'s order (informational).
        stations: station codes in the same order.
        extent_km: ``[2, 3]`` lower and upper corners of the region where positions are
            defined (the model grid or the travel-time table), or None. Eager calls refuse
            positions outside it; compiled ones return ``-inf`` or extrapolate.
        domain_km: ``[2, 3]`` the box where the model was trained (an emulator set's training
            box), or None; a prior leaving it is refused or clipped
            (:func:`jaxseis.inference.validate_prior`).
        resolution_km: ``[3]`` the spacing of the training positions (the model grid's), the
            tolerance of that check.
        window: ``(reference arrival s, trace length s)`` for the check of the ``t0`` prior
            (an origin-time window that moves the arrivals out of the trace), or None.

    Calling it, ``likelihood(theta)``, evaluates ``log L`` eagerly for ``theta [5]`` or a
    position ``[3]`` (``t0 = 0``, ``log_amplitude = 0``).
    """

    fn: Callable
    model: Any
    data: Any
    uses: tuple[str, ...]
    x64: bool = False
    search: Any = None
    receivers_km: np.ndarray | None = None
    stations: tuple[str, ...] = ()
    extent_km: np.ndarray | None = None
    domain_km: np.ndarray | None = None
    resolution_km: np.ndarray | None = None
    window: tuple[float, float] | None = None

    def __call__(self, theta) -> jax.Array:
        return evaluate(self, theta)

    def with_data(self, data) -> Likelihood:
        """The same likelihood for another event's data (same structure and shapes)."""
        return self._replace(data=data)


@partial(jax.jit, static_argnums=0)
def _evaluate(fn, theta, model, data):
    return fn(theta, model, data)


def evaluate(likelihood: Likelihood, theta) -> jax.Array:
    """``log L`` at ``theta [5]`` (or a position ``[3]``), checked, in the likelihood's precision.

    Raises:
        ValueError: ``theta`` of another shape or not finite.
    """
    t = np.asarray(theta, dtype=np.float64)
    if t.shape == (3,):
        t = np.concatenate([t, [0.0, 0.0]])
    if t.shape != (5,):
        raise ValueError(
            f"event parameters must be [5] {PARAMS} or a position [3] (km); got shape {t.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError(f"event parameters contain NaN or infinite values: {t.tolist()}")
    if likelihood.extent_km is not None:
        check_position(t[:3], likelihood.extent_km)
    with jax.enable_x64(likelihood.x64 or bool(jax.config.read("jax_enable_x64"))):
        dtype = jnp.result_type(float)
        return _evaluate(likelihood.fn, jnp.asarray(t, dtype), likelihood.model, likelihood.data)


@dataclasses.dataclass(frozen=True, eq=False)
class PositionFunction:
    """``fn(theta, model, data) = log_likelihood(theta[:3])`` for a plain callable (hashed and
    compared by the callable's identity)."""

    log_likelihood: Callable

    def __call__(self, theta, model, data):
        value = self.log_likelihood(theta[:3])
        if jnp.shape(value) != ():
            raise ValueError(
                f"log_likelihood(source) must return a scalar; got shape {jnp.shape(value)}"
            )
        return value

    def __hash__(self):
        return hash(self.log_likelihood)

    def __eq__(self, other):
        return isinstance(other, PositionFunction) and other.log_likelihood is self.log_likelihood


def as_likelihood(obj) -> Likelihood:
    """A :class:`Likelihood` as is, or a plain callable ``log_likelihood(position [3] km)``
    wrapped as a likelihood of the position only (evaluated in the caller's precision).

    Raises:
        ValueError: anything else.
    """
    if isinstance(obj, Likelihood):
        return obj
    if callable(obj):
        try:
            hash(obj)
        except TypeError:
            obj = _Hashable(obj)
        x64 = bool(jax.config.read("jax_enable_x64"))
        return Likelihood(PositionFunction(obj), None, None, POSITION, x64)
    raise ValueError(
        f"expected a jaxseis Likelihood or a callable position [3] -> log L; got {obj!r}"
    )


class _Hashable:
    """Hashable (by identity) holder of an unhashable callable."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, source):
        return self.fn(source)
