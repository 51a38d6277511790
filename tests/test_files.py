"""Every file the library writes is atomic: concurrent savers, a process killed mid-save and a
failed save never leave a corrupt file or a leftover that a loader pattern picks up."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from jaxseis import dataset as ds
from jaxseis import emulators as em
from jaxseis.files import PARTIAL_SUFFIX
from jaxseis.pretrained import bundled_path
from jaxseis.traveltime import traveltime_tables

LOADER_PATTERNS = ("*.npz", "*_r*.npz", "*.h5")
"""Patterns with which model and dataset directories are scanned (`evaluate DIR`,
`locate --models DIR`)."""

BUNDLED = bundled_path(1)


def _matching(directory: Path) -> set[str]:
    return {p.name for pattern in LOADER_PATTERNS for p in directory.glob(pattern)}


def _tiny_dataset(provenance=None) -> ds.Dataset:
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 64)
    traces = np.sin(2 * np.pi * 3 * t) * (1.0 + rng.random((2, 6, 1)))
    return ds.Dataset(
        sources=rng.uniform(0.1, 0.9, (6, 3)),
        receivers=np.array([[0.5, 0.5, 2.43], [0.25, 0.25, 2.43]]),
        traces=traces.astype(np.float32),
        dt=0.004,
        split=np.array([0, 0, 0, 1, 1, 2], dtype=np.int8),
        provenance={"name": "tiny"} if provenance is None else provenance,
    )


def _run_child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, procs, timeout: float = 180.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"child exited early: {p.communicate()}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.02)


# -------------------------------------------------------------------------- concurrent saves

SAVER = """
import sys, time
from pathlib import Path
from jaxseis import emulators as em
writer, target, rounds, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
e = em.load(sys.argv[5])
(folder / f"ready{writer}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
for k in range(rounds):
    em.save(e._replace(info={**e.info, "writer": writer, "round": k}), target)
"""


def test_two_processes_saving_one_emulator_leave_one_complete_file(tmp_path):
    target = tmp_path / "models" / "nn_direct_r1.npz"
    rounds = 6
    procs = [
        _run_child(SAVER, w, str(target), str(rounds), str(tmp_path), str(BUNDLED))
        for w in ("A", "B")
    ]
    for w in ("A", "B"):
        _wait_for(tmp_path / f"ready{w}", procs)
    (tmp_path / "go").touch()
    seen = set()
    while any(p.poll() is None for p in procs):  # read the file while both write it
        if target.exists():
            e = em.load(target)  # never a partial or interleaved file
            seen.add((e.info["writer"], e.info["round"]))
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    final = em.load(target)
    assert (final.info["writer"], final.info["round"]) in {("A", rounds - 1), ("B", rounds - 1)}
    reference = em.load(BUNDLED)
    np.testing.assert_array_equal(final.peak_gps.alpha, reference.peak_gps.alpha)
    assert sorted(os.listdir(target.parent)) == [target.name]  # no temporary files left
    assert seen  # the reader saw complete files while the writers ran


# -------------------------------------------------------------------------- killed mid-save

KILLED = """
import os, sys, time
from pathlib import Path
import numpy as np
what, target, point, marker = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])

def block(*args, **kwargs):
    marker.touch()
    time.sleep(600)

if what == "emulator":
    from jaxseis import emulators as em
    e = em.load(sys.argv[5])
    if point == "writing":  # inside numpy's writer, after the first arrays
        import numpy.lib.format as fmt
        original, calls = fmt.write_array, []
        def write_array(*args, **kwargs):
            calls.append(1)
            if len(calls) == 4:
                block()
            return original(*args, **kwargs)
        fmt.write_array = write_array
    else:  # written, not yet moved into place
        os.fsync = block
    em.save(e._replace(info={**e.info, "new": True}), target)
else:
    import h5py
    from jaxseis import dataset as ds
    d = ds.load_paper_event()
    if point == "writing":  # the HDF5 file is open, sources written, traces not yet
        original = h5py.Group.create_dataset
        def create_dataset(self, name, *args, **kwargs):
            if name == "traces":
                block()
            return original(self, name, *args, **kwargs)
        h5py.Group.create_dataset = create_dataset
    else:
        os.fsync = block
    ds.save(d._replace(provenance={**d.provenance, "new": True}), target)
"""


@pytest.mark.parametrize(
    "what, point, existing",
    [
        ("emulator", "writing", True),
        ("emulator", "syncing", False),
        ("dataset", "writing", False),
        ("dataset", "syncing", True),
    ],
)
def test_a_process_killed_mid_save_leaves_the_old_file_or_none(tmp_path, what, point, existing):
    folder = tmp_path / "out"
    folder.mkdir()
    name = "nn_direct_r1.npz" if what == "emulator" else "paper_event.h5"
    target = folder / name
    if existing:
        if what == "emulator":
            em.save(em.load(BUNDLED), target)
        else:
            ds.save(ds.load_paper_event(), target)
        before = target.read_bytes()
    marker = tmp_path / "blocked"
    proc = _run_child(KILLED, what, str(target), point, str(marker), str(BUNDLED))
    try:
        _wait_for(marker, [proc])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if existing:
        assert target.read_bytes() == before
        loaded = em.load(target) if what == "emulator" else ds.load(target)
        assert "new" not in (loaded.info if what == "emulator" else loaded.provenance)
        assert _matching(folder) == {name}
    else:
        assert not target.exists()
        assert _matching(folder) == set()
    # what the kill left: one hidden temporary file, which no loader pattern matches
    leftovers = [p.name for p in folder.iterdir() if p.name != name]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(f".{name}.") and leftovers[0].endswith(PARTIAL_SUFFIX)


# -------------------------------------------------------------------------- failed saves


@pytest.mark.parametrize(
    "provenance, message",
    [({"bad": object()}, "not JSON"), ({"bad": float("nan")}, "not JSON")],
)
def test_a_failed_dataset_save_leaves_nothing(tmp_path, provenance, message):
    with pytest.raises(ValueError, match=message):
        ds.save(_tiny_dataset(provenance), tmp_path / "d.h5")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_emulator_save_leaves_nothing_and_keeps_the_old_file(tmp_path):
    e = em.load(BUNDLED)
    target = em.save(e, tmp_path / "e.npz")
    before = target.read_bytes()
    with pytest.raises(ValueError, match="not JSON"):
        em.save(e._replace(config={**e.config, "bad": object()}), target)
    alpha = e.peak_gps.alpha.copy()
    alpha[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite parameters"):
        em.save(e._replace(peak_gps=e.peak_gps._replace(alpha=alpha)), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npz"]


def test_an_emulator_saves_under_its_name_without_extra_suffixes(tmp_path):
    e = em.load(BUNDLED)
    assert em.save(e, tmp_path / "m") == tmp_path / "m.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_a_dataset_file_is_written_with_checksums(tmp_path):
    path = ds.save(_tiny_dataset(), tmp_path / "d.h5")
    with h5py.File(path, "r") as f:
        assert all(f[k].fletcher32 for k in ("sources", "receivers", "split", "traces"))
        assert f["trace_scale"].fletcher32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


# -------------------------------------------------------------------------- travel-time cache


def test_a_corrupt_traveltime_cache_entry_is_rebuilt_with_a_warning(layered_model, tmp_path):
    rec = [[0.25, 0.25, 0.45]]
    first = traveltime_tables(layered_model, rec, cache_dir=tmp_path)
    (entry,) = (tmp_path / "traveltime").iterdir()
    assert entry.name.endswith(".npz")
    entry.write_bytes(b"not a zip file at all")
    with pytest.warns(RuntimeWarning, match="travel-time cache entry .* rebuilding it"):
        again = traveltime_tables(layered_model, rec, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.times, first.times)
    with np.load(entry) as f:  # rewritten whole
        np.testing.assert_array_equal(f["times"], first.times[0])
        assert json.loads(str(f["settings"]))
    assert [p.name for p in (tmp_path / "traveltime").iterdir()] == [entry.name]
