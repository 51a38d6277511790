"""Large inputs evaluated in chunks, so that memory stays flat as the batch grows.

A vmapped emulator materialises, per source, the kernel vectors of its GPs against their
training points (``16 * n_gps * n_points`` bytes with temporaries: 64 kB for NN direct's two
peak GPs on 2000 points, 6.4 MB for D18's 200 GPs) and a few traces. Evaluating a million
sources at once would ask for tens of gigabytes; :func:`map_batches` evaluates them
``batch_size`` at a time instead, the last chunk padded to the same size so that one
compilation serves every chunk. Inputs no larger than one chunk are evaluated in a single call,
exactly as without chunking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "MAX_BATCH_SIZE",
    "batch_size_for",
    "bytes_per_source",
    "default_batch_size",
    "gp_batch_size",
    "map_batches",
]

DEFAULT_MEMORY_BYTES = 256 * 2**20
"""Working memory a chunk of predictions may use by default (256 MiB)."""

MAX_BATCH_SIZE = 65536
"""Largest default chunk (sources)."""


def _gp_terms(emulator) -> int:
    """``sum(n_gps * n_points)`` over the emulator's GP sets (peak GPs and core GPs)."""
    total = 0
    if getattr(emulator, "peak_gps", None) is not None:
        total += int(np.size(emulator.peak_gps.alpha))
    core = getattr(emulator, "core", None)
    if isinstance(core, dict) and isinstance(core.get("gps"), dict):
        total += int(np.size(core["gps"]["alpha"]))
    return total


def bytes_per_source(emulator) -> int:
    """Estimated working memory (bytes) of one source's prediction: 16 bytes per GP kernel
    entry and 64 bytes per trace sample, an upper bound of XLA's compiled memory analysis
    (about 96 kB for NN direct and 6.4 MB for D18 on the benchmark)."""
    return 16 * _gp_terms(emulator) + 64 * int(emulator.n_samples)


def batch_size_for(bytes_per_item: int, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> int:
    """Items per chunk so that a chunk fits in ``memory_bytes``: 1 to :data:`MAX_BATCH_SIZE`."""
    return int(np.clip(memory_bytes // max(int(bytes_per_item), 1), 1, MAX_BATCH_SIZE))


def default_batch_size(emulators, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> int:
    """Sources per chunk so that predictions of all ``emulators`` (one or a sequence,
    evaluated together) fit in ``memory_bytes``: between 1 and :data:`MAX_BATCH_SIZE`."""
    ems = [emulators] if hasattr(emulators, "n_samples") else list(emulators)
    return batch_size_for(sum(bytes_per_source(e) for e in ems), memory_bytes)


def gp_batch_size(gps, n_samples: int = 0) -> int:
    """Inputs per chunk for GP predictions (``gps``: a :class:`~jaxseis.gp.GaussianProcesses`
    or its dict), plus traces of ``n_samples``, within :data:`DEFAULT_MEMORY_BYTES`."""
    alpha = gps["alpha"] if isinstance(gps, dict) else gps.alpha
    return batch_size_for(16 * int(np.size(alpha)) + 64 * int(n_samples))


def map_batches(fn: Callable, inputs, batch_size: int) -> np.ndarray | Sequence:
    """``fn(inputs)`` evaluated ``batch_size`` rows at a time, as NumPy arrays.

    Args:
        fn: maps an array ``[b, ...]`` to an array (or a pytree of arrays) with leading axis
            ``b``, row by row (e.g. a jitted ``vmap``).
        inputs: ``[n, ...]``.
        batch_size: rows per call; the last chunk is padded (repeating its last row) so that
            every call has the same shape. ``n <= batch_size``: one call on the whole input.

    Returns:
        The outputs concatenated along the leading axis (same structure as ``fn``'s).
    """
    if not (isinstance(batch_size, int | np.integer) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = np.asarray(inputs)
    n = x.shape[0]
    if n <= batch_size:
        return jax.tree.map(np.asarray, fn(x))
    out = None
    for start in range(0, n, batch_size):
        chunk = x[start : start + batch_size]
        k = chunk.shape[0]
        if k < batch_size:
            pad = np.repeat(chunk[-1:], batch_size - k, axis=0)
            chunk = np.concatenate([chunk, pad])
        result = jax.tree.map(lambda a, k=k: np.asarray(a)[:k], fn(chunk))
        if out is None:
            out = jax.tree.map(lambda a: np.empty((n, *a.shape[1:]), a.dtype), result)
        jax.tree.map(lambda o, a, s=start: o.__setitem__(slice(s, s + a.shape[0]), a), out, result)
    return out
