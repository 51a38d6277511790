"""Split the host CPU into several JAX devices, so that independent work runs in parallel.

JAX gives a CPU one device, and work inside one compiled loop (a NUTS chain's leapfrog steps,
the global stage's Adam polish) runs on one core. With the CPU split into several devices,
:func:`jaxseis.inference.locate` runs its NUTS chains, and the global stage's scoring and
polish, split over the devices (``shard_map``). Measured side by side on 2 cores
(``bench/bench_devices.py``), warm-up and sampling get 1.2-1.8 times faster; the global
stage, whose large scoring batches already use every core, gains nothing. (The scoring is
split too because, in one compiled function with split parts, an unsplit computation runs
whole on every device: unsplit, it made the global stage 1.4 times slower.)

The split must happen before JAX runs its first computation (importing :mod:`jaxseis` runs
none). The ``jaxseis`` command line calls :func:`use_cpu_cores` itself; in a script or a
notebook, call it right after the imports::

    import jaxseis
    jaxseis.use_cpu_cores()

The same seed gives the same draws for the same device count; a different count can change
the floating-point rounding of batched evaluations and so the draws, within Monte Carlo error.
"""

from __future__ import annotations

import os

import jax

__all__ = ["usable_cores", "use_cpu_cores"]


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
