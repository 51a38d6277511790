"""The paper's location experiment (its Sec. 3.3, Table 2, Fig. 10 and Fig. 11).

Observed data: the bundled direct simulation (not reciprocal) of the event at
(0.375, 0.3, 1.57) km at the 4 location receivers, plus seeded Gaussian noise at the paper's
level (5.6 % of the largest peak). Prior: the paper's uniform box. Runs:

* ``nuts_nn_direct`` / ``nested_nn_direct``: NN direct trained on the dense dataset
  (22,000 training sources; ``jaxseis simulate dense``; the emulators are cached in
  ``~/.cache/jaxseis/models/dense``), BlackJAX NUTS (4 chains x 1000 draws after 500 warm-up
  steps, global stage of 100,000 prior draws) and jaxns nested sampling;
* ``nuts_nn_direct_paper``: NN direct trained on the paper's 2000 sources (the bundled
  pretrained emulators), NUTS; ``nuts_nn_direct_paper_emulator_variance``: the same with the
  emulators' validation error variance added to the noise variance;
* ``nested_d18``: the Das et al. (2018) GP baseline (2000 sources, cheaper hyperparameter fits
  than Table 1's, see ``D18_OPTIONS``; cached in ``~/.cache/jaxseis/models/d18_paper``),
  nested sampling;
* ``dynesty_nn_direct``: the likelihood of ``nested_nn_direct`` sampled by dynesty's static
  nested sampler, side by side with jaxns in the same run (``dynesty_vs_jaxns_wall_ratio``);
* ``edt``: NonLinLoc's EDT likelihood on pykonal travel times and automatic picks (5 ms) of the
  noise-free traces, nested sampling: the arrival-time posterior to compare with (Fig. 11).

Writes ``bench/results/location.json`` (per run ``mean_km``, ``std_km``, ``q16_km``, ``q84_km``,
``q2_5_km``, ``q97_5_km``, ``wall_s``, ``rhat_max``, ``ess_min``, ``log_evidence``,
``truth_in_95``; for NUTS ``wall_global_s``, ``wall_sampling_s``, the median step size and
the mean trajectory length; for nested sampling the likelihood calls and, for
``nested_nn_direct``, ``wall_repeat_s``: a second run in the same process with the compiled
code cached, as jaxns compiles for about 25 s), ``location.md`` (the table beside the paper's
Table 2), ``location_corner.png`` (Fig. 10: NUTS and nested NN direct, D18) and
``location_edt_overlay.png`` (Fig. 11: waveform against EDT posteriors).

Run: ``python bench/bench_location.py`` (first run: about 15 min to train the dense NN-direct
emulators, at most 500 epochs each, and 6 min for the D18 emulators, cached afterwards; then
about 15 min of sampling).
``--quick`` uses the bundled emulators for every NN run, skips D18, dynesty and EDT, and
writes ``location_quick.*`` instead.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import benchlib
import jax
import jax.numpy as jnp
import numpy as np

import jaxseis as js
from jaxseis import emulators as em
from jaxseis import inference
from jaxseis.dataset import load_dense
from jaxseis.forward import event_vector, validation_error_variance
from jaxseis.likelihood import edt_log_likelihood, waveform_log_likelihood
from jaxseis.picking import picks_of
from jaxseis.pretrained import load_bundled
from jaxseis.train import TrainConfig

RESULTS = benchlib.RESULTS
RECEIVERS = (1, 2, 3, 4)  # benchmark rows of the 4 location receivers
NOISE_SEED = 0
SAMPLER_SEED = 1
# 22,000 sources make an epoch 11 times longer than on the paper's 2000, and the validation
# loss still improves slowly after 1000 epochs (2.4 epochs/s here): the dense emulators are
# trained for at most 500 epochs (about 4 min per receiver), a budget, not convergence
DENSE_CONFIG = TrainConfig(max_epochs=500, patience=100)
# D18's 200 GPs per receiver with the family's default hyperparameter fit take about 8 min per
# receiver here; for the location run (4 receivers) each GP's hyperparameters are fitted on
# 200 sources with one start of 100 Adam steps (about 1.5 min per receiver), and every GP is
# conditioned on all 2000 sources. Table 1 (bench_table1.py) uses the defaults.
D18_OPTIONS = {"core_gp_options": {"n_subset": 200, "n_restarts": 1, "n_iter": 100}}
RUNS = (
    "nuts_nn_direct",
    "nested_nn_direct",
    "dynesty_nn_direct",
    "nuts_nn_direct_paper",
    "nuts_nn_direct_paper_emulator_variance",
    "nested_d18",
    "edt",
)
PAPER_TABLE2 = {  # the paper's Table 2: mean and 68 % half-widths, km
    "nn_direct_multinest": {"mean_km": [0.374, 0.300, 1.570], "pm_km": [0.0025, 0.0025, 0.0012]},
    "edt_nonlinloc": {"mean_km": [0.383, 0.320, 1.570], "pm_km": [0.022, 0.022, 0.015]},
    "wall_s_multinest": 1.7 * 3600,
}


def cache_models(kind: str, dataset_name: str) -> Path:
    return js.runtime.cache_dir() / "models" / f"{kind}_{dataset_name}"


def train_or_load(kind: str, dataset, dataset_name: str, seed: int = 0, **options):
    """Emulators of the 4 location receivers, trained once and cached outside the repo."""
    directory = cache_models(kind, dataset_name)
    out, times = [], []
    for r in RECEIVERS:
        path = directory / f"{kind}_r{r}.npz"
        if path.exists():
            e = em.load(path, kind=kind)
        else:
            print(f"training {kind} on {dataset_name} for receiver {r} ...", flush=True)
            e = em.fit(kind, em.training_data(dataset, r), seed=seed, **options)
            em.save(e, path)
        out.append(e)
        times.append(e.info["fit_s"])
    return out, float(np.sum(times))


def observed_data(emulators) -> js.Observation:
    """The paper's event at the emulators' receivers with seeded white noise at the paper's
    level (5.6 % of the largest clean peak)."""
    return js.observe(js.load_paper_event(), emulators, noise_key=jax.random.key(NOISE_SEED))


def summarise(idata, truth) -> dict:
    s = inference.summary_dict(idata)
    lo, hi = np.asarray(s["q2_5_km"]), np.asarray(s["q97_5_km"])
    s["truth_in_95"] = [bool(a <= t <= b) for a, t, b in zip(lo, truth, hi, strict=True)]
    s["diagnostics"] = inference.diagnose(idata)
    attrs = idata.posterior.attrs
    if s["method"] == "nuts":  # where the time goes, and how hard the sampler worked
        s["wall_global_s"] = float(attrs["wall_global_s"])
        s["wall_sampling_s"] = float(attrs["wall_sampling_s"])
        s["step_size_median"] = float(idata.sample_stats["step_size"].median())
        s["n_steps_mean"] = float(idata.sample_stats["n_steps"].mean())
        s["jax_devices"] = jax.local_device_count()
    if s["method"] == "nested":
        s["n_likelihood_calls"] = int(attrs["nested_num_likelihood_evaluations"])
        s["num_slices"] = int(attrs["nested_num_slices"])
    return s


def run_locate(name, loglike, options, truth, repeat: bool = False):
    """One :func:`locate` run, summarised; with ``repeat``, run it a second time in the same
    process (compiled code cached) and record that wall time as ``wall_repeat_s``, checking
    that the same key gives the same draws."""
    method = {inference.NutsOptions: "nuts", inference.NestedOptions: "nested"}[type(options)]
    print(f"--- {name}: {method}", flush=True)

    def once():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", inference.ConvergenceWarning)  # in the JSON
            return inference.locate(
                loglike, inference.paper_prior(), key=jax.random.key(SAMPLER_SEED),
                options=options,
            )  # fmt: skip

    idata = once()
    s = summarise(idata, truth)
    print(inference.summary_table(idata, truth=truth), flush=True)
    if repeat:
        again = once()
        if not np.array_equal(inference.posterior_draws(again), inference.posterior_draws(idata)):
            raise RuntimeError(f"{name}: the same key gave different draws on a second run")
        s["wall_repeat_s"] = float(again.posterior.attrs["wall_s"])
        print(f"{name}: second run (compiled) {s['wall_repeat_s']:.1f} s", flush=True)
    return s, idata


def run_dynesty(loglike, truth, nlive: int, seed: int) -> tuple[dict, np.ndarray]:
    """The same likelihood with dynesty's static nested sampler (one point per call; the
    position only, ``t0`` and the amplitude fixed as in the paper's prior)."""
    import dynesty
    from dynesty.utils import resample_equal

    prior = inference.paper_prior()
    lo, width = np.asarray(prior.lower), np.asarray(prior.upper) - np.asarray(prior.lower)
    model = jax.tree.map(jnp.asarray, loglike.model)
    data = jax.tree.map(jnp.asarray, loglike.data)
    f = jax.jit(lambda x: loglike.fn(event_vector(x), model, data))
    f(jnp.asarray(truth)).block_until_ready()  # compile outside the timing, as jaxns does not

    def ll(x):
        v = float(f(jnp.asarray(x)))
        return v if np.isfinite(v) else -1e300

    print("--- dynesty_nn_direct: dynesty static nested sampling", flush=True)
    tic = time.perf_counter()
    sampler = dynesty.NestedSampler(
        ll, lambda u: lo + width * u, 3, nlive=nlive, rstate=np.random.default_rng(seed)
    )
    sampler.run_nested(print_progress=False)
    wall = time.perf_counter() - tic
    res = sampler.results
    w = np.exp(res.logwt - res.logz[-1])
    x = resample_equal(res.samples, w / w.sum(), rstate=np.random.default_rng(seed))
    q = np.percentile(x, [2.5, 16.0, 84.0, 97.5], axis=0)
    s = {
        "method": "dynesty",
        "mean_km": x.mean(axis=0).tolist(),
        "std_km": x.std(axis=0, ddof=1).tolist(),
        "q16_km": q[1].tolist(),
        "q84_km": q[2].tolist(),
        "q2_5_km": q[0].tolist(),
        "q97_5_km": q[3].tolist(),
        "rhat_max": None,
        "ess_min": float(w.sum() ** 2 / (w**2).sum()),
        "log_evidence": float(res.logz[-1]),
        "log_evidence_err": float(res.logzerr[-1]),
        "wall_s": wall,
        "n_likelihood_calls": int(np.sum(res.ncall)),
        "nlive": nlive,
        "truth_in_95": [bool(a <= t <= b) for a, t, b in zip(q[0], truth, q[3], strict=True)],
    }
    print(
        f"dynesty: {wall:.1f} s, {s['n_likelihood_calls']} calls, mean {np.round(s['mean_km'], 4)}"
        f", std {np.round(s['std_km'], 5)}, log Z {s['log_evidence']:.2f}",
        flush=True,
    )
    return s, x


def edt_run(truth, options):
    """EDT on the picks (matched filter, the paper's 5 ms error) of the noise-free traces."""
    loc_rec = js.location_receivers_km()
    tables = js.traveltime_tables(js.marine_model(), loc_rec)
    picks = picks_of(js.observe(js.load_paper_event(), loc_rec))
    return run_locate("edt", edt_log_likelihood(tables, picks), options, truth)


def plot_corner(sets: dict, truth, path: Path, title: str) -> None:
    """Corner plot of several posteriors (histograms), truth marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["x (km)", "y (km)", "z (km)"]
    colors = ["C0", "C1", "C2", "C3", "C4"]
    lo = np.min([np.percentile(x, 0.5, axis=0) for x in sets.values()], axis=0)
    hi = np.max([np.percentile(x, 99.5, axis=0) for x in sets.values()], axis=0)
    lo, hi = np.minimum(lo, truth), np.maximum(hi, truth)
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    fig, axes = plt.subplots(3, 3, figsize=(8, 8))
    for i in range(3):
        for j in range(3):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            for (name, x), c in zip(sets.items(), colors, strict=False):
                if i == j:
                    ax.hist(x[:, i], bins=50, range=(lo[i], hi[i]), density=True,
                            histtype="step", color=c, label=name)  # fmt: skip
                else:
                    ax.scatter(x[:, j], x[:, i], s=1, alpha=0.15, color=c, rasterized=True)
            if i == j:
                ax.axvline(truth[i], color="k", lw=0.8)
            else:
                ax.plot(truth[j], truth[i], "k+", ms=12)
                ax.set_ylim(lo[i], hi[i])
            ax.set_xlim(lo[j], hi[j])
            if i == 2:
                ax.set_xlabel(labels[j])
            if j == 0 and i > 0:
                ax.set_ylabel(labels[i])
    axes[0, 0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.1, 1.0))
    fig.suptitle(title)
    benchlib.save_figure(fig, path, dpi=120)


def fmt3(v, digits=4) -> str:
    return "(" + ", ".join(f"{a:.{digits}f}" for a in v) + ")"


def markdown(results: dict) -> str:
    truth = results["truth_km"]
    lines = [
        "| run | mean (km) | std (km) | 68 % interval half-width (km) | truth in 95 % | "
        "R-hat | ESS | log Z | wall (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| truth | {fmt3(truth, 3)} | | | | | | | |",
    ]
    for name, s in results.items():
        if not isinstance(s, dict) or "mean_km" not in s:
            continue
        half = (np.asarray(s["q84_km"]) - np.asarray(s["q16_km"])) / 2
        rhat = "" if s.get("rhat_max") is None else f"{s['rhat_max']:.3f}"
        ess = "" if s.get("ess_min") is None else f"{s['ess_min']:.0f}"
        logz = "" if s.get("log_evidence") is None else f"{s['log_evidence']:.1f}"
        inside = "yes" if all(s["truth_in_95"]) else "no " + str(s["truth_in_95"])
        wall = f"{s['wall_s']:.1f}"
        if s.get("wall_repeat_s") is not None:
            wall += f" ({s['wall_repeat_s']:.1f} compiled)"
        lines.append(
            f"| {name} | {fmt3(s['mean_km'])} | {fmt3(s['std_km'], 5)} | {fmt3(half, 5)} | "
            f"{inside} | {rhat} | {ess} | {logz} | {wall} |"
        )
    p = PAPER_TABLE2
    lines.append(
        f"| paper, NN direct, MultiNest | {fmt3(p['nn_direct_multinest']['mean_km'], 3)} | | "
        f"{fmt3(p['nn_direct_multinest']['pm_km'])} | | | | | {p['wall_s_multinest']:.0f} |"
    )
    lines.append(
        f"| paper, EDT (NonLinLoc) | {fmt3(p['edt_nonlinloc']['mean_km'], 3)} | | "
        f"{fmt3(p['edt_nonlinloc']['pm_km'], 3)} | | | | | |"
    )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="bundled emulators only, no D18")
    parser.add_argument("--no-dynesty", action="store_true", help="skip the dynesty run")
    parser.add_argument("--dynesty-nlive", type=int, default=500, help="dynesty live points")
    parser.add_argument(
        "--runs", nargs="+", choices=RUNS, help="re-run only these, merged into the JSON"
    )
    args = parser.parse_args()
    only = set(args.runs or RUNS)
    # no persistent compilation cache: every wall time includes compilation (``wall_repeat_s``
    # gives the compiled time of nested sampling)
    out_name = benchlib.result_name("location", args.quick)
    suffix = out_name.removeprefix("location")
    truth = np.asarray(js.PAPER_EVENT_KM, dtype=np.float64)
    results: dict = {
        "truth_km": truth.tolist(),
        "machine": benchlib.machine_info() | {"jax_devices": jax.local_device_count()},
        "settings": {
            "prior_km": [
                inference.paper_prior().lower.tolist(),
                inference.paper_prior().upper.tolist(),
            ],
            "noise": "Gaussian, sigma = 5.6 % of the largest observed peak",
            "noise_seed": NOISE_SEED,
            "sampler_seed": SAMPLER_SEED,
            "nuts": "4 chains x 1000 draws, 500 warm-up, global stage 100,000 prior draws",
        },
    }
    previous = RESULTS / f"{out_name}.json"
    if args.runs and previous.exists():  # merge into the last full run
        results = {**json.loads(previous.read_text()), **{k: results[k] for k in ("machine",)}}
    draws_dir = js.runtime.cache_dir() / f"location_draws{suffix}"
    draws_dir.mkdir(parents=True, exist_ok=True)
    sets = {}

    def keep(name, label, x):
        np.save(draws_dir / f"{name}.npy", x)
        sets[label] = x
        # rewritten after every run, so that an interrupted run keeps what it finished
        benchlib.write_results(out_name, results, markdown(results), echo=False)

    paper_ems = load_bundled(RECEIVERS)
    if args.quick:
        dense_ems, dense_train_s = paper_ems, None
    else:
        dense = load_dense()
        dense_ems, dense_train_s = train_or_load("nn_direct", dense, "dense", config=DENSE_CONFIG)
    results["settings"]["dense_n_train"] = dense_ems[0].info["n_train"]
    results["settings"]["dense_train_s_total"] = dense_train_s
    observed = observed_data(paper_ems)
    sigma = float(observed.noise.sigma[0])
    results["settings"]["sigma"] = sigma
    nuts = inference.NutsOptions(num_chains=4, num_warmup=500, num_draws=1000)
    nested = inference.NestedOptions(num_draws=4000)

    with jax.enable_x64(True):
        ll_dense = waveform_log_likelihood(dense_ems, observed)
        if "nuts_nn_direct" in only:
            results["nuts_nn_direct"], idata = run_locate("nuts_nn_direct", ll_dense, nuts, truth)
            keep("nuts_nn_direct", "NUTS, NN direct", inference.posterior_draws(idata))
        if "nested_nn_direct" in only:
            results["nested_nn_direct"], idata = run_locate(
                "nested_nn_direct", ll_dense, nested, truth, repeat=True
            )
            keep("nested_nn_direct", "nested, NN direct", inference.posterior_draws(idata))
        if "dynesty_nn_direct" in only and not (args.quick or args.no_dynesty):
            results["dynesty_nn_direct"], x = run_dynesty(
                ll_dense, truth, args.dynesty_nlive, SAMPLER_SEED
            )
            results["dynesty_vs_jaxns_wall_ratio"] = (
                results["dynesty_nn_direct"]["wall_s"] / results["nested_nn_direct"]["wall_s"]
            )
            keep("dynesty_nn_direct", "dynesty, NN direct", x)

        fwd_paper = js.forward.forward_model(paper_ems)
        ll_paper = waveform_log_likelihood(fwd_paper, observed)
        if "nuts_nn_direct_paper" in only:
            results["nuts_nn_direct_paper"], idata = run_locate(
                "nuts_nn_direct_paper", ll_paper, nuts, truth
            )
            keep(
                "nuts_nn_direct_paper",
                "NUTS, NN direct (2000 sources)",
                inference.posterior_draws(idata),
            )
        bench = js.load_benchmark()
        if "nuts_nn_direct_paper_emulator_variance" in only:
            val = bench.indices("validation")
            extra = np.stack(
                [
                    validation_error_variance(e, bench.sources[val], bench.traces[r, val])
                    for e, r in zip(paper_ems, RECEIVERS, strict=True)
                ]
            )
            ll_var = waveform_log_likelihood(fwd_paper, observed, extra_variance=extra)
            results["nuts_nn_direct_paper_emulator_variance"], _ = run_locate(
                "nuts_nn_direct_paper_emulator_variance", ll_var, nuts, truth
            )
            results["settings"]["emulator_variance_mean_over_sigma2"] = float(
                np.mean(extra) / sigma**2
            )
        if "edt" in only and not args.quick:
            results["edt"], idata = edt_run(truth, nested)
            keep("edt", "EDT (nested)", inference.posterior_draws(idata))
        if "nested_d18" in only and not args.quick:
            d18_ems, d18_train_s = train_or_load("d18", bench, "paper", **D18_OPTIONS)
            results["settings"]["d18_train_s_total"] = d18_train_s
            ll_d18 = waveform_log_likelihood(d18_ems, observed)
            results["nested_d18"], idata = run_locate("nested_d18", ll_d18, nested, truth)
            keep("nested_d18", "nested, D18", inference.posterior_draws(idata))
    labels = {
        "nuts_nn_direct": "NUTS, NN direct",
        "nested_nn_direct": "nested, NN direct",
        "nuts_nn_direct_paper": "NUTS, NN direct (2000 sources)",
        "nested_d18": "nested, D18",
        "edt": "EDT (nested)",
    }
    for name, label in labels.items():  # runs not re-run: their cached draws
        if label not in sets and (draws_dir / f"{name}.npy").exists():
            sets[label] = np.load(draws_dir / f"{name}.npy")
    edt_draws = sets.pop("EDT (nested)", None)

    results["machine"]["load_end"] = benchlib.load_average()
    benchlib.write_results(out_name, results, markdown(results))
    plot_corner(
        {k: v for k, v in sets.items() if "dynesty" not in k},
        truth, RESULTS / f"{out_name}_corner.png",
        "posterior of the paper's event (4 receivers, waveform likelihood)",
    )  # fmt: skip
    if edt_draws is not None and "NUTS, NN direct" in sets:
        plot_corner(
            {"waveform, NN direct (NUTS)": sets.get("NUTS, NN direct"), "EDT (nested)": edt_draws},
            truth, RESULTS / "location_edt_overlay.png",
            "waveform against arrival-time (EDT) posterior",
        )  # fmt: skip


if __name__ == "__main__":
    js.use_cpu_cores()  # one JAX device per core: the NUTS chains run in parallel
    main()
