"""The dense training set, cached outside the repository (``$JAXSEIS_CACHE`` or
``~/.cache/jaxseis``: :func:`jaxseis.runtime.cache_dir`)."""

from __future__ import annotations

from pathlib import Path

from jaxseis.dataset.container import Dataset
from jaxseis.dataset.making import make_dense
from jaxseis.dataset.storage import load, save
from jaxseis.runtime import cache_dir

__all__ = ["load_dense"]


def load_dense(path: str | Path | None = None, *, create: bool = False, **kwargs) -> Dataset:
    """The dense training set from the cache; generated (one reciprocal simulation per receiver) if
    ``create`` and absent. ``kwargs`` go to :func:`make_dense`."""
    path = cache_dir() / "dense.h5" if path is None else Path(path)
    if not path.exists():
        if not create:
            raise FileNotFoundError(
                f"dense dataset not found at {path}; run `jaxseis simulate dense` to make it"
            )
        save(make_dense(**kwargs), path)
    return load(path)
