"""bench/bench_coverage.py in quick mode: the Laplace posterior of the paper's experiment is
calibrated on a perfect model, and the JSON and markdown are written."""

from __future__ import annotations

import json

from conftest import load_bench_script


def test_quick_coverage_run(tmp_path):
    module = load_bench_script("bench_coverage")
    assert module.main(["--quick", "--seeds", "12", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "coverage_quick.json").read_text())
    assert set(result["arms"]) == set(module.ARMS)
    control = result["arms"]["emulated_control"]
    assert control["n"] == 12
    # exact model: 95 % intervals cover the truth; 8 or fewer hits of 12 has probability 2e-3
    assert min(control["cover95"]) >= 9 / 12
    # all three intervals at once: fewer than each alone, as a calibrated posterior would be
    assert control["cover95_all"] <= min(control["cover95"])
    assert 0.85 < control["cover95_all_calibrated"] < 0.95
    # the emulators' error is small against the noise (both in units of sigma^2)
    assert result["emulator_residual_at_truth_over_sigma2"] < 0.05
    assert "| emulated_control |" in (tmp_path / "coverage_quick.md").read_text()
