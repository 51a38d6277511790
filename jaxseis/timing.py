"""Time jitted functions and an emulator's forward model, in the current process.

Every figure is wall-clock (:func:`time.perf_counter`) after warm-up calls that compile, and
each timed call blocks until its result is ready; statistics are over repeats, in microseconds
per evaluation (:class:`LatencyStats`). What a sampler pays per evaluation depends on how it
calls the model, hence three figures for a forward model (:func:`forward_timing`):

* a single jitted call from Python on one source (:func:`call_latency`), dispatch included;
* one evaluation inside a compiled ``lax.scan`` over different sources (:func:`loop_latency`):
  no Python or dispatch overhead;
* traces per second for a batch of sources under ``vmap``, in chunks (:func:`batch_throughput`).

:func:`loglike_timing` times a log-likelihood and its gradient as a gradient-based sampler
calls them. All of it runs in this process, as it is configured.

Dispatch. JAX's CPU backend runs small computations asynchronously by default, which adds
tens of microseconds to each small call made from Python. The flag
``jax_cpu_enable_async_dispatch`` is read once, when JAX creates its CPU backend (the first
computation of the process), so it cannot be switched around a block of code:
:func:`enable_sync_dispatch` sets it, and must be called before the first JAX computation
(jaxseis never sets it on import). To compare the two modes, measure in two processes.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.base import Emulator
from jaxseis.emulators.predictor import make_predictor

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "SOURCE_BOX_KM",
    "ForwardTiming",
    "LatencyStats",
    "LoglikeTiming",
    "Throughput",
    "batch_key",
    "batch_throughput",
    "call_latency",
    "dispatch_mode",
    "enable_sync_dispatch",
    "forward_timing",
    "latency_stats",
    "loglike_timing",
    "loop_latency",
    "machine_info",
    "random_sources",
    "time_calls",
]

#: batch sizes of :func:`forward_timing`'s throughput measurement
DEFAULT_BATCH_SIZES = (1_000, 10_000, 100_000)
#: where the timed sources are drawn (uniformly), ``[2, 3]`` km: the paper's prior box
SOURCE_BOX_KM = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 2.42]])

_ASYNC_FLAG = "jax_cpu_enable_async_dispatch"


# --------------------------------------------------------------------------------- dispatch


def dispatch_mode() -> str:
    """``"sync"`` or ``"async"``: the CPU dispatch mode JAX's flag asks for.

    This is the mode of the running backend when the flag was set before the first
    computation (see :func:`enable_sync_dispatch`).
    """
    return "async" if bool(jax.config.read(_ASYNC_FLAG)) else "sync"


def enable_sync_dispatch(enabled: bool = True) -> None:
    """Run small CPU computations synchronously (inline) for the rest of the process.

    Saves the tens of microseconds that asynchronous dispatch adds to each small jitted call
    made from Python (a sampler or a SciPy optimiser calling a jitted function point by
    point); large computations and compiled loops are unaffected. Call it **before the first
    JAX computation** of the process, e.g. right after the imports: JAX reads the flag once,
    when it creates its CPU backend, and a later call changes the flag (and
    :func:`dispatch_mode`) but not the running backend. ``enabled=False`` asks for the
    default, asynchronous dispatch.
    """
    jax.config.update(_ASYNC_FLAG, not enabled)


# --------------------------------------------------------------------------------- timing


class LatencyStats(NamedTuple):
    """Wall time per evaluation over timed repeats, µs."""

    median: float
    p10: float
    p90: float
    min: float
    n_repeat: int


class Throughput(NamedTuple):
    """A batch evaluated under ``vmap``: evaluations per second and the batch's wall time."""

    per_s: float  # batch size / median wall time
    median_s: float
    min_s: float
    chunk_size: int  # evaluations per vmap chunk (lax.map batch_size)
    n_repeat: int


def time_calls(fn: Callable[[], Any], n_repeat: int, n_warmup: int = 3) -> np.ndarray:
    """Wall-clock seconds ``[n_repeat]`` of ``fn()`` after ``n_warmup`` untimed calls.

    ``fn`` must block until its work is done (e.g. end with ``block_until_ready``).
    """
    if n_repeat < 1:
        raise ValueError(f"n_repeat must be >= 1, got {n_repeat}")
    for _ in range(max(n_warmup, 0)):
        fn()
    out = np.empty(n_repeat)
    for i in range(n_repeat):
        tic = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - tic
    return out


def latency_stats(seconds, per: int = 1) -> LatencyStats:
    """Statistics (µs per evaluation) of wall times ``seconds`` of ``per`` evaluations each."""
    us = np.asarray(seconds, dtype=np.float64) * 1e6 / per
    return LatencyStats(
        float(np.median(us)),
        float(np.percentile(us, 10)),
        float(np.percentile(us, 90)),
        float(us.min()),
        int(us.size),
    )


def call_latency(
    fn: Callable, inputs: Sequence, *, n_repeat: int = 500, n_warmup: int = 20
) -> LatencyStats:
    """Latency of single calls ``fn(x)`` from Python, cycling through ``inputs``.

    Args:
        fn: the function to time, typically ``jax.jit(f)``; each call's output is waited for
            (``jax.block_until_ready``), so dispatch is included.
        inputs: arguments (arrays or pytrees of one shape and dtype), put on the device once;
            cycling through several keeps the timing honest against caches of a repeated input.
        n_repeat: timed calls, after one compiling call and ``n_warmup`` more.
    """
    pool = [jax.device_put(x) for x in inputs]
    if not pool:
        raise ValueError("call_latency needs at least one input")
    jax.block_until_ready(fn(pool[0]))  # compile
    it = iter(range(1 << 62))
    return latency_stats(
        time_calls(
            lambda: jax.block_until_ready(fn(pool[next(it) % len(pool)])), n_repeat, n_warmup
        )
    )


def loop_latency(fn: Callable, xs, *, n_repeat: int = 7) -> LatencyStats:
    """Cost of one evaluation of ``fn`` inside a compiled loop (``lax.scan``), µs.

    Args:
        fn: a pure JAX function of one slice of ``xs``.
        xs: an array or pytree of arrays; the loop runs over the leading axis (``n``
            evaluations per loop), summing the outputs so that none is optimised away.
        n_repeat: timed loops, after one compiling and one warm-up run.
    """
    xs = jax.device_put(xs)
    n = int(jax.tree.leaves(xs)[0].shape[0])

    @jax.jit
    def loop(xs):
        def body(acc, x):
            out = fn(x)
            total = sum(jnp.sum(o).astype(jnp.float32) for o in jax.tree.leaves(out))
            return acc + total, None

        return jax.lax.scan(body, jnp.zeros((), jnp.float32), xs)[0]

    loop(xs).block_until_ready()  # compile
    return latency_stats(
        time_calls(lambda: loop(xs).block_until_ready(), n_repeat, n_warmup=1), per=n
    )


def batch_throughput(
    fn: Callable, sources, *, chunk_size: int = 4096, n_repeat: int = 3
) -> Throughput:
    """Evaluations per second of ``fn`` on the batch ``sources`` (leading axis) under ``vmap``.

    The batch runs as ``lax.map(fn, sources, batch_size=chunk_size)``: ``vmap`` over chunks,
    so that memory stays bounded (each peak GP of a forward model holds a ``[chunk, 2000]``
    float64 kernel block against its training points, about 65 MB at 4096).
    """
    if chunk_size < 1 or n_repeat < 1:
        raise ValueError(f"chunk_size and n_repeat must be >= 1; got {chunk_size}, {n_repeat}")
    sources = jax.device_put(sources)
    n = int(jax.tree.leaves(sources)[0].shape[0])
    bs = min(int(chunk_size), n)
    g = jax.jit(lambda s: jax.lax.map(fn, s, batch_size=bs))
    g(sources).block_until_ready()  # compile (and warm)
    t = time_calls(lambda: g(sources).block_until_ready(), n_repeat, 0)
    return Throughput(n / float(np.median(t)), float(np.median(t)), float(t.min()), bs, t.size)


# --------------------------------------------------------------------------------- models


def random_sources(n: int, seed: int = 0) -> np.ndarray:
    """``[n, 3]`` float64 sources (km) drawn uniformly in :data:`SOURCE_BOX_KM`, seeded."""
    lo, hi = SOURCE_BOX_KM
    return np.random.default_rng(seed).uniform(lo, hi, size=(int(n), 3))


def batch_key(n: int) -> str:
    """Result key of a throughput batch: ``traces_per_s_1e5`` for 100000, else the integer."""
    n = int(n)
    e = len(str(n)) - 1
    return f"traces_per_s_1e{e}" if n >= 10 and 10**e == n else f"traces_per_s_{n}"


class ForwardTiming(NamedTuple):
    """Latency and throughput of one receiver's forward model (:func:`forward_timing`)."""

    kind: str  # emulator family
    dispatch: str  # "sync" or "async" (dispatch_mode() during the measurement)
    x64: bool  # features and GPs in float64
    single_call: LatencyStats  # one jitted call from Python
    in_loop: LatencyStats  # one evaluation inside a compiled loop
    batches: dict[int, Throughput]  # batch size -> traces per second under vmap
    n_loop: int  # sources per compiled loop
    seed: int  # sources: random_sources(16, seed), (n_loop, seed + 1), (n, seed + 2)

    def as_dict(self) -> dict:
        """A JSON-ready summary: ``single_call_us``, ``in_loop_us`` (medians),
        ``traces_per_s_<n>`` per batch (:func:`batch_key`), and ``details``."""
        out = {
            "kind": self.kind,
            "dispatch": self.dispatch,
            "x64": self.x64,
            "dtype": "network float32, GPs " + ("float64" if self.x64 else "float32"),
            "single_call_us": self.single_call.median,
            "in_loop_us": self.in_loop.median,
        }
        out |= {batch_key(n): b.per_s for n, b in self.batches.items()}
        out["details"] = {
            "single_call_us": self.single_call._asdict(),
            "in_loop_us": self.in_loop._asdict(),
            "batches": {
                str(n): {k: v for k, v in b._asdict().items() if k != "per_s"}
                for n, b in self.batches.items()
            },
            "n_loop": self.n_loop,
            "seed": self.seed,
            "sources": "uniform in x, y in [0, 1], z in [0, 2.42] km (seeded)",
        }
        return out


def forward_timing(
    emulator: Emulator,
    *,
    n_repeat: int = 500,
    n_loop: int = 1000,
    n_loop_repeat: int = 7,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    n_batch_repeat: int = 3,
    chunk_size: int = 4096,
    seed: int = 0,
    x64: bool = True,
) -> ForwardTiming:
    """Latency and throughput of an emulator's composed forward model, ``source [3] -> trace``.

    The model is :func:`jaxseis.emulators.make_predictor` (for aligned families: the core,
    the amplitude and time-shift GPs and the fractional shift), any family.

    Args:
        emulator: a fitted emulator.
        n_repeat: timed single calls (after 20 warm-up calls).
        n_loop: sources per compiled loop.
        n_loop_repeat: timed repeats of the loop.
        batch_sizes: batch sizes of the throughput measurement (may be empty).
        n_batch_repeat: timed repeats per batch size (after one compiling call).
        chunk_size: sources per ``vmap`` chunk in the batches (see :func:`batch_throughput`).
        seed: seeds the random sources (:func:`random_sources`).
        x64: features and GPs in float64, inside ``jax.enable_x64(True)``, as inference runs
            them (the default). ``False``: everything in float32, where the GP means lose
            most of their digits (time shifts off by tens to hundreds of ms with the bundled
            emulators): about the same cost, wrong traces.
    """
    if min(n_repeat, n_loop, n_loop_repeat, n_batch_repeat, chunk_size) < 1:
        raise ValueError(
            "n_repeat, n_loop, n_loop_repeat, n_batch_repeat and chunk_size must be >= 1"
        )
    src_dtype = jnp.float64 if x64 else jnp.float32  # also the features' and GPs' dtype
    with jax.enable_x64(True) if x64 else nullcontext():
        f = make_predictor(emulator, gp_dtype=src_dtype)
        cast = lambda s: np.asarray(s, src_dtype)
        single = call_latency(jax.jit(f), list(cast(random_sources(16, seed))), n_repeat=n_repeat)
        in_loop = loop_latency(f, cast(random_sources(n_loop, seed + 1)), n_repeat=n_loop_repeat)
        batches = {}
        for n in map(int, batch_sizes):
            sources = cast(random_sources(n, seed + 2))
            batches[n] = batch_throughput(
                f, sources, chunk_size=chunk_size, n_repeat=n_batch_repeat
            )
    return ForwardTiming(
        emulator.kind, dispatch_mode(), bool(x64), single, in_loop, batches, int(n_loop), seed
    )


class LoglikeTiming(NamedTuple):
    """Single-call latency of a log-likelihood and of its value and gradient."""

    value: LatencyStats
    value_and_grad: LatencyStats
    finite: bool  # value and gradient at the first point are finite
    dispatch: str  # "sync" or "async"

    def as_dict(self) -> dict:
        """A JSON-ready summary: ``loglike_us``, ``loglike_grad_us`` (medians), ``details``."""
        return {
            "loglike_grad_us": self.value_and_grad.median,
            "loglike_us": self.value.median,
            "dispatch": self.dispatch,
            "finite": self.finite,
            "details": {
                "loglike_grad_us": self.value_and_grad._asdict(),
                "loglike_us": self.value._asdict(),
            },
        }


def loglike_timing(
    log_likelihood: Callable, points: Sequence, *, n_repeat: int = 500
) -> LoglikeTiming:
    """Time ``jax.jit(log_likelihood)`` and its jitted value and gradient, called from Python.

    One call of the value and gradient is what each leapfrog step of NUTS costs when a
    sampler drives it from Python. A :class:`~jaxseis.likelihood.Likelihood` is timed in its
    own precision (float64 for GP emulators), with its data closed over; a plain function runs
    in the caller's precision.

    Args:
        log_likelihood: a :class:`~jaxseis.likelihood.Likelihood` (of the five event
            parameters) or a scalar function of a parameter vector.
        points: parameter vectors to call it at, cycled through (e.g. event parameters
            ``[5]``, or :func:`random_sources` ``(16)`` for a function of the position).
        n_repeat: timed calls of each function (after 20 warm-up calls).
    """
    from jaxseis.likelihood.base import Likelihood

    if isinstance(log_likelihood, Likelihood):
        lik = log_likelihood
        with jax.enable_x64(lik.x64 or bool(jax.config.read("jax_enable_x64"))):
            model = jax.tree.map(jnp.asarray, lik.model)
            data = jax.tree.map(jnp.asarray, lik.data)
            pts = [jnp.asarray(p, jnp.result_type(float)) for p in points]
            return loglike_timing(lambda t: lik.fn(t, model, data), pts, n_repeat=n_repeat)
    value_grad = jax.jit(jax.value_and_grad(log_likelihood))
    vg = call_latency(value_grad, points, n_repeat=n_repeat)
    v = call_latency(jax.jit(log_likelihood), points, n_repeat=n_repeat)
    out = value_grad(jax.device_put(points[0]))
    finite = all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(out))
    return LoglikeTiming(v, vg, finite, dispatch_mode())


# --------------------------------------------------------------------------------- machine


def machine_info() -> dict:
    """CPU model, core count, and the versions that matter for timings (JSON-ready).

    Starts no JAX computation (safe before :func:`enable_sync_dispatch`).
    """
    import jaxlib

    from jaxseis import __version__

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "jaxseis": __version__,
    }
