"""Real-event unknowns across the volume: is the five-parameter posterior calibrated?

Events: held-out test events of the bundled benchmark (reciprocal traces at the four location
receivers, never seen by an emulator). Each event's origin time and log amplitude are drawn
from the study's prior (``t0 ~ U(-0.2, 0.2)`` s, ``log_amplitude ~ U(-2, 2)``), its noise from
a seed; the bundled NN-direct emulators; the prior box of the paper (the benchmark's sources
are a Latin hypercube on the nodes of the 10 m simulation grid over that box, so every truth is
a draw from the prior, up to the grid).

The grid includes the faces of the box: 34 of the first 1000 test truths have a coordinate
exactly on a face (x or y at 0 or 1 km, z at 0). A posterior truncated by the box puts no mass
beyond that face, so its equal-tailed interval never holds such a truth: these events miss
with probability 1, not 0.05, though under a continuous uniform prior a truth on a face has
probability zero. Coverage is therefore reported over all events and, as ``*_interior``,
over the events whose truths lie strictly inside the box.

Arms (the same events and seeds):

* ``white``: white noise at the paper's level, the white likelihood;
* ``coloured_white``: marine-like coloured noise (:func:`jaxseis.noise.marine_psd`, the same
  variance) located with the white likelihood at the noise's true variance: what a user who
  ignores the colour gets;
* ``coloured_whitened``: the same data with the whitened (Whittle) likelihood, the spectrum
  estimated by Welch's method from a separate 16-window noise-only record of each event
  (:func:`jaxseis.noise.estimate_noise`);
* ``white_no_error_model``: the ``white`` arm without the emulator error model (the
  likelihood of the paper): what the error model changes.

Every arm but the last marginalises the bundled emulators' error model
(:mod:`jaxseis.likelihood.emulator_error`, fitted on the benchmark's validation split; the
test events are never read by it); the likelihood is then evaluated in the frequency domain,
where the white likelihood is the Whittle one with a flat spectrum.

Every arm locates all events with the catalogue's Laplace approximation (the mixture over the
global stage's modes, :class:`jaxseis.catalogue.Locator`); the white arm also with NUTS on
the first ``--n-nuts`` events (4 chains x 250 draws), with SBC-style ranks of the truths among
99 thinned draws. The EDT arrival-time posterior (picks on the same noisy traces, P tables of
the marine model, NonLinLoc's EDT likelihood, Laplace at its maximum) runs side by side on
the first ``--n-edt`` events. The paper's event is located with all five parameters by NUTS in
a fresh process (compilation included) and with a known origin time and amplitude.

Writes ``bench/results/events.json``, ``events.md`` and ``events_map.png`` (``--quick``:
``*_quick``). Run: ``python bench/bench_events.py`` (``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import benchlib
import jax
import numpy as np
import scipy.stats

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis.inference.importance import PARETO_K_MAX, ImportanceOptions
from jaxseis.likelihood import edt_log_likelihood
from jaxseis.noise import ColouredNoise, WhiteNoise, coloured_noise, estimate_noise, marine_psd
from jaxseis.picking import picks_of
from jaxseis.traveltime import traveltime_tables

RECEIVERS = (1, 2, 3, 4)
SEED = 7
T0_RANGE = (-0.2, 0.2)
LOG_AMPLITUDE_RANGE = (-2.0, 2.0)
ARMS = ("white", "coloured_white", "coloured_whitened")
#: the white arm without the emulator error model
PLAIN = "white_no_error_model"
#: diagnostic arm (``--control``): the emulators' own traces at the truth + the white arm's
#: noise, so the model is exact and what remains is the Laplace approximation and the noise
CONTROL = "emulated_control"
NOISE_WINDOWS = 16  # noise-only record for the Welch estimate, in observation windows

PAPER_EVENT_CODE = """
import json, sys, time
tic = time.perf_counter()
import jax, numpy as np
import jaxseis as js
from jaxseis.likelihood import waveform_log_likelihood
js.use_cpu_cores()
emulators = js.load_bundled((1, 2, 3, 4))
obs = js.observe(js.load_paper_event(), emulators, noise_key=jax.random.key(0))
prior = js.event_prior() if sys.argv[1] == "free" else js.paper_prior()
idata = js.locate(waveform_log_likelihood(emulators, obs), prior, key=jax.random.key(1),
                  method="nuts")
wall = time.perf_counter() - tic
s = js.summary_dict(idata)
draws = js.inference.posterior_draws(idata, js.PARAMS)
corr = float(np.corrcoef(draws[:, 3], draws[:, 2])[0, 1]) if sys.argv[1] == "free" else None
print(json.dumps({"wall_s": wall, "rhat_max": s["rhat_max"], "ess_min": s["ess_min"],
                  "std": s["std"], "mean": s["mean"], "corr_t0_z": corr}))
"""


def study_prior():
    return js.event_prior(t0=T0_RANGE, log_amplitude=LOG_AMPLITUDE_RANGE)


def make_events(n: int, emulators, bench) -> dict[str, list]:
    """The events of every arm (same truths and noise seeds)."""
    index = bench.indices("test")[:n]
    rng = np.random.default_rng(SEED)
    out: dict[str, list] = {a: [] for a in (*ARMS, CONTROL, PLAIN)}
    with jax.enable_x64(True):
        forward = js.make_forward(emulators)
    for i in index:
        t0 = float(rng.uniform(*T0_RANGE))
        la = float(rng.uniform(*LOG_AMPLITUDE_RANGE))
        key = jax.random.key(int(i))
        white = js.observe(bench, emulators, event=int(i), noise_key=key, t0=t0,
                           log_amplitude=la, event_id=f"test{i}")  # fmt: skip
        clean = js.observe(bench, emulators, event=int(i), t0=t0, log_amplitude=la)
        sigma = np.asarray(white.noise.sigma)
        n_rec, n_samples = clean.traces.shape
        k_obs, k_noise = jax.random.split(jax.random.fold_in(key, 1))
        noise = coloured_noise(k_obs, marine_psd, n_rec, n_samples, clean.dt, sigma=sigma)
        traces = clean.traces + noise
        out["white"].append(white)
        out[PLAIN].append(white)
        with jax.enable_x64(True):
            emulated = np.asarray(forward(np.asarray(white.truth)), np.float64)
        out[CONTROL].append(white.replace(traces=emulated + (white.traces - clean.traces)))
        out["coloured_white"].append(white.replace(traces=traces, noise=WhiteNoise(sigma)))
        record = coloured_noise(
            k_noise, marine_psd, n_rec, NOISE_WINDOWS * n_samples, clean.dt, sigma=sigma
        )
        model = estimate_noise(record, clean.dt, n_samples)
        out["coloured_whitened"].append(
            white.replace(traces=traces, noise=ColouredNoise(model.psd, model.dt))
        )
    return out


def arm_spec(prior, arm: str, method: str, importance: bool = True) -> cat.LocatorSpec:
    """The catalogue locator of an arm: the emulator error model marginalised (frequency
    domain) except in the reference arms without it (the control's model is exact); the
    Laplace approximation reweighed by importance sampling unless ``importance`` is off."""
    extra = {"keep_draws": method == "nuts"}
    if method == "laplace" and importance:
        extra["importance"] = ImportanceOptions()
    if arm in (PLAIN, CONTROL):
        return cat.LocatorSpec.of(prior, method=method, seed=SEED, **extra)
    return cat.LocatorSpec.of(
        prior, method=method, seed=SEED, domain="frequency", emulator_error="bundled", **extra
    )


def laplace_part(records: list[dict]) -> list[dict]:
    """The records with the Laplace approximation's summary in place of the importance
    sampling's (records without one unchanged)."""
    return [dict(r, **r["laplace"]) if "laplace" in r else r for r in records]


def add_truth_likelihood(locator, events: list, records: list[dict]) -> None:
    """Each located record gets ``loglik_truth``, the event's log-likelihood at its truth
    (the record's ``loglik`` is the maximum's)."""
    for obs, rec in zip(events, records, strict=True):
        if rec["status"] == "ok":
            rec["loglik_truth"] = float(locator.log_likelihood(obs, np.asarray(obs.truth)))


def likelihood_ratio(ok: list[dict]) -> dict:
    """How often the likelihood-ratio region ``2 (log L_max - log L(truth)) <= chi2_5(level)``
    holds the truth: a check of the likelihood itself (noise and emulator error model),
    free of the posterior's approximation (Wilks: the statistic is about chi-square with 5
    degrees of freedom when the model is right)."""
    if not ok or any("loglik_truth" not in r for r in ok):
        return {}
    stat = np.array([2.0 * (r["loglik"] - r["loglik_truth"]) for r in ok])
    chi2 = scipy.stats.chi2(len(js.PARAMS))
    return {
        "lr_coverage95": float(np.mean(stat <= chi2.ppf(0.95))),
        "lr_coverage68": float(np.mean(stat <= chi2.ppf(0.68))),
        "lr_quantiles": {f"q{q}": float(np.percentile(stat, q)) for q in (50, 90, 95, 99)},
        "lr_chi2_quantiles": {f"q{q}": float(chi2.ppf(q / 100)) for q in (50, 90, 95, 99)},
    }


def on_a_face(truth) -> np.ndarray:
    """``[n]`` whether a truth ``[n, 5]`` has a coordinate exactly on a face of the study's
    prior box (within 1 mm; the benchmark's sources lie on a 10 m grid)."""
    prior = study_prior()
    xyz = np.asarray(truth)[:, :3]
    near = np.isclose(xyz, prior.lower, rtol=0.0, atol=1e-6)
    near |= np.isclose(xyz, prior.upper, rtol=0.0, atol=1e-6)
    return near.any(axis=1)


def calibration(records: list[dict]) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    truth = np.array([r["truth"] for r in ok])
    mean = np.array([r["mean"] for r in ok])
    sd = np.array([r["std"] for r in ok])
    q = {k: np.array([r[k] for r in ok]) for k in ("q2_5", "q16", "q84", "q97_5")}
    in95 = (q["q2_5"] <= truth) & (truth <= q["q97_5"])
    in68 = (q["q16"] <= truth) & (truth <= q["q84"])
    err = np.linalg.norm(mean[:, :3] - truth[:, :3], axis=1)

    face = on_a_face(truth)

    def per(a):
        return {p: float(a[:, k].mean()) for k, p in enumerate(js.PARAMS)}

    return {
        "n_ok": len(ok),
        "n_failed": len(records) - len(ok),
        "coverage95": per(in95),
        "coverage68": per(in68),
        "coverage95_se": float(np.sqrt(0.95 * 0.05 / max(len(ok), 1))),
        "n_on_a_face": int(face.sum()),
        "coverage95_on_a_face": per(in95[face]) if face.any() else {},
        "coverage95_interior": per(in95[~face]),
        "coverage68_interior": per(in68[~face]),
        "z_mean": per((mean - truth) / sd),
        "z_std": {p: float(np.std(((mean - truth) / sd)[:, k])) for k, p in enumerate(js.PARAMS)},
        "median_error_km": float(np.median(err)),
        "p90_error_km": float(np.percentile(err, 90)),
        "median_std_km": [float(v) for v in np.median(sd[:, :3], axis=0)],
        "median_std_t0_s": float(np.median(sd[:, 3])),
        **likelihood_ratio(ok),
        "_err": err,
        "_truth": truth,
        "_sd": sd,
    }


def sbc_ranks(records: list[dict], n_rank: int = 99) -> dict:
    """Ranks of the truths among ``n_rank`` thinned posterior draws per event and parameter,
    and a chi-square test of their uniformity over 10 bins (SBC, Talts et al. 2018)."""
    ranks = []
    for r in records:
        if r["status"] != "ok":
            continue
        draws = np.asarray(r["draws"])
        idx = np.linspace(0, len(draws) - 1, n_rank).astype(int)
        ranks.append((draws[idx] < np.asarray(r["truth"])).sum(axis=0))
    ranks = np.array(ranks)
    out = {"n_events": len(ranks), "n_draws": n_rank, "ranks": ranks.tolist()}
    for k, p in enumerate(js.PARAMS):
        counts = np.histogram(ranks[:, k], bins=10, range=(0, n_rank + 1))[0]
        out[f"chi2_p_{p}"] = float(scipy.stats.chisquare(counts).pvalue)
    return out


def edt_arm(events: list, emulators, prior) -> tuple[dict, list[dict]]:
    tables = traveltime_tables(js.marine_model(), np.array([e.receiver_km for e in emulators]))
    records, walls = [], []
    for obs in events:
        tic = time.perf_counter()
        try:
            lik = edt_log_likelihood(tables, picks_of(obs))
            idata = js.locate(lik, js.BoxPrior(prior.lower, prior.upper), key=jax.random.key(0),
                              method="laplace")  # fmt: skip
            s = js.summary_dict(idata)
            truth = np.asarray(obs.truth).copy()
            s["mean"] = list(s["mean"][:3]) + list(truth[3:])  # t0, A are not EDT parameters
            records.append({"status": "ok", "truth": truth.tolist(), **s})
        except (ValueError, RuntimeError) as err:
            records.append({"status": "error", "error": str(err)})
        walls.append(time.perf_counter() - tic)
    ok = [r for r in records if r["status"] == "ok"]
    truth = np.array([r["truth"] for r in ok])
    mean = np.array([r["mean"] for r in ok])
    q = {k: np.array([r[k] for r in ok]) for k in ("q2_5", "q97_5", "std")}
    in95 = (q["q2_5"][:, :3] <= truth[:, :3]) & (truth[:, :3] <= q["q97_5"][:, :3])
    err = np.linalg.norm(mean[:, :3] - truth[:, :3], axis=1)
    return {
        "n_ok": len(ok),
        "n_failed": len(records) - len(ok),
        "median_error_km": float(np.median(err)),
        "p90_error_km": float(np.percentile(err, 90)),
        "median_std_km": [float(v) for v in np.median(q["std"][:, :3], axis=0)],
        "coverage95": {p: float(in95[:, k].mean()) for k, p in enumerate(js.PARAMS[:3])},
        "s_per_event_median": float(np.median(walls[1:] if len(walls) > 1 else walls)),
    }, records


def public(cal: dict) -> dict:
    return {k: v for k, v in cal.items() if not k.startswith("_")}


def checkpoint(name: str, result: dict) -> None:
    """The results so far (``<name>.partial.json``), so a long run that fails keeps them."""
    from jaxseis.files import write_json

    write_json(benchlib.RESULTS / f"{name}.partial.json", result)


def plot_map(cal: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth, err, sd = cal["_truth"], cal["_err"], cal["_sd"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for row, (val, label) in enumerate(
        ((1e3 * err, "error of the mean (m)"),
         (1e3 * np.linalg.norm(sd[:, :3], axis=1), "posterior width |sd| (m)"))
    ):  # fmt: skip
        for col, (j, name) in enumerate(((1, "y (km)"), (2, "z (km)"))):
            ax = axes[row, col]
            sc = ax.scatter(truth[:, 0], truth[:, j], c=val, s=12, cmap="viridis",
                            norm=matplotlib.colors.LogNorm())  # fmt: skip
            ax.set_xlabel("x (km)")
            ax.set_ylabel(name)
            fig.colorbar(sc, ax=ax, label=label)
    axes[0, 0].set_title("white noise, Laplace: error across the volume")
    axes[1, 0].set_title("posterior width across the volume")
    benchlib.save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="16 events, 4 NUTS, 4 EDT")
    p.add_argument("--n-events", type=int, default=300)
    p.add_argument("--n-nuts", type=int, default=30)
    p.add_argument("--n-edt", type=int, default=100)
    p.add_argument("--control", action="store_true", help="add the emulated-control arm")
    p.add_argument(
        "--control-only",
        action="store_true",
        help="run only the emulated-control arm and add it to the existing events.json",
    )
    p.add_argument(
        "--arms-from",
        metavar="JSON",
        help="take the arms' results from this earlier (partial) result file and run only the "
        "NUTS check, SBC and the EDT comparison (the arms' Laplace runs are the expensive part)",
    )
    p.add_argument(
        "--edt-from-earlier",
        action="store_true",
        help="with --arms-from: take the EDT comparison from that file too (EDT does not depend "
        "on the waveform likelihood or its sampler), so only the NUTS check and SBC run",
    )
    p.add_argument(
        "--arms-only",
        action="store_true",
        help="re-run the Laplace arms only; the NUTS check, EDT and paper event come from the "
        "existing events.json",
    )
    p.add_argument(
        "--paper-event",
        choices=("run", "skip", "only"),
        default="run",
        help="the paper event's fresh-process NUTS runs; 'only' updates them alone",
    )
    args = p.parse_args()
    if args.quick:
        args.n_events, args.n_nuts, args.n_edt = 16, 4, 4
    machine = benchlib.machine_info()
    result: dict = {
        "seed": SEED,
        "t0_range_s": T0_RANGE,
        "log_amplitude_range": LOG_AMPLITUDE_RANGE,
    }
    name = benchlib.result_name("events", args.quick)
    if args.paper_event == "only":
        import json

        result = json.loads((benchlib.RESULTS / f"{name}.json").read_text())
        machine = result["machine"]
    elif args.paper_event == "skip" and (benchlib.RESULTS / f"{name}.json").exists():
        import json  # keep the earlier fresh-process runs (they do not use the study's arms)

        earlier = json.loads((benchlib.RESULTS / f"{name}.json").read_text())
        if "paper_event" in earlier:
            result["paper_event"] = earlier["paper_event"]
    if args.paper_event != "skip":  # fresh processes first, before this one holds memory
        free = benchlib.run_python(PAPER_EVENT_CODE, "free")
        known = benchlib.run_python(PAPER_EVENT_CODE, "known")
        result["paper_event"] = {
            "wall_s": free["wall_s"],
            "rhat_max": free["rhat_max"],
            "ess_min": free["ess_min"],
            "std_km": free["std"][:3],
            "std_t0_s": free["std"][3],
            "std_log_amplitude": free["std"][4],
            "corr_t0_z": free["corr_t0_z"],
            "std_km_known_t0": known["std"][:3],
            "wall_s_known_t0": known["wall_s"],
            "mean": free["mean"],
        }
        result["paper_event"]["load_average"] = benchlib.load_average()
        print("paper event:", result["paper_event"], flush=True)
    if args.paper_event == "only":
        benchlib.write_results(name, result, markdown(result))
        return 0
    js.use_cpu_cores()
    emulators = js.load_bundled(RECEIVERS)
    bench = js.load_benchmark()
    events = make_events(args.n_events, emulators, bench)
    prior = study_prior()
    if args.control_only:
        import json

        path = benchlib.RESULTS / f"{name}.json"
        measured = result.get("paper_event")  # this run's, unless skipped
        result = json.loads(path.read_text())
        if measured is not None and args.paper_event != "skip":
            result["paper_event"] = measured
        spec = arm_spec(prior, CONTROL, "laplace")
        locator = cat.build_locator(spec)
        records = locator.locate_blocks(events[CONTROL][: result["n_events"]])
        add_truth_likelihood(locator, events[CONTROL][: result["n_events"]], records)
        result["arms"][CONTROL] = public(calibration(records))
        result["coverage95_emulated_control"] = result["arms"][CONTROL]["coverage95"]
        benchlib.write_results(name, result, markdown(result))
        return 0
    result["n_events"] = args.n_events
    cals: dict[str, dict] = {}
    arms = (*ARMS, PLAIN, CONTROL) if args.control else (*ARMS, PLAIN)
    if args.arms_from:
        import json

        earlier = json.loads(Path(args.arms_from).read_text())
        cals = dict(earlier["arms"])
        n_white = max(args.n_nuts, args.n_edt)
        spec = arm_spec(prior, "white", "laplace")
        white_records = cat.build_locator(spec).locate_blocks(events["white"][:n_white])
        arms = ()
    for arm in arms:
        spec = arm_spec(prior, arm, "laplace")
        tic = time.perf_counter()
        locator = cat.build_locator(spec)
        records = locator.locate_blocks(events[arm])
        wall = time.perf_counter() - tic
        add_truth_likelihood(locator, events[arm], records)
        if arm == "white":
            white_records = records
        cals[arm] = calibration(records)
        cals[arm]["wall_s"] = wall
        if any("pareto_k" in r for r in records):
            k = np.array([r["pareto_k"] for r in records if "pareto_k" in r])
            cals[arm]["pareto_k_above_0_7"] = float(np.mean(k > PARETO_K_MAX))
            cals[arm]["pareto_k_median"] = float(np.median(k))
            cals[arm]["importance_failed"] = sum("importance_error" in r for r in records)
            cals[arm]["laplace_only"] = public(calibration(laplace_part(records)))
        print(arm, cals[arm]["coverage95"], cals[arm].get("lr_coverage95"), flush=True)
        checkpoint(name, {**result, "arms": {a: public(c) for a, c in cals.items()}})
    if not args.arms_from:
        plot_map(cals["white"], benchlib.RESULTS / f"{name}_map.png")
    if args.arms_only:  # the NUTS check and EDT from the earlier run (EDT does not depend on
        import json  # the waveform likelihood; the NUTS check says which model it ran)

        earlier = json.loads((benchlib.RESULTS / f"{name}.json").read_text())
        result["nuts_check"] = {**earlier["nuts_check"], "from_earlier_run": True}
        edt = earlier["edt_side_by_side"]["edt"]
        args.n_edt = earlier["edt_side_by_side"]["n_events"]
        if CONTROL in earlier.get("arms", {}) and CONTROL not in cals:
            cals[CONTROL] = earlier["arms"][CONTROL]
        if "paper_event" in earlier:
            result["paper_event"] = earlier["paper_event"]
        return finish(args, name, result, cals, white_records, edt, machine)
    nspec = arm_spec(prior, "white", "nuts")
    tic = time.perf_counter()
    nuts_records = cat.build_locator(nspec).locate_blocks(events["white"][: args.n_nuts])
    nuts_wall = time.perf_counter() - tic
    nuts = calibration(nuts_records)
    lap = calibration(laplace_part(white_records[: args.n_nuts]))
    ratio = np.median(nuts["_sd"] / lap["_sd"], axis=0)
    result["nuts_check"] = {
        "n_events": nuts["n_ok"],
        "s_per_event": nuts_wall / max(args.n_nuts, 1),
        "coverage95": nuts["coverage95"],
        "coverage68": nuts["coverage68"],
        "median_sd_ratio_nuts_over_laplace": dict(zip(js.PARAMS, ratio.tolist(), strict=True)),
        "rhat_max": float(max(r.get("rhat_max", np.nan) for r in nuts_records)),
        "ess_min": float(min(r.get("ess_min", np.nan) for r in nuts_records)),
        "sbc": sbc_ranks(nuts_records),
    }
    checkpoint(name, {**result, "arms": {a: public(c) for a, c in cals.items()}})
    if args.arms_from and args.edt_from_earlier:
        edt = earlier["edt_side_by_side"]["edt"]
        args.n_edt = earlier["edt_side_by_side"]["n_events"]
    else:
        edt, _ = edt_arm(events["white"][: args.n_edt], emulators, prior)
    return finish(args, name, result, cals, white_records, edt, machine)


def finish(args, name, result, cals, white_records, edt, machine) -> int:
    """The EDT comparison on the white arm's first events, the summary keys, the files."""
    wf = calibration(white_records[: args.n_edt])
    result["edt_side_by_side"] = {
        "n_events": args.n_edt,
        "edt": edt,
        "waveform": {
            k: wf[k] for k in ("median_error_km", "p90_error_km", "median_std_km", "coverage95")
        },
        "error_ratio_edt_over_waveform": edt["median_error_km"] / wf["median_error_km"],
    }
    result["arms"] = {a: public(c) for a, c in cals.items()}
    result["coverage95"] = {a: cals[a]["coverage95"] for a in ARMS}
    if CONTROL in cals:
        result["coverage95_emulated_control"] = cals[CONTROL]["coverage95"]
    result["coverage68"] = {a: cals[a]["coverage68"] for a in ARMS}
    result["coverage95_interior"] = {a: cals[a]["coverage95_interior"] for a in ARMS}
    result["coverage68_interior"] = {a: cals[a]["coverage68_interior"] for a in ARMS}
    result["coverage95_no_error_model"] = cals[PLAIN]["coverage95"]
    result["median_error_km"] = {"waveform": cals["white"]["median_error_km"],
                                 "edt": edt["median_error_km"]}  # fmt: skip
    result["p90_error_km"] = {"waveform": cals["white"]["p90_error_km"],
                              "edt": edt["p90_error_km"]}  # fmt: skip
    machine["load_end"] = benchlib.load_average()
    result["machine"] = machine
    benchlib.write_results(name, result, markdown(result))
    return 0


def markdown(r: dict) -> str:
    weighted = "laplace_only" in r["arms"]["white"]
    method = (
        "the Laplace mixture reweighed by importance sampling, "
        f"{ImportanceOptions().num_draws} draws per event"
        if weighted
        else "Laplace mixture"
    )
    lines = [
        f"Coverage over {r['n_events']} test events ({method}; 95 % target "
        "[0.93, 0.97], binomial s.e. "
        f"{r['arms']['white']['coverage95_se']:.3f}):",
        "",
        "| arm | level | " + " | ".join(js.PARAMS) + " | median error (m) | p90 error (m) |",
        "| --- | --- |" + " ---: |" * (len(js.PARAMS) + 2),
    ]
    for arm in (*ARMS, PLAIN, CONTROL):
        if arm not in r["arms"]:
            continue
        a = r["arms"][arm]
        for level in ("coverage95", "coverage68"):
            vals = " | ".join(f"{a[level][p]:.3f}" for p in js.PARAMS)
            lines.append(
                f"| {arm} | {level[8:]} % | {vals} | {1e3 * a['median_error_km']:.1f} | "
                f"{1e3 * a['p90_error_km']:.1f} |"
            )
        if "coverage95_interior" in a:
            vals = " | ".join(f"{a['coverage95_interior'][p]:.3f}" for p in js.PARAMS)
            lines.append(f"| {arm}, truths inside the box | 95 % | {vals} | | |")
        if "laplace_only" in a:
            b = a["laplace_only"]
            vals = " | ".join(f"{b['coverage95'][p]:.3f}" for p in js.PARAMS)
            lines.append(
                f"| {arm}, Laplace alone | 95 % | {vals} | {1e3 * b['median_error_km']:.1f} | "
                f"{1e3 * b['p90_error_km']:.1f} |"
            )
    white = r["arms"]["white"]
    if white.get("n_on_a_face"):  # none in a small run: nothing to say
        on = white["coverage95_on_a_face"]
        lines += [
            "",
            f"Truths inside the box: the {white['n_ok'] - white['n_on_a_face']} events whose "
            f"truth has no coordinate on a face of the prior box. The other {white['n_on_a_face']}"
            " lie exactly on a face (the benchmark's sources are nodes of the 10 m grid, faces "
            "included). A posterior truncated by the box has no mass beyond the face, so its "
            "equal-tailed interval cannot hold such a truth; white arm, 95 % coverage of these "
            "events: " + ", ".join(f"{p} {on[p]:.2f}" for p in js.PARAMS) + ".",
        ]
    if weighted:
        lines += [
            "",
            "Importance sampling: the proposal is each event's Laplace mixture widened into "
            "Student-t components (3 degrees of freedom, twice the sd); Pareto-smoothed "
            "weights. Fraction of events with Pareto k > 0.7 (unreliable): "
            + ", ".join(
                f"{arm} {r['arms'][arm]['pareto_k_above_0_7']:.3f}"
                for arm in (*ARMS, PLAIN, CONTROL)
                if "pareto_k_above_0_7" in r["arms"].get(arm, {})
            )
            + ".",
        ]
    lines += [
        "",
        "The white and coloured arms marginalise the bundled emulators' error model (fitted on "
        "the validation split); `white_no_error_model` is the white arm without it.",
    ]
    lr = [a for a in (*ARMS, PLAIN, CONTROL) if "lr_coverage95" in r["arms"].get(a, {})]
    if lr:
        lines += [
            "",
            "The likelihood itself, without the posterior's approximation: how often the "
            "likelihood-ratio region 2 (log L_max - log L(truth)) <= chi2_5 holds the truth, "
            "and quantiles of that statistic (chi2_5: "
            + " / ".join(f"{v:.1f}" for v in r["arms"][lr[0]]["lr_chi2_quantiles"].values())
            + " at 50 / 90 / 95 / 99 %):",
            "",
            "| arm | LR region 95 % | LR region 68 % | statistic q50 / q90 / q95 / q99 |",
            "| --- | ---: | ---: | ---: |",
        ]
        for arm in lr:
            a = r["arms"][arm]
            qs = " / ".join(f"{v:.1f}" for v in a["lr_quantiles"].values())
            lines.append(f"| {arm} | {a['lr_coverage95']:.3f} | {a['lr_coverage68']:.3f} | {qs} |")
    n = r["nuts_check"]
    lines += [
        "",
        f"NUTS on {n['n_events']} events (white): coverage95 "
        + ", ".join(f"{p} {n['coverage95'][p]:.2f}" for p in js.PARAMS)
        + "; sd NUTS / Laplace (median) "
        + ", ".join(f"{p} {v:.2f}" for p, v in n["median_sd_ratio_nuts_over_laplace"].items())
        + f"; R-hat max {n['rhat_max']:.3f}, ESS min {n['ess_min']:.0f}; SBC chi-square p: "
        + ", ".join(f"{p} {n['sbc'][f'chi2_p_{p}']:.2f}" for p in js.PARAMS)
        + f"; {n['s_per_event']:.1f} s/event"
        + (
            " (from the earlier full run of this script: `--arms-only` re-ran the Laplace "
            "arms alone)."
            if n.get("from_earlier_run")
            else "."
        ),
    ]
    e = r["edt_side_by_side"]
    lines += [
        "",
        f"EDT side by side on {e['n_events']} events: median error waveform "
        f"{1e3 * e['waveform']['median_error_km']:.1f} m, EDT "
        f"{1e3 * e['edt']['median_error_km']:.1f} m (ratio "
        f"{e['error_ratio_edt_over_waveform']:.1f}); p90 "
        f"{1e3 * e['waveform']['p90_error_km']:.1f} / {1e3 * e['edt']['p90_error_km']:.1f} m; "
        "EDT coverage95 "
        + ", ".join(f"{p} {v:.2f}" for p, v in e["edt"]["coverage95"].items())
        + ".",
    ]
    if "paper_event" in r:
        pe = r["paper_event"]
        lines += [
            "",
            f"Paper event, five parameters, NUTS in a fresh process: {pe['wall_s']:.0f} s "
            f"(compilation included), R-hat max {pe['rhat_max']:.3f}; sd x, y, z "
            + ", ".join(f"{1e3 * v:.1f}" for v in pe["std_km"])
            + f" m, t0 {1e3 * pe['std_t0_s']:.1f} ms (known t0: "
            + ", ".join(f"{1e3 * v:.1f}" for v in pe["std_km_known_t0"])
            + f" m); corr(t0, z) {pe['corr_t0_z']:.2f}.",
        ]
    lines.append(benchlib.machine_line(r["machine"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
