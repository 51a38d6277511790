"""Process configuration: CPU devices, BLAS threads, the cache directory, compiled-code cache.

**CPU devices.** JAX gives a CPU one device, and work inside one compiled loop (a NUTS chain's
leapfrog steps, a polish of the global stage) runs on one core. :func:`use_cpu_cores` presents
the CPU as one device per core; :func:`jaxseis.locate` and the catalogue locator then split
chains, starting points and events over the devices (``shard_map``). The split must happen
before JAX runs its first computation (importing :mod:`jaxseis` runs none); the ``jaxseis``
command calls it itself, a script or notebook calls it right after the imports::

    import jaxseis
    jaxseis.use_cpu_cores()

Random keys are derived per chain or per event, not per device. How far results depend on the
device count depends on the split: :func:`over_devices` (``shard_map``, used by ``locate``)
compiles other code for each device count, so its results agree across counts to rounding;
:func:`on_each_device` (the catalogue) runs one single-device program on every device, so its
results are the same bit for bit.

**BLAS threads.** jaxlib's CPU LAPACK kernels (Cholesky, triangular solves) call SciPy's
OpenBLAS, whose worker threads compete with XLA's own pool on a small machine;
:func:`single_threaded_blas` limits them to one thread around the GP fits.

**Caches.** :func:`cache_dir` holds large generated data (the dense training set, travel-time
tables, trained benchmark emulators); :func:`enable_compilation_cache` turns on JAX's persistent
compilation cache (opt in), so that later processes reuse compiled programs.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import numpy as np

__all__ = [
    "cache_dir",
    "divisor_at_most",
    "enable_compilation_cache",
    "on_each_device",
    "over_devices",
    "single_threaded_blas",
    "usable_cores",
    "use_cpu_cores",
]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def use_cpu_cores(n: int | None = None) -> int:
    """Make JAX present the CPU as ``n`` devices (default: :func:`usable_cores`).

    Args:
        n: number of CPU devices, at least 1.

    Returns:
        The number of CPU devices in use.

    Raises:
        ValueError: if ``n`` is not a positive integer.
        RuntimeError: if JAX has already run a computation with a different CPU device count
            (the count is fixed when JAX's CPU backend starts).
    """
    n = usable_cores() if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer number of CPU devices; got {n!r}")
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError as err:
        current = len(jax.devices("cpu"))
        if current == n:
            return n
        raise RuntimeError(
            f"cannot split the CPU into {n} JAX devices: JAX has already run a computation "
            f"with {current}; call jaxseis.use_cpu_cores() before any JAX operation"
        ) from err
    return len(jax.devices("cpu"))


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """Context manager: BLAS libraries (OpenBLAS, MKL) limited to one thread inside.

    The library must be loaded when the limit is set, hence the SciPy import.
    """
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, which jaxlib's LAPACK calls)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def cache_dir() -> Path:
    """Directory for large generated data: ``$JAXSEIS_CACHE`` or ``~/.cache/jaxseis``."""
    return Path(os.environ.get("JAXSEIS_CACHE", Path.home() / ".cache" / "jaxseis"))


def enable_compilation_cache(path: str | Path | None = None, *, min_compile_time_s: float = 1.0):
    """Turn on JAX's persistent compilation cache (opt in; process-wide).

    Compiled programs that took at least ``min_compile_time_s`` to build are saved to ``path``
    (default ``cache_dir() / "jax-compilation-cache"``) and reused by later processes. The
    cache is trusted code: do not share it with users you do not trust.

    Returns:
        The cache directory (created if needed).
    """
    p = Path(path) if path is not None else cache_dir() / "jax-compilation-cache"
    p.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(p))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    with contextlib.suppress(ImportError, AttributeError):
        from jax.experimental.compilation_cache import compilation_cache

        # the cache is set up at the first compilation; reset it so the new directory is used
        compilation_cache.reset_cache()
    return p


def divisor_at_most(count: int, num_devices: int) -> int:
    """The largest device count, at most ``num_devices``, that splits ``count`` evenly."""
    n = max(min(num_devices, count), 1)
    while count % n:
        n -= 1
    return n


def over_devices(fn, num_devices: int):
    """``fn`` over a leading batch axis, split over the first ``num_devices`` devices with
    ``shard_map`` (each device runs its own loops on its share); ``fn`` itself for one device.

    Every argument and output of ``fn`` has the batch axis first; the batch size must be a
    multiple of ``num_devices`` (see :func:`divisor_at_most`).
    """
    if num_devices == 1:
        return fn
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:num_devices]), ("batch",))
    spec = jax.sharding.PartitionSpec("batch")
    return jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


def on_each_device(program, shared, blocks, devices, *, context=contextlib.nullcontext):
    """``program(*shared[i], *blocks[i])`` on device ``i`` for each block, all dispatched
    before any is waited for (so the devices run at once); the outputs stacked along the
    leading axis as NumPy arrays.

    Every device runs the same single-device program (unlike :func:`over_devices`, whose
    ``shard_map`` compiles other code for each number of devices), so a block's result is the
    same bit for bit whatever the number of devices. ``context`` is entered in each device's
    thread (JAX's x64 mode, for one, is per thread).
    """

    def run(common, block, device):
        with context():  # JAX's x64 mode is per thread: set it in each device's thread
            return jax.tree.map(np.asarray, program(*common, *jax.device_put(block, device)))

    if len(blocks) == 1:
        outs = [run(shared[0], blocks[0], devices[0])]
    else:  # one thread per device: their first calls compile at the same time
        with ThreadPoolExecutor(len(blocks)) as pool:
            outs = list(pool.map(run, shared, blocks, devices))
    return jax.tree.map(lambda *a: np.concatenate(a), *outs)
