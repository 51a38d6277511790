"""The ``jaxseis`` command line: every subcommand end to end on tiny settings, and the one-line
errors (exit code 2, no traceback) of bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.cli import main

COMMANDS = ("simulate", "info", "train", "evaluate", "locate", "bench", "demo", "export-nll")
TINY_TRAIN = [
    "--n-train", "100", "--max-epochs", "5", "--patience", "5", "--no-progress",
    "--gp-subset", "60", "--gp-iter", "20", "--gp-restarts", "1",
]  # fmt: skip
TINY_NUTS = [
    "--num-chains", "1", "--num-warmup", "15", "--num-draws", "15", "--global-draws", "0",
    "--max-tree-depth", "4",
]  # fmt: skip


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
    return js.save(data, path)


def _one_line_error(capsys, code: int, command: str) -> str:
    """Assert a one-line user error of ``command`` with exit code 2; return the message."""
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"jaxseis {command}: error: "), err
    return lines[0]


# ------------------------------------------------------------------------------------- help


def test_installed_command_help():
    exe = Path(sys.executable).parent / "jaxseis"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in COMMANDS:
        assert name in proc.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: jaxseis {command}")
    assert "options:" in out


def test_argparse_errors_exit_2_without_traceback(capsys):
    assert main(["locate", "-o", "x", "--num-draws", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("jaxseis locate: error: argument --num-draws")
    assert main(["locate", "-o", "x", "--sigma", "nan"]) == 2
    assert main(["bench", "flops", "-o", "x"]) == 2
    assert main([]) == 2


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "info", str(tmp_path / "missing.h5")])


# ---------------------------------------------------------------------------- end to end


def test_train_writes_one_file_per_receiver(models):
    files = sorted(p.name for p in models.iterdir())
    assert files == ["nn_direct_r1.npz"]
    e = em.load(models / "nn_direct_r1.npz", kind="nn_direct")
    np.testing.assert_allclose(e.receiver_km, js.load_benchmark().receivers[1])
    assert e.info["receiver_index"] == 1
    assert e.info["n_train"] == 100
    assert e.info["epochs"] <= 5


def test_train_bundled_passes_its_options(tmp_path, monkeypatch, capsys):
    """``--bundled`` calls :func:`jaxseis.pretrained.train_bundled` (whose training is the same
    as the plain path's, tested above) with the command line's options."""
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
    assert calls["dataset"] is None  # the bundled benchmark


def test_evaluate_prints_a_table_and_writes_json(models, tmp_path, capsys):
    out = tmp_path / "eval" / "results.json"
    code = main(["evaluate", str(models), "--split", "test", "--max-events", "200", "-o", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "R2D" in text and "nn_direct_r1.npz" in text
    res = json.loads(out.read_text())
    assert res["split"] == "test" and res["n_events"] == 200
    (row,) = res["results"]
    assert row["receiver_index"] == 1
    assert 0.0 < row["r2d"] <= 1.0
    assert row["eval_s"] > 0


def test_locate_waveform_nuts(models, tmp_path, capsys):
    out = tmp_path / "located"
    code = main(["locate", "--models", str(models / "nn_direct_r1.npz"), *TINY_NUTS,
                 "-o", str(out)])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "68% interval" in text and "truth" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["likelihood"] == "waveform" and summary["method"] == "nuts"
    np.testing.assert_allclose(summary["truth_km"], js.PAPER_EVENT_KM)
    assert summary["noise_added"] and summary["sigma"] == summary["noise_sigma"] > 0
    assert (out / "posterior.nc").exists()
    with np.load(out / "posterior.npz") as z:
        draws = z["draws_km"]
    assert draws.shape == (1, 15, 3)
    assert np.all((draws >= 0) & (draws <= np.array([1.0, 1.0, 2.43])))


def test_locate_edt(tmp_path, capsys):
    out = tmp_path / "edt"
    assert main(["locate", "--likelihood", "edt", *TINY_NUTS, "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["likelihood"] == "edt"
    assert len(summary["picks_s"]) == 4 and summary["pick_error_s"] == 0.005
    assert np.all(np.isfinite(summary["mean_km"]))


def test_bench_latency(models, tmp_path, capsys):
    out = tmp_path / "latency.json"
    code = main(["bench", "latency", "--models", str(models), "--repeats", "5",
                 "--n-loop", "5", "--batch-sizes", "-o", str(out)])  # fmt: skip
    assert code == 0
    res = json.loads(out.read_text())
    (fwd,) = res["forward"].values()
    assert fwd["single_call_us"] > 0 and fwd["in_loop_us"] > 0 and fwd["kind"] == "nn_direct"
    assert res["machine"]["cores"] and "tr/s" not in capsys.readouterr().out
    assert res["settings"]["batch_sizes"] == []
    assert res["loglike_grad"]["finite"] and res["loglike_grad"]["loglike_grad_us"] > 0


def test_bench_simulate(tmp_path, capsys):
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
    msg = _one_line_error(capsys, main(["train", "nn_direct"]), "train")
    assert "-o DIR" in msg
    msg = _one_line_error(capsys, main(["train", "-o", str(tmp_path)]), "train")
    assert "KIND" in msg
    code = main(["train", "nn_direct", "--receivers", "9", "-o", str(tmp_path)])
    assert "out of range" in _one_line_error(capsys, code, "train")
    code = main(["train", "nn_direct", "--dataset", str(tmp_path / "no.h5"), "-o", str(tmp_path)])
    assert "not found" in _one_line_error(capsys, code, "train")
    assert not any(tmp_path.iterdir())


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
    out = str(tmp_path / "out")

    def locate(*extra):
        return _one_line_error(capsys, main(["locate", "--models", model, *extra, "-o", out]),
                               "locate")  # fmt: skip

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
    code = main(["locate", "--models", str(tmp_path / "none.npz"), "-o", out])
    assert "not found" in _one_line_error(capsys, code, "locate")
    assert not Path(out).exists()


def test_other_errors(tmp_path, capsys):
    code = main(["info", str(tmp_path / "missing.h5")])
    assert "not found" in _one_line_error(capsys, code, "info")
    code = main(
        ["bench", "latency", "--models", str(tmp_path / "m.npz"), "-o", str(tmp_path / "x.json")]
    )
    assert "not found" in _one_line_error(capsys, code, "bench")
    code = main(["bench", "simulate", "--grid", "2", "2", "2", "-o", str(tmp_path / "s.json")])
    assert "--grid" in _one_line_error(capsys, code, "bench")
