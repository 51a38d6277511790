"""Thread control around LAPACK-heavy GP fits.

jaxlib's CPU LAPACK kernels (``cholesky``, triangular solves) call SciPy's OpenBLAS. On a
small shared machine its worker threads compete with XLA's own thread pool: measured here
(2 cores, jaxlib 0.10), one float64 Cholesky of a 2000 x 2000 matrix took 2.8 s with
OpenBLAS's default 2 threads and 0.09 s with one thread, and 30 Adam steps of 4 GP
hyperparameter fits on 300 points 55-63 s against 0.8-1.2 s. :func:`single_threaded_blas`
limits OpenBLAS to one thread for the duration of a ``with`` block; :func:`jaxseis.gp.fit_gps`
uses it. The library must be loaded when the limit is set, hence the SciPy import.
"""

from __future__ import annotations

import contextlib

__all__ = ["single_threaded_blas"]


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """Context manager: BLAS libraries (OpenBLAS, MKL) limited to one thread inside."""
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, which jaxlib's LAPACK calls)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")
