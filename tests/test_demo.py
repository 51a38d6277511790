"""The bundled pretrained emulators and the demo: they load, they are accurate on the held-out
test split, they are reproducible from their seed, and the demo's quick mode locates the
paper's event end to end (NUTS on the bundled data) with a posterior that covers the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.metrics import r2d
from jaxseis.pretrained import bundled_path, load_bundled, train_bundled
from jaxseis.train import TrainConfig


def test_bundled_emulators_match_the_benchmark_receivers_and_are_accurate():
    bench = js.load_benchmark()
    ems = load_bundled(range(5))
    test = bench.indices("test")[:300]
    for r, e in enumerate(ems):
        assert e.kind == "nn_direct" and e.info["n_train"] == 2000
        np.testing.assert_allclose(e.receiver_km, bench.receivers[r])
        score = r2d(bench.traces[r, test], em.predict(e, bench.sources[test]))
        assert score > 0.98, (r, score)  # measured about 0.996 on the central receiver


def test_load_bundled_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="jaxseis train --bundled"):
        load_bundled([1], directory=tmp_path)
    with pytest.raises(ValueError, match="out of range"):
        load_bundled([7])
    bad = bundled_path(1, directory=tmp_path)
    bad.write_bytes(b"not an npz file")
    with pytest.raises(ValueError, match="not a readable jaxseis emulator"):
        load_bundled([1], directory=tmp_path)


def test_train_bundled_is_reproducible(tmp_path):
    options = {
        "n_train": 100,
        "config": TrainConfig(max_epochs=20, patience=20, epochs_per_call=20, progress=False),
        "gp_options": {"n_subset": 100, "n_iter": 20, "n_restarts": 1},
    }
    (a,) = train_bundled(tmp_path / "a", receivers=[2], seed=3, **options)
    (b,) = train_bundled(tmp_path / "b", receivers=[2], seed=3, **options)
    assert a.name == "nn_direct_r2.npz"
    ea, eb = load_bundled([2], directory=tmp_path / "a")[0], em.load(b)
    src = js.load_benchmark().sources[:5]
    np.testing.assert_array_equal(em.predict(ea, src), em.predict(eb, src))


@pytest.mark.slow
def test_demo_quick_locates_the_paper_event(tmp_path):
    from jaxseis.demo import run

    result = run(quick=True, output_dir=tmp_path)
    truth = np.asarray(js.PAPER_EVENT_KM)
    mean, std = np.asarray(result["mean_km"]), np.asarray(result["std_km"])
    # the posterior mean lies within one grid spacing (10-12.5 m) of the truth. It is not
    # asserted that the 95 % interval covers the truth: this noise draw (seed 0) puts the
    # posterior 2.3 standard deviations above the truth in depth, a 2 % event per coordinate.
    # Over 500 noise draws the 95 % intervals cover the truth 93-96 % of the time
    # (bench/results/coverage.md), so 4 standard deviations is the calibrated bound here.
    assert np.linalg.norm(mean - truth) < 0.010, (mean, std)
    assert np.all(np.abs(mean - truth) < 4 * std), (mean, std)
    # the quick settings (4 x 600 draws) give R-hat about 1.01 (4 x 300 gave 1.017); the full
    # demo and bench/bench_location.py reach 1.003-1.004 (bench/results/location.md)
    assert result["rhat_max"] < 1.02
    assert max(std) < 0.02  # the waveform posterior is tight (EDT: 0.1-0.3 km)
    for name in ("summary.json", "corner.png", "trace_fit.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["truth_km"] == truth.tolist()
