"""The D18 baseline (Das et al. 2018; the paper's Appendix A), on raw traces.

Compression: per raw training trace the ``k = 100`` samples of largest absolute amplitude,
sorted by time, give ``k`` values and ``k`` time indices. Rank ``r`` (the ``r``-th earliest
dominant sample) gets one GP for its value and one for its time index: ``2 k = 200``
Matérn-3/2 ARD GPs on the standardised source features, fitted batched by
:func:`jaxseis.gp.fit_gps` (they share their inputs). To bound the cost of 200 fits, the
hyperparameters of each GP are fitted on a seeded subset of ``n_subset = 300``
training events with 2 starts of 150 Adam steps, and every GP is then conditioned on all
training events (options in ``core_gp_options``; the ``gp_options`` of
:func:`jaxseis.emulators.fit` concern the peak GPs, which D18 does not use). The fit runs with
single-threaded OpenBLAS (see :func:`jaxseis.gp.fit_gps`).

Reconstruction: the predicted values are written at the rounded predicted indices (clipped to
the trace) of a zero trace. Rounded indices collide (several ranks predict the same sample);
in the paper's code later ranks silently overwrite earlier ones. Here colliding values are
combined explicitly (option ``collision``):

* ``"mean"`` (default): the average of the values that land on a sample (a scatter-add of the
  values divided by a scatter-add of counts): no predicted value is dropped, and the result
  does not depend on the order of the ranks;
* ``"max_abs"``: the value of largest absolute amplitude wins (ties averaged).

``info["val_collision_rate"]`` is the fraction of the ``k`` predicted samples per validation
trace that land on a sample already taken by another rank; :func:`collision_rate` computes it
for any sources (e.g. the test split, which fitting never reads).

Prediction is a pure function (``jit`` and ``vmap`` work). Under ``grad`` the derivative
with respect to the source flows through the predicted *values* only: rounding makes the
predicted positions piecewise constant, so their derivative is zero almost everywhere (and
undefined where a rounded index jumps); the trace itself is discontinuous there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.batching import default_batch_size, gp_batch_size, map_batches
from jaxseis.emulators.schema import gp_shapes
from jaxseis.gp import fit_gps, gps_from_dict, gps_to_dict, predict_gps

__all__ = [
    "COLLISION_RULES",
    "collision_rate",
    "core_shapes",
    "dominant_samples",
    "fit_core",
    "name",
    "predict_core",
    "predict_dominant",
    "reconstruct",
    "uses_alignment",
]

name = "d18"
uses_alignment = False
K = 100
COLLISION_RULES = ("mean", "max_abs")
DEFAULT_GP_OPTIONS = {"n_subset": 300, "n_restarts": 2, "n_iter": 150, "batch_size": 4}


def dominant_samples(traces, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` samples of largest ``|amplitude|`` of each trace, sorted by time.

    Args:
        traces: ``[n, n_samples]``.
        k: number of dominant samples (``<= n_samples``).

    Returns:
        ``(values [n, k], indices [n, k])``: amplitudes and integer time indices (ascending).
    """
    x = np.asarray(traces)
    if x.ndim != 2 or not 0 < k <= x.shape[1]:
        raise ValueError(f"traces must be [n, n_samples >= k]; got {x.shape} with k = {k}")
    idx = np.argsort(-np.abs(x), axis=1, kind="stable")[:, :k]
    idx = np.sort(idx, axis=1)
    return np.take_along_axis(x, idx, axis=1), idx


def _rounded(indices, n_samples: int) -> jax.Array:
    return jnp.clip(jnp.round(indices), 0, n_samples - 1).astype(jnp.int32)


def reconstruct(values, indices, n_samples: int, collision: str = "mean") -> jax.Array:
    """A trace ``[n_samples]`` holding ``values [k]`` at the rounded ``indices [k]``, zero
    elsewhere; colliding values combined by ``collision`` (``"mean"`` or ``"max_abs"``).

    Pure JAX (jit, vmap, grad with respect to ``values``; ``indices`` are rounded, so their
    derivative is zero).
    """
    if collision not in COLLISION_RULES:
        raise ValueError(f"unknown collision rule {collision!r}; use one of {COLLISION_RULES}")
    values = jnp.asarray(values)
    i = _rounded(jnp.asarray(indices), n_samples)
    zeros = jnp.zeros((n_samples,), values.dtype)
    if collision == "max_abs":
        a = jnp.abs(values)
        top = zeros.at[i].max(a)
        keep = (a >= top[i]).astype(values.dtype)
    else:
        keep = jnp.ones_like(values)
    total = zeros.at[i].add(values * keep)
    count = zeros.at[i].add(keep)
    return total / jnp.maximum(count, 1.0)


def _collisions(indices, n_samples: int) -> jax.Array:
    """Fraction of ``indices [..., k]`` that fall on an already occupied rounded sample."""
    i = _rounded(indices, n_samples)
    k = i.shape[-1]

    def one(ii):
        occupied = jnp.zeros((n_samples,), jnp.int32).at[ii].set(1)
        return 1.0 - jnp.sum(occupied) / k

    flat = i.reshape(-1, k)
    return jax.vmap(one)(flat).reshape(i.shape[:-1])


def fit_core(
    data: dict,
    *,
    seed: int,
    k: int = K,
    collision: str = "mean",
    core_gp_options: dict | None = None,
) -> tuple[dict, dict, dict]:
    """Fit the ``2 k`` GPs on the raw training traces ``data["train"] [n, n_samples]``.

    Args:
        data: the fit payload (``z_train``, ``train``, ``z_val``, ``val``; raw traces).
        seed: seeds the hyperparameter subset and restarts of the GPs.
        k: number of dominant samples (100).
        collision: how colliding rounded indices combine (``"mean"`` or ``"max_abs"``).
        core_gp_options: options of :func:`jaxseis.gp.fit_gps`, merged over
            ``DEFAULT_GP_OPTIONS``.

    Returns:
        ``(core, config, info)``; ``info`` holds the GP fit time, the validation collision
        rate and the validation MSE of the reconstruction.
    """
    if collision not in COLLISION_RULES:
        raise ValueError(f"unknown collision rule {collision!r}; use one of {COLLISION_RULES}")
    tic = time.perf_counter()
    n_samples = int(data["train"].shape[1])
    values, indices = dominant_samples(data["train"], k)
    targets = np.concatenate([values, indices.astype(np.float64)], axis=1)  # [n, 2k]
    options = {**DEFAULT_GP_OPTIONS, **(core_gp_options or {})}
    gps = fit_gps(data["z_train"], targets, seed=seed, **options)
    train_s = time.perf_counter() - tic
    core = {"gps": gps_to_dict(gps)}
    cfg = {"k": k, "n_samples": n_samples, "collision": collision, "gp_options": options}
    tv = time.perf_counter()
    size = gp_batch_size(core["gps"], n_samples)
    _, idx_val = map_batches(jax.jit(jax.vmap(predict_dominant(core, cfg))), data["z_val"], size)
    pred = map_batches(jax.jit(jax.vmap(predict_core(core, cfg))), data["z_val"], size)
    info = {
        "train_s": train_s,
        "n_gps": 2 * k,
        "val_collision_rate": float(jnp.mean(_collisions(idx_val, n_samples))),
        "val_mse": float(np.mean((pred - data["val"]) ** 2)),
        "val_eval_s": time.perf_counter() - tv,
    }
    return core, cfg, info


def predict_dominant(core: dict, config: dict) -> Callable[[jax.Array], tuple]:
    """Pure function: standardised features ``[4]`` -> ``(values [k], indices [k])``
    (indices fractional, before rounding)."""
    gps = gps_from_dict(core["gps"])
    k = int(config["k"])

    def f(z):
        out = predict_gps(gps, z)
        return out[..., :k], out[..., k:]

    return f


def core_shapes(config: dict, n_samples: int) -> dict:
    """Shapes of the core's arrays (see :mod:`jaxseis.emulators.schema`)."""
    if config["n_samples"] != n_samples:
        raise ValueError(f"config n_samples {config['n_samples']} is not {n_samples}")
    if config.get("collision") not in COLLISION_RULES:
        raise ValueError(f"unknown collision rule {config.get('collision')!r}")
    return {"gps": gp_shapes(2 * config["k"])}


def predict_core(core: dict, config: dict) -> Callable[[jax.Array], jax.Array]:
    """Standardised features ``[4]`` -> raw trace ``[n_samples]``."""
    dominant = predict_dominant(core, config)
    n_samples, collision = int(config["n_samples"]), config["collision"]

    def f(z):
        v, i = dominant(z)
        return reconstruct(v, i, n_samples, collision)

    return f


def collision_rate(emulator, sources_km) -> float:
    """Mean fraction of the ``k`` predicted samples per trace that collide after rounding,
    for sources ``[n, 3]`` km (e.g. the test split; a diagnostic, not used in fitting)."""
    from jaxseis.geometry import source_features

    if emulator.kind != name:
        raise ValueError(f"collision_rate needs a d18 emulator, got {emulator.kind!r}")
    s = np.asarray(sources_km, dtype=np.float64).reshape(-1, 3)
    z = emulator.feature_scaler.apply(source_features(s, emulator.receiver_km))
    core = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), emulator.core)
    f = jax.jit(jax.vmap(predict_dominant(core, emulator.config)))
    _, idx = map_batches(f, np.asarray(z, np.float32), default_batch_size(emulator))
    return float(jnp.mean(_collisions(idx, int(emulator.config["n_samples"]))))
