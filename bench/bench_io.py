"""Real-data I/O round trip: miniSEED + StationXML in, QuakeML and NonLinLoc ``.hyp`` out.

Writes ``bench/results/io.json`` and ``io.md``. Events of the bundled benchmark's held-out test
split (away from the box's edges), each with a random origin time (0-0.2 s after its reference
time), a random amplitude (``log_amplitude`` in +-0.5) and seeded white noise at the paper's
level, are

1. written as miniSEED in whole counts (2e6 counts/Pa) with a StationXML inventory (geographic
   coordinates through a :class:`~jaxseis.io.coordinates.GeoTransform`, the sensitivity);
2. read back with :func:`jaxseis.io.read_waveforms` (ObsPy read, checks, sensitivity removal,
   no detrend or band-pass, Lanczos interpolation onto the emulators' grid):
   ``read_preprocess_ms_per_event`` is the mean wall time per event after the first;
3. located by the catalogue's :class:`~jaxseis.catalogue.Locator` (Laplace), once from the
   files and once from the observations in memory (``file_vs_memory_max_abs_m``: what the file
   path changes) and against the truth (``location_error_m``);
4. written as one QuakeML catalogue (:mod:`jaxseis.io.quakeml`) and read back by
   ``obspy.read_events``: ``quakeml_origin_max_abs_km`` (origin vs the posterior mean, through
   the transform), ``ellipsoid_axes_max_rel_err`` (semi-axes vs the scaled square roots of the
   covariance's eigenvalues), ``origin_time_max_abs_s`` (vs reference + ``t0``), and the write
   and read times per event;
5. written as a NonLinLoc ``.hyp`` file and read back (``hyp_roundtrip_max_abs_km``).

``bad_file_cases`` counts the error cases ``tests/test_io_waveforms.py`` checks (its
``pytest.raises`` and ``_error`` calls).

Run: ``python bench/bench_io.py`` (24 events) or ``--quick`` (6 events, a smaller global
stage).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import benchlib
import jax
import numpy as np
from obspy import UTCDateTime, read_events

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis.io import nll_hyp, quakeml, stations, waveforms
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.ellipsoid import chi2_scale

SEED = 20240501
N_EVENTS = 24
GEO = GeoTransform(latitude_deg=60.5, longitude_deg=4.25, x_azimuth_deg=70.0)
SENSITIVITY = 2.0e6  # counts per Pa
CONFIDENCE = 68.0  # percent, of the QuakeML ellipsoid
TESTS = Path(__file__).resolve().parents[1] / "tests" / "test_io_waveforms.py"


def bad_file_cases() -> int:
    """The error cases of the waveform I/O tests (``pytest.raises`` and ``_error`` calls)."""
    text = TESTS.read_text()
    return len(re.findall(r"pytest\.raises\(|\b_error\(obs", text))


def run(n_events: int, quick: bool) -> dict:
    tic = time.perf_counter()
    stage = cat.CATALOGUE_STAGE
    if quick:
        stage = stage._replace(num_draws=2048, chunk_size=1024)
    spec = cat.LocatorSpec.of(js.event_prior(), stage=stage, block_size=2, seed=1)
    locator = cat.build_locator(spec)
    model = locator.model
    bench = js.load_benchmark()
    test = bench.indices("test")
    src = bench.sources[test]
    inside = np.all((src > [0.1, 0.1, 0.3]) & (src < [0.9, 0.9, 2.2]), axis=1)
    chosen = test[np.flatnonzero(inside)[:n_events]]
    rng = np.random.default_rng(SEED)

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        originals, refs = [], []
        for k, i in enumerate(chosen):
            obs = js.observe(
                bench, model.receivers_km, event=int(i), noise_key=jax.random.key(SEED + int(i)),
                t0=rng.uniform(0.0, 0.2), log_amplitude=rng.uniform(-0.5, 0.5), event_id=f"ev{i}",
            )  # fmt: skip
            ref = UTCDateTime(2024, 5, 1, 12, 0, 0) + 60.0 * k
            waveforms.write_waveforms(
                obs, d / obs.event_id / "{network}.{station}.{channel}.mseed", ref,
                sensitivity=SENSITIVITY, dtype=np.int32,
            )  # fmt: skip
            originals.append(obs)
            refs.append(ref)
        inv = stations.station_inventory(
            model.receivers_km, originals[0].stations, GEO, sensitivity=SENSITIVITY
        )
        stations.write_stationxml(d / "stations.xml", inv)
        options = waveforms.WaveformOptions(
            noise_sigma=float(originals[0].noise.sigma[0]), detrend=None
        )

        read_s, observations = [], []
        for obs, ref in zip(originals, refs, strict=True):
            t = time.perf_counter()
            observations.append(
                waveforms.read_waveforms(
                    str(d / obs.event_id / "*.mseed"),
                    d / "stations.xml",
                    model,
                    ref,
                    transform=GEO,
                    options=options,
                    event_id=obs.event_id,
                    truth=obs.truth,
                )
            )
            read_s.append(time.perf_counter() - t)
        trace_err = max(
            float(np.abs(a.traces - b.traces).max() / np.abs(b.traces).max())
            for a, b in zip(observations, originals, strict=True)
        )

        t = time.perf_counter()
        records = locator.locate_blocks(observations)
        locate_s = time.perf_counter() - t
        direct = locator.locate_blocks(originals)
        for r in records:
            if r["status"] != "ok":
                raise RuntimeError(f"event {r['event_id']} failed: {r.get('error')}")
        mean = np.array([r["mean"] for r in records])
        cov = np.array([r["cov"] for r in records])
        truth = np.array([o.truth for o in originals])
        diff = np.abs(mean - np.array([r["mean"] for r in direct]))[:, :3]
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)[:, :3])
        modes = [r.get("global_stage_modes_used") for r in records]
        mode_flips = sum(
            m != r.get("global_stage_modes_used") for m, r in zip(modes, direct, strict=True)
        )
        err_m = 1e3 * np.linalg.norm(mean[:, :3] - truth[:, :3], axis=1)
        z = (mean[:, :3] - truth[:, :3]) / np.sqrt(np.diagonal(cov, axis1=1, axis2=2)[:, :3])

        t = time.perf_counter()
        events = [
            quakeml.event_from_summary(
                r,
                ref,
                stations=o.stations,
                transform=GEO,
                receivers_km=o.receivers_km,
                emulators="bundled NN-direct",
                event_id=o.event_id,
                confidence_level=CONFIDENCE,
            )
            for r, o, ref in zip(records, observations, refs, strict=True)
        ]
        path = quakeml.write_quakeml(d / "events.xml", quakeml.make_catalog(events))
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        catalog = read_events(str(path))
        read_qml_s = time.perf_counter() - t
        scale = chi2_scale(CONFIDENCE, 3)
        origin_km, axes_rel, time_s = [], [], []
        for ev, m, c, ref in zip(catalog, mean, cov, refs, strict=True):
            loc = quakeml.model_location(ev, GEO, ref)
            origin_km.append(np.abs(loc.position_km - m[:3]).max())
            time_s.append(abs(loc.t0_s - m[3]))
            e = loc.ellipsoid
            got = np.sort([e.semi_minor, e.semi_intermediate, e.semi_major])
            want = np.sort(1e3 * scale * np.sqrt(np.linalg.eigvalsh(c[:3, :3])))
            axes_rel.append(np.abs(got / want - 1).max())

        blocks = [
            nll_hyp.hyp_block(
                r,
                ref,
                transform=GEO,
                stations=o.stations,
                receivers_km=o.receivers_km,
                event_id=o.event_id,
            )
            for r, o, ref in zip(records, observations, refs, strict=True)
        ]
        hyp = nll_hyp.write_hyp_blocks(d / "events.hyp", blocks)
        hyp_km = max(
            float(np.abs(h.expectation_km - m[:3]).max())
            for h, m in zip(nll_hyp.read_hyp(hyp), mean, strict=True)
        )

    return {
        "n_events": len(chosen),
        "quick": quick,
        "events": [str(o.event_id) for o in originals],
        "read_preprocess_ms_per_event": 1e3 * float(np.mean(read_s[1:] or read_s)),
        "read_preprocess_first_ms": 1e3 * read_s[0],
        "trace_roundtrip_max_rel_err": trace_err,
        "locate_s_per_event": locate_s / len(chosen),
        "file_vs_memory_max_abs_m": 1e3 * float(diff.max()),
        "file_vs_memory_max_sd": float((diff / sd).max()),
        "file_vs_memory_mode_count_changes": int(mode_flips),
        "location_error_m": {
            "median": float(np.median(err_m)),
            "max": float(err_m.max()),
        },
        "location_z_abs_max": float(np.abs(z).max()),
        "truth_within_3sd_fraction": float(np.mean(np.all(np.abs(z) < 3, axis=1))),
        "quakeml_write_ms_per_event": 1e3 * write_s / len(chosen),
        "quakeml_read_ms_per_event": 1e3 * read_qml_s / len(chosen),
        "quakeml_origin_max_abs_km": float(max(origin_km)),
        "ellipsoid_axes_max_rel_err": float(max(axes_rel)),
        "origin_time_max_abs_s": float(max(time_s)),
        "hyp_roundtrip_max_abs_km": hyp_km,
        "bad_file_cases": bad_file_cases(),
        "stage": stage._asdict(),
        "machine": benchlib.machine_info(),
        "wall_s": time.perf_counter() - tic,
    }


def markdown(r: dict) -> str:
    e = r["location_error_m"]
    rows = [
        ("events (held-out test split)", f"{r['n_events']}"),
        ("read + prepare (ObsPy read, checks, sensitivity, resample, cut)",
         f"{r['read_preprocess_ms_per_event']:.1f} ms / event "
         f"(first {r['read_preprocess_first_ms']:.0f} ms)"),
        ("traces after the round trip (max abs error / peak)",
         f"{r['trace_roundtrip_max_rel_err']:.1e}"),
        ("location, Laplace (Locator)", f"{r['locate_s_per_event']:.2f} s / event"),
        ("location from files vs from memory",
         f"{r['file_vs_memory_max_abs_m']:.2g} m ({r['file_vs_memory_max_sd']:.2g} sd; "
         f"{r['file_vs_memory_mode_count_changes']} event(s) with another number of modes)"),
        ("location error vs truth", f"median {e['median']:.1f} m, max {e['max']:.1f} m"),
        ("truth within 3 sd (all of x, y, z)", f"{r['truth_within_3sd_fraction']:.2f}"),
        ("QuakeML write / read", f"{r['quakeml_write_ms_per_event']:.1f} / "
         f"{r['quakeml_read_ms_per_event']:.1f} ms / event"),
        ("QuakeML origin vs posterior mean", f"{r['quakeml_origin_max_abs_km']:.1e} km"),
        ("ellipsoid axes vs covariance eigenvalues", f"{r['ellipsoid_axes_max_rel_err']:.1e} rel"),
        ("origin time vs reference + t0", f"{r['origin_time_max_abs_s']:.1e} s"),
        (".hyp round trip", f"{r['hyp_roundtrip_max_abs_km']:.1e} km"),
        ("bad-file cases in the tests", f"{r['bad_file_cases']}"),
    ]  # fmt: skip
    lines = ["| quantity | value |", "| --- | --- |"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    lines += [
        "",
        "miniSEED in whole counts (2e6 counts/Pa) + StationXML with a geographic transform, "
        "read by `jaxseis.io.read_waveforms`; locations by the catalogue's Laplace `Locator` "
        "(bundled NN-direct emulators, 4 receivers); QuakeML read by `obspy.read_events`, "
        "`.hyp` by `jaxseis.io.nll_hyp.read_hyp`. The location from the files differs from the "
        "one from memory by the traces' rounding to whole counts (relative 1e-5), which moves "
        "a maximum by micrometres, unless a second mode lies near the global stage's 1 % mass "
        "threshold: then one path keeps it in the Laplace mixture and the other does not."
        + (" Quick run: a 2048-candidate global stage." if r["quick"] else ""),
        "",
        f"{benchlib.machine_line(r['machine'])} Wall time {r['wall_s']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 events, a small global stage")
    parser.add_argument("--events", type=int, default=None, help=f"events (default {N_EVENTS})")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    n = args.events or (6 if args.quick else N_EVENTS)
    js.runtime.enable_compilation_cache()
    result = run(n, args.quick)
    benchlib.write_results(
        benchlib.result_name("io", args.quick), result, markdown(result), args.out
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
