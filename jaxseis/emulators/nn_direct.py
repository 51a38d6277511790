"""NN direct (paper Sec. 2.2.1): a fully connected network from the 4 standardised features to
the aligned trace, 4 -> 64 -> 128 -> 256 -> 501 (170,421 parameters), LeakyReLU 0.2, Adam 1e-3,
MSE, batch 256, early stopping with patience 100."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxseis.emulators.networks import (
    apply,
    apply_hidden,
    count_parameters,
    init_state,
    last_layer,
)
from jaxseis.emulators.schema import N_FEATURES, network
from jaxseis.train import TrainConfig, mse, train_supervised, train_supervised_stacked

__all__ = [
    "HIDDEN",
    "core_shapes",
    "fit_core",
    "fit_core_stacked",
    "linear_head",
    "name",
    "predict_core",
    "uses_alignment",
]

name = "nn_direct"
uses_alignment = True
HIDDEN = (64, 128, 256)


def fit_core(
    data: dict,
    *,
    seed: int,
    hidden: tuple[int, ...] = HIDDEN,
    learning_rate: float = 1e-3,
    config: TrainConfig = TrainConfig(),
) -> tuple[dict, dict, dict]:
    """Train the network on aligned traces (units of the reference peak)."""
    spec, loss = _network(hidden, data)
    res = train_supervised(
        loss, init_state(spec, seed), (data["z_train"], data["train"]),
        (data["z_val"], data["val"]), key=jax.random.PRNGKey(seed),
        learning_rate=learning_rate, config=config, desc=name,
    )  # fmt: skip
    return _fitted(res, spec, learning_rate)


def _network(hidden: tuple[int, ...], data: dict):
    """The network's spec and its MSE loss on a batch ``(features, aligned traces)``."""
    n_samples = int(data["train"].shape[1])
    spec = {"type": "mlp", "sizes": [4, *hidden, n_samples], "slope": 0.2}

    def loss(p, batch):
        return mse(apply(spec, p)(batch[0]), batch[1])

    return spec, loss


def _fitted(res, spec: dict, learning_rate: float, **extra_info) -> tuple[dict, dict, dict]:
    """``(core, config, info)`` of a training result."""
    info = {
        "train_s": res.wall_s,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "epochs": len(res.val_loss),
        "n_params": count_parameters(res.state[0]),
        **extra_info,
    }
    return {"net": res.state[0]}, {"net": spec, "learning_rate": learning_rate}, info


def fit_core_stacked(
    payloads: list[dict],
    *,
    seed: int,
    hidden: tuple[int, ...] = HIDDEN,
    learning_rate: float = 1e-3,
    config: TrainConfig = TrainConfig(),
) -> list[tuple[dict, dict, dict]]:
    """:func:`fit_core` for several receivers at once (parameters stacked, training vmapped).

    All payloads must have the same numbers of training and validation events. Receiver
    ``i`` starts from the same initial network and key as :func:`fit_core` with ``seed``.
    """
    shapes = {(p["train"].shape, p["val"].shape) for p in payloads}
    if len(shapes) != 1:
        raise ValueError(f"stacked training needs equal training/validation sizes; got {shapes}")
    spec, loss = _network(hidden, payloads[0])
    m = len(payloads)
    stacked = jax.tree.map(lambda a: jnp.broadcast_to(a, (m, *a.shape)), init_state(spec, seed))

    def stack(key):
        return jnp.stack([jnp.asarray(p[key]) for p in payloads])

    results = train_supervised_stacked(
        loss, stacked, (stack("z_train"), stack("train")), (stack("z_val"), stack("val")),
        keys=jnp.stack([jax.random.PRNGKey(seed)] * m), learning_rate=learning_rate,
        config=config, desc=f"{name} x{m}",
    )  # fmt: skip
    return [_fitted(res, spec, learning_rate, stacked_receivers=m) for res in results]


def core_shapes(config: dict, n_samples: int) -> dict:
    """Shapes of the core's arrays (see :mod:`jaxseis.emulators.schema`)."""
    return {"net": network(config["net"], N_FEATURES, n_samples)}


def predict_core(core: dict, config: dict):
    """Standardised features ``[4]`` -> aligned trace ``[n_samples]``."""
    return apply(config["net"], core["net"])


def linear_head(core: dict, config: dict):
    """``(hidden, kernel [256, n_samples], bias [n_samples])`` with ``predict_core(core,
    config)(z) == hidden(z) @ kernel + bias``: the network's last layer is linear, so a linear
    map of the trace (its spectrum) folds into it (:mod:`jaxseis.emulators.predictor`)."""
    kernel, bias = last_layer(core["net"])
    return apply_hidden(config["net"], core["net"]), kernel, bias
