"""Bayesian location of a source: box priors, NUTS and nested sampling, summaries, diagnostics.

One entry point, :func:`locate`, samples the posterior of a source position ``(x, y, z)`` in km
under a uniform :class:`BoxPrior`, given any jittable ``log_likelihood(source [3]) -> []``
(e.g. :func:`jaxseis.likelihood.waveform.gaussian_log_likelihood`), and returns an
:class:`arviz.InferenceData` whose posterior holds the scalar variables ``x``, ``y``, ``z`` (km).

**NUTS** (``method="nuts"``, BlackJAX) samples the unconstrained coordinates
``u = logit((x - lower) / (upper - lower))``, whose density is
``L(x(u)) * prod sigmoid(u) (1 - sigmoid(u))`` (the uniform prior times the Jacobian). A tight
full-waveform likelihood is *multimodal* (cycle skipping: a trace shifted by one period fits
almost as well), and NUTS chains started from prior draws stick in separate local modes. So the
NUTS path starts with a **global stage** (:class:`GlobalStage`):

1. score ``num_draws`` uniform prior draws with the vmapped log-likelihood (in chunks of
   ``chunk_size``, with :func:`jax.lax.map`), keep the best ``num_polish``;
2. polish each with Adam (cosine-decayed step) on the unconstrained log-density;
3. group the polished points into distinct modes, weigh each by its Laplace approximation
   ``log p(u*) + 1/2 log det(2 pi Sigma)`` (``Sigma`` the inverse negative Hessian), keep the
   modes that hold at least ``min_mode_mass`` of that approximate mass;
4. start chain ``c`` at ``u* + init_spread * chol(Sigma) z_c`` of mode ``c mod n_modes`` (so
   chains start over-dispersed around the dominant mode, not at one point).

Each chain then samples the whitened coordinates ``w = chol(Sigma)^-1 (u - u*)`` of its mode,
where the posterior has unit scale: Stan's window adaptation (BlackJAX) regularises the mass
matrix towards ``1e-3`` times the identity, which assumes unit-scale parameters; in ``u`` a
waveform posterior's variances are ``1e-6 - 1e-4``, and there that regularisation had inflated
the depth variance five-fold, halving the step size and doubling the trajectories. The mass
matrix is adapted dense by default (``dense_mass_matrix``).

If the global stage keeps more than one mode, the posterior is genuinely multimodal on the scale
NUTS cannot cross: the chains then disagree (large R-hat) and :func:`locate` warns; use nested
sampling for such posteriors. The chains run in lock step with :func:`jax.vmap`, split over the
available JAX devices where the chain count allows (:func:`jaxseis.devices.use_cpu_cores`
splits the CPU into one device per core; the ``jaxseis`` command line does so); the global
stage's scoring and polishing are split the same way. The global stage and the sampler are each
one jitted function, cached by the identity of ``log_likelihood`` and the static settings, so a
second :func:`locate` with the same function and settings neither retraces nor recompiles.

**Nested sampling** (``method="nested"``, jaxns 3) returns equally weighted posterior draws
(systematic resampling of the weighted dead points) plus the log-evidence ``log Z`` and its
error. jaxns 3 has import-time side effects, which jaxseis contains:

* it turns on ``jax_enable_x64`` for the whole process and fixes its own dtypes to float64 at
  import. jaxseis imports jaxns lazily (only on the nested path), restores the user's x64 flag
  (and ``jax_threefry_partitionable``) right after the import, and runs every nested-sampling
  call inside ``jax.enable_x64(True)`` — so the nested path runs in float64 by design, and the
  rest of the process keeps its own precision. (If you use jaxns directly afterwards in the same
  process, enable x64 yourself.)
* its logging configuration adds a console handler and a file handler writing
  ``application.log`` into the working directory, to the root logger and to the ``jaxns``
  logger. jaxseis applies that configuration without either: no file is written, the root logger
  is untouched, and the ``jaxns`` logger is set to ``WARNING`` and propagates to your handlers.

jaxns' run time is dominated by compilation (tens of seconds);
:func:`jaxseis.runtime.enable_compilation_cache` turns on JAX's persistent compilation cache
(opt in) so later processes reuse the executables.

**Diagnostics** (:func:`diagnose`) are issued as :class:`ConvergenceWarning`: split R-hat above
1.01, bulk ESS below 400, divergent transitions, and posterior mass piled up against a prior
bound. :func:`summary_table` prints a table like the paper's Table 2; :func:`summary_dict` gives
the same numbers as a JSON-ready dict.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import DEFAULT_GRID, SEABED_Z_KM, Grid

__all__ = [
    "COORDS",
    "ESS_MIN",
    "RHAT_MAX",
    "BoxPrior",
    "ConvergenceWarning",
    "GlobalStage",
    "diagnose",
    "locate",
    "paper_prior",
    "posterior_draws",
    "summary_dict",
    "summary_table",
    "unconstrained_log_density",
    "validate_prior",
]

COORDS = ("x", "y", "z")
"""Names of the posterior variables (km)."""

RHAT_MAX = 1.01
"""Largest acceptable split R-hat."""

ESS_MIN = 400.0
"""Smallest acceptable bulk effective sample size (all chains together)."""

_PILE_UP_BAND = 0.1  # band next to a bound, in posterior standard deviations
_PILE_UP_RATIO = 0.2  # density in the band relative to the peak of a Gaussian of the same std
_SAME_MODE_D2 = 25.0  # squared Mahalanobis distance under which two polished points are one mode
_MIN_PRECISION = 0.1  # floor of the Laplace precision eigenvalues in unconstrained units

# --------------------------------------------------------------------------------------------
# Priors and transforms
# --------------------------------------------------------------------------------------------


class BoxPrior(NamedTuple):
    """Uniform prior on a box ``lower <= (x, y, z) <= upper``.

    Attributes:
        lower: lower corner ``[3]`` in km.
        upper: upper corner ``[3]`` in km.

    The methods are pure functions of arrays (usable under ``jit``/``vmap``); the unconstrained
    coordinates are ``u = logit((x - lower) / (upper - lower))``.
    """

    lower: Any
    upper: Any

    @property
    def width(self) -> jax.Array:
        """Box size ``upper - lower``, ``[3]`` km."""
        return jnp.asarray(self.upper) - jnp.asarray(self.lower)

    def log_prob(self, x: jax.Array) -> jax.Array:
        """Log prior density (1/km^3) of sources ``[..., 3]`` km, ``-inf`` outside; ``[...]``."""
        x = jnp.asarray(x)
        inside = jnp.all((x >= self.lower) & (x <= self.upper), axis=-1)
        return jnp.where(inside, -jnp.sum(jnp.log(self.width)), -jnp.inf)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` uniform draws ``[n, 3]`` km."""
        unit = jax.random.uniform(key, (n, 3), dtype=jnp.result_type(float))
        return jnp.asarray(self.lower) + self.width * unit

    def to_unconstrained(self, x: jax.Array) -> jax.Array:
        """Logit map of sources ``[..., 3]`` km to unconstrained ``u [..., 3]`` (clipped so that
        points on the bounds map to finite values)."""
        p = (jnp.asarray(x) - self.lower) / self.width
        eps = jnp.finfo(p.dtype).eps
        p = jnp.clip(p, eps, 1.0 - eps)
        return jnp.log(p) - jnp.log1p(-p)

    def from_unconstrained(self, u: jax.Array) -> jax.Array:
        """Inverse of :meth:`to_unconstrained`: ``lower + width * sigmoid(u)``, km."""
        return jnp.asarray(self.lower) + self.width * jax.nn.sigmoid(u)

    def log_det_jacobian(self, u: jax.Array) -> jax.Array:
        """``log |dx/du|`` of :meth:`from_unconstrained` at ``u [..., 3]``; ``[...]``."""
        return jnp.sum(
            jnp.log(self.width) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), axis=-1
        )


def paper_prior() -> BoxPrior:
    """The paper's prior: x in [0, 1], y in [0, 1], z in [0, 2.43] km (up to the seabed)."""
    return BoxPrior(np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0, SEABED_Z_KM]))


def validate_prior(prior: BoxPrior, grid: Grid = DEFAULT_GRID) -> BoxPrior:
    """Check a prior box and return it with float64 NumPy corners.

    Raises:
        ValueError: if a corner is not ``[3]``, contains NaN or infinity, if
            ``lower >= upper`` along a coordinate, or if the box leaves ``grid``.
    """
    if not isinstance(prior, BoxPrior):
        raise ValueError(f"prior must be a BoxPrior(lower, upper); got {type(prior).__name__}")
    lo = np.asarray(prior.lower, dtype=np.float64)
    hi = np.asarray(prior.upper, dtype=np.float64)
    for name, c in (("lower", lo), ("upper", hi)):
        if c.shape != (3,):
            raise ValueError(f"prior.{name} must have shape [3] (x, y, z in km); got {c.shape}")
        if not np.all(np.isfinite(c)):
            raise ValueError(f"prior.{name} = {c.tolist()} contains NaN or infinite values")
    for i, name in enumerate(COORDS):
        if not lo[i] < hi[i]:
            raise ValueError(
                f"prior box is empty along {name}: lower = {lo[i]} >= upper = {hi[i]} km"
            )
    g_lo, g_hi = grid.extent_km
    for i, name in enumerate(COORDS):
        if lo[i] < g_lo[i] - 1e-9 or hi[i] > g_hi[i] + 1e-9:
            raise ValueError(
                f"prior box along {name}, [{lo[i]}, {hi[i]}] km, lies outside the model grid "
                f"[{g_lo[i]}, {g_hi[i]}] km"
            )
    return BoxPrior(lo, hi)


def unconstrained_log_density(
    log_likelihood: Callable[[jax.Array], jax.Array], prior: BoxPrior, u: jax.Array
) -> jax.Array:
    """Log posterior density (up to ``log Z``) of unconstrained coordinates ``u [3]``.

    Equals ``log L(x) + log p(x) + log |dx/du|`` with ``x = prior.from_unconstrained(u)``; the
    uniform prior's ``-log volume`` cancels against the box widths of the Jacobian.
    """
    x = prior.from_unconstrained(u)
    jac = jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), axis=-1)
    return _call_log_likelihood(log_likelihood, x) + jac


def _call_log_likelihood(log_likelihood: Callable, x: jax.Array) -> jax.Array:
    value = log_likelihood(x)
    if jnp.shape(value) != ():
        raise ValueError(
            f"log_likelihood(source) must return a scalar; got shape {jnp.shape(value)}"
        )
    return value


# --------------------------------------------------------------------------------------------
# Options and warnings
# --------------------------------------------------------------------------------------------


class GlobalStage(NamedTuple):
    """Settings of the global stage that starts NUTS chains in the dominant mode.

    Attributes:
        num_draws: uniform prior draws scored with the log-likelihood.
        chunk_size: draws evaluated at once (``jax.lax.map`` batch size; bounds memory).
        num_polish: best draws polished by local optimisation.
        polish_steps: Adam steps per polished draw.
        learning_rate: initial Adam step in unconstrained units (cosine-decayed to 1e-3 of it).
        min_mode_mass: smallest Laplace-approximated posterior mass fraction of a mode for
            chains to be started in it.
        init_spread: chain starts are drawn from the Laplace approximation of their mode with
            its standard deviations multiplied by this factor (over-dispersion).
    """

    num_draws: int = 100_000
    chunk_size: int = 4096
    num_polish: int = 32
    polish_steps: int = 300
    learning_rate: float = 0.02
    min_mode_mass: float = 0.01
    init_spread: float = 2.0


class ConvergenceWarning(UserWarning):
    """A sampler diagnostic failed (R-hat, ESS, divergences, prior-bound pile-up, modes)."""


_NUTS_OPTIONS = {
    "global_stage": GlobalStage(),
    "target_acceptance_rate": 0.8,
    "max_num_doublings": 10,
    "dense_mass_matrix": True,
}
_NESTED_OPTIONS = {
    "root_allocation_degree": None,
    "max_samples": None,
    "num_slices": None,
    "verbose": False,
}
_COMMON_OPTIONS = {"grid": DEFAULT_GRID, "diagnostics": True}


# --------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------


def locate(
    log_likelihood: Callable[[jax.Array], jax.Array],
    prior: BoxPrior,
    *,
    method: str = "nuts",
    key: jax.Array,
    num_chains: int = 4,
    num_warmup: int = 500,
    num_draws: int = 1000,
    **options,
):
    """Sample the posterior of a source position.

    Args:
        log_likelihood: jittable ``source [3] (km) -> []`` log-likelihood in nats.
        prior: uniform :class:`BoxPrior` (checked with :func:`validate_prior` against the
            ``grid`` option, default :data:`jaxseis.geometry.DEFAULT_GRID`).
        method: ``"nuts"`` (BlackJAX NUTS with window adaptation and a global stage) or
            ``"nested"`` (jaxns 3 nested sampling, with the evidence).
        key: ``jax.random`` key; the same key gives the same draws.
        num_chains: NUTS chains (run with ``vmap``). Nested sampling returns
            ``num_chains * num_draws`` draws as one chain.
        num_warmup: NUTS warm-up (adaptation) steps per chain; ignored by nested sampling.
        num_draws: NUTS draws per chain kept after warm-up.
        **options: for ``"nuts"``: ``global_stage`` (a :class:`GlobalStage`, or ``None`` to start
            the chains from prior draws, in the unconstrained coordinates),
            ``target_acceptance_rate`` (0.8), ``max_num_doublings`` (10), ``dense_mass_matrix``
            (``True``; ``False`` adapts a diagonal one). For ``"nested"``: jaxns'
            ``root_allocation_degree``, ``max_samples``, ``num_slices`` (slice-sampler steps),
            ``verbose``. For both: ``grid`` (for the prior check), ``diagnostics`` (``True``:
            issue :class:`ConvergenceWarning` s).

    Returns:
        ``arviz.InferenceData``: ``posterior`` with ``x``, ``y``, ``z`` (km) of shape
        ``[chain, draw]``; ``sample_stats`` with ``loglik`` (the log-likelihood, nats; and ``lp``,
        ``diverging``, ``acceptance_rate``, ``step_size``, ``tree_depth``, ``n_steps``,
        ``energy`` for NUTS); ``posterior.attrs`` with ``method``, ``wall_s``, the prior box
        and, for nested sampling, ``log_evidence``, ``log_evidence_err`` and ``nested_ess``.

    Raises:
        ValueError: for an unknown method or option, a bad prior, bad counts or key, or a
            log-likelihood that does not return a scalar.
    """
    if method not in ("nuts", "nested"):
        raise ValueError(f"unknown method {method!r}; use 'nuts' or 'nested'")
    allowed = {**_COMMON_OPTIONS, **(_NUTS_OPTIONS if method == "nuts" else _NESTED_OPTIONS)}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for method {method!r}; valid: {sorted(allowed)}"
        )
    opts = {**allowed, **options}
    if not callable(log_likelihood):
        raise ValueError("log_likelihood must be a callable source [3] (km) -> scalar")
    prior = validate_prior(prior, opts["grid"])
    _check_key(key)
    for name, value, least in (
        ("num_chains", num_chains, 1),
        ("num_warmup", num_warmup, 1),
        ("num_draws", num_draws, 1),
    ):
        if not isinstance(value, int | np.integer) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}; got {value!r}")
    log_likelihood = _hashable(log_likelihood)
    tic = time.perf_counter()
    if method == "nuts":
        idata = _locate_nuts(
            log_likelihood, prior, key, int(num_chains), int(num_warmup), int(num_draws), opts
        )
    else:
        idata = _locate_nested(log_likelihood, prior, key, int(num_chains * num_draws), opts)
    idata.posterior.attrs["wall_s"] = time.perf_counter() - tic
    if opts["diagnostics"]:
        for message in diagnose(idata):
            warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return idata


class _ByIdentity:
    """Hashable (by identity) holder of an unhashable callable, for ``jit``'s static args."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, source):
        return self.fn(source)


def _hashable(fn: Callable) -> Callable:
    """``fn`` itself if hashable (compiled code is then cached per function), else a wrapper
    (compiled anew on every :func:`locate` call)."""
    try:
        hash(fn)
    except TypeError:
        return _ByIdentity(fn)
    return fn


def _check_key(key) -> None:
    try:
        k = jnp.asarray(key) if not isinstance(key, jax.Array) else key
        typed = jnp.issubdtype(k.dtype, jax.dtypes.prng_key)
    except TypeError:
        typed = False
        k = None
    if typed and k.shape == ():
        return
    if k is not None and not typed and k.dtype == jnp.uint32 and k.shape == (2,):
        return
    raise ValueError(f"key must be a single jax.random key (e.g. jax.random.key(0)); got {key!r}")


# --------------------------------------------------------------------------------------------
# NUTS with a global stage
# --------------------------------------------------------------------------------------------


def _locate_nuts(log_likelihood, prior, key, num_chains, num_warmup, num_draws, opts):
    stage = opts["global_stage"]
    if stage is not None and not isinstance(stage, GlobalStage):
        raise ValueError(f"global_stage must be a GlobalStage or None; got {stage!r}")
    dtype = jnp.result_type(float)
    jprior = BoxPrior(jnp.asarray(prior.lower, dtype), jnp.asarray(prior.upper, dtype))
    key_global, key_init, key_sample = jax.random.split(key, 3)
    attrs: dict[str, Any] = {}
    tic = time.perf_counter()
    if stage is None:  # identity whitening: w is u, started at prior draws
        w0 = np.asarray(jprior.to_unconstrained(jprior.sample(key_init, num_chains)))
        center, chol = np.zeros((num_chains, 3)), np.broadcast_to(np.eye(3), (num_chains, 3, 3))
        attrs["global_stage"] = 0
    else:
        _check_global_stage(stage)
        w0, center, chol, info = _global_stage_starts(
            log_likelihood, jprior, key_global, key_init, num_chains, stage
        )
        attrs.update(info)
    attrs["wall_global_s"] = time.perf_counter() - tic
    dense = bool(opts["dense_mass_matrix"])
    tic = time.perf_counter()
    out = _nuts_chains(
        log_likelihood,
        jprior,
        key_sample,
        jnp.asarray(w0, dtype),
        jnp.asarray(center, dtype),
        jnp.asarray(chol, dtype),
        num_warmup=num_warmup,
        num_draws=num_draws,
        target_acceptance_rate=float(opts["target_acceptance_rate"]),
        max_num_doublings=int(opts["max_num_doublings"]),
        dense_mass_matrix=dense,
        num_devices=jax.local_device_count(),
    )
    out = jax.tree.map(np.asarray, out)
    attrs["wall_sampling_s"] = time.perf_counter() - tic
    x = out.pop("x")
    out["step_size"] = np.broadcast_to(out["step_size"][:, None], x.shape[:2]).copy()
    attrs.update(
        num_warmup=num_warmup,
        target_acceptance_rate=opts["target_acceptance_rate"],
        dense_mass_matrix=int(dense),
    )
    return _to_inference_data(x, out, prior, "nuts", attrs)


def _check_global_stage(stage: GlobalStage) -> None:
    for name in ("num_draws", "chunk_size", "num_polish"):
        if getattr(stage, name) < 1:
            raise ValueError(f"GlobalStage.{name} must be >= 1; got {getattr(stage, name)}")
    if stage.num_polish > stage.num_draws:
        raise ValueError(
            f"GlobalStage.num_polish = {stage.num_polish} exceeds num_draws = {stage.num_draws}"
        )
    if stage.polish_steps < 0 or not stage.learning_rate > 0 or not stage.init_spread >= 0:
        raise ValueError("GlobalStage needs polish_steps >= 0, learning_rate > 0, init_spread >= 0")
    if not 0 <= stage.min_mode_mass < 1:
        raise ValueError(f"GlobalStage.min_mode_mass must be in [0, 1); got {stage.min_mode_mass}")


@partial(
    jax.jit,
    static_argnames=(
        "log_likelihood",
        "num_draws",
        "chunk_size",
        "num_polish",
        "polish_steps",
        "num_devices",
    ),
)
def _global_stage(
    log_likelihood,
    prior,
    key,
    learning_rate,
    *,
    num_draws,
    chunk_size,
    num_polish,
    polish_steps,
    num_devices,
):
    """Score prior draws, polish the best ones; returns polished ``u [K, 3]``, their
    log-densities ``[K]`` and Hessians ``[K, 3, 3]`` (unconstrained), and the best raw draw's
    log-likelihood. The scoring and the polishing are split over ``num_devices`` devices where
    the counts divide evenly."""
    x = prior.sample(key, num_draws)

    def score(xs):
        ll = jax.lax.map(
            lambda xi: _call_log_likelihood(log_likelihood, xi),
            xs,
            batch_size=min(chunk_size, xs.shape[0]),
        )
        return jnp.where(jnp.isnan(ll), -jnp.inf, ll)

    # split too: in a function whose other parts are split, an unsplit part runs whole on
    # every device (measured: the global stage 1.4 times slower)
    ll = _over_devices(score, _divisor_at_most(num_draws, num_devices))(x)
    top, idx = jax.lax.top_k(ll, num_polish)
    logdensity = partial(unconstrained_log_density, log_likelihood, prior)

    def polish(u0):
        u, lp = jax.vmap(lambda u0: _polish(logdensity, u0, learning_rate, polish_steps))(u0)
        return u, lp, jax.vmap(jax.hessian(logdensity))(u)

    polish = _over_devices(polish, _divisor_at_most(num_polish, num_devices))
    u, lp, hess = polish(prior.to_unconstrained(x[idx]))
    return u, lp, hess, top[0]


def _divisor_at_most(count: int, num_devices: int) -> int:
    """The largest device count, at most ``num_devices``, that splits ``count`` evenly."""
    n = max(min(num_devices, count), 1)
    while count % n:
        n -= 1
    return n


def _over_devices(fn: Callable, num_devices: int) -> Callable:
    """``fn`` over a leading batch axis, split over the first ``num_devices`` devices with
    ``shard_map`` (each device runs its own loops); ``fn`` itself for one device."""
    if num_devices == 1:
        return fn
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:num_devices]), ("batch",))
    spec = jax.sharding.PartitionSpec("batch")
    return jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


def _polish(logdensity, u0, learning_rate, steps):
    """Adam ascent of ``logdensity`` from ``u0``, keeping the best point seen."""
    import optax

    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=1e-3))
    value_and_grad = jax.value_and_grad(logdensity)

    def step(carry, _):
        u, state, best_u, best_lp = carry
        lp, g = value_and_grad(u)
        better = lp > best_lp
        best_u = jnp.where(better, u, best_u)
        best_lp = jnp.where(better, lp, best_lp)
        g = jnp.where(jnp.isfinite(g), g, 0.0)
        updates, state = opt.update(-g, state)
        return (u + updates, state, best_u, best_lp), None

    init = (u0, opt.init(u0), u0, jnp.asarray(-jnp.inf, u0.dtype))
    (u, _, best_u, best_lp), _ = jax.lax.scan(step, init, None, length=steps)
    lp = logdensity(u)
    better = lp > best_lp
    return jnp.where(better, u, best_u), jnp.where(better, lp, best_lp)


def _laplace(hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariances ``[K, 3, 3]`` and precisions from Hessians of the log-density, with the
    precision eigenvalues floored (flat or non-concave directions get a broad width)."""
    h = np.nan_to_num(-0.5 * (hess + np.swapaxes(hess, -1, -2)), nan=0.0, posinf=0.0, neginf=0.0)
    lam, vec = np.linalg.eigh(h)
    lam = np.maximum(lam, _MIN_PRECISION)
    prec = np.einsum("kij,kj,klj->kil", vec, lam, vec)
    cov = np.einsum("kij,kj,klj->kil", vec, 1.0 / lam, vec)
    return cov, prec


def _distinct_modes(u: np.ndarray, lp: np.ndarray, prec: np.ndarray) -> list[int]:
    """Indices of the distinct modes among polished points ``u [K, 3]``, best first: a point
    belongs to an earlier mode when within 5 standard deviations (Mahalanobis, with that mode's
    precision ``prec [K, 3, 3]``)."""
    modes: list[int] = []
    for i in np.argsort(-np.where(np.isfinite(lp), lp, -np.inf)):
        if not np.isfinite(lp[i]):
            continue
        if not any((u[i] - u[m]) @ prec[m] @ (u[i] - u[m]) < _SAME_MODE_D2 for m in modes):
            modes.append(int(i))
    return modes


def _mode_mass_fractions(lp: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Posterior mass fractions ``[M]`` of modes by the Laplace approximation
    ``log p(u*) + 1/2 log det(2 pi Sigma)``."""
    log_mass = lp + 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
    frac = np.exp(log_mass - log_mass.max())
    return frac / frac.sum()


def _global_stage_starts(log_likelihood, prior, key_global, key_init, num_chains, stage):
    u, lp, hess, best_raw = _global_stage(
        log_likelihood,
        prior,
        key_global,
        float(stage.learning_rate),
        num_draws=int(stage.num_draws),
        chunk_size=int(stage.chunk_size),
        num_polish=int(stage.num_polish),
        polish_steps=int(stage.polish_steps),
        num_devices=jax.local_device_count(),
    )
    u, lp, hess = (np.asarray(a, dtype=np.float64) for a in (u, lp, hess))
    if not np.any(np.isfinite(lp)):
        raise ValueError(
            "the log-likelihood is not finite at any of the global stage's best prior draws "
            f"(best raw value {float(best_raw)}); check the likelihood and the prior box"
        )
    cov, prec = _laplace(hess)
    modes = _distinct_modes(u, lp, prec)
    frac = _mode_mass_fractions(lp[modes], cov[modes])
    order = np.argsort(-frac)
    used = [modes[j] for j in order if frac[j] >= stage.min_mode_mass] or [modes[order[0]]]
    z = np.asarray(jax.random.normal(key_init, (num_chains, 3)), dtype=np.float64)
    chain_mode = [used[c % len(used)] for c in range(num_chains)]
    center = np.stack([u[m] for m in chain_mode])
    chol = np.stack([np.linalg.cholesky(cov[m]) for m in chain_mode])
    w0 = stage.init_spread * z  # whitened starts: u = center + chol @ w0
    mode_km = np.asarray(prior.from_unconstrained(jnp.asarray(u[used], prior.lower.dtype)))
    info = {
        "global_stage": 1,
        "global_stage_num_draws": int(stage.num_draws),
        "global_stage_min_mode_mass": float(stage.min_mode_mass),
        "global_stage_modes_found": len(modes),
        "global_stage_modes_used": len(used),
        "global_stage_mode_mass": [float(frac[modes.index(m)]) for m in used],
        "global_stage_modes_km": mode_km.ravel().tolist(),
    }
    return w0, center, chol, info


@partial(
    jax.jit,
    static_argnames=(
        "log_likelihood",
        "num_warmup",
        "num_draws",
        "target_acceptance_rate",
        "max_num_doublings",
        "dense_mass_matrix",
        "num_devices",
    ),
)
def _nuts_chains(
    log_likelihood,
    prior,
    key,
    w0,
    center,
    chol,
    *,
    num_warmup,
    num_draws,
    target_acceptance_rate,
    max_num_doublings,
    dense_mass_matrix,
    num_devices,
):
    """Window adaptation then ``num_draws`` NUTS steps for each chain (vmapped).

    Chain ``c`` samples ``w`` with ``u = center[c] + chol[c] @ w`` (``[C, 3]``, ``[C, 3, 3]``;
    from its mode's Laplace approximation), starting at ``w0[c]``. This affine
    preconditioning puts the posterior at unit scale, where the window adaptation's
    regularisation of the mass matrix (a shrinkage towards ``1e-3`` times the identity, which
    assumes unit-scale parameters) is harmless; in ``u`` itself a waveform posterior's
    variances are ``1e-6 - 1e-4`` and that shrinkage inflated the depth variance five-fold,
    halving the step size.
    """
    import blackjax
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    base_logdensity = partial(unconstrained_log_density, log_likelihood, prior)
    imm_init = jnp.eye(3, dtype=w0.dtype) if dense_mass_matrix else jnp.ones(3, w0.dtype)

    def one_chain(key, w_init, m, chol_c):
        def logdensity(w):
            return base_logdensity(m + chol_c @ w)

        key_warmup, key_draws = jax.random.split(key)
        warmup = blackjax.window_adaptation(
            blackjax.nuts,
            logdensity,
            is_mass_matrix_diagonal=not dense_mass_matrix,
            initial_inverse_mass_matrix=imm_init,
            target_acceptance_rate=target_acceptance_rate,
            adaptation_info_fn=get_filter_adapt_info_fn(),
            max_num_doublings=max_num_doublings,
        )
        (state, parameters), _ = warmup.run(key_warmup, w_init, num_steps=num_warmup)
        step = blackjax.nuts(logdensity, **parameters).step

        def one_step(state, k):
            state, info = step(k, state)
            stats = {
                "u": m + chol_c @ state.position,
                "lp": state.logdensity,
                "diverging": info.is_divergent,
                "acceptance_rate": info.acceptance_rate,
                "tree_depth": info.num_trajectory_expansions,
                "n_steps": info.num_integration_steps,
                "energy": info.energy,
            }
            return state, stats

        _, trace = jax.lax.scan(one_step, state, jax.random.split(key_draws, num_draws))
        return trace, parameters["step_size"]

    keys = jax.random.split(key, w0.shape[0])
    run = _over_devices(jax.vmap(one_chain), _divisor_at_most(w0.shape[0], num_devices))
    trace, step_size = run(keys, w0, center, chol)
    u = trace.pop("u")
    jac = jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), axis=-1)
    return {
        "x": prior.from_unconstrained(u),
        "loglik": trace["lp"] - jac,
        "step_size": step_size,
        **trace,
    }


# --------------------------------------------------------------------------------------------
# Nested sampling (jaxns 3)
# --------------------------------------------------------------------------------------------


def _import_jaxns() -> SimpleNamespace:
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
            from jaxns.constrained_sampler import UniDimSliceSampler
            from jaxns.core import NestedSampler
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
        NestedSampler=NestedSampler,
        Model=Model,
        Prior=Prior,
        UniDimSliceSampler=UniDimSliceSampler,
        tfpd=tfpd,
    )


def _locate_nested(log_likelihood, prior, key, num_out, opts):
    ns = _import_jaxns()
    key_run, key_resample = jax.random.split(key)
    if jnp.issubdtype(key_run.dtype, jax.dtypes.prng_key):
        key_run = jax.random.key_data(key_run)
    with jax.enable_x64(True):

        def prior_model(lower, upper):
            source = ns.Prior(ns.tfpd.Uniform(low=lower, high=upper), name="source").realise()
            return _call_log_likelihood(log_likelihood, source)

        sampler = ns.NestedSampler(
            model=ns.Model(prior_model=prior_model),
            root_allocation_degree=opts["root_allocation_degree"],
            max_samples=opts["max_samples"],
            sampler=(
                None
                if opts["num_slices"] is None
                else ns.UniDimSliceSampler(num_slices=int(opts["num_slices"]))
            ),
            verbose=bool(opts["verbose"]),
        )
        args = (jnp.asarray(prior.lower, jnp.float64), jnp.asarray(prior.upper, jnp.float64))
        tic = time.perf_counter()
        results = sampler.run(key=key_run, args=args).to_result().trim()
        x_all = np.asarray(results.X_samples["source"], dtype=np.float64)
        log_l = np.asarray(results.log_L, dtype=np.float64)
        log_w = np.asarray(results.log_dp, dtype=np.float64)
        wall_run = time.perf_counter() - tic
        attrs = {
            "log_evidence": float(results.log_Z_mean),
            "log_evidence_err": float(results.log_Z_uncert),
            "nested_ess": float(results.ess),
            "nested_num_samples": int(results.total_num_samples),
            "nested_num_likelihood_evaluations": int(results.total_num_likelihood_evaluations),
            "nested_termination_reason": int(results.termination_reason),
            "wall_sampling_s": wall_run,
            "precision": "float64",
        }
    idx = _systematic_resample(key_resample, log_w, num_out)
    x = x_all[idx][None]
    return _to_inference_data(x, {"loglik": log_l[idx][None]}, prior, "nested", attrs)


def _systematic_resample(key: jax.Array, log_weights: np.ndarray, n: int) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# Results, summaries and diagnostics
# --------------------------------------------------------------------------------------------


def _to_inference_data(x: np.ndarray, stats: dict, prior: BoxPrior, method: str, attrs: dict):
    """InferenceData from draws ``x [chain, draw, 3]`` km and sample stats ``[chain, draw]``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ArviZ is undergoing")
        import arviz as az

    posterior = {name: np.asarray(x[..., i], dtype=np.float64) for i, name in enumerate(COORDS)}
    attrs = {
        "method": method,
        "units": "km",
        "prior_lower_km": np.asarray(prior.lower, dtype=np.float64).tolist(),
        "prior_upper_km": np.asarray(prior.upper, dtype=np.float64).tolist(),
        "num_chains": int(x.shape[0]),
        "num_draws": int(x.shape[1]),
        "inference_library": "jaxseis",
        **attrs,
    }
    idata = az.from_dict(posterior=posterior, sample_stats=dict(stats))
    idata.posterior.attrs.update(attrs)
    return idata


def posterior_draws(idata) -> np.ndarray:
    """Pooled posterior draws ``[n_chains * n_draws, 3]`` (x, y, z in km) of a
    :func:`locate` result."""
    return np.stack([np.asarray(idata.posterior[c]).ravel() for c in COORDS], axis=-1)


def _chain_stats(idata) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Split R-hat and bulk ESS per coordinate ``[3]`` (``None`` for nested sampling)."""
    if idata.posterior.attrs.get("method") == "nested":
        return None, None
    import arviz as az

    post = idata.posterior[list(COORDS)]
    ess = az.ess(post, method="bulk")
    if post.sizes["chain"] < 2:  # R-hat compares chains
        rhat_values = np.full(len(COORDS), np.nan)
    else:
        rhat = az.rhat(post)
        rhat_values = np.array([float(rhat[c]) for c in COORDS])
    return rhat_values, np.array([float(ess[c]) for c in COORDS])


def _none_if_nan(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def summary_dict(idata) -> dict[str, Any]:
    """The posterior summary as JSON-ready numbers.

    Returns:
        ``method``; ``mean_km``, ``std_km``, ``q16_km``, ``q84_km`` (68 % interval),
        ``q2_5_km``, ``q97_5_km`` (95 % interval), each a list ``[x, y, z]`` in km;
        ``rhat_max`` and ``ess_min`` (bulk) over the coordinates (for nested sampling
        ``rhat_max`` is ``None`` and ``ess_min`` is the Kish ESS of the weighted samples);
        ``divergences`` (NUTS); ``log_evidence`` and ``log_evidence_err`` (nested sampling,
        else ``None``); ``wall_s``; ``num_chains``; ``num_draws``.
    """
    attrs = idata.posterior.attrs
    draws = posterior_draws(idata)
    q = np.percentile(draws, [2.5, 16.0, 84.0, 97.5], axis=0)
    rhat, ess = _chain_stats(idata)
    if attrs.get("method") == "nested":
        ess_min = attrs.get("nested_ess")
        divergences = None
    else:
        ess_min = None if ess is None else float(np.min(ess))
        divergences = int(np.sum(np.asarray(idata.sample_stats["diverging"])))
    return {
        "method": str(attrs.get("method")),
        "mean_km": draws.mean(axis=0).tolist(),
        "std_km": draws.std(axis=0, ddof=1).tolist(),
        "q16_km": q[1].tolist(),
        "q84_km": q[2].tolist(),
        "q2_5_km": q[0].tolist(),
        "q97_5_km": q[3].tolist(),
        "rhat_max": None if rhat is None else _none_if_nan(np.max(rhat)),
        "ess_min": _none_if_nan(ess_min),
        "divergences": divergences,
        "log_evidence": _none_if_nan(attrs.get("log_evidence")),
        "log_evidence_err": _none_if_nan(attrs.get("log_evidence_err")),
        "wall_s": _none_if_nan(attrs.get("wall_s")),
        "num_chains": int(attrs.get("num_chains", idata.posterior.sizes["chain"])),
        "num_draws": int(attrs.get("num_draws", idata.posterior.sizes["draw"])),
    }


def summary_table(idata, truth=None) -> str:
    """A table like the paper's Table 2: prior range, truth, posterior mean, 68 % interval
    (16th-84th percentiles) and std per coordinate, with R-hat and bulk ESS, and ``log Z``
    for nested sampling. ``truth`` is an optional source ``[3]`` in km."""
    s = summary_dict(idata)
    attrs = idata.posterior.attrs
    rhat, ess = _chain_stats(idata)
    lo, hi = attrs.get("prior_lower_km"), attrs.get("prior_upper_km")
    t = None if truth is None else np.asarray(truth, dtype=np.float64).reshape(3)
    method = {"nuts": "NUTS", "nested": "nested sampling"}.get(s["method"], s["method"])
    wall = "" if s["wall_s"] is None else f", {s['wall_s']:.1f} s"
    lines = [f"{method}: {s['num_chains']} chain(s) x {s['num_draws']} draws{wall}"]
    header = (
        f"{'':5}{'prior [km]':>18}{'truth':>10}{'mean':>10}{'68% interval':>24}{'std':>10}"
        f"{'R-hat':>8}{'ESS':>8}"
    )
    lines += [header, "-" * len(header)]
    for i, c in enumerate(COORDS):
        prior_txt = "" if lo is None else f"[{lo[i]:.3f}, {hi[i]:.3f}]"
        truth_txt = "" if t is None else f"{t[i]:.4f}"
        interval = f"[{s['q16_km'][i]:.5f}, {s['q84_km'][i]:.5f}]"
        rhat_txt = "-" if rhat is None or np.isnan(rhat[i]) else f"{rhat[i]:.3f}"
        ess_txt = "-" if ess is None else f"{ess[i]:.0f}"
        lines.append(
            f"{c + ' km':5}{prior_txt:>18}{truth_txt:>10}{s['mean_km'][i]:>10.5f}{interval:>24}"
            f"{s['std_km'][i]:>10.5f}{rhat_txt:>8}{ess_txt:>8}"
        )
    if s["log_evidence"] is not None:
        err = "" if s["log_evidence_err"] is None else f" +- {s['log_evidence_err']:.2f}"
        lines.append(f"log Z = {s['log_evidence']:.2f}{err}  (Kish ESS {s['ess_min']:.0f})")
    if s["divergences"]:
        lines.append(f"divergent transitions: {s['divergences']}")
    return "\n".join(lines)


def diagnose(idata, *, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN) -> list[str]:
    """Problems with a :func:`locate` result, as messages (empty if none).

    Checks: split R-hat above ``rhat_max`` and bulk ESS below ``ess_min`` (NUTS; for nested
    sampling the Kish ESS and a hard stop of the run), divergent transitions, the global
    stage keeping several modes, and posterior mass piled up against a prior bound: the
    fraction of draws within 0.1 posterior standard deviations of a bound, as a density, above
    20 % of the peak density of a Gaussian of the same standard deviation.
    """
    attrs = idata.posterior.attrs
    messages = []
    rhat, ess = _chain_stats(idata)
    if rhat is not None and idata.posterior.sizes["chain"] > 1:
        bad = [f"{c} {r:.3f}" for c, r in zip(COORDS, rhat, strict=True) if not r <= rhat_max]
        if bad:
            messages.append(
                f"R-hat above {rhat_max} ({', '.join(bad)}): the chains disagree; they may sit "
                "in different modes (see the global stage) or need more warm-up/draws"
            )
    if ess is not None:
        bad = [f"{c} {e:.0f}" for c, e in zip(COORDS, ess, strict=True) if not e >= ess_min]
        if bad:
            messages.append(f"bulk ESS below {ess_min:.0f} ({', '.join(bad)}): draw more samples")
    if attrs.get("method") == "nested":
        if not attrs.get("nested_ess", np.inf) >= ess_min:
            messages.append(
                f"nested sampling's Kish ESS is {attrs['nested_ess']:.0f} < {ess_min:.0f}: "
                "raise root_allocation_degree"
            )
        if attrs.get("nested_termination_reason", 0):
            messages.append(
                "nested sampling stopped early (termination reason "
                f"{attrs['nested_termination_reason']}, e.g. max_samples reached)"
            )
    if "diverging" in idata.sample_stats:
        n_div = int(np.sum(np.asarray(idata.sample_stats["diverging"])))
        if n_div:
            messages.append(f"{n_div} divergent transition(s) after warm-up")
    if attrs.get("global_stage_modes_used", 1) > 1:
        messages.append(
            f"the global stage found {attrs['global_stage_modes_used']} modes holding at least "
            f"{attrs.get('global_stage_min_mode_mass', 0.0):.1%} of the posterior mass each "
            "(Laplace approximation); NUTS chains cannot move between them: the posterior is "
            "multimodal, use method='nested'"
        )
    messages += _pile_up_messages(idata)
    return messages


def _pile_up_messages(idata) -> list[str]:
    attrs = idata.posterior.attrs
    if "prior_lower_km" not in attrs:
        return []
    draws = posterior_draws(idata)
    lo = np.asarray(attrs["prior_lower_km"])
    hi = np.asarray(attrs["prior_upper_km"])
    q25, q75 = np.percentile(draws, [25.0, 75.0], axis=0)
    scale = np.maximum(np.minimum(draws.std(axis=0), (q75 - q25) / 1.349), 1e-12)
    band = _PILE_UP_BAND * scale
    peak = 1.0 / (np.sqrt(2 * np.pi) * scale)
    messages = []
    for i, c in enumerate(COORDS):
        for side, dist in (("lower", draws[:, i] - lo[i]), ("upper", hi[i] - draws[:, i])):
            n_band = int(np.sum(dist < band[i]))
            density = n_band / (len(draws) * band[i])
            if n_band >= 5 and density > _PILE_UP_RATIO * peak[i]:
                bound = lo[i] if side == "lower" else hi[i]
                messages.append(
                    f"posterior of {c} piles up against the prior's {side} bound ({bound} km): "
                    "the prior truncates it; widen the box if the model grid allows"
                )
    return messages
