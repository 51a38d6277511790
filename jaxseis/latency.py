"""Latency and throughput of the emulated forward model, measured on the machine at hand.

What is timed (all times wall-clock, :func:`time.perf_counter`, after warm-up calls that
compile; each figure is the **median** of repeats):

* ``single_call_us``: one jitted call of the composed one-receiver forward model (emulator
  core, amplitude and time-shift GPs, fractional shift) from Python on one source ``[3]``,
  including dispatch and ``block_until_ready``: the cost a Python sampler pays per evaluation;
* ``in_loop_us``: the cost of one evaluation inside a compiled loop (``lax.scan`` over
  ``n_loop`` different sources, total time / ``n_loop``): no Python or dispatch overhead;
* ``numpy_in_loop_us``: the same arithmetic in plain NumPy (:func:`numpy_forward`) in a Python
  loop over the same sources: the BLAS floor a hand-written CPU implementation would reach;
* ``traces_per_s_<n>``: traces per second for a batch of ``n`` sources under ``vmap``
  (``lax.map`` over chunks of ``chunk_size`` so that memory stays bounded);
* :func:`measure_loglike_grad`: value and gradient of the multi-receiver Gaussian waveform
  log-likelihood (:func:`jaxseis.likelihood.waveform.gaussian_log_likelihood`), jitted.

Dispatch. JAX's CPU client runs small computations asynchronously by default, which adds tens
of microseconds to each small call from Python. The flag ``jax_cpu_enable_async_dispatch`` is
read **once, when the CPU backend is created** (the first computation of the process): changing
it later has no effect, so it cannot be switched by a context manager. jaxseis never sets it on
import. :func:`enable_sync_dispatch` sets it explicitly, before any computation (and refuses
afterwards); the measurement functions take ``sync_dispatch=True/False`` and, when that differs
from the mode of the running process, measure in a fresh Python subprocess.

Precision: by default (``x64=True``) the measurement runs inside ``jax.enable_x64(True)``, where
the features and peak GPs are evaluated in float64 (as :func:`jaxseis.inference.locate` does)
and the network in float32. ``x64=False`` runs everything in float32: the same cost, but the GP
means ``k @ alpha`` lose most of their digits to cancellation (with the bundled emulators the
predicted time shift is off by a median 10-100 ms), so float32 traces are wrong.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators import base as em_base
from jaxseis.gp import GaussianProcesses, predict_gps
from jaxseis.preprocess import KAISER_BETA, SINC_HALF_WIDTH, Standardizer, unalign

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "SOURCE_BOX_KM",
    "SUPPORTED_KINDS",
    "batch_key",
    "dispatch_mode",
    "enable_sync_dispatch",
    "machine_info",
    "measure_forward_latency",
    "measure_loglike_grad",
    "numpy_forward",
    "random_sources",
    "time_calls",
]

#: batch sizes of the throughput measurement (the issue's 1e3, 1e4 and 1e5)
DEFAULT_BATCH_SIZES = (1_000, 10_000, 100_000)
#: families :func:`numpy_forward` re-implements (an MLP core, with or without PCA)
SUPPORTED_KINDS = ("nn_direct", "pca_nn")
#: where the timed sources are drawn (uniformly), ``[2, 3]`` km: the paper's prior box
SOURCE_BOX_KM = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 2.42]])

_ASYNC_FLAG = "jax_cpu_enable_async_dispatch"
_I0_BETA = float(np.i0(KAISER_BETA))


# --------------------------------------------------------------------------------------------
# Dispatch mode
# --------------------------------------------------------------------------------------------


def _backends_initialized() -> bool:
    from jax._src import xla_bridge  # no public API tells whether the CPU client exists yet

    return bool(xla_bridge.backends_are_initialized())


def dispatch_mode() -> str:
    """``"sync"`` or ``"async"``: the CPU dispatch mode of this process.

    Read from the ``jax_cpu_enable_async_dispatch`` flag, which the CPU backend takes when it
    is created (the first computation); :func:`enable_sync_dispatch` keeps the two consistent.
    """
    return "async" if bool(jax.config.read(_ASYNC_FLAG)) else "sync"


def enable_sync_dispatch(enabled: bool = True) -> None:
    """Run small CPU computations synchronously (inline) for the rest of the process.

    Saves the tens of microseconds that asynchronous dispatch adds to each small jitted call
    made from Python (e.g. a sampler calling a jitted log-likelihood point by point); large
    computations and compiled loops are unaffected. Call it **before the first JAX
    computation** of the process: XLA reads the flag once, when it creates the CPU client.

    Raises:
        RuntimeError: if the JAX backend already exists with the other mode (changing the flag
            then would silently do nothing).
    """
    want = "sync" if enabled else "async"
    if dispatch_mode() == want:
        return
    if _backends_initialized():
        raise RuntimeError(
            f"JAX's CPU backend is already running with {dispatch_mode()} dispatch; "
            "enable_sync_dispatch() must be called before the first JAX computation "
            "(or measure with sync_dispatch=..., which uses a fresh subprocess)"
        )
    jax.config.update(_ASYNC_FLAG, not enabled)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def time_calls(fn: Callable[[], object], n_repeat: int, n_warmup: int = 3) -> np.ndarray:
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


def _stats_us(seconds: np.ndarray, per: int = 1) -> dict:
    us = np.asarray(seconds, dtype=np.float64) * 1e6 / per
    return {
        "median": float(np.median(us)),
        "p10": float(np.percentile(us, 10)),
        "p90": float(np.percentile(us, 90)),
        "min": float(us.min()),
        "n_repeat": int(us.size),
    }


def random_sources(n: int, seed: int = 0) -> np.ndarray:
    """``[n, 3]`` float64 sources (km) drawn uniformly in :data:`SOURCE_BOX_KM`, seeded."""
    lo, hi = SOURCE_BOX_KM
    return np.random.default_rng(seed).uniform(lo, hi, size=(int(n), 3))


def batch_key(n: int) -> str:
    """Result key of a throughput batch: ``traces_per_s_1e5`` for 100000, else the integer."""
    n = int(n)
    e = len(str(n)) - 1
    return f"traces_per_s_1e{e}" if n >= 10 and 10**e == n else f"traces_per_s_{n}"


def machine_info() -> dict:
    """CPU model, core count, and the versions that matter for the timings."""
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
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def _check_kind(emulator) -> None:
    if not isinstance(emulator, em_base.Emulator):
        raise TypeError(f"expected a fitted Emulator, got {type(emulator).__name__}")
    if emulator.kind not in SUPPORTED_KINDS:
        raise ValueError(
            f"latency is measured for {SUPPORTED_KINDS}; got a {emulator.kind!r} emulator"
        )


# --------------------------------------------------------------------------------------------
# The NumPy floor
# --------------------------------------------------------------------------------------------


#: power-series coefficients of I0: I0(x) = sum_k (x**2 / 4)**k / (k!)**2, 26 terms reach
#: float64 precision for |x| <= KAISER_BETA (np.i0 is exact too, but 20x slower on 16 values)
_I0_COEFFS = np.array([1.0 / (4.0**k * math.factorial(k) ** 2) for k in range(26)])
_I0_POWERS = np.arange(26)


def _kaiser_sinc_np(x: np.ndarray) -> np.ndarray:
    """Kaiser-windowed sinc of :func:`jaxseis.preprocess.fractional_shift`, NumPy (float64)."""
    x = np.asarray(x, dtype=np.float64)
    a = SINC_HALF_WIDTH
    inside = np.abs(x) < a
    arg2 = KAISER_BETA**2 * np.where(inside, 1.0 - (x / a) ** 2, 1.0)  # (beta sqrt(.))**2
    window = ((arg2[:, None] ** _I0_POWERS) @ _I0_COEFFS) / _I0_BETA
    return np.where(inside, np.sinc(x) * window, 0.0)


class _NumpyParts(NamedTuple):
    """The stages of the NumPy forward model, each a closure over prepared arrays."""

    features: Callable  # source [3] -> (network input [4] (dtype), GP features [4] (gp dtype))
    core: Callable  # network input [4] -> aligned trace [n_samples]
    gps: Callable  # GP features [4] -> (log_ratio, shift s)
    unalign: Callable  # (aligned [n_samples], log_ratio, shift s) -> trace [n_samples]


def _numpy_parts(emulator: em_base.Emulator, dtype, gp_dtype) -> _NumpyParts:
    _check_kind(emulator)
    dtype, gdt = np.dtype(dtype), np.dtype(gp_dtype)
    receiver = np.asarray(emulator.receiver_km, gdt)
    f_mean = np.asarray(emulator.feature_scaler.mean, dtype)
    f_std = np.asarray(emulator.feature_scaler.std, dtype)

    def features(source):
        delta = np.asarray(source, gdt) - receiver
        feats = np.empty(4, gdt)
        feats[:3] = delta
        feats[3] = np.sqrt(delta @ delta)
        return (feats.astype(dtype) - f_mean) / f_std, feats

    slope = dtype.type(emulator.config["net"].get("slope", 0.2))
    layers = emulator.core["net"]["layers"]
    weights = [
        (np.asarray(layers[i]["kernel"], dtype), np.asarray(layers[i]["bias"], dtype))
        for i in sorted(layers)
    ]
    pca = None
    if emulator.kind == "pca_nn":
        p = emulator.core["pca"]
        comps = np.asarray(p["components"], dtype)
        c_std, c_mean = np.asarray(p["c_std"], dtype), np.asarray(p["c_mean"], dtype)
        # (c * c_std + c_mean) @ components: the coefficient scaling folded into the basis
        pca = (c_std[:, None] * comps, c_mean @ comps, np.asarray(p["t_std"], dtype),
               np.asarray(p["t_mean"], dtype))  # fmt: skip

    def core(z):
        h = z
        for w, b in weights[:-1]:
            h = h @ w + b
            h = np.maximum(h, slope * h)  # LeakyReLU (0 < slope < 1)
        w, b = weights[-1]
        out = h @ w + b
        if pca is not None:
            basis, offset, t_std, t_mean = pca
            out = (out @ basis + offset) * t_std + t_mean
        return out

    g = emulator.peak_gps
    inv_scales = np.exp(-np.asarray(g.log_scales, gdt))  # [2, d]
    # training inputs scaled by each GP's length scales, feature-major [d, 2, n] (contiguous
    # rows for the per-feature differences)
    x_scaled = np.ascontiguousarray(
        (np.asarray(g.x, gdt)[None, :, :] * inv_scales[:, None, :]).transpose(2, 0, 1)
    )
    alpha = np.asarray(g.alpha, gdt) * np.exp(2.0 * np.asarray(g.log_amp, gdt))[:, None]
    gx_mean, gx_std = np.asarray(g.x_scaler.mean, gdt), np.asarray(g.x_scaler.std, gdt)
    y_mean, y_std = np.asarray(g.y_mean, gdt), np.asarray(g.y_std, gdt)
    sqrt3 = gdt.type(np.sqrt(3.0))

    def gps(feats):
        z = (feats - gx_mean) / gx_std
        d = x_scaled - (z * inv_scales).T[:, :, None]  # [d, 2, n]
        d *= d
        r = sqrt3 * np.sqrt(d.sum(axis=0))  # [2, n]
        k = (1.0 + r) * np.exp(-r)  # Matérn-3/2 over sigma_f**2 (folded into alpha)
        log_ratio, shift = np.einsum("gn,gn->g", k, alpha) * y_std + y_mean
        return log_ratio, shift

    ref = dtype.type(emulator.alignment.ref_amplitude)
    dt = dtype.type(emulator.dt)
    n = int(emulator.n_samples)
    taps = np.arange(-SINC_HALF_WIDTH + 1, SINC_HALF_WIDTH + 1, dtype=dtype)

    def unalign(aligned, log_ratio, shift):
        # delay by shift / dt samples: y[i] = sum_t w[t] x[i + m + taps[t]], with the same 16
        # weights w for every output sample (they depend on the fractional part only)
        u = -dtype.type(shift) / dt
        m = np.floor(u)
        w = _kaiser_sinc_np((u - m) - taps).astype(dtype)
        c = np.convolve(np.asarray(aligned, dtype), w[::-1])  # c[j] = sum_t w[t] x[j - 15 + t]
        start = int(m) + SINC_HALF_WIDTH  # y[i] = c[i + start], zero outside c
        out = np.zeros(n, dtype)
        lo, hi = max(start, 0), min(start + n, c.size)
        if hi > lo:
            out[lo - start : hi - start] = c[lo:hi]
        return ref * np.exp(dtype.type(log_ratio)) * out

    return _NumpyParts(features, core, gps, unalign)


def numpy_forward(
    emulator: em_base.Emulator, *, dtype=np.float32, gp_dtype=np.float64
) -> Callable[[np.ndarray], np.ndarray]:
    """The composed one-receiver forward model in plain NumPy: ``source [3] km -> [n_samples]``.

    The same arithmetic as :func:`jaxseis.emulators.make_predictor` for ``nn_direct`` and
    ``pca_nn`` emulators: features and their standardisation, the network (matmuls and
    LeakyReLU; for ``pca_nn`` the PCA reconstruction), the two peak-GP means (one Matérn-3/2
    kernel vector against the training inputs and its dot product with ``alpha`` each) and the
    fractional shift. The shift uses that the Kaiser-sinc weights of
    :func:`jaxseis.preprocess.fractional_shift` depend only on the fractional part of the shift:
    16 weights and one 16-tap correlation (``np.convolve``) instead of 16 weights per output
    sample. Constant work (scaling the GP training inputs by the length scales, casting) is done
    once, here.

    Args:
        emulator: a fitted ``nn_direct`` or ``pca_nn`` emulator.
        dtype: float dtype of the network and the trace (float32, as in JAX by default).
        gp_dtype: float dtype of the features and GPs: float64 (the default) matches JAX under
            x64; in float32 the GP means lose most of their digits to cancellation (``alpha``
            reaches 1e3-1e5), as they do in JAX.

    Raises:
        ValueError: for another family.
    """
    parts = _numpy_parts(emulator, dtype, gp_dtype)

    def forward(source: np.ndarray) -> np.ndarray:
        z, feats = parts.features(source)
        log_ratio, shift = parts.gps(feats)
        return parts.unalign(parts.core(z), log_ratio, shift)

    return forward


# --------------------------------------------------------------------------------------------
# JAX measurements
# --------------------------------------------------------------------------------------------


def _jax_stages(emulator, gp_dtype, dtype=jnp.float32):
    """JAX stages ``(core, gps, unalign)`` of the predictor, as in ``apply_predictor``."""
    params = em_base.predictor_parts(emulator, dtype, gp_dtype)[1]
    core = em_base._family(emulator.kind).predict_core(params["core"], emulator.config)
    g = params["gps"]
    gps = GaussianProcesses(**(g | {"x_scaler": Standardizer(**g["x_scaler"])}))

    def peak(feats):
        lr, sh = predict_gps(gps, feats)
        return lr.astype(dtype), sh.astype(dtype)

    def put_back(aligned, lr, sh):
        return params["ref"] * unalign(aligned, lr, sh, emulator.dt)

    return core, peak, put_back


def _scan_seconds(fn, xs, n_repeat: int) -> np.ndarray:
    """Seconds of a compiled ``lax.scan`` of ``fn`` over the leading axis of the tuple ``xs``."""

    @jax.jit
    def loop(xs):
        def body(acc, x):
            out = fn(*x)
            total = sum(jnp.sum(o).astype(jnp.float32) for o in jax.tree.leaves(out))
            return acc + total, None

        return jax.lax.scan(body, jnp.zeros((), jnp.float32), xs)[0]

    loop(xs).block_until_ready()  # compile
    return time_calls(lambda: loop(xs).block_until_ready(), n_repeat, n_warmup=1)


def _python_loop_seconds(fn, xs, n_repeat: int) -> np.ndarray:
    """Seconds of a Python loop calling the NumPy ``fn`` on the rows of the tuple ``xs``."""
    rows = list(zip(*xs, strict=True))

    def run():
        acc = 0.0
        for x in rows:
            out = fn(*x)
            acc += sum(float(np.sum(o)) for o in (out if isinstance(out, tuple) else (out,)))
        return acc

    return time_calls(run, n_repeat, n_warmup=1)


def _measure_forward_here(
    emulator, *, n_repeat, n_loop, n_loop_repeat, batch_sizes, n_batch_repeat, chunk_size,
    seed, x64, components,
) -> dict:  # fmt: skip
    ctx = jax.enable_x64(True) if x64 else nullcontext()
    src_dtype = jnp.float64 if x64 else jnp.float32  # also the features' and GPs' dtype
    with ctx:
        f = em_base.make_predictor(emulator, gp_dtype=src_dtype)
        gp_np = np.float64 if x64 else np.float32
        np_parts = _numpy_parts(emulator, np.float32, gp_np)
        np_f = numpy_forward(emulator, gp_dtype=gp_np)

        # one jitted call from Python
        pool = [jnp.asarray(s, src_dtype) for s in random_sources(16, seed)]
        jf = jax.jit(f)
        jax.block_until_ready([jf(p) for p in pool])  # compile
        it = iter(range(1 << 62))
        single = time_calls(
            lambda: jf(pool[next(it) % len(pool)]).block_until_ready(), n_repeat, n_warmup=20
        )

        # compiled loop against the NumPy loop, over the same sources
        loop_src = random_sources(n_loop, seed + 1)
        in_loop = _scan_seconds(f, (jnp.asarray(loop_src, src_dtype),), n_loop_repeat)
        numpy_loop = _python_loop_seconds(np_f, (loop_src,), n_loop_repeat)

        stages = {}
        if components:
            z, feats = zip(*(np_parts.features(s) for s in loop_src), strict=True)
            z, feats = np.stack(z), np.stack(feats)
            peaks = np.array([np_parts.gps(x) for x in feats])  # [n_loop, 2]
            aligned = np_parts.core(z[0])
            core, peak, put_back = _jax_stages(emulator, src_dtype)
            jax_in = {
                "core": (core, (jnp.asarray(z),)),
                "gps": (peak, (jnp.asarray(feats, src_dtype),)),
                "unalign": (
                    lambda lr, sh: put_back(jnp.asarray(aligned), lr, sh),
                    (jnp.asarray(peaks[:, 0], jnp.float32), jnp.asarray(peaks[:, 1], jnp.float32)),
                ),
            }
            np_in = {
                "core": (np_parts.core, (z,)),
                "gps": (np_parts.gps, (feats,)),
                "unalign": (
                    lambda lr, sh: np_parts.unalign(aligned, lr, sh),
                    (peaks[:, 0], peaks[:, 1]),
                ),
            }
            for name in jax_in:
                fn, xs = jax_in[name]
                t_j = _scan_seconds(fn, xs, n_loop_repeat)
                fn, xs = np_in[name]
                t_n = _python_loop_seconds(fn, xs, n_loop_repeat)
                stages[name] = {
                    "jax_in_loop_us": _stats_us(t_j, per=n_loop)["median"],
                    "numpy_in_loop_us": _stats_us(t_n, per=n_loop)["median"],
                }

        # throughput of batches under vmap, in chunks
        batches = {}
        for n in batch_sizes:
            n = int(n)
            src = jnp.asarray(random_sources(n, seed + 2), src_dtype)
            bs = min(int(chunk_size), n)
            g = jax.jit(lambda s, bs=bs: jax.lax.map(f, s, batch_size=bs))
            g(src).block_until_ready()  # compile (and warm)
            t = time_calls(lambda g=g, src=src: g(src).block_until_ready(), n_batch_repeat, 0)
            batches[n] = {"median_s": float(np.median(t)), "min_s": float(t.min()),
                          "chunk_size": bs, "n_repeat": int(t.size)}  # fmt: skip
            del src
    single_s = _stats_us(single)
    loop_s = _stats_us(in_loop, per=n_loop)
    np_s = _stats_us(numpy_loop, per=n_loop)
    out = {
        "kind": emulator.kind,
        "dispatch": dispatch_mode(),
        "x64": bool(x64),
        "dtype": "network float32, GPs " + ("float64" if x64 else "float32"),
        "single_call_us": single_s["median"],
        "in_loop_us": loop_s["median"],
        "numpy_in_loop_us": np_s["median"],
        "in_loop_over_numpy": loop_s["median"] / np_s["median"],
    }
    for n, b in batches.items():
        out[batch_key(n)] = n / b["median_s"]
    out["details"] = {
        "single_call_us": single_s,
        "in_loop_us": loop_s,
        "numpy_in_loop_us": np_s,
        "stages_in_loop_us": stages,
        "batches": {str(n): b for n, b in batches.items()},
        "n_loop": int(n_loop),
        "seed": int(seed),
        "sources": "uniform in x, y in [0, 1], z in [0, 2.42] km (seeded)",
    }
    return out


def measure_forward_latency(
    emulator: em_base.Emulator,
    *,
    n_repeat: int = 500,
    n_loop: int = 1000,
    n_loop_repeat: int = 7,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    n_batch_repeat: int = 3,
    chunk_size: int = 4096,
    seed: int = 0,
    sync_dispatch: bool | None = None,
    x64: bool = True,
    components: bool = True,
) -> dict:
    """Latency and throughput of one receiver's composed forward model.

    Args:
        emulator: a fitted ``nn_direct`` or ``pca_nn`` emulator.
        n_repeat: timed single calls (after 20 warm-up calls).
        n_loop: sources per compiled loop (and per NumPy loop).
        n_loop_repeat: timed repeats of each loop.
        batch_sizes: batch sizes of the throughput measurement (may be empty).
        n_batch_repeat: timed repeats per batch size (after one compiling call).
        chunk_size: sources per ``vmap`` chunk in the batches (``lax.map(batch_size=...)``):
            the fractional shift holds ``[chunk, n_samples, 16]`` intermediates, about 130 MB
            each at 4096 in float32.
        seed: seeds the random sources.
        sync_dispatch: ``None``: measure in this process as it is; ``True`` / ``False``:
            measure with synchronous / asynchronous CPU dispatch, in a fresh subprocess if this
            process runs in the other mode (see the module docstring).
        x64: evaluate the features and peak GPs in float64 (as inference does), inside
            ``jax.enable_x64(True)`` (the default). ``False``: everything in float32, where
            the GP means lose most of their digits (time shifts off by tens to hundreds of ms
            with the bundled emulators): same cost, wrong traces.
        components: also time the stages (network core, peak GPs, un-alignment with the
            fractional shift) in compiled and NumPy loops (``details["stages_in_loop_us"]``).

    Returns:
        A JSON-serialisable dict: ``single_call_us``, ``in_loop_us``, ``numpy_in_loop_us``
        (µs per evaluation, medians), ``in_loop_over_numpy`` (ratio), ``traces_per_s_<n>`` for
        each batch size (see :func:`batch_key`), ``kind``, ``dispatch`` (``"sync"`` or
        ``"async"``), ``x64``, ``dtype``, and ``details`` (percentiles, repeat counts, batch
        wall times in s).
    """
    _check_kind(emulator)
    kwargs = {
        "n_repeat": int(n_repeat), "n_loop": int(n_loop), "n_loop_repeat": int(n_loop_repeat),
        "batch_sizes": [int(b) for b in batch_sizes], "n_batch_repeat": int(n_batch_repeat),
        "chunk_size": int(chunk_size), "seed": int(seed), "x64": bool(x64),
        "components": bool(components),
    }  # fmt: skip
    if n_loop < 1 or n_loop_repeat < 1 or n_batch_repeat < 1 or chunk_size < 1:
        raise ValueError("n_loop, n_loop_repeat, n_batch_repeat and chunk_size must be >= 1")
    if _needs_subprocess(sync_dispatch):
        return _run_in_subprocess("forward", [emulator], kwargs, sync_dispatch)
    return _measure_forward_here(emulator, **kwargs)


def _measure_loglike_here(emulators, observed, sigma, *, n_repeat, seed, x64) -> dict:
    from jaxseis.forward import make_forward
    from jaxseis.likelihood.waveform import gaussian_log_likelihood

    ctx = jax.enable_x64(True) if x64 else nullcontext()
    src_dtype = jnp.float64 if x64 else jnp.float32  # also the features' and GPs' dtype
    with ctx:
        forward = make_forward(emulators, gp_dtype=src_dtype, jit=False)
        loglike = gaussian_log_likelihood(forward, observed, sigma)
        value = jax.jit(loglike)
        value_grad = jax.jit(jax.value_and_grad(loglike))
        pool = [jnp.asarray(s, src_dtype) for s in random_sources(16, seed)]
        jax.block_until_ready([value_grad(p) for p in pool] + [value(p) for p in pool])
        it = iter(range(1 << 62))

        def vg_call():
            jax.block_until_ready(value_grad(pool[next(it) % len(pool)]))

        def v_call():
            value(pool[next(it) % len(pool)]).block_until_ready()

        t_vg = time_calls(vg_call, n_repeat, n_warmup=20)
        t_v = time_calls(v_call, n_repeat, n_warmup=20)
        finite = bool(all(np.all(np.isfinite(np.asarray(x))) for x in value_grad(pool[0])))
    vg_s, v_s = _stats_us(t_vg), _stats_us(t_v)
    return {
        "loglike_grad_us": vg_s["median"],
        "loglike_us": v_s["median"],
        "n_receivers": len(emulators),
        "kinds": sorted({e.kind for e in emulators}),
        "dispatch": dispatch_mode(),
        "x64": bool(x64),
        "finite": finite,
        "details": {"loglike_grad_us": vg_s, "loglike_us": v_s, "seed": int(seed)},
    }


def measure_loglike_grad(
    emulators: Sequence[em_base.Emulator],
    observed,
    sigma,
    *,
    n_repeat: int = 500,
    seed: int = 0,
    sync_dispatch: bool | None = None,
    x64: bool = True,
) -> dict:
    """Time the jitted value and gradient of the Gaussian waveform log-likelihood.

    Args:
        emulators: one fitted emulator per receiver (any families :func:`make_forward` takes).
        observed: observed traces ``[n_receivers, n_samples]``, in the emulators' order.
        sigma: noise standard deviation (traces' units), scalar or ``[n_receivers]``.
        n_repeat: timed calls (after 20 warm-up calls) of each function.
        seed: seeds the random sources the functions are called at.
        sync_dispatch: as in :func:`measure_forward_latency`.
        x64: peak GPs and likelihood in float64 (as :func:`jaxseis.inference.locate` runs;
            the default).

    Returns:
        ``loglike_grad_us`` (value and gradient ``[3]``, µs per call from Python, median),
        ``loglike_us`` (value only), ``n_receivers``, ``kinds``, ``dispatch``, ``x64``,
        ``finite`` (the value and gradient at a random source are finite), ``details``.
    """
    emulators = list(emulators)
    if not emulators:
        raise ValueError("measure_loglike_grad needs at least one emulator")
    kwargs = {"n_repeat": int(n_repeat), "seed": int(seed), "x64": bool(x64)}
    obs = np.asarray(observed, dtype=np.float64)
    sig = np.asarray(sigma, dtype=np.float64)
    if _needs_subprocess(sync_dispatch):
        kwargs.update({"observed": obs.tolist(), "sigma": sig.tolist()})
        return _run_in_subprocess("loglike", emulators, kwargs, sync_dispatch)
    return _measure_loglike_here(emulators, obs, sig, **kwargs)


# --------------------------------------------------------------------------------------------
# Measuring in the other dispatch mode: a fresh process
# --------------------------------------------------------------------------------------------


def _needs_subprocess(sync_dispatch: bool | None) -> bool:
    """Whether measuring with ``sync_dispatch`` needs a fresh process.

    Even before this process's first computation, the flag is not flipped here: that would
    change the whole process behind the caller's back (use :func:`enable_sync_dispatch`).
    """
    if sync_dispatch is None:
        return False
    return dispatch_mode() != ("sync" if sync_dispatch else "async")


def _run_in_subprocess(what: str, emulators, kwargs: dict, sync_dispatch: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="jaxseis-latency-") as tmp:
        tmp = Path(tmp)
        paths = [str(em_base.save(e, tmp / f"emulator_{i}.npz")) for i, e in enumerate(emulators)]
        job = {"what": what, "emulators": paths, "kwargs": kwargs, "sync": bool(sync_dispatch)}
        (tmp / "job.json").write_text(json.dumps(job))
        code = (
            "import sys, jax\n"
            f"jax.config.update({_ASYNC_FLAG!r}, {not sync_dispatch!r})\n"
            "from jaxseis.latency import _worker\n"
            "_worker(sys.argv[1])\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp / "job.json")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        result = tmp / "result.json"
        if proc.returncode != 0 or not result.exists():
            raise RuntimeError(
                f"latency subprocess failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
            )
        out = json.loads(result.read_text())
    out["measured_in_subprocess"] = True
    return out


def _worker(job_path: str) -> None:
    """Entry point of the measuring subprocess (not public)."""
    job = json.loads(Path(job_path).read_text())
    emulators = [em_base.load(p) for p in job["emulators"]]
    kw = dict(job["kwargs"])
    if job["what"] == "forward":
        out = _measure_forward_here(emulators[0], **kw)
    else:
        obs = np.asarray(kw.pop("observed"))
        sig = np.asarray(kw.pop("sigma"))
        out = _measure_loglike_here(emulators, obs, sig, **kw)
    (Path(job_path).parent / "result.json").write_text(json.dumps(out))
