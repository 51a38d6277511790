"""NonLinLoc location files (``.hyp``, "Hypocenter-Phase" format) out and in.

:func:`hyp_block` writes one located event as NonLinLoc's ``WriteLocation`` does (NonLinLoc
7), so that NonLinLoc-based tools and ``obspy.read_events(path, format="NLLOC_HYP")`` read it:

``NLLOC``, ``PUBLIC_ID``, ``SIGNATURE``, ``COMMENT``, ``GRID`` (the model grid in NonLinLoc
coordinates, or ``NULLGRID``), ``SEARCH`` (the method and diagnostics as key-value pairs),
``HYPOCENTER`` (the posterior mean; type ``EXPECTATION``), ``GEOGRAPHIC`` (origin time,
latitude, longitude, depth), ``QUALITY``, ``VPVSRATIO``, ``STATISTICS`` (expectation,
covariance and the 68 % ellipsoid as NonLinLoc writes them), ``STAT_GEOG``, ``TRANSFORM``,
``QML_OriginQuality``, ``QML_OriginUncertainty``, ``QML_ConfidenceEllipsoid``, ``PHASE`` ...
``END_PHASE`` (one line per pick, when picks are given) and ``END_NLLOC``.

**Conventions** (NonLinLoc's). Positions are in the rectangular frame (x, y, depth) in km and
the covariance (km^2) in the same frame; ``STATISTICS`` gives the ellipsoid at
``delta chi^2 = 3.53`` (68 %, 3-D) with azimuths from the frame's ``y`` axis. The ``QML_``
lines give the horizontal ellipse at ``delta chi^2 = 2.30`` (68 %, 2-D) and the ellipsoid in
QuakeML's angles, lengths in km as NonLinLoc writes them (ObsPy's reader copies the ellipsoid's
km values into its m fields unchanged, and converts the horizontal ones to m). Unlike NonLinLoc,
whose ``QML_`` azimuths are those of its rectangular frame, jaxseis gives geographic azimuths
(they agree when the frame is not rotated). Without a transform (``TRANSFORM NONE``)
``GEOGRAPHIC`` holds ``Lat = y`` and ``Long = x`` in km, as in NonLinLoc. Unknown values are
-1.

**jaxseis's additions** are in the free-text ``SEARCH`` line: ``JAXSEIS method <m>
surface_z_km <z> free <0/1 x 5> t0_s .. t0_std_s .. log_amplitude .. log_amplitude_std ..``
and the diagnostics present, so :func:`read_hyp` can return model coordinates (``z`` =
``surface_z_km - depth``).

Modules: :mod:`~jaxseis.io.nll_hyp.writing` (:func:`hyp_block`, :func:`write_hyp`,
:func:`write_hyp_blocks`) and :mod:`~jaxseis.io.nll_hyp.reading` (:func:`read_hyp`).
"""

from jaxseis.io.nll_hyp.reading import HypArrival, HypEvent, read_hyp
from jaxseis.io.nll_hyp.writing import hyp_block, write_hyp, write_hyp_blocks

__all__ = [
    "HypArrival",
    "HypEvent",
    "hyp_block",
    "read_hyp",
    "write_hyp",
    "write_hyp_blocks",
]
