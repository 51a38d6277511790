"""The ``jaxseis`` command line: every command end to end on tiny settings, the files it writes
read back, the one-line errors of bad input (exit code 2), bugs reported as bugs (exit code 1),
interrupts (exit code 130) and the resumable catalogue."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.cli import build_parser, is_user_error, main

COMMANDS = ("simulate", "info", "export-nll", "train", "evaluate", "locate", "locate-catalogue",
            "bench", "demo")  # fmt: skip
TINY_TRAIN = [
    "--n-train", "100", "--max-epochs", "5", "--patience", "5", "--no-progress",
    "--gp-subset", "60", "--gp-iter", "20", "--gp-restarts", "1",
]  # fmt: skip
TINY_CATALOGUE = ["--bank", "1024", "--block-size", "2", "--no-progress"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A directory with one tiny nn_direct emulator of benchmark receiver 1."""
    out = tmp_path_factory.mktemp("models")
    assert main(["train", "nn_direct", "--receivers", "1", "-o", str(out), *TINY_TRAIN]) == 0
    return out


def _tiny_dataset(path: Path, receivers, n_samples: int = 501) -> Path:
    """A 6-event dataset (2 per split) at the given receivers."""
    receivers = np.asarray(receivers, dtype=np.float64)
    rng = np.random.default_rng(0)
    data = js.Dataset(
        sources=rng.uniform([0, 0, 0], [1, 1, 2.4], size=(6, 3)),
        receivers=receivers,
        traces=rng.standard_normal((len(receivers), 6, n_samples)).astype(np.float32),
        dt=0.004,
        split=np.array([0, 0, 1, 1, 2, 2], dtype=np.int8),
        provenance={"name": "tiny"},
    )
    return js.save_dataset(data, path)


def _one_line_error(capsys, code: int, command: str) -> str:
    """Assert a one-line user error of ``command`` with exit code 2; return the message."""
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"jaxseis {command}: error: "), err
    return lines[0]


# ----------------------------------------------------------------------------- the command


@pytest.mark.parametrize("how", [["jaxseis"], [sys.executable, "-m", "jaxseis"]])
def test_installed_command_and_module_help(how):
    if how == ["jaxseis"]:
        how = [str(Path(sys.executable).parent / "jaxseis")]
    proc = subprocess.run([*how, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in COMMANDS:
        assert name in proc.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: jaxseis {command}")
    assert "options:" in out


def test_defaults_are_the_librarys(capsys):
    assert main(["locate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    nuts = js.NutsOptions()
    assert f"NUTS chains (default: {nuts.num_chains})" in text
    assert f"(default: {nuts.num_warmup})" in text
    assert f"default: {js.GlobalStage().num_draws})" in text
    assert f"(default: {list(js.inference.DEFAULT_T0_WINDOW_S)})" in text


def test_argparse_errors_exit_2_without_traceback(capsys):
    assert main(["locate", "-o", "x", "--num-draws", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("jaxseis locate: error: argument --num-draws")
    assert main(["locate", "-o", "x", "--sigma", "nan"]) == 2
    assert main(["locate", "-o", "x", "--t0-window", "inf"]) == 2
    assert main(["locate-catalogue", "-o", "x", "--events", "0"]) == 2
    assert main(["bench", "flops", "-o", "x"]) == 2
    assert main([]) == 2


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "info", str(tmp_path / "missing.h5")])


def test_bugs_are_not_reported_as_user_errors(monkeypatch, capsys):
    """A ValueError from jaxseis's checks is the user's; one from a dependency, or any other
    exception, is a bug: traceback and exit code 1."""
    with pytest.raises(ValueError) as ours:
        js.make_observation(np.zeros((1, 5)), 0.004, [[0, 0, 0]], noise=js.WhiteNoise(1.0))
    assert is_user_error(ours.value)
    with pytest.raises(ValueError) as theirs:
        np.reshape(np.zeros(3), (2, 2))
    assert not is_user_error(theirs.value)
    assert is_user_error(FileNotFoundError("x")) and not is_user_error(KeyError("x"))

    def broken(args):
        raise KeyError("oops")

    monkeypatch.setattr("jaxseis.cli.data._info", broken)  # bound when the parser is built
    assert main(["info", "x.h5"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err
    assert err.strip().splitlines()[-1].startswith("jaxseis info: internal error (KeyError)")


def test_interrupt_exits_130_and_removes_the_new_output_dir(monkeypatch, tmp_path, capsys):
    from jaxseis.cli import locate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(locate, "load_emulators", interrupted)
    out = tmp_path / "new" / "out"
    assert main(["locate", "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "jaxseis locate: interrupted"
    assert not out.exists()  # created for the run, removed again


def test_ctrl_c_in_a_real_process(tmp_path):
    """SIGINT in the middle of a run: exit code 130 (not a segfault), one line, no output."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "jaxseis", "--no-compile-cache", "locate", "--fix-t0",
           "--fix-amplitude",
           "--global-draws", "0", "--num-chains", "1", "--num-warmup", "20", "--num-draws",
           "20", "-o", str(out)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a child inherits an ignored SIGINT (Dask's cluster of an earlier test, or a shell's
        # background job), and Python then never raises KeyboardInterrupt: restore the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    for line in proc.stdout:  # wait until the sampling starts
        if "likelihood, nuts" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "jaxseis locate: interrupted"
    assert not out.exists()


# ------------------------------------------------------ the library functions it calls


def test_read_observation_round_trips(tmp_path):
    from jaxseis.observation import read_observation

    receivers = js.load_benchmark().receivers[1:3]
    traces = np.random.default_rng(1).standard_normal((2, 501))
    np.savez(tmp_path / "obs.npz", traces=traces, other=np.ones(3))
    obs = read_observation(tmp_path / "obs.npz", receivers, 0.004, 501, noise=0.5)
    np.testing.assert_array_equal(obs.traces, traces)
    np.testing.assert_array_equal(obs.noise.sigma, [0.5, 0.5])
    assert obs.truth is None and obs.event_id == "obs"
    event = js.load_paper_event()
    path = js.save_dataset(event, tmp_path / "event.h5")
    a = read_observation(path, receivers, 0.004, 501)
    b = js.observe(event, receivers)
    np.testing.assert_array_equal(a.traces, b.traces)
    np.testing.assert_array_equal(a.truth, [*js.PAPER_EVENT_KM, 0, 0])
    with pytest.raises(ValueError, match="sampled at 4 ms but the emulators at 2 ms"):
        read_observation(path, receivers, 0.002)
    with pytest.raises(ValueError, match="give the sampling interval"):
        read_observation(tmp_path / "obs.npz", receivers)


def test_dataset_events_do_not_depend_on_their_number():
    from jaxseis.catalogue import dataset_events

    bench = js.load_benchmark()
    prior = js.event_prior()
    four = dataset_events(bench, [1, 2], prior=prior, n_events=4, seed=7)
    six = dataset_events(bench, [1, 2], prior=prior, n_events=6, seed=7)
    for a, b in zip(four, six[:4], strict=True):
        assert a.event_id == b.event_id
        np.testing.assert_array_equal(a.traces, b.traces)
        np.testing.assert_array_equal(a.truth, b.truth)
    truths = np.array([e.truth for e in six])
    assert np.all(np.abs(truths[:, 3]) <= 0.15) and np.all(np.abs(truths[:, 4]) <= 2.5)
    assert len(set(truths[:, 3])) == 6  # random, within the middle half of the prior
    fixed = dataset_events(bench, [1, 2], prior=js.paper_prior(), n_events=2)
    assert np.all(np.array([e.truth for e in fixed])[:, 3:] == 0)


# ---------------------------------------------------------------------------- end to end


def test_train_writes_one_file_per_receiver(models):
    assert sorted(p.name for p in models.iterdir()) == ["nn_direct_r1.npz"]
    e = em.load(models / "nn_direct_r1.npz", kind="nn_direct")
    np.testing.assert_allclose(e.receiver_km, js.load_benchmark().receivers[1])
    assert e.info["receiver_index"] == 1 and e.info["n_train"] == 100
    assert e.info["epochs"] <= 5


def test_train_bundled_passes_its_options(tmp_path, monkeypatch):
    calls = {}

    def fake_train_bundled(directory=None, **kwargs):
        calls.update(kwargs, directory=directory)
        return []

    monkeypatch.setattr(js.pretrained, "train_bundled", fake_train_bundled)
    assert main(["train", "--bundled", "--receivers", "2", "-o", str(tmp_path), *TINY_TRAIN]) == 0
    assert calls["directory"] == str(tmp_path)
    assert calls["kind"] == "nn_direct" and calls["receivers"] == [2]
    assert calls["seed"] == js.pretrained.BUNDLED_SEED and calls["n_train"] == 100
    assert calls["config"].max_epochs == 5 and not calls["config"].progress
    assert calls["gp_options"] == {"n_subset": 60, "n_iter": 20, "n_restarts": 1}
    assert calls["dataset"] is None


def test_evaluate_prints_a_table_and_writes_json(models, tmp_path, capsys):
    out = tmp_path / "eval" / "results.json"
    code = main(["evaluate", str(models), "--split", "test", "--max-events", "200", "-o", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "R2D" in text and "nn_direct_r1.npz" in text
    res = json.loads(out.read_text())
    assert res["split"] == "test" and res["n_events"] == 200
    (row,) = res["results"]
    assert row["receiver_index"] == 1 and 0.0 < row["r2d"] <= 1.0 and row["eval_s"] > 0


def test_locate_writes_summary_netcdf_quakeml_and_hyp(tmp_path, capsys):
    """Five parameters, Laplace, bundled emulators and the paper's event: the posterior covers
    the truth and every file reads back with the same location."""
    import arviz as az
    import obspy

    from jaxseis.io.events import read_inference_data
    from jaxseis.io.nll_hyp import read_hyp

    out = tmp_path / "located"
    code = main(["locate", "--method", "laplace", "--global-draws", "2048", "--num-draws", "200",
                 "--geo", "57.5", "1.8", "90", "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "68% interval" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert s["likelihood"] == "waveform" and s["method"] == "laplace"
    assert s["free"] == [True] * 5 and len(s["stations"]) == 4
    truth = np.asarray(s["truth"])
    np.testing.assert_allclose(truth, [*js.PAPER_EVENT_KM, 0.0, 0.0])
    mean, std = np.asarray(s["mean"]), np.asarray(s["std"])
    assert np.all(np.abs(mean - truth) < 4 * std), (mean, std)
    idata = az.from_netcdf(out / "posterior.nc")
    assert idata.posterior.sizes["draw"] == 200 and "log_amplitude" in idata.posterior
    # read back with its attributes decoded, the file gives the same summary
    back = js.summary_dict(read_inference_data(out / "posterior.nc"))
    np.testing.assert_allclose(back["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(back["q97_5"], s["q97_5"], rtol=1e-12)
    (tmp_path / "bad.nc").write_bytes(b"not netcdf")
    with pytest.raises(ValueError, match="cannot read the posterior file"):
        read_inference_data(tmp_path / "bad.nc")
    with pytest.raises(FileNotFoundError, match="not found"):
        read_inference_data(tmp_path / "missing.nc")
    (event,) = obspy.read_events(str(out / "event.xml"))
    origin = event.preferred_origin()
    assert abs(float(origin.extra["model_x_km"]["value"]) - mean[0]) < 1e-6
    assert event.preferred_magnitude().magnitude_type == "Mrel"
    (hyp,) = read_hyp(out / "event.hyp")
    np.testing.assert_allclose(hyp.expectation_local_km[:2], mean[:2], atol=1e-6)
    # an existing result is refused before any work, unless --overwrite
    code = main(["locate", "-o", str(out)])
    assert "already holds results" in _one_line_error(capsys, code, "locate")


def test_locate_with_importance_sampling(tmp_path, capsys):
    """``--importance N`` reweighs the Laplace approximation: the summary says so, carries the
    importance ESS, covers the paper's event; with another method or too few draws, one line."""
    out = tmp_path / "located"
    code = main(["locate", "--method", "laplace", "--importance", "1000", "--global-draws",
                 "2048", "--num-draws", "300", "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    s = json.loads((out / "summary.json").read_text())
    assert s["method"] == "laplace_importance" and s["num_draws"] == 300
    assert 100 < s["ess_min"] <= 1000
    truth = np.asarray(s["truth"])
    assert np.all(np.abs(np.asarray(s["mean"]) - truth) < 4 * np.asarray(s["std"]))
    bad = (
        (["--method", "nuts"], "use --method laplace"),
        (["--method", "laplace", "--importance", "50"], "at least 100"),
    )
    for extra, message in bad:
        args = ["locate", "-o", str(tmp_path / "x"), "--importance", "500", *extra]
        code = main(args)
        assert message in _one_line_error(capsys, code, "locate")


def test_locate_with_the_emulator_error_model(tmp_path, capsys):
    """``--emulator-error bundled`` marginalises the bundled emulators' error: the posterior
    still covers the paper's event and is wider than without the model; a file of another
    receiver set or a bad file is one line."""
    from jaxseis.likelihood.emulator_error import save_emulator_error
    from jaxseis.pretrained import bundled_emulator_error

    common = ["locate", "--method", "laplace", "--global-draws", "2048", "--num-draws", "100"]
    widths = {}
    for name, extra in (("plain", []), ("error", ["--emulator-error", "bundled"])):
        code = main([*common, *extra, "-o", str(tmp_path / name)])
        assert code == 0, capsys.readouterr().err
        s = json.loads((tmp_path / name / "summary.json").read_text())
        mean, std = np.asarray(s["mean"]), np.asarray(s["std"])
        assert np.all(np.abs(mean[:3] - js.PAPER_EVENT_KM) < 4 * std[:3]), (mean, std)
        widths[name] = std
    assert s["emulator_error"] == "bundled"
    assert np.all(widths["error"] > widths["plain"])
    other = save_emulator_error(tmp_path / "r0.npz", bundled_emulator_error((0, 1, 2, 3)))
    code = main([*common, "--emulator-error", str(other), "-o", str(tmp_path / "other")])
    assert "other receivers" in _one_line_error(capsys, code, "locate")
    (tmp_path / "bad.npz").write_text("no")
    code = main([*common, "--emulator-error", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "b")])
    assert "cannot read the emulator error file" in _one_line_error(capsys, code, "locate")
    # --band: the likelihood over 2-20 Hz, recorded in the summary; an empty band is one line
    code = main([*common, "--band", "2", "20", "-o", str(tmp_path / "band")])
    assert code == 0, capsys.readouterr().err
    s = json.loads((tmp_path / "band" / "summary.json").read_text())
    assert s["band_hz"] == [2.0, 20.0]
    assert np.all(
        np.abs(np.asarray(s["mean"])[:3] - js.PAPER_EVENT_KM) < 4 * np.asarray(s["std"])[:3]
    )
    code = main([*common, "--band", "200", "300", "-o", str(tmp_path / "empty")])
    assert "holds no frequency bin" in _one_line_error(capsys, code, "locate")


def test_locate_progress_on_a_terminal_unless_no_progress(tmp_path, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    args = ["locate", "--method", "laplace", "--global-draws", "2048", "--num-draws", "200"]
    for flag, shown in (([], True), (["--no-progress"], False)):
        terminal = Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        assert main([*args, *flag, "-o", str(tmp_path / str(shown))]) == 0
        assert ("global stage" in terminal.getvalue()) is shown, terminal.getvalue()
    assert build_parser().parse_args(["demo", "--no-progress"]).no_progress


def test_locate_edt_paper_setup(tmp_path, capsys):
    out = tmp_path / "edt"
    code = main(["locate", "--likelihood", "edt", "--global-draws", "1024", "--num-chains", "2",
                 "--num-warmup", "100", "--num-draws", "100", "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    s = json.loads((out / "summary.json").read_text())
    assert s["likelihood"] == "edt" and s["free"] == [True, True, True, False, False]
    assert len(s["picks_s"]) == 4 and s["pick_error_s"] == js.picking.DEFAULT_PICK_ERROR_S
    # the EDT posterior is wide (0.1-0.3 km) and heavy-tailed
    assert np.linalg.norm(np.subtract(s["mean"][:3], js.PAPER_EVENT_KM)) < 0.5


def test_locate_catalogue_writes_csv_jsonl_quakeml_and_resumes(tmp_path, capsys):
    import obspy

    out = tmp_path / "cat"
    args = ["locate-catalogue", "-o", str(out), "--seed", "3", *TINY_CATALOGUE]
    assert main([*args, "--events", "4"]) == 0, capsys.readouterr().err
    assert "located 4 event(s) in this run (0 resumed)" in capsys.readouterr().out
    first = [json.loads(line) for line in (out / "catalogue.jsonl").read_text().splitlines()]
    assert [r["status"] for r in first] == ["ok"] * 4
    assert main([*args, "--events", "6"]) == 0  # resumes: only the 2 new events are located
    assert "located 2 event(s) in this run (4 resumed)" in capsys.readouterr().out
    records = [json.loads(line) for line in (out / "catalogue.jsonl").read_text().splitlines()]
    assert len(records) == 6 and records[:4] == first
    table = (out / "catalogue.csv").read_text().splitlines()
    assert len(table) == 7 and table[0].startswith("event_id,status,x_mean")
    catalog = obspy.read_events(str(out / "catalogue.xml"))
    assert len(catalog) == 6
    for rec, event in zip(records, catalog, strict=True):
        x = float(event.preferred_origin().extra["model_x_km"]["value"])
        assert abs(x - rec["mean"][0]) < 1e-6 and rec["event_id"] in str(event.resource_id)
    # the truths (random t0 and amplitude inside the prior) are found: within 6 posterior
    # standard deviations (the emulators' own error adds to the Laplace posterior's near the
    # box's edges: ev12 lies at x = 0, outside the training box, 4.4 std off) and tens of metres
    z = [(np.subtract(r["mean"], r["truth"])) / np.asarray(r["std"]) for r in records]
    assert np.all(np.abs(z) < 6), z
    errors = [np.linalg.norm(np.subtract(r["mean"][:3], r["truth"][:3])) for r in records]
    assert np.median(errors) < 0.05, errors


def test_locate_catalogue_polish_reaches_the_locator(tmp_path, monkeypatch, capsys):
    """``--polish N`` sets the global stage's polished candidates of the locator's spec, and
    ``--importance N`` its importance sampling."""
    from jaxseis import catalogue as cat

    seen = {}

    def stop(spec, events, **kwargs):
        seen["spec"] = spec
        raise ValueError("stopped before locating")

    monkeypatch.setattr(cat, "locate_catalogue", stop)
    args = ["locate-catalogue", "-o", str(tmp_path / "c"), "--events", "2", *TINY_CATALOGUE]
    assert main([*args, "--polish", "8"]) != 0
    assert seen["spec"].stage.num_polish == 8
    assert seen["spec"].stage.num_draws == 1024  # --bank too
    capsys.readouterr()
    assert main([*args]) != 0
    assert seen["spec"].stage.num_polish == cat.CATALOGUE_STAGE.num_polish
    capsys.readouterr()
    assert main([*args, "--polish", "0"]) == 2
    assert "argument --polish" in capsys.readouterr().err
    # --importance N: importance sampling of N draws from each event's Laplace approximation
    assert main([*args, "--importance", "500"]) != 0
    assert seen["spec"].importance.num_draws == 500
    assert seen["spec"].importance.df == 3.0 and seen["spec"].importance.scale == 2.0
    capsys.readouterr()
    code = main([*args, "--importance", "500", "--method", "nuts"])
    assert "use --method laplace" in _one_line_error(capsys, code, "locate-catalogue")
    code = main([*args, "--importance", "50"])
    assert "at least 100 draws" in _one_line_error(capsys, code, "locate-catalogue")


def test_simulate_info_and_export_nll(tmp_path, monkeypatch, capsys):
    """``simulate`` (the solver replaced by a tiny dataset: the solver has its own tests)
    writes a dataset that ``info`` reads; ``export-nll`` writes a NonLinLoc grid."""
    from jaxseis import dataset as ds
    from jaxseis.io.nll_grid import read_velocity_grid

    tiny = ds.load(_tiny_dataset(tmp_path / "tiny.h5", [[0.5, 0.5, 2.43]]))
    monkeypatch.setattr(ds, "make_paper_event", lambda config=None: tiny)
    out = tmp_path / "sim" / "event.h5"
    assert main(["simulate", "event", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert tiny.summary().splitlines()[0] in capsys.readouterr().out
    root = tmp_path / "nll" / "marine.P.mod"
    assert main(["export-nll", str(root), "--grid-type", "VELOCITY"]) == 0
    model = read_velocity_grid(root)
    np.testing.assert_allclose(model.vp, js.marine_model().vp, rtol=1e-5)


def test_bench_latency(models, tmp_path, capsys):
    out = tmp_path / "latency.json"
    code = main(["bench", "latency", "--models", str(models), "--repeats", "5",
                 "--n-loop", "5", "--batch-sizes", "-o", str(out)])  # fmt: skip
    assert code == 0
    res = json.loads(out.read_text())
    (fwd,) = res["forward"].values()
    assert fwd["single_call_us"] > 0 and fwd["in_loop_us"] > 0 and fwd["kind"] == "nn_direct"
    assert res["machine"]["cores"] and res["settings"]["batch_sizes"] == []
    assert res["loglike_grad"]["finite"] and res["loglike_grad"]["loglike_grad_us"] > 0


def test_bench_simulate(tmp_path):
    out = tmp_path / "simulate.json"
    code = main(["bench", "simulate", "--grid", "24", "24", "30", "--duration", "0.1",
                 "--n-sources", "5", "--repeats", "1", "-o", str(out)])  # fmt: skip
    assert code == 0
    res = json.loads(out.read_text())
    assert res["grid"] == [24, 24, 30] and res["mpts_per_s"] > 0


# --------------------------------------------------------------------------------- errors


def test_train_errors(tmp_path, capsys):
    msg = _one_line_error(capsys, main(["train", "transformer", "-o", str(tmp_path)]), "train")
    assert "unknown emulator family 'transformer'" in msg and "nn_direct" in msg
    assert "-o DIR" in _one_line_error(capsys, main(["train", "nn_direct"]), "train")
    assert "KIND" in _one_line_error(capsys, main(["train", "-o", str(tmp_path)]), "train")
    code = main(["train", "nn_direct", "--receivers", "9", "-o", str(tmp_path)])
    assert "out of range" in _one_line_error(capsys, code, "train")
    code = main(["train", "nn_direct", "--dataset", str(tmp_path / "no.h5"), "-o", str(tmp_path)])
    assert "not found" in _one_line_error(capsys, code, "train")
    (tmp_path / "afile").write_text("x")
    code = main(["train", "nn_direct", "-o", str(tmp_path / "afile" / "x"), *TINY_TRAIN])
    assert "is a file" in _one_line_error(capsys, code, "train")


def test_evaluate_errors(models, tmp_path, capsys):
    model = str(models / "nn_direct_r1.npz")
    code = main(["evaluate", str(tmp_path / "missing.npz")])
    assert "not found" in _one_line_error(capsys, code, "evaluate")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    code = main(["evaluate", str(junk)])
    assert "not a readable jaxseis emulator file" in _one_line_error(capsys, code, "evaluate")
    code = main(["evaluate", model, "--kind", "pca_nn"])
    assert "not 'pca_nn'" in _one_line_error(capsys, code, "evaluate")
    other = _tiny_dataset(tmp_path / "other.h5", [[0.9, 0.9, 2.43]])
    code = main(["evaluate", model, "--dataset", str(other)])
    assert "does not have" in _one_line_error(capsys, code, "evaluate")
    short = _tiny_dataset(tmp_path / "short.h5", [js.load_benchmark().receivers[1]], 100)
    code = main(["evaluate", model, "--dataset", str(short)])
    assert "100 samples" in _one_line_error(capsys, code, "evaluate")
    (tmp_path / "empty").mkdir()
    code = main(["evaluate", str(tmp_path / "empty")])
    assert "no emulator files" in _one_line_error(capsys, code, "evaluate")


def test_locate_errors(models, tmp_path, capsys):
    model = str(models / "nn_direct_r1.npz")
    out = tmp_path / "out"

    def locate(*extra):
        code = main(["locate", "--models", model, *extra, "-o", str(out)])
        return _one_line_error(capsys, code, "locate")

    nan = np.ones((1, 501))
    nan[0, 7] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert "NaN" in locate("--observed", str(tmp_path / "nan.npy"))
    np.save(tmp_path / "two.npy", np.ones((2, 501)))
    assert "shape [1, n_samples]" in locate("--observed", str(tmp_path / "two.npy"))
    np.save(tmp_path / "short.npy", np.ones((1, 100)))
    assert "100 samples" in locate("--observed", str(tmp_path / "short.npy"))
    other = _tiny_dataset(tmp_path / "other.h5", [[0.9, 0.9, 2.43]])
    assert "no trace at the receiver" in locate("--observed", str(other))
    assert "out of range" in locate("--event", "5")
    assert "not found" in locate("--observed", str(tmp_path / "missing.h5"))
    assert "unknown emulator family" in locate("--kind", "gpt")
    assert "both emulate the receiver" in locate(model)  # the same emulator twice
    assert "at least 2 receivers" in locate("--likelihood", "edt")
    assert "named 'traces'" in locate("--observed", model)  # an emulator file, not traces
    assert "--t0-window" in locate("--t0-window", "0.2", "0.1")
    assert "for --method nuts only" in locate("--method", "laplace", "--global-draws", "0")
    assert "training domain" in locate()  # the tiny emulator's box is smaller than the prior
    # arrivals moved out of the trace
    assert "t0 window" in locate("--domain", "clip", "--t0-window", "5")
    code = main(["locate", "--models", str(tmp_path / "none.npz"), "-o", str(out)])
    assert "not found" in _one_line_error(capsys, code, "locate")
    assert not out.exists()  # nothing left behind by the failed runs
    (tmp_path / "afile").write_text("x")
    code = main(["locate", "-o", str(tmp_path / "afile" / "x")])
    assert "is a file" in _one_line_error(capsys, code, "locate")


def test_other_errors(tmp_path, capsys):
    code = main(["info", str(tmp_path / "missing.h5")])
    assert "not found" in _one_line_error(capsys, code, "info")
    code = main(["bench", "latency", "--models", str(tmp_path / "m.npz"),
                 "-o", str(tmp_path / "x.json")])  # fmt: skip
    assert "not found" in _one_line_error(capsys, code, "bench")
    code = main(["bench", "simulate", "--grid", "2", "2", "2", "-o", str(tmp_path / "s.json")])
    assert "--grid" in _one_line_error(capsys, code, "bench")
    code = main(["locate-catalogue", "--split", "validation", "--dataset",
                 str(_tiny_dataset(tmp_path / "d.h5", [[0.9, 0.9, 2.43]])),
                 "-o", str(tmp_path / "c")])  # fmt: skip
    assert "no trace at the receiver" in _one_line_error(capsys, code, "locate-catalogue")
    assert not (tmp_path / "c").exists()
    assert os.listdir(tmp_path)  # the inputs are still there


def test_locate_from_miniseed_and_stationxml(tmp_path, capsys):
    """Recorded data in: an event of the bundled benchmark written as miniSEED + StationXML by
    ObsPy, located from the files with ``--waveforms``; its QuakeML reads back; missing
    companions of ``--waveforms`` are one-line errors."""
    import jax
    import obspy

    from jaxseis.io import stations as stn
    from jaxseis.io import waveforms as wf

    bench = js.load_benchmark()
    emulators = js.load_bundled((1, 2, 3, 4))
    event = int(bench.indices("test")[3])
    obs = js.observe(bench, emulators, event=event, noise_key=jax.random.key(2), t0=0.04,
                     log_amplitude=0.2)  # fmt: skip
    ref = obspy.UTCDateTime(2025, 3, 1, 8, 0, 0)
    stn.write_stationxml(tmp_path / "st.xml", stn.station_inventory(obs.receivers_km, obs.stations))
    wf.write_waveforms(obs, tmp_path / "{network}.{station}.mseed", ref)
    sigma = str(float(np.max(obs.noise.sigma)))
    base = ["locate", "--waveforms", str(tmp_path / "*.mseed"), "--method", "laplace",
            "--global-draws", "2048", "--num-draws", "200"]  # fmt: skip
    assert main([*base, "--sigma", sigma, "-o", str(tmp_path / "a")]) == 2
    assert "--stations" in capsys.readouterr().err
    out = tmp_path / "located"
    code = main([*base, "--stations", str(tmp_path / "st.xml"), "--reference-time", str(ref),
                 "--sigma", sigma, "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    s = json.loads((out / "summary.json").read_text())
    mean, std = np.asarray(s["mean"]), np.asarray(s["std"])
    truth = np.asarray(obs.truth)
    assert np.all(np.abs(mean - truth) < 4 * std + [0.02, 0.02, 0.02, 0.002, 0.05]), (mean, truth)
    (ev,) = obspy.read_events(str(out / "event.xml"))
    assert abs(ev.preferred_origin().time - (ref + float(mean[3]))) < 1e-3


def test_locate_a_nonlinloc_setup(tmp_path, capsys):
    """A NonLinLoc set-up (P time grids + NLLOC_OBS picks, written by jaxseis's export) is
    located with the EDT likelihood; the QuakeML time is the phase file's reference time."""
    import obspy

    from jaxseis.io.nonlinloc import export_nonlinloc
    from jaxseis.picking import picks_of
    from jaxseis.traveltime import traveltime_tables

    emulators = js.load_bundled((1, 2, 3, 4))
    obs = js.observe(js.load_paper_event(), emulators)  # noise-free: exact picks
    tables = traveltime_tables(js.marine_model(), obs.receivers_km, labels=obs.stations)
    ref = obspy.UTCDateTime(2025, 3, 1, 8, 0, 0)
    files = export_nonlinloc(tmp_path / "nll", tables, picks_of(obs), reference_time=ref)
    out = tmp_path / "located"
    grids = str(tmp_path / "nll" / "time" / "jaxseis")
    args = ["locate", "--likelihood", "edt", "--method", "laplace", "--global-draws", "2048",
            "--num-draws", "200", "-o", str(out)]  # fmt: skip
    assert main([*args, "--picks", str(files["obs"])]) == 2
    assert "--grids" in capsys.readouterr().err
    assert main([*args, "--picks", str(files["obs"]), "--grids", grids]) == 0, (
        capsys.readouterr().err
    )
    s = json.loads((out / "summary.json").read_text())
    assert s["stations"] == list(obs.stations) and s["free"] == [True, True, True, False, False]
    # EDT on 4 receivers in one plane: wide and heavy-tailed (README), but near the event
    assert np.linalg.norm(np.subtract(s["mean"][:3], js.PAPER_EVENT_KM)) < 0.5
    (ev,) = obspy.read_events(str(out / "event.xml"))
    assert abs(ev.preferred_origin().time - obspy.UTCDateTime(s["reference_time"])) < 1.0
