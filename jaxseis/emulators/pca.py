"""PCA compression of the aligned traces, with a network (PCA+NN, paper Sec. 2.2.2) or one GP
per component (PCA+GP, Sec. 2.2.3) predicting the coefficients.

Traces are standardised per time sample, compressed to ``n_components`` (20) principal
components fitted on the training split; the coefficients are standardised. PCA+NN:
4 -> 50 -> 50 -> 50 -> 20, LeakyReLU 0.2, Adam 1e-3, MSE on the standardised coefficients.
PCA+GP: 20 Matérn-3/2 ARD GPs fitted batched (see :mod:`jaxseis.gp`); their options are
``core_gp_options`` (the ``gp_options`` of :func:`jaxseis.emulators.fit` are those of the peak
GPs), by default ``n_subset=400, n_restarts=2, n_iter=200``.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxseis.emulators.batching import gp_batch_size, map_batches
from jaxseis.emulators.networks import apply, count_parameters, init_state
from jaxseis.emulators.schema import N_FEATURES, gp_shapes, network, pca_shapes
from jaxseis.gp import fit_gps, gps_from_dict, gps_to_dict, predict_gps
from jaxseis.train import TrainConfig, mse, train_supervised

__all__ = ["DEFAULT_CORE_GP_OPTIONS", "PCA_GP", "PCA_NN", "fit_pca"]

#: hyperparameter-fit settings of the 20 coefficient GPs (each GP is then conditioned on the
#: whole training split): a seeded subset of 400 events, 2 restarts of 200 Adam steps
DEFAULT_CORE_GP_OPTIONS = {"n_subset": 400, "n_restarts": 2, "n_iter": 200}


def fit_pca(traces: np.ndarray, n_components: int) -> dict:
    """PCA of traces standardised per time sample (training data only)."""
    x = np.asarray(traces, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-12 * max(std.max(), 1e-30), std, 1.0)
    z = (x - mean) / std
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    comps = vt[:n_components]
    coeffs = z @ comps.T
    return {
        "t_mean": mean, "t_std": std, "components": comps,
        "c_mean": coeffs.mean(axis=0), "c_std": coeffs.std(axis=0),
        "explained": (s[:n_components] ** 2).sum() / (s**2).sum(),
    }  # fmt: skip


def _coefficients(pca: dict, traces: np.ndarray) -> np.ndarray:
    z = (np.asarray(traces, dtype=np.float64) - pca["t_mean"]) / pca["t_std"]
    return ((z @ pca["components"].T) - pca["c_mean"]) / pca["c_std"]


def _reconstruct(pca: dict, c_std):
    c = c_std * pca["c_std"] + pca["c_mean"]
    return (c @ pca["components"]) * pca["t_std"] + pca["t_mean"]


def _pca_arrays(pca: dict) -> dict:
    return {k: np.asarray(v) for k, v in pca.items() if k != "explained"}


def _min_train_events(options: dict) -> int:
    """PCA of ``n`` traces has rank ``n - 1``: more training events than components."""
    return int(options.get("n_components", 20)) + 1


class _PCANN:
    name = "pca_nn"
    uses_alignment = True
    min_train_events = staticmethod(_min_train_events)

    def fit_core(
        self, data: dict, *, seed: int, n_components: int = 20, hidden=(50, 50, 50),
        learning_rate: float = 1e-3, config: TrainConfig = TrainConfig(),
    ):  # fmt: skip
        pca = fit_pca(data["train"], n_components)
        c_tr = _coefficients(pca, data["train"]).astype(np.float32)
        c_va = _coefficients(pca, data["val"]).astype(np.float32)
        spec = {"type": "mlp", "sizes": [4, *hidden, n_components], "slope": 0.2}

        def loss(p, batch):
            return mse(apply(spec, p)(batch[0]), batch[1])

        res = train_supervised(
            loss, init_state(spec, seed), (data["z_train"], c_tr), (data["z_val"], c_va),
            key=jax.random.PRNGKey(seed), learning_rate=learning_rate, config=config,
            desc=self.name,
        )  # fmt: skip
        info = {
            "train_s": res.wall_s, "best_epoch": res.best_epoch,
            "best_val_loss": res.best_val_loss, "epochs": len(res.val_loss),
            "n_params": count_parameters(res.state[0]),
            "pca_explained_variance": float(pca["explained"]),
        }  # fmt: skip
        core = {"pca": _pca_arrays(pca), "net": res.state[0]}
        return core, {"net": spec, "n_components": n_components}, info

    def core_shapes(self, config: dict, n_samples: int) -> dict:
        """Shapes of the core's arrays (see :mod:`jaxseis.emulators.schema`)."""
        k = config["n_components"]
        return {"pca": pca_shapes(k, n_samples), "net": network(config["net"], N_FEATURES, k)}

    def predict_core(self, core: dict, config: dict):
        net = apply(config["net"], core["net"])
        pca = core["pca"]
        return lambda z: _reconstruct(pca, net(z))


class _PCAGP:
    name = "pca_gp"
    uses_alignment = True
    min_train_events = staticmethod(_min_train_events)

    def fit_core(self, data: dict, *, seed: int, n_components: int = 20, core_gp_options=None):
        import time

        tic = time.perf_counter()
        pca = fit_pca(data["train"], n_components)
        c_tr = _coefficients(pca, data["train"])
        options = {**DEFAULT_CORE_GP_OPTIONS, **(core_gp_options or {})}
        gps = fit_gps(data["z_train"], c_tr, seed=seed, **options)
        c_va = _coefficients(pca, data["val"])
        z_val = np.asarray(data["z_val"], np.float32)
        pred = map_batches(jax.jit(lambda z: predict_gps(gps, z)), z_val, gp_batch_size(gps))
        info = {
            "train_s": time.perf_counter() - tic,
            "val_coefficient_mse": float(np.mean((pred - c_va) ** 2)),
            "pca_explained_variance": float(pca["explained"]),
        }
        core = {"pca": _pca_arrays(pca), "gps": gps_to_dict(gps)}
        return core, {"n_components": n_components}, info

    def core_shapes(self, config: dict, n_samples: int) -> dict:
        """Shapes of the core's arrays (see :mod:`jaxseis.emulators.schema`)."""
        k = config["n_components"]
        return {"pca": pca_shapes(k, n_samples), "gps": gp_shapes(k)}

    def predict_core(self, core: dict, config: dict):
        gps = gps_from_dict(core["gps"])
        pca = core["pca"]
        return lambda z: _reconstruct(pca, predict_gps(gps, z))


PCA_NN = _PCANN()
PCA_GP = _PCAGP()
