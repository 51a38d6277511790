"""Catalogues: compiled once, identical whatever the partitioning, resumable, robust to bad
events and lost workers, and consistent with the single-event path."""

import dataclasses
import io
import os
import signal
import threading

import jax
import numpy as np
import pytest

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis.noise import WhiteNoise

STAGE = cat.CATALOGUE_STAGE._replace(num_draws=1024, chunk_size=512, num_polish=2, newton_steps=8)
SPEC = cat.LocatorSpec.of(js.event_prior(), stage=STAGE, block_size=2, seed=3)


@pytest.fixture(scope="module")
def events(emulators):
    bench = js.load_benchmark()
    rng = np.random.default_rng(5)
    out = []
    for i in bench.indices("test")[:7]:
        t0, la = rng.uniform(-0.2, 0.2), rng.uniform(-1.0, 1.0)
        key = jax.random.key(int(i))
        out.append(js.observe(bench, emulators, event=int(i), noise_key=key, t0=t0,
                              log_amplitude=la, event_id=f"ev{i}"))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def locator():
    return cat.build_locator(SPEC)


@pytest.fixture(scope="module")
def reference(locator, events):
    """Every event located in one call, in this process (the programs it traced in
    ``_FIRST_CALL``)."""
    before = cat.trace_counts()
    records = locator.locate_blocks(events)
    after = cat.trace_counts()
    # the programs traced by this call (other modules may have traced others before)
    _FIRST_CALL.update({k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)})
    return records


_FIRST_CALL: dict = {}


def _same(a: dict, b: dict) -> bool:
    keys = ("status", "mean", "cov", "q2_5", "q97_5")
    return all(a.get(k) == b.get(k) for k in keys)


def test_one_compilation_per_configuration(locator, events, reference):
    before = cat.trace_counts()
    for i in range(0, len(events), 3):  # several calls, partial groups padded
        locator.locate_blocks(events[i : i + 3])
    again = cat.build_locator(SPEC)  # the same configuration: the cached locator
    assert again is locator
    locator.locate_blocks(events[:2])
    assert cat.trace_counts() == before  # no new trace, no new compilation
    assert _FIRST_CALL == {"stage": 1}  # 7 events, 4 blocks on 2 devices: traced once


def test_the_locator_shows_no_per_event_progress(locator, events, monkeypatch):
    """On a terminal, jaxseis.locate shows bars; the Locator's events show none (the
    catalogue has its own bar)."""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    locator.locate_blocks(events[:2])
    assert terminal.getvalue() == ""


def test_results_do_not_depend_on_the_partitioning(locator, events, reference):
    one_by_one = [locator.locate(e) for e in events]
    shuffled = locator.locate_blocks(events[::-1])[::-1]
    for r, a, b in zip(reference, one_by_one, shuffled, strict=True):
        assert r["status"] == "ok" and _same(r, a) and _same(r, b)


def test_results_do_not_depend_on_the_device_count(emulators, events, reference):
    """The reference ran two blocks at a time on this process's two devices; one device
    running the blocks one after another gives the same records, bit for bit."""
    assert jax.local_device_count() == 2
    before = cat.trace_counts()
    one = cat.Locator(emulators, js.event_prior(), stage=STAGE, block_size=2, seed=3, devices=1)
    assert one.num_devices == 1
    for r, a in zip(reference, one.locate_blocks(events), strict=True):
        assert _same(r, a)
    assert cat.trace_counts() == before  # the same configuration: traced once per process
    with pytest.raises(ValueError, match="devices must be an integer"):
        cat.Locator(emulators, js.event_prior(), devices=0)


def test_catalogue_path_equals_the_single_event_path(emulators, events):
    """locate(method="laplace") with the locator's bank, stage and event key gives the same
    maximum and covariance.

    The two paths are different programs (the catalogue's vmaps a block of events on one
    device, ``locate`` splits one event's candidates over the devices), and the networks run
    in float32: their maxima agree to that round-off, a few thousandths of a posterior sd once
    Newton has converged (the catalogue's 15 steps; the 8 steps of this module's other tests
    leave about 0.02 sd of path dependence), and the float32 Hessians there give widths equal
    to about 1 %."""
    stage = STAGE._replace(newton_steps=cat.CATALOGUE_STAGE.newton_steps)
    locator = cat.build_locator(SPEC._replace(stage=stage))
    obs = events[0]
    ref = locator.locate(obs)
    lik = js.waveform_log_likelihood(locator.model, obs)
    idata = js.locate(
        lik,
        js.event_prior(),
        key=jax.random.key(0),
        options=js.LaplaceOptions(global_stage=stage),
        bank=locator.bank(),
    )  # fmt: skip (with a bank the candidates, and so the result, do not depend on the key)
    s = js.summary_dict(idata)
    sd = np.asarray(ref["std"])
    np.testing.assert_array_less(np.abs(np.subtract(s["mean"], ref["mean"])), 1e-2 * sd)
    np.testing.assert_allclose(s["std"], sd, rtol=2e-2)


def test_log_likelihood_is_the_one_the_locator_maximises(locator, events, reference):
    """``Locator.log_likelihood`` equals the event's waveform likelihood, is largest at the
    located maximum (the record's ``loglik``) and refuses bad parameters."""
    obs, rec = events[2], reference[2]
    lik = js.waveform_log_likelihood(locator.model, obs)
    theta = np.array([obs.truth, rec["mean"]])
    ours = locator.log_likelihood(obs, theta)
    assert ours.shape == (2,)
    np.testing.assert_allclose(ours, [float(lik(t)) for t in theta], rtol=1e-6)
    assert locator.log_likelihood(obs, theta[0]).shape == ()
    # one mode: the mean is the maximum, whose value the record holds; the truth is lower
    assert rec["global_stage_modes_used"] == 1
    np.testing.assert_allclose(rec["loglik"], ours[1], rtol=1e-9)
    assert ours[0] < ours[1]
    with pytest.raises(ValueError, match=r"theta must be \[5\] or \[n, 5\]"):
        locator.log_likelihood(obs, np.array([0.5, 0.5, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        locator.log_likelihood(obs, np.array([0.5, np.nan, 1.0, 0.0, 0.0]))


def test_emulator_error_model_in_the_catalogue(events):
    """With the bundled emulators' error model the locator still compiles its stage once,
    agrees with the single-event path and gives wider posteriors than without it: compared
    where both are a single Laplace approximation at a maximum, the widths grow by more than
    a fifth in the median over the events (at a shallow event on the depth/origin-time ridge
    the maximum moves with the error model, and its width there can be smaller)."""
    spec = SPEC._replace(emulator_error="bundled", domain="frequency")
    before = cat.trace_counts().get("stage", 0)
    locator = cat.build_locator(spec)
    records = locator.locate_blocks(events[:3])
    records += locator.locate_blocks(events[3:5])
    assert cat.trace_counts().get("stage", 0) == before + 1
    assert all(r["status"] == "ok" for r in records)
    plain = cat.build_locator(SPEC).locate_blocks(events[:5])
    ratios = [
        np.asarray(r["std"])[:3] / np.asarray(p["std"])[:3]
        for r, p in zip(records, plain, strict=True)
        if r["global_stage_modes_used"] == p["global_stage_modes_used"] == 1
        and r["laplace_positive_definite"]
        and p["laplace_positive_definite"]
    ]
    assert len(ratios) >= 3
    assert np.all(np.median(ratios, axis=0) > 1.2), ratios
    lik = js.waveform_log_likelihood(
        locator.model, events[0], emulator_error=locator.emulator_error
    )
    options = js.LaplaceOptions(global_stage=STAGE)
    idata = js.locate(lik, js.event_prior(), key=jax.random.key(0), options=options,
                      bank=locator.bank())  # fmt: skip
    s = js.summary_dict(idata)
    sd = np.asarray(records[0]["std"])
    np.testing.assert_array_less(np.abs(np.subtract(s["mean"], records[0]["mean"])), 1e-3 * sd)
    with pytest.raises(ValueError, match="domain='frequency'"):
        cat.Locator(locator.model, js.event_prior(), emulator_error=locator.emulator_error)


def test_bad_events_are_reported_without_stopping(locator, events, emulators):
    nan = dataclasses.replace(events[1], traces=np.full_like(events[1].traces, np.nan))
    short = dataclasses.replace(events[2], traces=events[2].traces[:, :300],
                                event_id="short")  # fmt: skip
    elsewhere = events[3].replace(receivers_km=events[3].receivers_km + np.array([0.05, 0, 0]))
    records = locator.locate_blocks([events[0], nan, short, elsewhere, events[4]])
    status = [r["status"] for r in records]
    assert status == ["ok", "error", "error", "error", "ok"]
    assert "NaN" in records[1]["error"] or "not finite" in records[1]["error"]
    assert "300 samples" in records[2]["error"]
    assert "no observed station matches" in records[3]["error"]


def test_resume_after_a_partial_run(events, reference, tmp_path):
    out = tmp_path / "cat.jsonl"
    first = cat.locate_catalogue(SPEC, events[:3], output=out, progress=False)
    assert first.located == 3
    with open(out, "ab") as f:  # a crash in the middle of a write
        f.write(b'{"event_id": "torn", "stat')
    run = cat.locate_catalogue(SPEC, events, output=out, progress=False)
    assert run.located == len(events) - 3
    for r, ref in zip(run.records, reference, strict=True):
        assert _same(r, ref)
    assert len(cat.Journal(out).records()) == len(events)  # the torn line is gone
    table = (tmp_path / "cat.csv").read_text().splitlines()
    assert len(table) == len(events) + 1 and table[0].startswith("event_id,status,x_mean")


def test_dask_workers_and_a_killed_worker(events, reference, tmp_path):
    """Two local Dask workers with one device each give the catalogue of this two-device
    process, bit for bit, even when one worker is killed in the middle of the run (Dask
    reruns its tasks elsewhere)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        killed = threading.Timer(20.0, lambda: os.kill(pids[0], signal.SIGKILL))
        killed.start()
        try:
            run = cat.locate_catalogue(
                SPEC._replace(devices=1), events,
                output=tmp_path / "dask.jsonl",
                client=client, task_blocks=1, progress=False,
            )  # fmt: skip
        finally:
            killed.cancel()
    assert run.located == len(events)
    for r, ref in zip(run.records, reference, strict=True):
        assert _same(r, ref), (r["event_id"], r.get("error"))


def test_noise_models_must_match_the_domain(locator, events):
    psd = np.ones((4, events[0].n_samples // 2 + 1))
    coloured = events[0].replace(noise=js.ColouredNoise(psd, events[0].dt))
    rec = locator.locate(coloured)
    assert rec["status"] == "error" and "domain='frequency'" in rec["error"]
    white = events[0].replace(noise=WhiteNoise(events[0].noise.sigma))
    assert locator.locate(white)["status"] == "ok"
