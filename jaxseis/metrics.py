"""Accuracy metrics of emulated traces."""

from __future__ import annotations

import numpy as np

__all__ = ["r2d"]


def r2d(truth, pred) -> float:
    """The paper's 2-D correlation coefficient (Eq. 12).

    Pearson correlation (not squared) between ``truth`` and ``pred`` over the whole flattened
    matrix ``[n_traces, n_samples]``, with global means.

    Raises:
        ValueError: on shape mismatch, non-finite values or constant input.
    """
    g = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if g.shape != p.shape:
        raise ValueError(f"truth and prediction shapes differ: {g.shape} vs {p.shape}")
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(p))):
        raise ValueError("r2d inputs contain NaN or infinite values")
    gc = g - g.mean()
    pc = p - p.mean()
    denom = np.sqrt(np.sum(gc**2) * np.sum(pc**2))
    if denom == 0:
        raise ValueError("r2d is undefined for constant input")
    return float(np.sum(gc * pc) / denom)
