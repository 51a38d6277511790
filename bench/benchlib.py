"""What the benchmark scripts share: result files, machine records, child processes, and the
latency harness (a NumPy reference of the forward model, measurement workers).

Not part of the jaxseis package: the scripts run as ``python bench/bench_x.py``, which puts
this directory on ``sys.path``, and import it as ``import benchlib``. Timing itself uses the
package's public :mod:`jaxseis.timing`; what is here compares it against references and
other processes, which a user timing their own emulator does not need.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis import emulators as em
from jaxseis import timing
from jaxseis.files import atomic_path, write_json, write_text
from jaxseis.geometry import source_features
from jaxseis.gp import gps_from_dict, predict_gps
from jaxseis.preprocess import KAISER_BETA, SINC_HALF_WIDTH, unalign

BENCH_DIR = Path(__file__).resolve().parent
#: where every script writes its JSON and markdown (``--out`` where a script has it)
RESULTS = BENCH_DIR / "results"


# --------------------------------------------------------------------------------------------
# Result files and the machine they were measured on
# --------------------------------------------------------------------------------------------


def result_name(base: str, quick: bool) -> str:
    """``base`` or, for a quick run, ``base_quick`` (git-ignored: it keeps the full results)."""
    return f"{base}_quick" if quick else base


def write_results(
    name: str, result: dict, markdown: str, out: Path = RESULTS, *, echo: bool = True
) -> Path:
    """Write ``out/name.json`` (strict JSON) and ``out/name.md`` atomically, print the
    markdown (``echo``), return the JSON path."""
    path = write_json(Path(out) / f"{name}.json", result)
    write_text(Path(out) / f"{name}.md", markdown)
    if echo:
        print(markdown)
    return path


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Lay out a Matplotlib figure, write it to ``path`` atomically (format from the suffix)
    and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def load_average() -> float:
    """The 1-minute load average: other jobs on a shared machine slow every figure down."""
    return os.getloadavg()[0]


def machine_info() -> dict:
    """:func:`jaxseis.timing.machine_info` and the load average now (``load_start``); a script
    sets ``load_end`` (:func:`load_average`) when its measurements are done."""
    return {**timing.machine_info(), "load_start": load_average()}


def machine_line(machine: dict) -> str:
    """One markdown line: CPU, cores, JAX, and the load average at start and end."""
    end = machine.get("load_end")
    load = f"{machine['load_start']:.2f}" + ("" if end is None else f" / {end:.2f}")
    return (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['platform']}, JAX "
        f"{machine['jax']}; load average (1 min) at start{'' if end is None else ' / end'}: "
        f"{load}."
    )


def run_python(code: str, *args: str, env: dict | None = None) -> dict:
    """Run ``python -c code args...`` in a fresh process; its last line of stdout is JSON.

    Raises:
        RuntimeError: the child failed (the end of its stderr is in the message).
    """
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child process failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


# --------------------------------------------------------------------------------------------
# The NumPy reference of the forward model (the BLAS floor of a hand-written CPU version)
# --------------------------------------------------------------------------------------------

#: families :func:`numpy_forward` re-implements (an MLP core, with or without PCA)
SUPPORTED_KINDS = ("nn_direct", "pca_nn")

_I0_BETA = float(np.i0(KAISER_BETA))
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


class NumpyParts(NamedTuple):
    """The stages of the NumPy forward model, each a closure over prepared arrays."""

    features: Callable  # source [3] -> (network input [4] (dtype), GP features [4] (gp dtype))
    core: Callable  # network input [4] -> aligned trace [n_samples]
    gps: Callable  # GP features [4] -> (log_ratio, shift s)
    unalign: Callable  # (aligned [n_samples], log_ratio, shift s) -> trace [n_samples]


def check_kind(emulator) -> None:
    """Refuse what :func:`numpy_forward` does not re-implement."""
    if not isinstance(emulator, em.Emulator):
        raise TypeError(f"expected a fitted Emulator, got {type(emulator).__name__}")
    if emulator.kind not in SUPPORTED_KINDS:
        raise ValueError(
            f"the NumPy reference covers {SUPPORTED_KINDS}; got a {emulator.kind!r} emulator"
        )


def numpy_parts(emulator: em.Emulator, dtype=np.float32, gp_dtype=np.float64) -> NumpyParts:
    """The stages of :func:`numpy_forward`, for timing them separately."""
    check_kind(emulator)
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

    def unalign_np(aligned, log_ratio, shift):
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

    return NumpyParts(features, core, gps, unalign_np)


def numpy_forward(
    emulator: em.Emulator, *, dtype=np.float32, gp_dtype=np.float64
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
            x64; in float32 the GP means lose most of their digits to cancellation.

    Raises:
        ValueError: for another family.
    """
    parts = numpy_parts(emulator, dtype, gp_dtype)

    def forward(source: np.ndarray) -> np.ndarray:
        z, feats = parts.features(source)
        log_ratio, shift = parts.gps(feats)
        return parts.unalign(parts.core(z), log_ratio, shift)

    return forward


def numpy_loop_latency(fn: Callable, xs: tuple, n_repeat: int) -> timing.LatencyStats:
    """µs per call of a Python loop calling the NumPy ``fn(*row)`` over the rows of ``xs``."""
    rows = list(zip(*xs, strict=True))

    def run():
        acc = 0.0
        for x in rows:
            out = fn(*x)
            acc += sum(float(np.sum(o)) for o in (out if isinstance(out, tuple) else (out,)))
        return acc

    return timing.latency_stats(timing.time_calls(run, n_repeat, n_warmup=1), per=len(rows))


# --------------------------------------------------------------------------------------------
# Latency measurements (in this process, or in a fresh one with the other dispatch mode)
# --------------------------------------------------------------------------------------------


def jax_stages(emulator: em.Emulator, gp_dtype, dtype=jnp.float32):
    """JAX stages ``(core, gps, unalign)`` of the predictor, as ``apply_predictor`` runs them."""
    params = em.predictor_parts(emulator, dtype, gp_dtype)[1]
    core = em.FAMILIES[emulator.kind].predict_core(params["core"], emulator.config)
    gps = gps_from_dict(params["gps"])

    def peak(feats):
        lr, sh = predict_gps(gps, feats)
        return lr.astype(dtype), sh.astype(dtype)

    def put_back(aligned, lr, sh):
        return params["ref"] * unalign(aligned, lr, sh, emulator.dt)

    return core, peak, put_back


def stage_latencies(emulator: em.Emulator, sources: np.ndarray, n_repeat: int, x64: bool):
    """Per stage (``core``, ``gps``, ``unalign``): µs per evaluation in a compiled loop
    (JAX) and in a Python loop (NumPy), over ``sources [n, 3]``."""
    src_dtype = jnp.float64 if x64 else jnp.float32
    parts = numpy_parts(emulator, np.float32, np.float64 if x64 else np.float32)
    z, feats = (np.stack(a) for a in zip(*(parts.features(s) for s in sources), strict=True))
    peaks = np.array([parts.gps(x) for x in feats])  # [n, 2]
    aligned = parts.core(z[0])
    core, peak, put_back = jax_stages(emulator, src_dtype)
    lr, sh = (np.asarray(peaks[:, i], np.float32) for i in (0, 1))
    jax_in = {
        "core": (core, jnp.asarray(z)),
        "gps": (peak, jnp.asarray(feats, src_dtype)),
        "unalign": (lambda x: put_back(jnp.asarray(aligned), *x), (lr, sh)),
    }
    np_in = {
        "core": (parts.core, (z,)),
        "gps": (parts.gps, (feats,)),
        "unalign": (lambda a, b: parts.unalign(aligned, a, b), (peaks[:, 0], peaks[:, 1])),
    }
    return {
        name: {
            "jax_in_loop_us": timing.loop_latency(*jax_in[name], n_repeat=n_repeat).median,
            "numpy_in_loop_us": numpy_loop_latency(*np_in[name], n_repeat).median,
        }
        for name in jax_in
    }


def stage_throughputs(
    emulator: em.Emulator, n: int, *, chunk_size: int = 4096, n_repeat: int = 3, seed: int = 0
) -> dict:
    """Per stage (``core``, ``gps``, ``unalign``) and for the whole forward model: µs per trace
    on a batch of ``n`` sources under ``vmap`` (:func:`jaxseis.timing.batch_throughput`, chunks
    of ``chunk_size``), features and GPs in float64 as inference runs them.

    Where a large batch spends its time (the in-loop split of :func:`stage_latencies` is one
    source at a time, which costs the stages differently). The un-alignment runs on a
    different aligned trace per source (the reference trace scaled), as after the network.
    """
    with jax.enable_x64(True):
        sources = timing.random_sources(n, seed)
        feats = np.asarray(source_features(sources, np.asarray(emulator.receiver_km)))
        z = (feats - np.asarray(emulator.feature_scaler.mean)) / np.asarray(
            emulator.feature_scaler.std
        )
        core, peak, put_back = jax_stages(emulator, jnp.float64)
        aligned = core(jnp.zeros(4, jnp.float32))
        rng = np.random.default_rng(seed)
        lr = rng.normal(0.0, 0.3, n).astype(np.float32)
        sh = rng.uniform(-0.3, 0.3, n).astype(np.float32)
        stages = {
            "core": (core, jnp.asarray(z, jnp.float32)),
            "gps": (lambda f: jnp.stack(peak(f)), jnp.asarray(feats)),
            "unalign": (lambda a: put_back(aligned * (1 + a[0]), *a), (lr, sh)),
            "total": (em.make_predictor(emulator), jnp.asarray(sources)),
        }
        return {
            name: 1e6
            / timing.batch_throughput(fn, x, chunk_size=chunk_size, n_repeat=n_repeat).per_s
            for name, (fn, x) in stages.items()
        }


def measure_forward(emulator: em.Emulator, *, components: bool = True, **settings) -> dict:
    """:func:`jaxseis.timing.forward_timing` (``settings`` are its options) beside the NumPy
    reference on the same sources.

    Returns its :meth:`~jaxseis.timing.ForwardTiming.as_dict` with ``numpy_in_loop_us``,
    ``in_loop_over_numpy`` and, with ``components``, ``details.stages_in_loop_us`` (network
    core, peak GPs, un-alignment, each in a compiled and in a NumPy loop).
    """
    check_kind(emulator)
    t = timing.forward_timing(emulator, **settings)
    loop_src = timing.random_sources(t.n_loop, t.seed + 1)  # the sources of t's loop
    repeats = t.in_loop.n_repeat
    gp_np = np.float64 if t.x64 else np.float32
    np_loop = numpy_loop_latency(numpy_forward(emulator, gp_dtype=gp_np), (loop_src,), repeats)
    with jax.enable_x64(True) if t.x64 else nullcontext():
        stages = stage_latencies(emulator, loop_src, repeats, t.x64) if components else {}
    out = t.as_dict()
    out["numpy_in_loop_us"] = np_loop.median
    out["in_loop_over_numpy"] = t.in_loop.median / np_loop.median
    out["details"] |= {"numpy_in_loop_us": np_loop._asdict(), "stages_in_loop_us": stages}
    return out


def measure_loglike(emulators, *, n_repeat: int, seed: int = 0) -> dict:
    """Value, and value and gradient, of the Gaussian waveform log-likelihood of the paper's
    event (bundled noise-free simulation, noise at the paper's level) at the emulators'
    receivers, at 16 random events (all five parameters; float64 GPs, as inference runs)."""
    import jaxseis as js

    obs = js.observe(js.load_paper_event(), emulators)
    lik = js.waveform_log_likelihood(emulators, obs)
    points = [
        np.concatenate([s, [0.0, 0.0]]) for s in timing.random_sources(16, seed)
    ]  # t0 = 0, unit amplitude
    t = timing.loglike_timing(lik, points, n_repeat=n_repeat)
    out = t.as_dict() | {"n_receivers": len(emulators), "x64": lik.x64}
    out["kinds"] = sorted({e.kind for e in emulators})
    out["sigma"] = float(obs.noise.sigma[0])
    out["details"]["seed"] = seed
    return out


WORKERS = {"forward": measure_forward, "loglike": measure_loglike}

_CHILD = """
import json, sys
from jaxseis import timing
from jaxseis.files import json_ready
timing.enable_sync_dispatch({sync})  # before any JAX computation of this process
sys.path.insert(0, {bench!r})
import benchlib
print(json.dumps(json_ready(benchlib.run_job(sys.argv[1]))))
"""


def in_fresh_process(what: str, emulators, kwargs: dict, *, sync_dispatch: bool) -> dict:
    """``WORKERS[what](*emulators-or-one, **kwargs)`` in a fresh Python process whose CPU
    dispatch is ``sync_dispatch``: the mode is fixed when JAX's backend starts, so the other
    mode needs another process. The emulators travel through temporary files."""
    with tempfile.TemporaryDirectory(prefix="jaxseis-bench-") as tmp:
        paths = [str(em.save(e, Path(tmp) / f"emulator_{i}.npz")) for i, e in enumerate(emulators)]
        job = write_json(Path(tmp) / "job.json", {"what": what, "emulators": paths, **kwargs})
        code = _CHILD.format(sync=bool(sync_dispatch), bench=str(BENCH_DIR))
        out = run_python(code, str(job))
    out["measured_in_subprocess"] = True
    return out


def run_job(job_path: str) -> dict:
    """The child's side of :func:`in_fresh_process`."""
    kw = json.loads(Path(job_path).read_text())
    what = kw.pop("what")
    emulators = [em.load(p) for p in kw.pop("emulators")]
    if what == "forward":
        return WORKERS[what](emulators[0], **kw)
    return WORKERS[what](emulators, **kw)
