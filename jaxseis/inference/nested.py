"""Nested sampling (jaxns 3): posterior draws and the evidence.

:func:`run_nested` returns equally weighted posterior draws (systematic resampling of the
weighted dead points) plus the log-evidence ``log Z`` and its error. jaxns 3 has import-time side
effects, which jaxseis contains:

* it turns on ``jax_enable_x64`` for the whole process and fixes its own dtypes to float64 at
  import. jaxseis imports jaxns lazily (only on the nested path), restores the user's x64 flag
  (and ``jax_threefry_partitionable``) right after the import, and runs every nested-sampling
  call inside ``jax.enable_x64(True)``: the nested path runs in float64 by design, and the rest
  of the process keeps its own precision. (If you use jaxns directly afterwards in the same
  process, enable x64 yourself.)
* its logging configuration adds a console handler and a file handler writing
  ``application.log`` into the working directory, to the root logger and to the ``jaxns``
  logger. jaxseis applies that configuration without either: no file is written, the root
  logger is untouched, and the ``jaxns`` logger is set to ``WARNING`` and propagates to your
  handlers.

jaxns's programs are large to compile; :func:`jaxseis.runtime.enable_compilation_cache` lets
later processes reuse them.
"""

from __future__ import annotations

import sys
import time
import warnings
from types import SimpleNamespace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.prior import Space

__all__ = [
    "SLICES_PER_FREE_PARAMETER",
    "NestedOptions",
    "check_nested_options",
    "import_jaxns",
    "run_nested",
    "systematic_resample",
]


#: slice steps per new point and free parameter when ``NestedOptions.num_slices`` is ``None``
SLICES_PER_FREE_PARAMETER = 3


class NestedOptions(NamedTuple):
    """Settings of nested sampling (jaxns 3).

    The default takes 3 slice-sampler steps per free parameter for each new point, where jaxns'
    own default takes 5, and keeps jaxns' 30 live points (root chains) per free parameter and
    its stopping rule. On the location benchmark's likelihood this spends about 40 % fewer
    likelihood evaluations than jaxns' defaults for the same Kish ESS, and the evidence, the
    posterior means and the widths still agree with dynesty's (``bench/bench_nested_settings.py``,
    ``bench/results/nested_settings.md``). What it trades: fewer slice steps leave each new
    point less decorrelated from the live point it started from; at 2 steps per free
    parameter the widths and the evidence began to drift from dynesty's, and fewer live
    points cost evidence accuracy and ESS faster than they saved time. A looser stopping rule
    (``dlogz``) can save evaluations but also drops the deepest, heaviest points, so the ESS
    can fall with them.

    Attributes:
        num_draws: equally weighted posterior draws returned.
        root_allocation_degree: live points, i.e. independent root chains (``None``: jaxns'
            default, 30 per free parameter).
        max_samples: stop after this many samples (``None``: jaxns' default).
        num_slices: slice-sampler steps per new point (``None``: 3 per free parameter).
        replacement_width: chains advanced together in one vectorised batch (``None``:
            jaxns' default).
        dlogz: stop when the evidence left beyond the deepest contour is at most this
            fraction of the total (jaxns' ``DepthCondition.dlogZ``, in (0, 1); ``None``:
            jaxns' default, ``1e-3``).
        initial_capacity: samples preallocated (``None``: jaxns' default); every growth of the
            storage compiles the sampler again for the new shape.
        verbose: jaxns' progress output.
    """

    num_draws: int = 4000
    root_allocation_degree: int | None = None
    max_samples: int | None = None
    num_slices: int | None = None
    replacement_width: int | None = None
    dlogz: float | None = None
    initial_capacity: int | None = None
    verbose: bool = False


def check_nested_options(options: NestedOptions) -> None:
    """Raise ``ValueError`` for settings out of range."""
    n = options.num_draws
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"NestedOptions.num_draws must be an integer >= 1; got {n!r}")
    for name in (
        "root_allocation_degree",
        "max_samples",
        "num_slices",
        "replacement_width",
        "initial_capacity",
    ):
        v = getattr(options, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1):
            raise ValueError(f"NestedOptions.{name} must be None or an integer >= 1; got {v!r}")
    d = options.dlogz
    if d is not None and (
        isinstance(d, bool) or not isinstance(d, float | int | np.floating) or not 0 < d < 1
    ):
        raise ValueError(f"NestedOptions.dlogz must be None or a number in (0, 1); got {d!r}")


def import_jaxns() -> SimpleNamespace:
    """Import jaxns 3 with its import-time side effects contained (see the module docstring)."""
    import logging.config

    fresh = "jaxns.logging" not in sys.modules
    x64 = jax.config.jax_enable_x64
    threefry = jax.config.jax_threefry_partitionable
    root = logging.getLogger()
    root_state = (list(root.handlers), root.level)
    original = logging.config.dictConfig

    def contained_config(config):  # jaxns' config minus its handlers and its root changes
        original(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "loggers": {"jaxns": {"level": "WARNING", "propagate": True}},
            }
        )

    try:
        if fresh:
            logging.config.dictConfig = contained_config
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="JAX x64 is not enabled")
            # TFP's JAX substrate uses JAX API that JAX deprecates: nothing about the user's run
            for module in ("tensorflow_probability", "jaxns"):
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
            from jaxns.constrained_sampler import UniDimSliceSampler
            from jaxns.core import NestedSampler
            from jaxns.depth_condition import DepthCondition
            from jaxns.model import Model
            from jaxns.priors import Prior
            from tensorflow_probability.substrates.jax import distributions as tfpd
    finally:
        logging.config.dictConfig = original
        jax.config.update("jax_enable_x64", x64)
        jax.config.update("jax_threefry_partitionable", threefry)
        if fresh:
            root.handlers[:] = root_state[0]
            root.setLevel(root_state[1])
    return SimpleNamespace(
        DepthCondition=DepthCondition,
        NestedSampler=NestedSampler,
        Model=Model,
        Prior=Prior,
        UniDimSliceSampler=UniDimSliceSampler,
        tfpd=tfpd,
    )


def run_nested(fn, model, data, space: Space, key, options: NestedOptions):
    """Nested sampling of the free parameters under the uniform prior.

    Returns:
        ``(theta [n, 5] equally weighted draws, log-likelihoods [n], attrs)`` with attrs
        ``log_evidence``, ``log_evidence_err``, ``nested_ess``, ``nested_num_samples``,
        ``nested_num_likelihood_evaluations``, ``nested_termination_reason``,
        ``nested_num_slices``,
        ``wall_sampling_s``.

    Raises:
        ValueError: when the log-likelihood is NaN or ``-inf`` at every point sampled (no
            posterior exists to return).
    """
    ns = import_jaxns()
    key_run, key_resample = jax.random.split(key)
    if jnp.issubdtype(key_run.dtype, jax.dtypes.prng_key):
        key_run = jax.random.key_data(key_run)
    idx = np.asarray(space.free)
    num_slices = (
        SLICES_PER_FREE_PARAMETER * len(idx) if options.num_slices is None else options.num_slices
    )
    with jax.enable_x64(True):
        base = jnp.asarray(space.lower, jnp.float64)
        model_j = jax.tree.map(jnp.asarray, model)
        data_j = jax.tree.map(jnp.asarray, data)

        def prior_model(lower, upper):
            free = ns.Prior(ns.tfpd.Uniform(low=lower, high=upper), name="free").realise()
            ll = fn(base.at[idx].set(free), model_j, data_j)
            return jnp.where(jnp.isnan(ll), -jnp.inf, ll)

        sampler = ns.NestedSampler(
            model=ns.Model(prior_model=prior_model),
            root_allocation_degree=options.root_allocation_degree,
            max_samples=options.max_samples,
            sampler=ns.UniDimSliceSampler(num_slices=int(num_slices)),
            replacement_width=options.replacement_width,
            depth_condition=(
                None
                if options.dlogz is None
                else ns.DepthCondition(dlogZ=jnp.asarray(options.dlogz, jnp.float64))
            ),
            initial_capacity=options.initial_capacity,
            verbose=bool(options.verbose),
        )
        args = (
            jnp.asarray(space.lower[idx], jnp.float64),
            jnp.asarray(space.upper[idx], jnp.float64),
        )
        tic = time.perf_counter()
        results = sampler.run(key=key_run, args=args).to_result().trim()
        free = np.asarray(results.X_samples["free"], dtype=np.float64).reshape(-1, len(idx))
        log_l = np.asarray(results.log_L, dtype=np.float64)
        log_w = np.asarray(results.log_dp, dtype=np.float64)
        attrs = {
            "log_evidence": float(results.log_Z_mean),
            "log_evidence_err": float(results.log_Z_uncert),
            "nested_ess": float(results.ess),
            "nested_num_samples": int(results.total_num_samples),
            "nested_num_likelihood_evaluations": int(results.total_num_likelihood_evaluations),
            "nested_termination_reason": int(results.termination_reason),
            "nested_num_slices": int(num_slices),
            "wall_sampling_s": time.perf_counter() - tic,
            "precision": "float64",
        }
    if not np.any(np.isfinite(log_l)) or not np.any(np.isfinite(log_w)):
        raise ValueError(
            "nested sampling found no point with a finite log-likelihood: the likelihood is "
            "NaN or -inf over the whole prior; check the observed data, the noise model and "
            "the prior box"
        )
    idx_draws = systematic_resample(key_resample, log_w, options.num_draws)
    theta = np.broadcast_to(space.lower, (len(idx_draws), 5)).copy()
    theta[:, idx] = free[idx_draws]
    return theta, log_l[idx_draws], attrs


def systematic_resample(key: jax.Array, log_weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn by systematic resampling of ``log_weights``, in random order."""
    key_offset, key_order = jax.random.split(key)
    w = np.where(np.isfinite(log_weights), log_weights, -np.inf)
    w = np.exp(w - w.max())
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    offset = float(jax.random.uniform(key_offset))
    idx = np.searchsorted(cdf, (offset + np.arange(n)) / n, side="right")
    idx = np.minimum(idx, len(cdf) - 1)
    return idx[np.asarray(jax.random.permutation(key_order, n))]
