"""The :class:`Locator`: built once from an emulator set, a prior and settings, it locates any
number of events with programs compiled once.

What does not depend on the event is done once:

* the forward model's arrays (:func:`jaxseis.forward.forward_model`);
* a **bank** of candidate positions (a scrambled Sobol set in the prior box, fixed by a seed)
  and the spectra of their emulated traces: each event's global stage is then a
  cross-correlation of its traces against the bank (every lag of the prior's origin-time
  window at once), not a forward evaluation per candidate;
* the compiled programs: the global stage and, for NUTS, the sampler, each for a **block** of
  ``block_size`` events under ``vmap``. A process runs one block per JAX device at a time
  (:func:`jaxseis.runtime.use_cpu_cores` devices, one thread each): every device runs the same
  single-device program, so an event's result does not depend, bit for bit, on the block it
  lands in, the number of worker processes or the number of devices per process. (Not
  ``shard_map``: XLA compiles a program split over two devices to other code than the same
  program on one, and the results then agree only to rounding. Tracing happens once per
  configuration; XLA compiles the traced program once per device it runs on.)

Each event's random key derives from its id (:func:`event_key`), so results are reproducible
whatever the partitioning. A bad event (NaN traces, a wrong shape, receivers that match no
emulator) is reported in its record without stopping the others.

Methods: ``"laplace"`` (the catalogue default: the maximum and inverse Hessian, exact
quantiles; with ``importance``, its draws reweighed to the posterior,
:mod:`jaxseis.inference.importance`) and ``"nuts"`` (chains in the Laplace-whitened
coordinates of each event's mode, a short adaptation). Where the likelihood allows it (no
emulator error model or extra variance), NUTS samples the position and amplitude with the
origin time marginalised (:mod:`jaxseis.likelihood.origin_time`) and draws each draw's origin
time from its exact conditional afterwards: the chains then need not follow the narrow, curved
ridge between depth and origin time. Nested sampling stays per event: :func:`jaxseis.locate`.
"""

from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.base import Emulator
from jaxseis.forward import ForwardModel, forward_model
from jaxseis.inference.global_stage import Bank, GlobalStage, find_modes, select_modes
from jaxseis.inference.importance import (
    PARETO_K_MAX,
    ImportanceOptions,
    check_importance_options,
    log_likelihoods,
    proposal,
    psis_weights,
    resample,
)
from jaxseis.inference.laplace import laplace_draws, laplace_mixture
from jaxseis.inference.nuts import (
    NutsOptions,
    chain_starts,
    restrict_starts,
    run_chains,
    use_marginal_t0,
)
from jaxseis.inference.prior import BoxPrior, Space, validate_prior
from jaxseis.inference.summary import chains_summary, gaussian_summary, weighted_summary
from jaxseis.likelihood.emulator_error import EmulatorError
from jaxseis.likelihood.origin_time import (
    SIGNAL_DB,
    OriginTimeMarginal,
    draw_origin_times,
    marginal_origin_time,
    signal_bins,
    why_not_marginal,
)
from jaxseis.likelihood.waveform import band_limited, waveform_data, waveform_template
from jaxseis.observation import Observation
from jaxseis.runtime import on_each_device

__all__ = [
    "BANK_DB",
    "CATALOGUE_NUTS",
    "CATALOGUE_STAGE",
    "Locator",
    "event_key",
    "trace_counts",
]

_TRACES: collections.Counter = collections.Counter()


def trace_counts() -> dict[str, int]:
    """How often this process has traced (and so compiled) the catalogue's block programs:
    ``{"stage": n, "nuts": m, "importance": k, "t0_draws": j}`` (those traced so far). A
    second Locator of the same configuration adds nothing."""
    return dict(_TRACES)


CATALOGUE_STAGE = GlobalStage(num_draws=16384, chunk_size=1024, num_polish=4, polish_steps=0,
                              newton_steps=15)  # fmt: skip
"""The catalogue's global stage: a bank of 16,384 candidates, the best 4 polished by 15
Gauss-Newton steps (polishing 2 is 20 % faster, but finds fewer of the secondary modes the
Laplace mixture needs: 95 % coverage of depth and origin time fell by 0.02-0.03 over the 300
events of ``bench/bench_events.py``; :func:`jaxseis.locate` polishes 32)."""

CATALOGUE_NUTS = NutsOptions(
    num_chains=4, num_warmup=200, num_draws=250, max_num_doublings=4, global_stage=None
)
"""The catalogue's NUTS: 4 chains x 250 draws after 200 adaptation steps in the whitened
coordinates of each event's modes, trajectories of at most 2**4 - 1 leapfrog steps. The chains
of a block run in lockstep under ``vmap``: every NUTS step costs the longest trajectory of any
chain of the block. With a cap of 63 steps that was 58 leapfrog steps per draw for chains that
needed 14 on average; with 15 the same events run 3.5 times faster at the same ESS, R-hat and
coverage (``bench/bench_catalogue.py --nuts-sweep 4 5 6``)."""


BANK_DB = SIGNAL_DB
"""The bank keeps its spectra's bins up to the highest within this many dB of the strongest
(above lies the emulators' numerical floor, 55 dB down for the bundled set): each event's
search correlates those bins only, on a lag grid sized to them (:func:`band_limited`)."""


def event_key(seed: int, event_id: str) -> jax.Array:
    """The event's random key: ``seed`` folded with a stable 31-bit digest of its id."""
    digest = int.from_bytes(hashlib.sha256(str(event_id).encode()).digest()[:4], "little")
    return jax.random.fold_in(jax.random.key(int(seed)), digest & 0x7FFFFFFF)


class Locator:
    """Locates events of one emulator set under one prior, compiled once.

    The compiled programs stay in JAX's caches for the life of the process, keyed by the
    locator's likelihood and settings, so a second locator with the same settings reuses
    them. A process that builds many locators with different settings (a sweep) keeps all
    their programs, each holding memory and memory mappings (Linux allows 65,530 mappings
    per process by default, and XLA's compiler crashes beyond it); call
    :func:`jax.clear_caches` between them.

    Args:
        emulators: one emulator per receiver, or a :class:`~jaxseis.forward.ForwardModel`.
        prior: the :class:`~jaxseis.inference.BoxPrior` (checked once).
        method: ``"laplace"`` or ``"nuts"``.
        stage: the global stage (its ``num_draws`` is the bank size).
        nuts: the NUTS settings (``global_stage`` ignored: the chains start at each event's
            mode found by ``stage``; ``marginal_t0``: see the module's text, an error where
            ``t0`` is fixed, with an emulator error model or with ``extra_variance``).
        seed: seeds the bank and, with each event's id, the event's key.
        block_size: events per compiled block (a device runs one block at a time).
        domain: the likelihood's domain (``"time"`` for white noise, ``"frequency"`` for
            coloured); every event must have the matching noise model.
        extra_variance: emulator error variance, as for
            :func:`jaxseis.likelihood.waveform_log_likelihood`.
        emulator_error: the emulator set's :class:`~jaxseis.likelihood.EmulatorError`,
            marginalised in every event's likelihood (needs ``domain="frequency"``).
        band_hz: ``(low, high)`` Hz of the frequency-domain likelihood (default: the error
            model's band, else all bins; see :func:`jaxseis.likelihood.waveform_data`).
        keep_draws: keep each event's posterior draws in its record (``draws``, ``[n, 5]``).
        importance: with ``method="laplace"``, reweigh draws of the Laplace approximation to
            the posterior (:class:`~jaxseis.inference.importance.ImportanceOptions`), or None.
        devices: how many of the process's JAX devices to run blocks on at once (default and
            at most: all of them). The results do not depend on it.

    Raises:
        ValueError: a bad prior, method or settings.
    """

    def __init__(
        self,
        emulators: Sequence[Emulator] | ForwardModel,
        prior: BoxPrior,
        *,
        method: str = "laplace",
        stage: GlobalStage = CATALOGUE_STAGE,
        nuts: NutsOptions = CATALOGUE_NUTS,
        seed: int = 0,
        block_size: int = 8,
        domain: str = "time",
        extra_variance=None,
        emulator_error: EmulatorError | None = None,
        band_hz=None,
        keep_draws: bool = False,
        importance: ImportanceOptions | None = None,
        devices: int | None = None,
    ):
        if method not in ("laplace", "nuts"):
            raise ValueError(f"the catalogue locates with 'laplace' or 'nuts'; got {method!r}")
        if importance is not None:
            if method != "laplace":
                raise ValueError("importance sampling reweighs the Laplace approximation: "
                                 "use it with method='laplace'")  # fmt: skip
            check_importance_options(importance)
        self.importance = importance
        if not (isinstance(block_size, int) and block_size >= 1):
            raise ValueError(f"block_size must be an integer >= 1; got {block_size!r}")
        if domain not in ("time", "frequency"):
            raise ValueError(f"domain must be 'time' or 'frequency'; got {domain!r}")
        self.model = emulators if isinstance(emulators, ForwardModel) else forward_model(emulators)
        template = waveform_template(self.model, domain, emulator_error=emulator_error is not None)
        self.space = validate_prior(prior, template)
        self.fn = template.fn
        # the bank's correlations at the lags of the prior's origin-time window only
        self.search = template.search.within(self.space.lower[3], self.space.upper[3])
        self.method = method
        self.stage = stage
        self.nuts = nuts._replace(global_stage=None)
        self.seed = int(seed)
        self.block_size = block_size
        self.domain = domain
        self.extra_variance = extra_variance
        self.emulator_error = emulator_error
        self.band_hz = None if band_hz is None else tuple(float(v) for v in band_hz)
        self.keep_draws = keep_draws
        reason = why_not_marginal(self.fn, t0_free=3 in self.space.free,
                                  stationary=extra_variance is None)  # fmt: skip
        self.marginal_t0 = method == "nuts" and use_marginal_t0(self.nuts, reason)
        self._marginal_fn: OriginTimeMarginal | None = None
        if devices is not None and not (isinstance(devices, int) and devices >= 1):
            raise ValueError(f"devices must be an integer >= 1 or None; got {devices!r}")
        self.num_devices = min(devices or jax.local_device_count(), jax.local_device_count())
        self._bank: Bank | None = None
        self._params = None
        self._on_device: dict = {}

    # ----------------------------------------------------------------------------- set-up

    @property
    def marginal(self) -> OriginTimeMarginal | None:
        """The likelihood with ``t0`` marginalised that NUTS samples (over the bins where the
        emulators carry signal, :func:`~jaxseis.likelihood.origin_time.signal_bins`), or
        None."""
        if self.marginal_t0 and self._marginal_fn is None:
            lo, hi = self.space.lower, self.space.upper
            with self._x64():
                bins = signal_bins(self.model.static, self.params(), lo, hi, self.model.n_samples)
            self._marginal_fn = marginal_origin_time(self.model, (lo[3], hi[3]), bins=bins)
        return self._marginal_fn

    def _x64(self):
        return jax.enable_x64(self.model.x64 or bool(jax.config.read("jax_enable_x64")))

    def params(self):
        """The forward model's arrays as JAX arrays (in the locator's precision)."""
        if self._params is None:
            with self._x64():
                self._params = jax.tree.map(jnp.asarray, self.model.params)
        return self._params

    def bank(self) -> Bank:
        """The candidate bank: ``stage.num_draws`` Sobol positions in the prior box and their
        emulated spectra (computed once, in chunks), up to their highest bin within
        :data:`BANK_DB` dB of the strongest."""
        if self._bank is None:
            from scipy.stats import qmc

            unit = qmc.Sobol(3, scramble=True, seed=self.seed).random(self.stage.num_draws)
            lo, hi = self.space.lower[:3], self.space.upper[:3]
            positions = lo + (hi - lo) * unit
            with self._x64():
                spectra = _bank_spectra(
                    self.search, self.params(), jnp.asarray(positions), self.stage.chunk_size
                )
                bins = band_limited(spectra, BANK_DB)
                self._bank = Bank(jnp.asarray(positions), spectra[..., :bins])
        return self._bank

    def data_of(self, obs: Observation):
        """The event's likelihood data (float64 NumPy), validated against the emulators.

        Raises:
            ValueError: an observation that does not fit (receivers, sampling, noise model).
        """
        if not isinstance(obs, Observation):
            raise ValueError(f"expected an Observation; got {type(obs).__name__}")
        data, _ = waveform_data(
            self.model, obs, extra_variance=self.extra_variance,
            emulator_error=self.emulator_error, domain=self.domain, band_hz=self.band_hz,
        )  # fmt: skip
        return data

    def log_likelihood(self, obs: Observation, theta) -> np.ndarray:
        """The event's log-likelihood (nats) at parameters ``theta`` ``[5]`` or ``[n, 5]``
        (``x, y, z`` km, ``t0`` s, ``log_amplitude``): the function every method of the
        locator maximises or samples, e.g. to weigh a location found by another tool or to
        compare the truth of a synthetic event with the maximum (the record's ``loglik``).

        Returns:
            ``[]`` or ``[n]`` float64.

        Raises:
            ValueError: an observation that does not fit, or ``theta`` not ``[..., 5]`` finite.
        """
        data = self.data_of(obs)
        t = np.asarray(theta, dtype=np.float64)
        if t.ndim not in (1, 2) or t.shape[-1] != 5 or not np.all(np.isfinite(t)):
            raise ValueError(f"theta must be [5] or [n, 5] finite parameters; got shape {t.shape}")
        with self._x64():
            dtype = jnp.result_type(float)
            out = log_likelihoods(self.fn, self.params(), jax.tree.map(jnp.asarray, data),
                                  jnp.asarray(np.atleast_2d(t), dtype))  # fmt: skip
        out = np.asarray(out, dtype=np.float64)
        return out if t.ndim == 2 else out[0]

    # ----------------------------------------------------------------------------- locating

    def locate(self, obs: Observation) -> dict:
        """One event's record (see :meth:`locate_blocks`)."""
        return next(iter(self.locate_blocks([obs])))

    def locate_blocks(self, observations: Iterable[Observation]) -> list[dict]:
        """Records of many events, in their order: blocks of ``block_size`` events, one block
        per device at a time (the last padded).

        Each record holds ``event_id``, ``status`` (``"ok"`` or ``"error"`` with ``error``),
        the :func:`jaxseis.summary_dict` fields, ``truth`` (when the observation has one),
        ``global_stage_modes_used``, ``laplace_positive_definite`` (Laplace),
        ``chains_per_mode`` (NUTS: chains started in each kept mode, heaviest first, see
        :func:`jaxseis.inference.nuts.chain_modes`), ``leapfrog_steps_mean`` and
        ``step_size_median`` (NUTS), and ``draws`` with ``keep_draws``.
        """
        observations = list(observations)
        records: list[dict | None] = [None] * len(observations)
        good: list[tuple[int, Any]] = []
        for i, obs in enumerate(observations):
            try:
                good.append((i, self.data_of(obs)))
            except ValueError as err:
                records[i] = _error_record(obs, err)
        group = self.block_size * self.num_devices
        for start in range(0, len(good), group):
            part = good[start : start + group]
            out = self._run_group([observations[i] for i, _ in part], [d for _, d in part])
            for (i, _), rec in zip(part, out, strict=True):
                records[i] = rec
        return records  # type: ignore[return-value]

    def _shared(self, device):
        """The arrays every block uses (forward model, bank, prior bounds) on ``device``,
        copied there once."""
        if device not in self._on_device:
            with self._x64():
                shared = (self.params(), self.bank(), jnp.asarray(self.space.lower),
                          jnp.asarray(self.space.upper))  # fmt: skip
                self._on_device[device] = jax.device_put(shared, device)
        return self._on_device[device]

    def _on_devices(self, program, per_block) -> Any:
        """``program(*shared, *per_block[i])`` for block ``i`` on device ``i`` (see
        :func:`jaxseis.runtime.on_each_device`)."""
        devices = jax.local_devices()[: len(per_block)]
        shared = [self._shared(d) for d in devices]
        return on_each_device(program, shared, per_block, devices, context=self._x64)

    def _run_group(self, observations, datas) -> list[dict]:
        n = len(datas)
        blocks = -(-n // self.block_size)
        size = self.block_size * blocks
        pad = [datas[0]] * (size - n)
        data = jax.tree.map(lambda *a: np.stack(a), *(datas + pad))
        ids = [obs.event_id for obs in observations] + [observations[0].event_id] * (size - n)
        keys = jnp.stack([event_key(self.seed, i) for i in ids])
        k_stage, k_init, k_run = (jax.vmap(jax.random.split, (0, None))(keys, 3)).swapaxes(0, 1)
        tic = time.perf_counter()
        with self._x64():
            jacobian = self.method == "nuts"
            program = partial(stage_program, self.fn, self.search, free=self.space.free,
                              stage=self.stage, jacobian=jacobian)  # fmt: skip
            u, lp, g, h, best = self._on_devices(
                program, _blocks((data, jax.random.key_data(k_stage)), self.block_size)
            )
            u, lp, g, h, best = (np.asarray(a, np.float64) for a in (u, lp, g, h, best))
            modes = []
            for e in range(n):
                try:
                    modes.append(select_modes(u[e], lp[e], h[e], best[e], self.stage,
                                              jacobian=jacobian, grad=g[e],
                                              space=self.space))  # fmt: skip
                except ValueError as err:
                    modes.append(err)
            wall_stage = time.perf_counter() - tic
            if self.method == "laplace":
                mixtures = [
                    m if isinstance(m, Exception) else laplace_mixture(self.space, m, g[e], h[e])
                    for e, m in enumerate(modes)
                ]
                records = [
                    self._laplace_record(m, mix, k_init[e])
                    for e, (m, mix) in enumerate(zip(modes, mixtures, strict=True))
                ]
                if self.importance is not None:
                    self._reweigh(records, mixtures, data, k_run, size)
            else:
                records = self._nuts_records(data, modes, k_init, k_run, size)
        wall = time.perf_counter() - tic
        out = []
        for obs, rec in zip(observations, records, strict=False):
            rec["event_id"] = obs.event_id
            if obs.truth is not None:
                rec["truth"] = np.asarray(obs.truth).tolist()
            rec["wall_s_per_event"] = wall / n
            rec["wall_global_s_per_event"] = wall_stage / n
            out.append(rec)
        return out

    def _laplace_record(self, modes, mixture, key) -> dict:
        if isinstance(modes, Exception):
            return {"status": "error", "error": str(modes)}
        means, covs, weights, norms, positive = mixture
        free = [k in self.space.free for k in range(5)]
        rec = {"status": "ok", **gaussian_summary(means, covs, free, "laplace", weights)}
        rec.update(
            global_stage_modes_used=len(modes.u),
            laplace_positive_definite=positive,
            laplace_grad_norm=float(norms.max()),
            loglik=float(modes.lp[0]),
        )
        if self.keep_draws:
            draws = laplace_draws(key, self.space, means, covs, 1000, weights)
            rec["draws"] = draws.tolist()
        return rec

    def _reweigh(self, records, mixtures, data, keys, size) -> None:
        """Importance sampling from each event's Laplace mixture (in place): the record's
        summary becomes the weighted draws', with ``pareto_k``, ``importance_ess``,
        ``importance_reliable`` (``k <= 0.7``) and the Laplace summary kept as ``laplace``."""
        opts, free = self.importance, [k in self.space.free for k in range(5)]
        theta = np.zeros((size, opts.num_draws, 5))
        drawn = {}
        for e, (rec, mix) in enumerate(zip(records, mixtures, strict=False)):
            if rec["status"] == "ok":
                k_prop, k_resample = jax.random.split(keys[e])
                means, covs, weights = mix[:3]
                drawn[e] = (*proposal(k_prop, self.space, means, covs, weights, opts), k_resample)
                theta[e] = drawn[e][0]
        if not drawn:
            return
        dtype = jnp.result_type(float)
        fn = self.fn

        def program(params, bank, lower, upper, data, theta):
            return importance_program(fn, params, data, theta)

        log_lik = self._on_devices(
            program, _blocks((data, np.asarray(theta, dtype)), self.block_size)
        )
        log_lik = np.asarray(log_lik, np.float64)
        for e, (draws, log_q, inside, k_resample) in drawn.items():
            rec = records[e]
            try:
                w, k, ess = psis_weights(log_lik[e], log_q, inside)
            except ValueError as err:
                rec["importance_error"] = str(err)
                continue
            laplace = {key: rec[key] for key in ("method", "mean", "std", "q2_5", "q16", "q50",
                                                 "q84", "q97_5")}  # fmt: skip
            keep = {key: rec[key] for key in rec if key.startswith(("global_", "laplace_"))}
            keep["loglik"] = rec["loglik"]
            records[e] = {"status": "ok", **weighted_summary(draws, w, free, "laplace_importance")}
            records[e].update(keep, laplace=laplace, pareto_k=k, importance_ess=ess,
                              importance_reliable=bool(k <= PARETO_K_MAX))  # fmt: skip
            if self.keep_draws:
                records[e]["draws"] = resample(k_resample, draws, w, 1000).tolist()

    def _nuts_records(self, data, modes, k_init, k_run, size) -> list[dict]:
        c = self.nuts.num_chains
        space, keep = self.space, np.arange(self.space.dim)
        if self.marginal is not None:  # the chains sample every free parameter but t0
            keep = np.flatnonzero(np.asarray(space.free) != 3)
            space = Space(space.lower, space.upper, tuple(space.free[i] for i in keep))
        d = len(keep)
        w0 = np.zeros((size, c, d))
        center = np.zeros((size, c, d))
        chol = np.broadcast_to(np.eye(d), (size, c, d, d)).copy()
        which = np.zeros((size, c), dtype=int)
        for e, m in enumerate(modes):
            if not isinstance(m, Exception):
                start, center_e, chol_e, which[e] = chain_starts(
                    m, k_init[e], c, self.stage.init_spread
                )
                if len(keep) < self.space.dim:
                    start, center_e, chol_e = restrict_starts(start, center_e, chol_e, keep)
                w0[e], center[e], chol[e] = start, center_e, chol_e
        dtype = jnp.result_type(float)
        marginal, free = self.marginal, space.free
        fn = self.fn if marginal is None else marginal

        def program(params, bank, lower, upper, *block):
            if marginal is not None:  # t0 held at a constant the marginal ignores
                lower, upper = lower.at[3].set(0.0), upper.at[3].set(0.0)
            return nuts_program(fn, params, lower, upper, *block, free=free,
                                options=self.nuts)  # fmt: skip

        # The chains of a block run in lock step: every NUTS step costs the longest trajectory
        # of the block. Blocks of events of similar width (the broad ones need the longest
        # trajectories) waste less; padding repeats the narrowest event. An event's draws do
        # not depend on its block (vmap), so the order changes the speed only.
        order = _by_width(modes, len(modes), size, self.space)
        back = np.argsort(order[: len(modes)], kind="stable")
        k_t0 = jax.vmap(lambda k: jax.random.fold_in(k, 1))(k_run)
        per_event = jax.tree.map(
            lambda a: np.asarray(a)[order],
            (data, jax.random.key_data(k_run), np.asarray(w0, dtype), np.asarray(center, dtype),
             np.asarray(chol, dtype)),
        )  # fmt: skip
        out = self._on_devices(program, _blocks(per_event, self.block_size))
        theta = np.array(out["theta"], np.float64)
        if marginal is not None:

            def draws_program(params, bank, lower, upper, data, keys, theta):
                return t0_program(marginal, params, data, keys, theta)

            per_draw = (per_event[0], jax.random.key_data(k_t0)[order], np.asarray(theta, dtype))
            t0 = self._on_devices(draws_program, _blocks(per_draw, self.block_size))
            theta[..., 3] = np.asarray(t0, np.float64)
        theta = theta[back]
        out = {k: np.asarray(v)[back] for k, v in out.items() if k != "theta"}
        diverging = np.asarray(out["diverging"])
        free = [k in self.space.free for k in range(5)]
        records = []
        for e, m in enumerate(modes):
            if isinstance(m, Exception):
                records.append({"status": "error", "error": str(m)})
                continue
            rec = {
                "status": "ok",
                **chains_summary(theta[e], free, "nuts", int(diverging[e].sum())),
                "global_stage_modes_used": len(m.u),
                "chains_per_mode": np.bincount(which[e], minlength=len(m.u)).tolist(),
                "leapfrog_steps_mean": float(np.mean(np.asarray(out["n_steps"])[e])),
                "step_size_median": float(np.median(np.asarray(out["step_size"])[e])),
                "t0_marginalised": marginal is not None,
            }
            if self.keep_draws:
                rec["draws"] = theta[e].reshape(-1, 5).tolist()
            records.append(rec)
        return records


def _by_width(modes, n: int, size: int, space: Space) -> np.ndarray:
    """A permutation ``[size]`` of the ``n`` events (the rest padding): widest Laplace depth
    sd of the best mode first, failed events last, padding repeating the last event."""
    width = np.full(n, -np.inf)
    z = space.free.index(2)
    span = space.upper[2] - space.lower[2]
    for e, m in enumerate(modes):
        if not isinstance(m, Exception):
            p = 1.0 / (1.0 + np.exp(-m.u[0][z]))
            width[e] = np.sqrt(m.cov[0][z, z]) * span * p * (1.0 - p)
    order = np.argsort(-width, kind="stable")
    return np.concatenate([order, np.full(size - n, order[-1])]).astype(int)


def _error_record(obs, err: Exception) -> dict:
    return {
        "event_id": getattr(obs, "event_id", str(obs)),
        "status": "error",
        "error": str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__,
    }


@partial(jax.jit, static_argnames=("search", "chunk"))
def _bank_spectra(search, params, positions, chunk):
    return jax.lax.map(
        lambda p: search.spectra(p[None], params)[0].astype(jnp.complex64),
        positions,
        batch_size=min(chunk, positions.shape[0]),
    )


def _blocks(tree, block_size: int) -> list[tuple]:
    """The leading axis of every array of ``tree`` (a tuple) cut into blocks of ``block_size``
    (as NumPy arrays, to be put on their devices)."""
    n = len(jax.tree.leaves(tree)[0])
    return [
        jax.tree.map(lambda a, s=s: np.asarray(a)[s : s + block_size], tree)
        for s in range(0, n, block_size)
    ]


@partial(jax.jit, static_argnames=("fn", "search", "free", "stage", "jacobian"))
def stage_program(fn, search, params, bank, lower, upper, data, keys, *, free, stage, jacobian):
    """The global stage of one block of events (leading event axis) under ``vmap``."""
    keys = jax.random.wrap_key_data(keys)
    space = Space(lower, upper, free)
    _TRACES["stage"] += 1
    one = partial(find_modes, fn, search, params, space=space, bank=bank, stage=stage, split=1,
                  jacobian=jacobian)  # fmt: skip
    return jax.vmap(lambda d, k: one(d, key=k))(data, keys)


@partial(jax.jit, static_argnames=("fn",))
def importance_program(fn, params, data, theta):
    """The log-likelihood of one block of events (leading event axis of ``data``) at their
    draws ``theta [B, N, 5]``: ``[B, N]``, one event after the other, draws in batches."""
    _TRACES["importance"] += 1

    return jax.lax.map(lambda a: log_likelihoods(fn, params, *a), (data, theta))


@partial(jax.jit, static_argnames=("fn", "free", "options"))
def nuts_program(fn, params, lower, upper, data, keys, w0, center, chol, *, free, options):
    """NUTS for one block of events (leading event axis) under ``vmap``."""
    keys = jax.random.wrap_key_data(keys)
    space = Space(lower, upper, free)
    _TRACES["nuts"] += 1
    one = partial(run_chains, fn, params, space=space, options=options, split=1)
    return jax.vmap(lambda d, k, w, c, ch: one(d, key=k, w0=w, center=c, chol=ch))(
        data, keys, w0, center, chol
    )


@partial(jax.jit, static_argnames=("marginal",))
def t0_program(marginal, params, data, keys, theta):
    """Origin times ``[B, C, N]`` drawn from their conditionals for one block of events' draws
    ``theta [B, C, N, 5]`` (keys ``[B]``), one event after the other."""
    _TRACES["t0_draws"] += 1

    def one(d, key, th):
        key = jax.random.wrap_key_data(key)
        return draw_origin_times(marginal, key, th.reshape(-1, 5), params, d).reshape(th.shape[:-1])

    return jax.lax.map(lambda a: one(*a), (data, keys, theta))
