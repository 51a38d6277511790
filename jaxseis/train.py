"""One training loop for every network: minibatches, validation, early stopping, best state.

The whole epoch (a shuffle and a ``lax.scan`` over minibatches) and the validation loss are
compiled together, and ``epochs_per_call`` epochs run in one compiled call (a ``lax.scan`` over
epochs), so no Python round trip separates the steps. Early
stopping with ``patience`` is exact: once the validation loss has not improved for
``patience`` epochs the remaining epochs of a call are skipped, and the state with the lowest
validation loss is returned (the paper's protocol: patience 100, best checkpoint restored).

Validation data drive early stopping and are therefore *model selection* data: never pass the
test split here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "TrainConfig",
    "TrainResult",
    "mse",
    "train",
    "train_supervised",
    "train_supervised_stacked",
]

PyTree = Any


class TrainConfig(NamedTuple):
    """Settings of :func:`train`.

    Attributes:
        batch_size: minibatch size (the last incomplete batch of each shuffled epoch is dropped).
        max_epochs: hard limit on the number of epochs.
        patience: epochs without improvement of the validation loss before stopping.
        epochs_per_call: epochs compiled into one call (progress is reported between calls).
        progress: show a progress bar (tqdm).
    """

    batch_size: int = 256
    max_epochs: int = 20000
    patience: int = 100
    epochs_per_call: int = 50
    progress: bool = True


class TrainResult(NamedTuple):
    """Outcome of :func:`train`.

    Attributes:
        state: the training state with the lowest validation loss.
        best_epoch: its epoch (0-based).
        best_val_loss: its validation loss.
        train_loss: ``[n_epochs]`` mean minibatch loss per epoch.
        val_loss: ``[n_epochs]`` validation loss per epoch.
        wall_s: wall time, s (compilation included).
    """

    state: PyTree
    best_epoch: int
    best_val_loss: float
    train_loss: np.ndarray
    val_loss: np.ndarray
    wall_s: float


def mse(pred, target):
    """Mean squared error over all elements."""
    return jnp.mean((pred - target) ** 2)


def train(
    step_fn: Callable[[PyTree, tuple, jax.Array], tuple[PyTree, jax.Array]],
    val_fn: Callable[[PyTree], jax.Array],
    state: PyTree,
    data: tuple,
    *,
    key: jax.Array,
    config: TrainConfig = TrainConfig(),
    desc: str = "training",
) -> TrainResult:
    """Generic minibatch training with early stopping on a validation loss.

    Args:
        step_fn: ``(state, batch, key) -> (state, loss)``, one optimisation step on a batch
            (a tuple of arrays with leading dimension ``batch_size``).
        val_fn: ``state -> validation loss`` (scalar, lower is better).
        state: initial training state (a pytree: parameters, optimiser state, ...).
        data: training arrays, each with leading dimension ``n``.
        key: PRNG key for the shuffles and the steps.
        config: :class:`TrainConfig`.
        desc: label of the progress bar.
    """
    (result,) = _run(
        step_fn, lambda st, _: val_fn(st), state, data, (), key, config, desc, stacked=False
    )
    return result


def _run(step_fn, val_fn, state, data, val_data, key, config, desc, *, stacked: bool):
    """The training loop; with ``stacked`` every array (state, data, val_data, key) has a
    leading model axis and the compiled chunk of epochs is ``vmap``-ed over it."""
    axis = 1 if stacked else 0
    n = int(data[0].shape[axis])
    if any(int(a.shape[axis]) != n for a in data):
        raise ValueError("all training arrays must share their leading dimension")
    bs = min(config.batch_size, n)
    n_batches = n // bs
    data = tuple(jnp.asarray(a) for a in data)
    val_data = tuple(jnp.asarray(a) for a in val_data)
    patience = int(config.patience)

    def epoch(carry, ekey, data, val_data):
        st, best, best_val, since, stopped, ep = carry
        perm_key, step_key = jax.random.split(ekey)
        perm = jax.random.permutation(perm_key, n)[: n_batches * bs].reshape(n_batches, bs)

        def run(st):
            def batch_step(s, xs):
                idx, k = xs
                return step_fn(s, tuple(a[idx] for a in data), k)

            st, losses = jax.lax.scan(batch_step, st, (perm, jax.random.split(step_key, n_batches)))
            return st, jnp.mean(losses), val_fn(st, val_data)

        def skip(st):
            return st, jnp.nan, jnp.nan

        st, tl, vl = jax.lax.cond(stopped, skip, run, st)
        improved = (~stopped) & (vl < best_val)
        best = jax.tree.map(lambda b, s: jnp.where(improved, s, b), best, st)
        best_val = jnp.where(improved, vl, best_val)
        since = jnp.where(improved, 0, since + 1)
        new_stopped = stopped | (since >= patience)
        ep_best = jnp.where(improved, ep, -1)
        return (st, best, best_val, since, new_stopped, ep + 1), (tl, vl, ep_best)

    def chunk(carry, keys, data, val_data):
        return jax.lax.scan(lambda c, k: epoch(c, k, data, val_data), carry, keys)

    def split_keys(key, length):
        key, sub = jax.random.split(key)
        return key, jax.random.split(sub, length)

    if stacked:
        n_models = int(jax.tree.leaves(state)[0].shape[0])
        chunk = jax.jit(jax.vmap(chunk))
        split_keys = jax.vmap(split_keys, in_axes=(0, None))
        zeros = jnp.zeros(n_models)
        carry = (state, state, zeros + jnp.inf, zeros.astype(int), zeros > 0, zeros.astype(int))
    else:
        n_models = 1
        chunk = jax.jit(chunk)
        carry = (state, state, jnp.inf, jnp.array(0), jnp.array(False), jnp.array(0))

    tic = time.perf_counter()
    train_hist, val_hist = [], []
    best_epoch = np.full(n_models, -1)
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.max_epochs, desc=desc, unit="epoch", leave=False)
    done = 0
    while done < config.max_epochs:
        length = min(config.epochs_per_call, config.max_epochs - done)
        key, epoch_keys = split_keys(key, length)
        carry, (tl, vl, eb) = chunk(carry, epoch_keys, data, val_data)
        tl, vl, eb = (np.asarray(a).reshape(n_models, length) for a in (tl, vl, eb))
        train_hist.append(tl)
        val_hist.append(vl)
        best_epoch = np.maximum(best_epoch, eb.max(axis=1))
        ran = int((~np.isnan(vl)).sum(axis=1).max())
        done += ran
        if bar is not None:
            bar.update(ran)
            best_val = np.asarray(carry[2]).reshape(-1)
            bar.set_postfix(val=np.array2string(best_val, precision=3), best=best_epoch.tolist())
        if bool(np.all(np.asarray(carry[4]))):
            break
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - tic
    best_vals = np.asarray(carry[2], dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(best_vals)):
        raise FloatingPointError(f"{desc}: the validation loss never became finite")
    train_hist, val_hist = np.concatenate(train_hist, axis=1), np.concatenate(val_hist, axis=1)
    out = []
    for i in range(n_models):
        ran = ~np.isnan(val_hist[i])
        best = jax.tree.map(lambda a, i=i: a[i], carry[1]) if stacked else carry[1]
        out.append(
            TrainResult(
                state=best,
                best_epoch=int(best_epoch[i]),
                best_val_loss=float(best_vals[i]),
                train_loss=train_hist[i][ran],
                val_loss=val_hist[i][ran],
                wall_s=wall,
            )
        )
    return out


def _optax_step(loss_fn, optimizer):
    """The ``step_fn`` of :func:`train` for a state ``(params, opt_state)``."""

    def step_fn(state, batch, _key):
        p, o = state
        loss, grads = jax.value_and_grad(loss_fn)(p, batch)
        updates, o = optimizer.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), loss

    return step_fn


def train_supervised(
    loss_fn: Callable[[PyTree, tuple], jax.Array],
    params: PyTree,
    data: tuple,
    val_data: tuple,
    *,
    key: jax.Array,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    config: TrainConfig = TrainConfig(),
    desc: str = "training",
) -> TrainResult:
    """Minimise ``loss_fn(params, batch)`` with optax (Adam by default) and early stopping.

    The validation loss is ``loss_fn(params, val_data)`` on the whole validation set. The
    returned ``state`` is ``(params, opt_state)`` at the best validation loss.
    """
    optimizer = optax.adam(learning_rate) if optimizer is None else optimizer
    val_data = tuple(jnp.asarray(a) for a in val_data)

    def val_fn(state):
        return loss_fn(state[0], val_data)

    return train(
        _optax_step(loss_fn, optimizer), val_fn, (params, optimizer.init(params)), data,
        key=key, config=config, desc=desc,
    )  # fmt: skip


def train_supervised_stacked(
    loss_fn: Callable[[PyTree, tuple], jax.Array],
    params: PyTree,
    data: tuple,
    val_data: tuple,
    *,
    keys: jax.Array,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    config: TrainConfig = TrainConfig(),
    desc: str = "training",
) -> list[TrainResult]:
    """:func:`train_supervised` for ``m`` models of one architecture at once (``vmap``).

    Every leaf of ``params`` and every array of ``data`` (``[m, n, ...]``) and ``val_data``
    (``[m, n_val, ...]``) has a leading model axis; ``keys`` is ``[m]`` keys. Model ``i``
    follows exactly the updates, shuffles and early stopping that :func:`train_supervised`
    would give it with ``key=keys[i]`` (to round-off); compiled calls continue until every
    model has stopped (a stopped model's epochs are skipped). Returns one
    :class:`TrainResult` per model (``wall_s`` is the shared wall time).
    """
    optimizer = optax.adam(learning_rate) if optimizer is None else optimizer
    step_fn = _optax_step(loss_fn, optimizer)

    def val_fn(state, val_data):
        return loss_fn(state[0], val_data)

    opt_state = jax.vmap(optimizer.init)(params)
    return _run(
        step_fn, val_fn, (params, opt_state), data, val_data, keys, config, desc, stacked=True
    )
