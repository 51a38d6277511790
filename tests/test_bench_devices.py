"""bench/bench_devices.py in quick mode: the same location on one device and split over the
cores, in fresh processes, gives equivalent posteriors; the JSON and markdown are written."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import load_bench_script


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to split")
def test_quick_devices_run(tmp_path):
    module = load_bench_script("bench_devices")
    assert module.main(["--quick", "--repeats", "1", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "devices_quick.json").read_text())
    one, split = result["runs"]
    assert one["devices"] == 1 and split["devices"] == len(os.sched_getaffinity(0))
    for r in (one, split):
        assert r["rhat_max"] < 1.05 and r["wall_sampling_s"] < r["wall_s"]
    # different rounding, same posterior: means within a few Monte Carlo errors
    sd = np.asarray(one["std_km"])
    err = sd * np.sqrt(1 / one["ess_min"] + 1 / split["ess_min"])
    np.testing.assert_array_less(np.abs(np.subtract(one["mean_km"], split["mean_km"])), 5 * err)
    np.testing.assert_allclose(split["std_km"], one["std_km"], rtol=0.25)
    assert "| 1 |" in (tmp_path / "devices_quick.md").read_text()
