"""The shared training loop: exact early stopping, the best state restored, seeded, and the
stacked (vmapped) variant equal to training each model alone."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseis.train import TrainConfig, mse, train_supervised, train_supervised_stacked


def _problem(seed, n=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    y = x @ w + 0.3 * rng.normal(size=(n, 2)).astype(np.float32)
    return (x[:48], y[:48]), (x[48:], y[48:])


def loss(p, batch):
    return mse(batch[0] @ p["w"] + p["b"], batch[1])


P0 = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
CONFIG = TrainConfig(batch_size=16, max_epochs=400, patience=15, epochs_per_call=7, progress=False)


def test_early_stopping_is_exact_and_restores_the_best_state():
    tr, va = _problem(0)
    res = train_supervised(loss, P0, tr, va, key=jax.random.PRNGKey(0), learning_rate=0.05,
                           config=CONFIG)  # fmt: skip
    assert res.best_epoch == int(np.argmin(res.val_loss))
    assert res.best_val_loss == pytest.approx(float(res.val_loss.min()), rel=1e-6)
    assert len(res.val_loss) == res.best_epoch + CONFIG.patience + 1 < CONFIG.max_epochs
    assert float(loss(res.state[0], va)) == pytest.approx(res.best_val_loss, rel=1e-5)
    again = train_supervised(loss, P0, tr, va, key=jax.random.PRNGKey(0), learning_rate=0.05,
                             config=CONFIG)  # fmt: skip
    np.testing.assert_array_equal(again.val_loss, res.val_loss)


def test_stacked_training_equals_separate_runs():
    problems = [_problem(s) for s in (1, 2, 3)]
    keys = jnp.stack([jax.random.PRNGKey(k) for k in (5, 6, 7)])
    stack = lambda i, j: jnp.stack([jnp.asarray(p[i][j]) for p in problems])
    params = jax.tree.map(lambda a: jnp.broadcast_to(a, (3, *a.shape)), P0)
    stacked = train_supervised_stacked(
        loss, params, (stack(0, 0), stack(0, 1)), (stack(1, 0), stack(1, 1)), keys=keys,
        learning_rate=0.05, config=CONFIG,
    )  # fmt: skip
    for (tr, va), key, res in zip(problems, keys, stacked, strict=True):
        alone = train_supervised(loss, P0, tr, va, key=key, learning_rate=0.05, config=CONFIG)
        assert res.best_epoch == alone.best_epoch
        assert len(res.val_loss) == len(alone.val_loss)
        np.testing.assert_allclose(res.val_loss, alone.val_loss, rtol=1e-5)
        np.testing.assert_allclose(res.state[0]["w"], alone.state[0]["w"], rtol=1e-5, atol=1e-6)


def test_non_finite_validation_loss_is_an_error():
    tr, va = _problem(0)
    bad = (va[0], np.full_like(va[1], np.nan))
    with pytest.raises(FloatingPointError, match="never became finite"):
        train_supervised(loss, P0, tr, bad, key=jax.random.PRNGKey(0), config=CONFIG)
    with pytest.raises(ValueError, match="leading dimension"):
        train_supervised(loss, P0, (tr[0], tr[1][:10]), va, key=jax.random.PRNGKey(0))
