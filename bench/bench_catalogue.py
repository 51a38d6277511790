"""Catalogues: how many events per second, compiled how often, and at what accuracy.

Events: held-out test events of the bundled benchmark (their reciprocal traces at the four
location receivers), each delayed by a random origin time ``t0 ~ U(-0.2, 0.2)`` s, scaled by
a random ``log_amplitude ~ U(-1, 1)`` and with seeded white noise at the paper's level; the
bundled NN-direct emulators; the five-parameter prior :func:`jaxseis.event_prior`.

Side by side in one process:

* ``baseline``: the per-event path, :func:`jaxseis.locate` (Laplace, its own global stage),
  on a few events: each call builds the likelihood of its event and runs its programs;
* ``laplace``: the :class:`jaxseis.catalogue.Locator` with Laplace on every event;
* ``nuts``: the Locator with NUTS (4 chains x 250 draws after a 200-step adaptation in the
  Laplace-whitened coordinates) on the first ``--n-nuts`` events, the origin time
  marginalised (the default) and each draw's drawn from its conditional;
* ``nuts_joint_t0``: the same with the origin time sampled jointly with the other four
  parameters (``marginal_t0=False``, the sampler before the marginal), on the same events;
* ``dask``: :func:`jaxseis.catalogue.locate_catalogue` on a ``LocalCluster`` of ``--workers``
  worker processes (Laplace, the first ``--n-dask`` events), whose records are compared with
  the in-process ones bit for bit (``identical_across_partitioning``).

Accuracy per method: the median and 90th percentile of the epicentral-plus-depth error of
the posterior mean (km), and ``coverage95``: the fraction of (event, coordinate) pairs of
x, y, z whose central 95 % interval covers the truth (0.95 if calibrated), with t0 and the
amplitude reported separately. Compilations are counted (:func:`jaxseis.catalogue.trace_counts`).

Writes ``bench/results/catalogue.json`` and ``catalogue.md`` (``--quick``: ``*_quick``).
Run: ``python bench/bench_catalogue.py`` (``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import benchlib
import jax
import numpy as np

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis import inference
from jaxseis.likelihood import waveform_log_likelihood

RECEIVERS = (1, 2, 3, 4)
SEED = 0


def make_events(n: int, emulators) -> list:
    """``n`` test events with random origin time, amplitude and seeded noise."""
    bench = js.load_benchmark()
    index = bench.indices("test")
    if n > index.size:
        raise SystemExit(f"--n-laplace {n}: the benchmark has {index.size} test events")
    rng = np.random.default_rng(SEED)
    events = []
    for i in index[:n]:
        t0, la = rng.uniform(-0.2, 0.2), rng.uniform(-1.0, 1.0)
        events.append(
            js.observe(
                bench, emulators, event=int(i), noise_key=jax.random.key(int(i)),
                t0=float(t0), log_amplitude=float(la), event_id=f"test{i}",
            )
        )  # fmt: skip
    return events


def accuracy(records: list[dict]) -> dict:
    """Errors of the posterior means and interval coverage against the truths."""
    ok = [r for r in records if r["status"] == "ok"]
    truth = np.array([r["truth"] for r in ok])
    mean = np.array([r["mean"] for r in ok])
    lo, hi = np.array([r["q2_5"] for r in ok]), np.array([r["q97_5"] for r in ok])
    err = np.linalg.norm(mean[:, :3] - truth[:, :3], axis=1)
    inside = (lo <= truth) & (truth <= hi)
    return {
        "n_ok": len(ok),
        "n_failed": len(records) - len(ok),
        "median_error_km": float(np.median(err)),
        "p90_error_km": float(np.percentile(err, 90)),
        "coverage95": float(inside[:, :3].mean()),
        "coverage95_by_param": {p: float(inside[:, k].mean()) for k, p in enumerate(js.PARAMS)},
        "t0_abs_error_ms_median": float(1e3 * np.median(np.abs(mean[:, 3] - truth[:, 3]))),
        "log_amplitude_abs_error_median": float(np.median(np.abs(mean[:, 4] - truth[:, 4]))),
    }


def run_locator(spec, events, block: int) -> dict:
    """Locate ``events`` with the spec's locator in this process, in calls of ``block`` events:
    rate, compilations, time to the first result, records."""
    before = cat.trace_counts()
    tic = time.perf_counter()
    locator = cat.build_locator(spec)
    records, first = [], None
    for i in range(0, len(events), block):
        records += locator.locate_blocks(events[i : i + block])
        first = first or time.perf_counter() - tic
    wall = time.perf_counter() - tic
    after = cat.trace_counts()
    compiled = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {
        "records": records,
        "n_events": len(events),
        "wall_s": wall,
        "events_per_s": len(events) / wall,
        "s_per_event": wall / len(events),
        "time_to_first_result_s": first,
        # after the first call (bank, compilation and the first block): the rate of a long run
        "events_per_s_after_first_call": (
            (len(events) - block) / (wall - first) if len(events) > block else None
        ),
        "compilations": int(sum(compiled.values())),
        "compilations_by_program": compiled,
        "events_per_call": block,
        "stage": spec.stage._asdict(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a small run (16 events, 4 NUTS)")
    p.add_argument("--n-laplace", type=int, default=1000)
    p.add_argument("--n-nuts", type=int, default=100)
    p.add_argument("--n-dask", type=int, default=200)
    p.add_argument("--n-baseline", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--nuts-from-earlier",
        action="store_true",
        help="skip the NUTS part (most of the run's time) and keep the NUTS results of the "
        "existing catalogue.json, marked as such",
    )
    p.add_argument(
        "--nuts-sweep",
        type=int,
        nargs="+",
        metavar="DOUBLINGS",
        help="instead of the whole benchmark: NUTS on the first --n-nuts events once per "
        "largest trajectory doubling count given, side by side; writes catalogue_nuts_sweep.*",
    )
    args = p.parse_args()
    if args.nuts_sweep:
        return nuts_sweep(args.nuts_sweep, args.n_nuts)
    if args.quick:
        args.n_laplace, args.n_nuts, args.n_dask, args.n_baseline = 16, 4, 16, 2
    js.use_cpu_cores()
    machine = benchlib.machine_info()
    emulators = js.load_bundled(RECEIVERS)
    events = make_events(args.n_laplace, emulators)
    prior = js.event_prior()
    result: dict = {"n_events": len(events), "receivers": list(RECEIVERS), "seed": SEED}

    # --- the per-event path (the baseline)
    walls, base_records = [], []
    for obs in events[: args.n_baseline]:
        tic = time.perf_counter()
        idata = js.locate(
            waveform_log_likelihood(emulators, obs), prior, key=jax.random.key(0),
            method="laplace",
        )  # fmt: skip
        walls.append(time.perf_counter() - tic)
        summ = inference.summary_dict(idata)
        base_records.append({"status": "ok", "truth": obs.truth.tolist(), **summ})
    result["baseline_locate_s_per_event"] = float(np.mean(walls[1:] if len(walls) > 1 else walls))
    result["baseline"] = {
        "n_events": len(walls),
        "wall_s": walls,
        "first_call_s": walls[0],
        **accuracy(base_records),
    }
    print(f"baseline: {walls}", flush=True)

    # --- Laplace on every event
    spec = cat.LocatorSpec.of(prior, method="laplace", seed=SEED)
    block = events_per_call()
    lap = run_locator(spec, events, block)
    result["laplace"] = {k: v for k, v in lap.items() if k != "records"}
    result["laplace"].update(accuracy(lap["records"]))
    print(f"laplace: {result['laplace']['events_per_s']:.2f} events/s", flush=True)

    # --- NUTS on the first n_nuts
    nspec = cat.LocatorSpec.of(prior, method="nuts", seed=SEED)
    if args.nuts_from_earlier:
        import json

        earlier = json.loads((benchlib.RESULTS / "catalogue.json").read_text())
        result["nuts"] = {**earlier["nuts"], "from_earlier_run": True}
        if "nuts_joint_t0" in earlier:
            result["nuts_joint_t0"] = {**earlier["nuts_joint_t0"], "from_earlier_run": True}
    else:
        result["nuts"] = nuts_part(nspec, events[: args.n_nuts], block)
        joint = nspec._replace(nuts=nspec.nuts._replace(marginal_t0=False))
        result["nuts_joint_t0"] = nuts_part(joint, events[: args.n_nuts], block)
    print(f"nuts: {result['nuts']['s_per_event']:.2f} s/event", flush=True)

    # --- Dask workers against the in-process records
    sub = events[: args.n_dask]
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        run = cat.locate_catalogue(
            spec, sub, output=Path(tmp) / "cat.jsonl", workers=args.workers, progress=False
        )
        wall = time.perf_counter() - tic
    keys = ("status", "mean", "cov", "q2_5", "q97_5")

    def same(a, b):
        return all(a.get(k) == b.get(k) for k in keys)

    dask_diff = max(
        float(np.max(np.abs(np.subtract(a["mean"], b["mean"]))))
        for a, b in zip(run.records, lap["records"][: len(sub)], strict=True)
        if a["status"] == b["status"] == "ok"
    )
    # the same events again in another chunking (calls of 5 events: other blocks, padding)
    locator = cat.build_locator(spec)
    again = [r for i in range(0, len(sub), 5) for r in locator.locate_blocks(sub[i : i + 5])]
    identical = all(same(a, b) for a, b in zip(again, lap["records"], strict=False))
    result["dask"] = {
        "workers": args.workers,
        "n_events": len(sub),
        "wall_s_including_cluster_start": wall,
        "events_per_s": len(sub) / wall,
        "time_to_first_result_s": run.first_result_s,
        "devices_per_worker": max(1, js.runtime.usable_cores() // args.workers),
        "identical_to_in_process": all(
            same(a, b) for a, b in zip(run.records, lap["records"], strict=False)
        ),
        "max_abs_diff_of_means_vs_in_process": dask_diff,
    }
    # partitioning: other calls and blocks in process, and workers with their own device count
    result["identical_across_partitioning"] = bool(
        identical and result["dask"]["identical_to_in_process"]
    )
    result["identical_in_process_other_chunking"] = bool(identical)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    machine["load_end"] = benchlib.load_average()
    machine["devices"] = jax.local_device_count()
    result["machine"] = machine
    benchlib.write_results(benchlib.result_name("catalogue", args.quick), result, markdown(result))
    return 0


def events_per_call() -> int:
    """Events per call of the locator: four blocks of 8 events per device."""
    return 8 * jax.local_device_count() * 4


def nuts_sweep(doublings: list[int], n: int) -> int:
    """NUTS with several largest tree depths on the same events, one after the other."""
    js.use_cpu_cores()
    machine = benchlib.machine_info()
    events = make_events(n, js.load_bundled(RECEIVERS))
    block = events_per_call()
    rows = {}
    for depth in doublings:
        options = cat.CATALOGUE_NUTS._replace(max_num_doublings=depth)
        spec = cat.LocatorSpec.of(js.event_prior(), method="nuts", seed=SEED, nuts=options)
        rows[str(depth)] = nuts_part(spec, events, block)
        print(f"max_num_doublings {depth}: {rows[str(depth)]['s_per_event']:.2f} s/event")
    machine["load_end"] = benchlib.load_average()
    machine["devices"] = jax.local_device_count()
    result = {"n_events": n, "by_max_num_doublings": rows, "machine": machine}
    benchlib.write_results("catalogue_nuts_sweep", result, sweep_markdown(result))
    return 0


def sweep_markdown(r: dict) -> str:
    head = (
        "| largest tree depth | s/event | leapfrog steps per draw (mean) | ESS min | "
        "events ESS >= 400 | events R-hat <= 1.01 | median error (m) | coverage95 x,y,z |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    rows = "".join(
        f"| {d} | {v['s_per_event']:.2f} | {v['leapfrog_steps_mean']:.1f} | {v['ess_min']:.0f} | "
        f"{v['fraction_events_ess_ge_400']:.2f} | {v['fraction_events_rhat_le_1_01']:.2f} | "
        f"{1e3 * v['median_error_km']:.0f} | {v['coverage95']:.2f} |\n"
        for d, v in r["by_max_num_doublings"].items()
    )
    return (
        head + rows + f"\n{r['n_events']} events, the same for every row, one process, one row "
        "after the other (each compiles its own programs: s/event includes that).\n"
        + benchlib.machine_line(r["machine"])
        + "\n"
    )


def nuts_part(nspec, events, block) -> dict:
    """NUTS with the catalogue's locator: rate, accuracy, ESS and R-hat per event."""
    nuts = run_locator(nspec, events, block)
    ok = [r for r in nuts["records"] if r["status"] == "ok"]
    ess = np.array([r["ess_min"] for r in nuts["records"] if r["status"] == "ok"])
    rhat = np.array([r["rhat_max"] for r in nuts["records"] if r["status"] == "ok"])
    out = {k: v for k, v in nuts.items() if k != "records"}
    out.update(accuracy(nuts["records"]))
    out.update(
        ess_min=float(ess.min()),
        ess_median_of_event_minima=float(np.median(ess)),
        fraction_events_ess_ge_400=float((ess >= 400).mean()),
        rhat_max=float(rhat.max()),
        fraction_events_rhat_le_1_01=float((rhat <= 1.01).mean()),
        draws_per_event=int(nspec.nuts.num_chains * nspec.nuts.num_draws),
        max_num_doublings=int(nspec.nuts.max_num_doublings),
        leapfrog_steps_mean=float(
            np.mean([r["leapfrog_steps_mean"] for r in nuts["records"] if r["status"] == "ok"])
        ),
        divergences_total=int(sum(r["divergences"] for r in ok)),
        fraction_t0_marginalised=float(np.mean([bool(r.get("t0_marginalised")) for r in ok])),
        fraction_events_several_modes=float(
            np.mean([len(r["chains_per_mode"]) > 1 for r in nuts["records"] if r["status"] == "ok"])
        ),
    )
    return out


def _rate(events_per_s) -> str:
    return "no second call" if events_per_s is None else f"{events_per_s:.2f} events/s"


def markdown(r: dict) -> str:
    rows = [
        "| path | events | events/s | s/event | compilations | first result (s) | "
        "median error (m) | p90 error (m) | coverage95 x,y,z | ESS min |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    b = r["baseline"]
    rows.append(
        f"| per-event `locate` (Laplace) | {b['n_events']} | "
        f"{1 / r['baseline_locate_s_per_event']:.3f} | {r['baseline_locate_s_per_event']:.1f} "
        f"| every call | {b['first_call_s']:.1f} | {1e3 * b['median_error_km']:.0f} | "
        f"{1e3 * b['p90_error_km']:.0f} | {b['coverage95']:.2f} | |"
    )
    labels = {"laplace": "laplace", "nuts": "nuts", "nuts_joint_t0": "nuts, t0 sampled jointly"}
    for name in [k for k in labels if k in r]:
        m = r[name]
        ess = f"{m['ess_min']:.0f}" if "ess_min" in m else ""
        rows.append(
            f"| Locator, {labels[name]} | {m['n_events']} | {m['events_per_s']:.2f} | "
            f"{m['s_per_event']:.2f} | {m['compilations']} | {m['time_to_first_result_s']:.1f} "
            f"| {1e3 * m['median_error_km']:.0f} | {1e3 * m['p90_error_km']:.0f} | "
            f"{m['coverage95']:.2f} | {ess} |"
        )
    d = r["dask"]
    rows.append(
        f"| Dask, {d['workers']} workers (Laplace) | {d['n_events']} | {d['events_per_s']:.2f} "
        f"| {1 / d['events_per_s']:.2f} | one per worker | {d['time_to_first_result_s']:.1f} | "
        "| | | |"
    )
    n = r["nuts"]
    notes = [
        "",
        f"Identical records across partitioning: {r['identical_across_partitioning']} (the "
        f"Dask events again in calls of 5 events in process: "
        f"{r.get('identical_in_process_other_chunking', '?')}; Dask workers with "
        f"{d['devices_per_worker']} device(s) each against {r['machine'].get('devices', '?')} "
        f"in process: {d['identical_to_in_process']}, largest difference of the means "
        f"{d['max_abs_diff_of_means_vs_in_process']:.1e} km or s). Peak RSS of the driver: "
        f"{r['peak_rss_mb']:.0f} MB. Laplace after its first call (bank, compilation, first "
        f"{r['laplace'].get('events_per_call', '?')} events): "
        f"{_rate(r['laplace'].get('events_per_s_after_first_call'))}. "
        + (
            "NUTS from the previous run of this script (--nuts-from-earlier). "
            if n.get("from_earlier_run")
            else ""
        )
        + f"NUTS: {n['fraction_events_ess_ge_400']:.2f} of events "
        f"have ESS >= 400 in every parameter, {n['fraction_events_rhat_le_1_01']:.2f} have "
        f"R-hat <= 1.01"
        + (
            f", {n['divergences_total']} divergent transitions in all"
            if "divergences_total" in n
            else ""
        )
        + (
            f" (t0 sampled jointly: {r['nuts_joint_t0']['fraction_events_ess_ge_400']:.2f}, "
            f"{r['nuts_joint_t0']['fraction_events_rhat_le_1_01']:.2f} and "
            f"{r['nuts_joint_t0'].get('divergences_total', '?')})."
            if "nuts_joint_t0" in r
            else "."
        ),
        benchlib.machine_line(r["machine"]),
    ]
    return "\n".join(rows + notes) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
