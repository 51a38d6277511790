"""The compiled programs of :func:`jaxseis.inference.locate`, run in pieces with progress.

The global stage scores its candidates in about :data:`PIECES` batches (at most
``chunk_size`` per device each) and then polishes the best; NUTS runs its warm-up and sampling
steps in about :data:`PIECES` pieces of equal length (the last padded with sampling steps whose
draws are dropped). A :class:`~jaxseis.progress.Progress` bar advances between the pieces.
Each piece is the same compiled program, called with the carried state and the piece's
offset, so:

* the programs, and so the results, are the same whether progress is shown or not, bit for
  bit (no callback inside a compiled program, which would also keep JAX's persistent
  compilation cache from storing it);
* a configuration compiles once: the piece length depends only on the settings.

The programs take the likelihood's ``model`` and ``data`` as arguments and are cached by
``fn`` and the static settings, so a second event of the same kind reuses them.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.global_stage import (
    GlobalStage,
    draw_candidates,
    polish_best,
    score_batch,
)
from jaxseis.inference.nuts import (
    NutsOptions,
    advance_chains,
    finish_chains,
    init_chains,
    schedule_of,
    step_keys,
)
from jaxseis.inference.prior import Space
from jaxseis.progress import Progress

__all__ = ["PIECES", "STARTING", "piece_length", "run_global_stage", "run_nuts"]

PIECES = 20
"""About how many pieces a long step is run in (progress updates)."""

STARTING = "starting (the first run compiles)"
"""The note of a bar before its first piece is done."""


def piece_length(total: int, pieces: int = PIECES) -> int:
    """The length of the pieces that cover ``total`` steps in about ``pieces`` pieces with the
    least padding (between half and twice ``pieces`` pieces, fewer for a short run)."""
    if total <= pieces:
        return 1
    best = None
    for n in range(max(1, pieces // 2), min(total, 2 * pieces) + 1):
        k = -(-total // n)
        cost = (n * k - total, abs(n - pieces))
        if best is None or cost < best[0]:
            best = (cost, k)
    return best[1]


# ------------------------------------------------------------------------------ global stage


@partial(jax.jit, static_argnames=("search", "free", "num_draws"))
def _candidates(search, lower, upper, key, bank, *, free, num_draws):
    return draw_candidates(search, Space(lower, upper, free), key, bank, num_draws)


@partial(jax.jit, static_argnames=("fn", "search", "free", "size", "chunk_size", "split"))
def _score(fn, search, model, data, lower, upper, xs, start, *, free, size, chunk_size, split):
    piece = jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, size), xs)
    return score_batch(
        fn, search, model, data, Space(lower, upper, free), piece,
        chunk_size=chunk_size, split=split,
    )  # fmt: skip


@partial(jax.jit, static_argnames=("fn", "free", "stage", "split", "jacobian"))
def _polish(fn, model, data, lower, upper, theta, ll, *, free, stage, split, jacobian):
    return polish_best(
        fn, model, data, Space(lower, upper, free), theta, ll,
        stage=stage, split=split, jacobian=jacobian,
    )  # fmt: skip


def run_global_stage(fn, search, model, data, space: Space, key, bank, *, stage: GlobalStage,
                     split: int, jacobian: bool = True, progress: bool | None = None):  # fmt: skip
    """The global stage (:func:`~jaxseis.inference.global_stage.find_modes`) with its
    candidates scored in batches and a progress bar.

    Args:
        space: the prior's free parameters and bounds as arrays (of the run's precision).
        split: devices to split the scoring and polishing over.
        progress: show a bar (``None``: when stderr is a terminal).

    Returns:
        ``(u [K, d], objective [K], gradients [K, d], Hessians [K, d, d], best raw
        log-likelihood [])`` as NumPy arrays, as :func:`find_modes`.
    """
    free, lower, upper = space.free, space.lower, space.upper
    n = stage.num_draws if bank is None or search is None else len(bank.positions)
    per_device = min(stage.chunk_size, -(-n // (split * PIECES)))
    size = min(n, per_device * split)
    thetas, lls = [], []
    with Progress(n, desc="global stage", unit="cand", progress=progress) as bar:
        bar.describe(postfix=STARTING)
        xs = _candidates(search, lower, upper, key, bank, free=free, num_draws=stage.num_draws)
        for start in range(0, n, size):
            first = min(start, n - size)  # the last piece overlaps the one before
            theta, ll = _score(
                fn, search, model, data, lower, upper, xs, jnp.int32(first),
                free=free, size=size, chunk_size=stage.chunk_size, split=split,
            )  # fmt: skip
            if first < start:
                theta, ll = theta[start - first :], ll[start - first :]
            thetas.append(theta)
            lls.append(ll)
            if bar.shown:
                bar.describe(postfix="scoring")
                bar.update(int(jax.block_until_ready(lls[-1]).shape[0]))
        bar.describe(postfix=f"polishing the best {stage.num_polish}")
        theta = jnp.concatenate(thetas) if len(thetas) > 1 else thetas[0]
        ll = jnp.concatenate(lls) if len(lls) > 1 else lls[0]
        out = _polish(
            fn, model, data, lower, upper, theta, ll,
            free=free, stage=stage, split=split, jacobian=jacobian,
        )  # fmt: skip
        return tuple(np.asarray(a) for a in out)


# ------------------------------------------------------------------------------------- NUTS


@partial(jax.jit, static_argnames=("fn", "free", "options", "split"))
def _nuts_init(fn, model, data, lower, upper, w0, center, chol, *, free, options, split):
    space = Space(lower, upper, free)
    return init_chains(fn, model, data, space, w0, center, chol, options=options, split=split)


@partial(jax.jit, static_argnames=("fn", "free", "options", "split", "size"))
def _nuts_piece(fn, model, data, lower, upper, key, state, center, chol, start, *, free, options,
                split, size):  # fmt: skip
    n_steps = options.num_warmup + options.num_draws
    padded = -(-n_steps // size) * size
    keys = step_keys(key, center.shape[0], n_steps)
    keys = jnp.concatenate([keys, jnp.repeat(keys[:, -1:], padded - n_steps, axis=1)], axis=1)
    keys = jax.lax.dynamic_slice_in_dim(keys, start, size, axis=1)
    schedule = jax.tree.map(
        lambda a: jax.lax.dynamic_slice_in_dim(jnp.asarray(a), start, size),
        schedule_of(options, padded),
    )
    return advance_chains(
        fn, model, data, Space(lower, upper, free), state, keys, schedule, center, chol,
        options=options, split=split,
    )  # fmt: skip


@partial(jax.jit, static_argnames=("free",))
def _nuts_finish(lower, upper, trace, step_size, *, free):
    return finish_chains(Space(lower, upper, free), trace, step_size)


def run_nuts(fn, model, data, space: Space, key, w0, center, chol, *, options: NutsOptions,
             split: int, progress: bool | None = None) -> dict:  # fmt: skip
    """NUTS warm-up and sampling (:func:`~jaxseis.inference.nuts.run_chains`) in pieces, with a
    progress bar (the same draws as one piece would give).

    Args:
        space: the prior's free parameters and bounds as arrays (of the run's precision).
        w0, center, chol: the chains' starts ``[C, d]`` and whitening ``[C, d]``,
            ``[C, d, d]`` (:func:`~jaxseis.inference.nuts.chain_starts`).
        split: devices to split the chains over.
        progress: show a bar (``None``: when stderr is a terminal).

    Returns:
        :func:`run_chains`'s dict of ``[C, num_draws, ...]`` NumPy arrays and ``step_size [C]``.
    """
    free, lower, upper = space.free, space.lower, space.upper
    n_warm, n_steps = options.num_warmup, options.num_warmup + options.num_draws
    size = piece_length(n_steps)
    static = {"free": free, "options": options, "split": split}
    traces = []
    divergent = 0
    with Progress(n_steps, desc="NUTS warm-up", unit="step", progress=progress) as bar:
        bar.describe(postfix=STARTING)
        state = _nuts_init(fn, model, data, lower, upper, w0, center, chol, **static)
        for start in range(0, n_steps, size):
            state, trace = _nuts_piece(
                fn, model, data, lower, upper, key, state, center, chol, jnp.int32(start),
                size=size, **static,
            )  # fmt: skip
            traces.append(trace)
            if bar.shown:
                steps = start + np.arange(size)
                sampling = (steps >= n_warm) & (steps < n_steps)
                divergent += int(np.asarray(trace["diverging"])[:, sampling].sum())
                desc = "NUTS sampling" if start + size >= n_warm else None
                bar.describe(desc, postfix=f"{divergent} divergent" if desc else "")
                bar.update(min(size, n_steps - start))
        trace = jax.tree.map(lambda *a: np.concatenate(a, axis=1)[:, n_warm:n_steps], *traces)
        out = _nuts_finish(lower, upper, trace, state.final_eps, free=free)
        return jax.tree.map(np.asarray, out)
