"""bench/bench_table1.py end to end in quick mode on one cheap family: the JSON holds what the
lead's Table 1 needs, the markdown and the Fig. 8 image are written, nothing lands in
bench/results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_bench_script


@pytest.fixture(scope="module")
def bench():
    return load_bench_script("bench_table1")


def test_settings_cover_every_family(bench):
    from jaxseis import emulators as em
    from jaxseis.train import TrainConfig

    assert set(bench.KINDS) == set(em.FAMILIES)
    for settings in (bench.full_settings(), bench.quick_settings()):
        assert set(settings) == set(bench.KINDS)
        json.dumps(settings)  # recorded in the results
        kw = bench.fit_kwargs(settings["nn_direct"])
        assert isinstance(kw["config"], TrainConfig) and not kw["config"].progress
    assert set(bench.KINDS) <= set(bench.PAPER)
    assert bench.PAPER["nn_direct"]["r2d"] == 0.95 and bench.PAPER["d18"]["eval_ms"] == 621.0


def test_quick_run_writes_table(bench, tmp_path):
    bench.main(["--quick", "--kinds", "pca_nn", "--no-dense", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "table1_quick.json").read_text())
    row = result["models"]["pca_nn"]
    for key in ("r2d_mean", "r2d_std", "r2d_per_seed", "train_s", "train_s_mean", "eval_ms",
                "traces_per_s", "size_mb", "settings"):  # fmt: skip
        assert key in row, key
    assert result["quick"] and result["n_train"] == 200 and result["n_test"] == 1000
    assert row["seeds"] == [0] and len(row["r2d_per_seed"]) == 1
    assert 0.5 < row["r2d_mean"] <= 1.0 and np.isfinite(row["r2d_float64_mean"])
    assert row["eval_ms"] > 0 and row["traces_per_s"] > 0 and row["size_mb"] > 0
    assert row["train_s_mean"] > 0 and row["runs"][0]["n_train"] == 200
    assert set(result["paper"]) >= {"nn_direct", "d18"} and result["machine"]["cores"]
    md = (tmp_path / "table1_quick.md").read_text()
    assert "PCA + NN (B)" in md and "0.9443" in md and "Quick mode" in md
    assert (tmp_path / "table1_quick_fig8.png").stat().st_size > 0
    assert len(result["fig8_test_sources_km"]) == bench.N_FIG
