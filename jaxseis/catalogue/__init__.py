"""Catalogues: locate thousands of events with programs compiled once, on one machine or a
Dask cluster, with incremental, resumable output.

* :mod:`~jaxseis.catalogue.locator`: the :class:`Locator` (compiled once per emulator set,
  prior and settings; blocks of events under ``vmap``, one block per device);
* :mod:`~jaxseis.catalogue.journal`: the append-only record file (one JSON line per event) that
  makes a run resumable, and the final catalogue table;
* :mod:`~jaxseis.catalogue.run`: :func:`locate_catalogue`, in process or on Dask workers;
* :mod:`~jaxseis.catalogue.events`: :func:`dataset_events`, a dataset split as a synthetic
  catalogue (random origin times and amplitudes, seeded noise).
"""

from jaxseis.catalogue.events import dataset_events
from jaxseis.catalogue.journal import Journal, write_table
from jaxseis.catalogue.locator import (
    CATALOGUE_NUTS,
    CATALOGUE_STAGE,
    Locator,
    event_key,
    trace_counts,
)
from jaxseis.catalogue.run import CatalogueRun, LocatorSpec, build_locator, locate_catalogue

__all__ = [
    "CATALOGUE_NUTS",
    "CATALOGUE_STAGE",
    "CatalogueRun",
    "Journal",
    "Locator",
    "LocatorSpec",
    "build_locator",
    "dataset_events",
    "event_key",
    "locate_catalogue",
    "trace_counts",
    "write_table",
]
