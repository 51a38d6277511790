"""P travel times: fast-marching tables per receiver and their differentiable interpolation.

**Tables.** By reciprocity of travel times, the first-arrival time from a source at ``x`` to a
receiver ``r`` equals the time from ``r`` to ``x``; one eikonal solution started at each receiver
therefore gives the travel time from every source position to that receiver.
:func:`traveltime_tables` solves the eikonal equation with pykonal's fast marching method (FMM)
once per receiver and caches the tables on disk (:func:`jaxseis.runtime.cache_dir`), keyed on a
hash of the model's content, the grid, the receiver and the solver settings, so that a changed
model never reuses a stale table.

**Accuracy.** Fast marching started from a single node makes an error of a fraction of a cell at
the source (the wavefront is far from planar there) that then propagates everywhere.
:func:`eikonal_traveltimes` therefore

1. sets every node within ``init_radius_km`` of the source to its straight-ray travel time
   through the model's slowness (exact in a homogeneous medium, second order in the ray
   curvature otherwise) and freezes these nodes (FMM *known*), only the shell of that ball
   being the initial narrow band (FMM *trial*), so that the first-order updates of the
   marching scheme never overwrite the analytic values;
2. optionally solves on a grid ``refine`` times finer than the model's (slowness interpolated
   trilinearly between model nodes) and samples the result back on the model's nodes, which
   reduces the discretisation error of the marching scheme.

In a medium with a constant velocity gradient (analytic solution known) on the paper's grid
spacing, the largest error is 3.6 ms (source on a node) to 8.8 ms (off the nodes) with a point
start, 1.7 ms with a 0.05 km ball left in the narrow band, and 0.4 ms with the frozen 0.1 km
ball (``tests/test_traveltime.py`` checks it). On the bundled marine model the tables differ
from a solution on a grid refined twice by 0.23 ms (median) and 0.8 ms at most, against 1.6 ms
and 4.2 ms with a point start (``bench/bench_edt.py``).

**Interpolation.** :func:`interpolate_traveltimes` interpolates the tables trilinearly with
``jax.numpy``; it works under ``jit``, ``vmap`` and ``grad``, so travel time is a continuous,
piecewise-smooth function of the source position with exact gradients (its gradient is
continuous inside each cell and jumps by a small amount, of the order of the cell size times the
curvature of the travel-time field, across cell faces).

**Outside the table.** Called with concrete (non-traced) positions, the interpolation raises a
``ValueError`` for a source outside the table. Inside ``jit``/``vmap``/``grad`` an exception
cannot depend on a value, so traced calls return NaN there instead, and the likelihoods of
:mod:`jaxseis.likelihood.edt` return ``-inf`` (zero likelihood). A sampler therefore rejects such
a proposal (for NUTS, a divergence); with the prior box inside the table, as for the paper's
prior, this never happens.

Arrival picking lives in :mod:`jaxseis.picking`.

Modules: :mod:`~jaxseis.traveltime.eikonal` (fast marching from one source),
:mod:`~jaxseis.traveltime.tables` (the tables, their checks and cache),
:mod:`~jaxseis.traveltime.interpolation` (differentiable interpolation).
"""

from jaxseis.traveltime.eikonal import (
    DEFAULT_INIT_RADIUS_KM,
    eikonal_traveltimes,
    straight_ray_time,
)
from jaxseis.traveltime.interpolation import (
    check_inside_table,
    interpolate_point,
    interpolate_traveltimes,
    make_interpolator,
    table_contains,
)
from jaxseis.traveltime.tables import (
    DEFAULT_REFINE,
    TABLE_FORMAT_VERSION,
    TravelTimeTables,
    check_tables,
    table_cache_key,
    traveltime_tables,
)

__all__ = [
    "DEFAULT_INIT_RADIUS_KM",
    "DEFAULT_REFINE",
    "TABLE_FORMAT_VERSION",
    "TravelTimeTables",
    "check_inside_table",
    "check_tables",
    "eikonal_traveltimes",
    "interpolate_point",
    "interpolate_traveltimes",
    "make_interpolator",
    "straight_ray_time",
    "table_cache_key",
    "table_contains",
    "traveltime_tables",
]
