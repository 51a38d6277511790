"""NonLinLoc 3-D grid files (``.hdr`` + ``.buf``): velocity models and travel-time tables.

**The format** (NonLinLoc's ``GridLib.c``). A grid ``root`` is two files. ``root.hdr`` is text:

* line 1: ``xNum yNum zNum xOrig yOrig zOrig dx dy dz gridType [FLOAT|DOUBLE]`` (km; the
  float type is absent in old files, meaning ``FLOAT``);
* for time (and angle) grids, line 2: ``label x y depth``, the station (the source of the
  eikonal solution);
* a line ``TRANSFORM ...`` (the map projection of the rectangular frame).

``root.buf`` holds ``xNum * yNum * zNum`` values, ``z`` varying fastest, then ``y``, then ``x``;
``z`` is depth, positive down, node ``k`` at depth ``zOrig + k dz``. NonLinLoc writes the buffer
in the byte order of the machine that made it (and can swap bytes on reading); jaxseis writes
little-endian float32.

**Coordinates.** jaxseis's ``z`` points up from the model bottom: a NonLinLoc grid is read with
its vertical axis flipped, model ``z = surface_z_km - depth``. ``surface_z_km`` (the model ``z``
of depth 0) defaults to the value that puts the grid's bottom node at ``z = 0``; give it to read
a grid into a model frame whose bottom lies elsewhere. ``x`` and ``y`` are NonLinLoc's own.
The writer inverts this: ``zOrig = surface_z_km - z_top`` (0 for a jaxseis grid whose top is
the sea surface), so a grid written by jaxseis reads back on the same :class:`Grid`.

**Grid types.** Velocity-like grids (``VELOCITY`` km/s, ``VELOCITY_METERS`` m/s, ``SLOWNESS``
s/km, ``SLOW_LEN`` s, ``VEL2`` (km/s)^2, ``SLOW2`` (s/km)^2, ``SLOW2_METERS`` (s/m)^2) become a
:class:`~jaxseis.velocity.VelocityModel` (:func:`read_velocity_grid`); ``TIME`` grids (s) become
:class:`~jaxseis.traveltime.TravelTimeTables` (:func:`read_time_grids`); ``PROB_DENSITY``,
``MISFIT``, ``LIKELIHOOD``, ``DEPTH``, ``LENGTH``, ``COULOMB`` and ``SSST_TIMECORR`` grids are read
as plain arrays. ``TIME2D``/``ANGLE2D``/``INCLINATION2D`` (2-D tables of a 1-D model), ``ANGLE``
and ``INCLINATION`` (bit-packed take-off angles) and cascading grids are refused with a message
that says why.

**Byte order.** ``byte_order`` is ``"native"`` (NonLinLoc's default), ``"little"`` or
``"big"``. The values are checked for plausibility (finite; for velocity and time grids also
non-negative, with magnitudes between 1e-30 and 1e15, which a float read in the wrong byte order
almost never has); a buffer that fails in the requested order but passes in the other raises a
``ValueError`` that names the order to use.

Modules: :mod:`~jaxseis.io.nll_grid.header` (grid types, the header's text),
:mod:`~jaxseis.io.nll_grid.buffer` (values in and out, byte order),
:mod:`~jaxseis.io.nll_grid.velocity` (velocity models) and
:mod:`~jaxseis.io.nll_grid.time_grids` (travel-time tables).
"""

from jaxseis.io.nll_grid.buffer import (
    BYTE_ORDERS,
    NonLinLocGrid,
    read_nonlinloc_grid,
    write_nonlinloc_grid,
)
from jaxseis.io.nll_grid.header import GRID_TYPES, VELOCITY_GRID_TYPES, GridHeader, read_grid_header
from jaxseis.io.nll_grid.time_grids import read_time_grids, write_time_grids
from jaxseis.io.nll_grid.velocity import read_velocity_grid, to_nonlinloc

__all__ = [
    "BYTE_ORDERS",
    "GRID_TYPES",
    "VELOCITY_GRID_TYPES",
    "GridHeader",
    "NonLinLocGrid",
    "read_grid_header",
    "read_nonlinloc_grid",
    "read_time_grids",
    "read_velocity_grid",
    "to_nonlinloc",
    "write_nonlinloc_grid",
    "write_time_grids",
]
