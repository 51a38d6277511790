"""Conditional variational autoencoder (CVAE, paper Sec. 2.2.6 and Appendix B).

Architecture (the paper's code; LeakyReLU 0.2, Glorot-uniform, zero biases):

* encoder: aligned trace ``[n_samples] -> 256 -> 128 -> 64`` (LeakyReLU after each layer),
  concatenated with the 4 standardised source features ``c``, ``-> 5`` (linear): the mean
  ``mu(x, c)`` of ``q(z | x, c) = N(mu, sigma**2 I)`` with the *fixed* ``sigma = 1e-3``;
* decoder: ``concat(z, c) [9] -> 64 -> 128 -> 256 -> n_samples`` (linear output);
* prior ``p(z | c) = N(0, sigma**2 I)``.

Loss: the negative ELBO (Eq. 9) of a Gaussian decoder likelihood
``p(x | z, c) = N(decoder(z, c), s**2 I)`` with one reparameterised sample
``z = mu + sigma * eps`` and the closed-form KL of Appendix B (Eq. B3,
``KL = sum(mu**2) / (2 sigma**2)``). Per trace, ``-ELBO = sum_t (x_t - xhat_t)**2 / (2 s**2)
+ KL + const``; we minimise it multiplied by the positive constant ``2 s**2 / n_samples``::

    loss = MSE(x, xhat) + beta * KL,      beta = 2 s**2 / n_samples,

which has the same minimiser as the ELBO and keeps the reconstruction term on the MSE scale
of the other families. ``s`` (option ``noise_std``) is the decoder's noise standard
deviation in units of the aligned traces (the reference peak amplitude), so
``beta * KL = (s**2 / n_samples) * ||mu / sigma||**2``. (The naive "MSE + KL", mean squared
error per sample plus the summed KL, is this loss with ``s = sqrt(n_samples / 2) ~ 16``
reference peaks: a likelihood far broader than the traces themselves.) The default
``s = 0.1`` (10 % of the reference peak, below the spread of the aligned traces about their
mean) costs ``2e-5`` per unit of ``||mu / sigma||**2`` against a reconstruction MSE near
``7e-5``: a code of a few ``sigma`` costs as much as the whole misfit, so the decoder learns
``E[x | c]`` from the coordinates and decoding at ``z = 0`` (the prior mode) is the right
prediction. Measured on the bundled benchmark (2000 training traces, 300 epochs, validation
MSE of the ``z = 0`` prediction): ``s = 0.005`` (sharp likelihood) lets the code carry
per-trace detail that is unavailable at prediction time (training reconstruction MSE
``3.9e-5`` but validation ``8.7e-5``, ``|mu| ~ 6 sigma``); ``s = 0.02, 0.1, 0.7, 16`` all
gave ``7.43e-5 - 7.48e-5`` (``|mu| ~ 4 sigma`` in every case, apparently a floor set by
Adam's step size).

Early stopping and the best state use the quantity that matters for emulation: the MSE of
the decoder at ``z = 0`` against the validation traces (not the validation ELBO).

Prediction: ``decoder(concat(0, c))``, deterministic (``z = 0``, the prior mean, as in the
paper, which found a prior draw no better), so it works under ``jit``, ``vmap`` and ``grad``.
The encoder is stored too (``core["encoder"]``, ``core["head"]``) for diagnostics.

Options (keywords of :func:`jaxseis.emulators.fit`): ``hidden`` ((256, 128, 64)),
``latent_dim`` (5), ``latent_std`` (1e-3), ``noise_std`` (0.1), ``learning_rate`` (1e-3),
``config`` (:class:`~jaxseis.train.TrainConfig`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxseis.emulators.networks import LEAKY_SLOPE, apply, count_parameters, init_state
from jaxseis.emulators.schema import network
from jaxseis.train import TrainConfig, mse, train

__all__ = [
    "core_shapes",
    "cvae_specs",
    "encoder_mean",
    "fit_core",
    "name",
    "predict_core",
    "uses_alignment",
]

name = "cvae"
uses_alignment = True
HIDDEN = (256, 128, 64)
LATENT_DIM = 5
LATENT_STD = 1e-3
NOISE_STD = 0.1
N_FEATURES = 4


def cvae_specs(
    n_samples: int, hidden: tuple[int, ...] = HIDDEN, latent_dim: int = LATENT_DIM
) -> dict:
    """JSON specs of the encoder trunk, the encoder head and the decoder."""
    s = LEAKY_SLOPE
    return {
        "encoder": {"type": "mlp", "sizes": [n_samples, *hidden], "slope": s},
        "head": {"type": "mlp", "sizes": [hidden[-1] + N_FEATURES, latent_dim], "slope": s},
        "decoder": {
            "type": "mlp",
            "sizes": [latent_dim + N_FEATURES, *hidden[::-1], n_samples],
            "slope": s,
        },
    }


def encoder_mean(core: dict, config: dict, traces, features) -> jax.Array:
    """``mu(x, c)``: ``[..., latent_dim]`` for aligned traces ``[..., n_samples]`` and
    standardised features ``[..., 4]``."""
    h = jax.nn.leaky_relu(apply(config["encoder"], core["encoder"])(traces), LEAKY_SLOPE)
    return apply(config["head"], core["head"])(jnp.concatenate([h, features], axis=-1))


def _decode(core: dict, config: dict, z, features) -> jax.Array:
    return apply(config["decoder"], core["decoder"])(jnp.concatenate([z, features], axis=-1))


def fit_core(
    data: dict,
    *,
    seed: int,
    hidden: tuple[int, ...] = HIDDEN,
    latent_dim: int = LATENT_DIM,
    latent_std: float = LATENT_STD,
    noise_std: float = NOISE_STD,
    learning_rate: float = 1e-3,
    config: TrainConfig = TrainConfig(),
) -> tuple[dict, dict, dict]:
    """Train the CVAE on aligned traces ``data["train"] [n, n_samples]`` conditioned on the
    standardised features ``data["z_train"] [n, 4]``; early stopping on the ``z = 0``
    validation MSE. Returns ``(core, config, info)``."""
    if latent_std <= 0 or noise_std <= 0:
        raise ValueError("latent_std and noise_std must be positive")
    n_samples = int(data["train"].shape[1])
    specs = cvae_specs(n_samples, tuple(hidden), latent_dim)
    seeds = [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=4)]
    names = ("encoder", "head", "decoder")
    params = {k: init_state(specs[k], s) for k, s in zip(names, seeds[:3], strict=True)}
    beta = 2.0 * noise_std**2 / n_samples
    kl_scale = 0.5 / latent_std**2
    opt = optax.adam(learning_rate)
    cfg = {**specs, "hidden": list(hidden), "latent_dim": latent_dim, "latent_std": latent_std,
           "noise_std": noise_std, "learning_rate": learning_rate}  # fmt: skip

    def parts(p, x, c, key):
        mu = encoder_mean(p, cfg, x, c)
        z = mu + latent_std * jax.random.normal(key, mu.shape, mu.dtype)
        rec = mse(_decode(p, cfg, z, c), x)
        kl = kl_scale * jnp.mean(jnp.sum(mu**2, axis=-1))
        return rec, kl

    def loss(p, batch, key):
        rec, kl = parts(p, batch[1], batch[0], key)
        return rec + beta * kl

    def step(state, batch, key):
        p, o = state
        value, grads = jax.value_and_grad(loss)(p, batch, key)
        updates, o = opt.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), value

    z_val, x_val = jnp.asarray(data["z_val"]), jnp.asarray(data["val"])
    zeros = jnp.zeros((z_val.shape[0], latent_dim), z_val.dtype)

    def val_fn(state):
        return mse(_decode(state[0], cfg, zeros, z_val), x_val)

    key_train, key_diag = jax.random.split(jax.random.PRNGKey(seeds[3]))
    res = train(
        step, val_fn, (params, opt.init(params)), (data["z_train"], data["train"]),
        key=key_train, config=config, desc=name,
    )  # fmt: skip
    best = res.state[0]
    rec, kl = jax.jit(parts)(
        best, jnp.asarray(data["train"]), jnp.asarray(data["z_train"]), key_diag
    )
    mu = encoder_mean(best, cfg, x_val, z_val)
    info = {
        "train_s": res.wall_s,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "epochs": len(res.val_loss),
        "n_params": count_parameters(best),
        "train_reconstruction_mse": float(rec),
        "train_kl": float(kl),
        "val_mu_over_sigma_rms": float(jnp.sqrt(jnp.mean(mu**2)) / latent_std),
    }
    return best, cfg, info


def core_shapes(config: dict, n_samples: int) -> dict:
    """Shapes of the core's arrays (see :mod:`jaxseis.emulators.schema`)."""
    dim = config["latent_dim"]
    encoder = network(config["encoder"], n_samples, None)
    width = config["encoder"]["sizes"][-1]
    return {
        "encoder": encoder,
        "head": network(config["head"], width + N_FEATURES, dim),
        "decoder": network(config["decoder"], dim + N_FEATURES, n_samples),
    }


def predict_core(core: dict, config: dict):
    """Standardised features ``[4]`` -> aligned trace ``[n_samples]``, decoded at ``z = 0``."""
    zeros = jnp.zeros((config["latent_dim"],))
    dec = apply(config["decoder"], core["decoder"])

    def f(c):
        c = jnp.asarray(c)
        return dec(jnp.concatenate([zeros.astype(c.dtype), c], axis=-1))

    return f
