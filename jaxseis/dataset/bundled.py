"""The datasets bundled with the package (``jaxseis/data``).

* ``benchmark.h5``: the benchmark dataset, 4000 sources by Latin hypercube on the grid nodes of
  x in [0, 1], y in [0, 1], z in [0, 2.42] km, traces at the central receiver and the 4 location
  receivers, split 2000/1000/1000 from a seed (:func:`jaxseis.dataset.make_benchmark`
  regenerates it);
* ``paper_event.h5``: the paper's event at (0.375, 0.3, 1.57) km simulated directly (not by
  reciprocity) at all 23 receivers, noise-free (:func:`jaxseis.dataset.make_paper_event`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jaxseis.dataset.container import Dataset
from jaxseis.dataset.storage import load

__all__ = ["bundled_path", "load_benchmark", "load_paper_event"]


def bundled_path(name: str) -> Path:
    """Path of a bundled data file (``"benchmark.h5"`` or ``"paper_event.h5"``)."""
    return Path(str(resources.files("jaxseis") / "data" / name))


def load_benchmark() -> Dataset:
    """The bundled benchmark dataset (4000 events x 5 receivers)."""
    return load(bundled_path("benchmark.h5"))


def load_paper_event() -> Dataset:
    """The bundled noise-free direct simulation of the paper's event at the 23 receivers."""
    return load(bundled_path("paper_event.h5"))
