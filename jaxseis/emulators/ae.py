"""Autoencoder compression of the aligned traces, with a network (AE+NN, paper Sec. 2.2.4) or
one GP per latent feature (AE+GP, Sec. 2.2.5) predicting the latent codes.

Autoencoder: encoder ``n_samples -> 256 -> 128 -> 64 -> 5``, mirrored decoder
``5 -> 64 -> 128 -> 256 -> n_samples``, LeakyReLU 0.2, linear code and output, trained with
Adam (1e-3) on the MSE between the aligned training traces and their reconstructions, early
stopping on the reconstruction MSE of the validation traces. Both families share this
autoencoder (:func:`fit_autoencoder`).

The latent codes of the training traces are standardised (training mean and standard
deviation per code) and learnt from the standardised source features by

* AE+NN (``ae_nn``): a network ``4 -> 50 -> 50 -> 50 -> 5`` (LeakyReLU 0.2, Adam 1e-3, MSE on
  the standardised codes), early stopping on the codes of the encoded validation traces;
* AE+GP (``ae_gp``): 5 Matérn-3/2 ARD GPs fitted batched (:func:`jaxseis.gp.fit_gps`).

Prediction: ``decoder(predicted code)``; a pure function of the features, so it works under
``jit``, ``vmap`` and ``grad``. The encoder is stored with the emulator (``core["encoder"]``)
so that traces can be compressed later (:func:`encode`); prediction does not use it.

Options (keywords of :func:`jaxseis.emulators.fit`):

* ``hidden`` (``(256, 128, 64)``), ``latent_dim`` (5): autoencoder architecture;
* ``learning_rate`` (1e-3), ``config`` (:class:`~jaxseis.train.TrainConfig`): autoencoder
  training; ``config`` is also used for the latent network unless ``latent_config`` is given;
* ``ae_nn`` only: ``latent_hidden`` (``(50, 50, 50)``), ``latent_learning_rate`` (1e-3),
  ``latent_config``;
* ``ae_gp`` only: ``core_gp_options`` (dict of :func:`jaxseis.gp.fit_gps` options; the
  ``gp_options`` of :func:`~jaxseis.emulators.fit` are those of the peak GPs).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.batching import batch_size_for, gp_batch_size, map_batches
from jaxseis.emulators.networks import apply, count_parameters, init_state
from jaxseis.emulators.schema import N_FEATURES, Leaf, gp_shapes, network
from jaxseis.gp import fit_gps, gps_from_dict, gps_to_dict, predict_gps
from jaxseis.train import TrainConfig, TrainResult, mse, train_supervised

__all__ = [
    "AE_GP",
    "AE_NN",
    "autoencoder_specs",
    "decode",
    "encode",
    "fit_autoencoder",
]

HIDDEN = (256, 128, 64)
LATENT_DIM = 5
LATENT_HIDDEN = (50, 50, 50)


def _subseeds(seed: int, n: int) -> list[int]:
    """``n`` independent integer seeds derived from ``seed``."""
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)]


def autoencoder_specs(
    n_samples: int, hidden: tuple[int, ...] = HIDDEN, latent_dim: int = LATENT_DIM
) -> tuple[dict, dict]:
    """JSON specs of the encoder ``[n_samples, *hidden, latent_dim]`` and the mirrored decoder."""
    enc = {"type": "mlp", "sizes": [n_samples, *hidden, latent_dim], "slope": 0.2}
    dec = {"type": "mlp", "sizes": [latent_dim, *hidden[::-1], n_samples], "slope": 0.2}
    return enc, dec


def fit_autoencoder(
    train: np.ndarray,
    val: np.ndarray,
    *,
    seed: int,
    hidden: tuple[int, ...] = HIDDEN,
    latent_dim: int = LATENT_DIM,
    learning_rate: float = 1e-3,
    config: TrainConfig = TrainConfig(),
    desc: str = "autoencoder",
) -> tuple[dict, dict, TrainResult]:
    """Train an autoencoder on traces (MSE), early stopping on the validation traces.

    Args:
        train: ``[n_train, n_samples]`` training traces.
        val: ``[n_val, n_samples]`` validation traces (early stopping only).
        seed: seeds the initialisation and the minibatches.
        hidden: encoder hidden widths (the decoder mirrors them).
        latent_dim: size of the code.
        learning_rate: Adam learning rate.
        config: :class:`~jaxseis.train.TrainConfig`.
        desc: progress-bar label.

    Returns:
        ``(params, specs, result)``: ``params = {"encoder": ..., "decoder": ...}`` (pure dicts),
        ``specs = {"encoder": spec, "decoder": spec}`` and the :class:`TrainResult`.
    """
    n_samples = int(train.shape[1])
    enc_spec, dec_spec = autoencoder_specs(n_samples, tuple(hidden), latent_dim)
    s_enc, s_dec, s_train = _subseeds(seed, 3)
    params = {"encoder": init_state(enc_spec, s_enc), "decoder": init_state(dec_spec, s_dec)}

    def loss(p, batch):
        x = batch[0]
        return mse(apply(dec_spec, p["decoder"])(apply(enc_spec, p["encoder"])(x)), x)

    res = train_supervised(
        loss, params, (np.asarray(train, np.float32),), (np.asarray(val, np.float32),),
        key=jax.random.PRNGKey(s_train), learning_rate=learning_rate, config=config, desc=desc,
    )  # fmt: skip
    return res.state[0], {"encoder": enc_spec, "decoder": dec_spec}, res


def encode(core: dict, config: dict, traces) -> jax.Array:
    """Latent codes ``[..., latent_dim]`` (not standardised) of aligned traces
    ``[..., n_samples]``."""
    return apply(config["encoder"], core["encoder"])(jnp.asarray(traces))


def decode(core: dict, config: dict, codes) -> jax.Array:
    """Aligned traces ``[..., n_samples]`` from latent codes ``[..., latent_dim]``."""
    return apply(config["decoder"], core["decoder"])(jnp.asarray(codes))


class _Autoencoder:
    """What AE+NN and AE+GP share: the autoencoder, the code standardisation, the decoding."""

    name = "autoencoder"
    uses_alignment = True

    def _fit_autoencoder(self, data, seed, hidden, latent_dim, learning_rate, config):
        ae, specs, res = fit_autoencoder(
            data["train"], data["val"], seed=seed, hidden=hidden, latent_dim=latent_dim,
            learning_rate=learning_rate, config=config, desc=f"{self.name} autoencoder",
        )  # fmt: skip
        codes_tr = np.asarray(encode(ae, specs, data["train"]), np.float64)
        codes_va = np.asarray(encode(ae, specs, data["val"]), np.float64)
        mean, std = codes_tr.mean(axis=0), codes_tr.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        core = {**ae, "latent": {"mean": mean, "std": std}}
        info = {
            "ae_train_s": res.wall_s,
            "ae_best_epoch": res.best_epoch,
            "ae_epochs": len(res.val_loss),
            "ae_val_mse": res.best_val_loss,
            "ae_n_params": count_parameters(ae),
        }
        c_tr = ((codes_tr - mean) / std).astype(np.float32)
        c_va = ((codes_va - mean) / std).astype(np.float32)
        config_out = {**specs, "hidden": list(hidden), "latent_dim": latent_dim,
                      "learning_rate": learning_rate}  # fmt: skip
        return core, config_out, info, c_tr, c_va

    def _finish(self, core, config, info, data, tic):
        n_samples = int(data["val"].shape[1])
        if "gps" in core:
            size = gp_batch_size(core["gps"], n_samples)
        else:
            size = batch_size_for(64 * n_samples)
        pred = map_batches(jax.jit(jax.vmap(self.predict_core(core, config))), data["z_val"], size)
        info["val_mse"] = float(np.mean((np.asarray(pred) - data["val"]) ** 2))
        info["train_s"] = time.perf_counter() - tic
        return core, config, info

    def _code_fn(self, core: dict, config: dict) -> Callable[[jax.Array], jax.Array]:
        raise NotImplementedError

    def _code_shapes(self, config: dict, latent_dim: int) -> dict:
        raise NotImplementedError

    def core_shapes(self, config: dict, n_samples: int) -> dict:
        """Shapes of the core's arrays (see :mod:`jaxseis.emulators.schema`)."""
        dim = config["latent_dim"]
        return {
            "encoder": network(config["encoder"], n_samples, dim),
            "decoder": network(config["decoder"], dim, n_samples),
            "latent": {"mean": Leaf((dim,)), "std": Leaf((dim,), positive=True)},
            **self._code_shapes(config, dim),
        }

    def predict_core(self, core: dict, config: dict) -> Callable[[jax.Array], jax.Array]:
        """Standardised features ``[4]`` -> aligned trace ``[n_samples]``."""
        code = self._code_fn(core, config)
        dec = apply(config["decoder"], core["decoder"])
        mean, std = core["latent"]["mean"], core["latent"]["std"]
        return lambda z: dec(code(z) * std + mean)


class _AENN(_Autoencoder):
    name = "ae_nn"

    def fit_core(
        self,
        data: dict,
        *,
        seed: int,
        hidden: tuple[int, ...] = HIDDEN,
        latent_dim: int = LATENT_DIM,
        learning_rate: float = 1e-3,
        config: TrainConfig = TrainConfig(),
        latent_hidden: tuple[int, ...] = LATENT_HIDDEN,
        latent_learning_rate: float = 1e-3,
        latent_config: TrainConfig | None = None,
    ) -> tuple[dict, dict, dict]:
        """Train the autoencoder, then the network from features to standardised codes."""
        tic = time.perf_counter()
        s_ae, s_net, s_train = _subseeds(seed, 3)
        core, cfg, info, c_tr, c_va = self._fit_autoencoder(
            data, s_ae, tuple(hidden), latent_dim, learning_rate, config
        )
        spec = {"type": "mlp", "sizes": [4, *latent_hidden, latent_dim], "slope": 0.2}

        def loss(p, batch):
            return mse(apply(spec, p)(batch[0]), batch[1])

        res = train_supervised(
            loss, init_state(spec, s_net), (data["z_train"], c_tr), (data["z_val"], c_va),
            key=jax.random.PRNGKey(s_train), learning_rate=latent_learning_rate,
            config=config if latent_config is None else latent_config,
            desc=f"{self.name} latent network",
        )  # fmt: skip
        core["net"] = res.state[0]
        cfg.update(net=spec, latent_learning_rate=latent_learning_rate)
        info.update(
            net_train_s=res.wall_s, net_best_epoch=res.best_epoch, net_epochs=len(res.val_loss),
            latent_val_mse=res.best_val_loss,
            n_params=count_parameters({"decoder": core["decoder"], "net": core["net"]}),
        )  # fmt: skip
        return self._finish(core, cfg, info, data, tic)

    def _code_fn(self, core, config):
        return apply(config["net"], core["net"])

    def _code_shapes(self, config, latent_dim):
        return {"net": network(config["net"], N_FEATURES, latent_dim)}


class _AEGP(_Autoencoder):
    name = "ae_gp"

    def fit_core(
        self,
        data: dict,
        *,
        seed: int,
        hidden: tuple[int, ...] = HIDDEN,
        latent_dim: int = LATENT_DIM,
        learning_rate: float = 1e-3,
        config: TrainConfig = TrainConfig(),
        core_gp_options: dict | None = None,
    ) -> tuple[dict, dict, dict]:
        """Train the autoencoder, then one GP per code (batched)."""
        tic = time.perf_counter()
        s_ae, s_gp = _subseeds(seed, 2)
        core, cfg, info, c_tr, c_va = self._fit_autoencoder(
            data, s_ae, tuple(hidden), latent_dim, learning_rate, config
        )
        tg = time.perf_counter()
        gps = fit_gps(data["z_train"], c_tr, seed=s_gp, **(core_gp_options or {}))
        pred = map_batches(
            jax.jit(lambda z: predict_gps(gps, z)), data["z_val"], gp_batch_size(gps)
        )
        core["gps"] = gps_to_dict(gps)
        info.update(
            gp_fit_s=time.perf_counter() - tg,
            latent_val_mse=float(np.mean((pred - c_va) ** 2)),
        )
        return self._finish(core, cfg, info, data, tic)

    def _code_fn(self, core, config):
        gps = gps_from_dict(core["gps"])
        return lambda z: predict_gps(gps, z)

    def _code_shapes(self, config, latent_dim):
        return {"gps": gp_shapes(latent_dim)}


AE_NN = _AENN()
AE_GP = _AEGP()
