"""NLLOC_OBS phase files: several events, comments, phase selection, and bad lines reported
with their line numbers."""

import numpy as np
import pytest
from obspy import UTCDateTime

from jaxseis.io.nll_obs import (
    PickEvent,
    read_nlloc_obs,
    write_nlloc_obs,
    write_nlloc_obs_events,
)
from jaxseis.picking import Picks

LINE = (
    "{sta:<6s} ?    Z    i {ph:<6s} U {date} {hm} {sec:9.4f} GAU {err:9.2e} "
    "-1.00e+00 -1.00e+00 -1.00e+00"
)


def _line(sta, ph="P", date="20210601", hm="0502", sec=26.13, err=0.02):
    return LINE.format(sta=sta, ph=ph, date=date, hm=hm, sec=sec, err=err)


# A NonLinLoc phase file as other tools write it: a PUBLIC_ID, comments, P and S picks, two
# events separated by a blank line, a .hyp-style QUALITY line, a pick with a-priori weight 0.
FOREIGN = "\n".join(
    [
        "# picks of two events",
        "PUBLIC_ID smi:local/event/1",
        _line("UH1", sec=26.13),
        _line("UH1", "S", sec=27.46, err=0.03),
        "# a comment inside the event",
        _line("UH2", sec=26.04, err=0.03),
        _line("UH3", "Pg", sec=25.93),
        "",
        "   ",
        "PUBLIC_ID smi:local/event/2",
        "QUALITY  Pmax 1 MFmin 1 MFmax 2 RMS 0.1 Nphs 3 Gap 90 Dist 3 Mamp -9.9 0 Mdur -9.9 0",
        _line("UH1", date="20210601", hm="2359", sec=59.5),
        _line("UH2", date="20210602", hm="0000", sec=0.25),
        _line("UH3", sec=1.0) + "    0.0000",  # PriorWt 0: not used
        _line("UH4", "S", sec=2.0),
        "",
    ]
)


def test_foreign_file_with_two_events(tmp_path):
    path = tmp_path / "two.obs"
    path.write_text(FOREIGN)
    first, second = read_nlloc_obs(path)
    assert first.public_id == "smi:local/event/1" and second.public_id == "smi:local/event/2"
    assert first.picks.labels == ("UH1", "UH2") and first.line_numbers == (3, 6)
    assert first.reference_time == UTCDateTime(2021, 6, 1, 5, 2, 26.04)  # the earliest pick
    np.testing.assert_allclose(first.picks.times_s, [0.09, 0.0], atol=1e-9)
    np.testing.assert_allclose(first.picks.errors_s, [0.02, 0.03])
    # across midnight; the weight-0 pick and the S pick left out
    assert second.picks.labels == ("UH1", "UH2")
    np.testing.assert_allclose(second.picks.times_s, [0.0, 0.75], atol=1e-9)


def test_phase_codes_taken_together_and_a_fixed_reference(tmp_path):
    path = tmp_path / "two.obs"
    path.write_text(FOREIGN)
    ref = UTCDateTime(2021, 6, 1, 5, 2)
    first = read_nlloc_obs(path, phase=("P", "Pg"), reference_time=ref)[0]
    assert first.picks.labels == ("UH1", "UH2", "UH3") and first.reference_time == ref
    np.testing.assert_allclose(first.picks.times_s, [26.13, 26.04, 25.93], atol=1e-9)
    s_only = read_nlloc_obs(path, phase="S")
    assert [e.picks.labels for e in s_only] == [("UH1",), ("UH4",)]


def test_several_events_round_trip(tmp_path):
    events = [
        PickEvent(Picks(np.array([0.1, 0.25]), np.array([0.005, 0.01]), ("R01", "R02")),
                  UTCDateTime(2021, 6, 1, 12, 0, 0.5), "ev-1"),
        PickEvent(Picks(np.array([-0.05]), np.array([0.002]), ("R03",)),
                  UTCDateTime(2021, 6, 1, 12, 0, 59.99), None),
    ]  # fmt: skip
    path = write_nlloc_obs_events(tmp_path / "e.obs", events, comment="two events\nsecond line")
    text = path.read_text()
    assert text.startswith("# two events\n# second line\nPUBLIC_ID ev-1\n")
    back = read_nlloc_obs(path, reference_time=events[0].reference_time)
    assert [e.public_id for e in back] == ["ev-1", None]
    np.testing.assert_allclose(back[0].picks.times_s, [0.1, 0.25], atol=1e-9)
    np.testing.assert_allclose(back[1].picks.times_s, [59.49 - 0.05], atol=1e-9)
    np.testing.assert_allclose(back[1].picks.errors_s, [0.002])


def test_a_phase_file_written_by_obspy(tmp_path):
    """ObsPy writes NLLOC_OBS (it does not read it): seconds as %7.4f, a PUBLIC_ID line."""
    from obspy.core.event import Catalog, Event, Pick, QuantityError, WaveformStreamID

    ref = UTCDateTime(2021, 6, 1, 12, 0, 7.5)
    event = Event(resource_id="smi:local/ev/7")
    for sta, t, err in (("R02", 1.25, 0.01), ("R01", 0.4059, 0.005)):
        event.picks.append(
            Pick(time=ref + t, phase_hint="P", time_errors=QuantityError(uncertainty=err),
                 waveform_id=WaveformStreamID("XX", sta, "", "HHZ"))
        )  # fmt: skip
    Catalog([event]).write(str(tmp_path / "o.obs"), format="NLLOC_OBS")
    [back] = read_nlloc_obs(tmp_path / "o.obs", reference_time=ref)
    assert back.public_id == "smi:local/ev/7" and back.picks.labels == ("R01", "R02")
    np.testing.assert_allclose(back.picks.times_s, [0.4059, 1.25], atol=1e-9)
    np.testing.assert_allclose(back.picks.errors_s, [0.005, 0.01])


def test_default_error_for_picks_without_one(tmp_path):
    path = tmp_path / "e.obs"
    path.write_text(_line("UH1", err=-1.0) + "\n")
    [event] = read_nlloc_obs(path, default_error_s=0.004)
    np.testing.assert_allclose(event.picks.errors_s, [0.004])


# --------------------------------------------------------------------------------------------
# Bad files
# --------------------------------------------------------------------------------------------

BAD_OBS_FILES = {
    "only calculated part": ("> 0.41 0.0 1.0\n", "line 1: no pick before '>'"),
    "too few fields": ("UH1 ? Z i P U 20210601 0502\n", "line 1: expected at least 11 fields"),
    "bad date": (_line("UH1", date="2021061") + "\n", "line 1: date '2021061' is not yyyymmdd"),
    "impossible day": (_line("UH1", date="20210230") + "\n", "date '20210230' is not a valid"),
    "bad hour-minute": (_line("UH1", hm="25x0") + "\n", "hour-minute '25x0' is not hhmm"),
    "hour out of range": (_line("UH1", hm="2460") + "\n", "hour-minute '2460' out of range"),
    "bad seconds": (_line("UH1").replace("26.1300", "26,1300") + "\n", "seconds '26,1300'"),
    "QUAL error type": (_line("UH1").replace("GAU", "QUAL") + "\n", "error type 'QUAL'"),
    "negative error": (_line("UH1", err=-1.0) + "\n", "pass default_error_s"),
    "bad a-priori weight": (_line("UH1") + " x\n", "a-priori weight 'x'"),
    "second bad line numbered": (_line("UH1") + "\nUH2 ? ? ? P\n", "line 2: expected at least"),
    "many bad lines": ("".join(f"bad line {i}\n" for i in range(8)),
                       r"8 malformed pick lines \(and 3 more\): line 1: .*line 5:"),
    "duplicate station": (_line("UH1") + "\n" + _line("UH1", sec=27.0) + "\n",
                          r"station UH1 has two \['P'\] picks in one event \(lines 1 and 2\)"),
    "no pick of the phase": (_line("UH1", "S") + "\n", r"no pick of phase \['P'\] .*found: S"),
    "empty file": ("", r"no pick of phase .*found: none"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_OBS_FILES))
def test_bad_obs_file(tmp_path, case):
    text, match = BAD_OBS_FILES[case]
    path = tmp_path / "bad.obs"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_nlloc_obs(path)


def test_missing_and_binary_obs_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_nlloc_obs(tmp_path / "absent.obs")
    (tmp_path / "bin.obs").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match="not a text file"):
        read_nlloc_obs(tmp_path / "bin.obs")


@pytest.mark.parametrize(
    "picks, kw, match",
    [
        (Picks(np.array([np.nan]), np.array([0.005]), ("A",)), {}, "NaN"),
        (Picks(np.array([0.1]), np.array([0.0]), ("A",)), {}, "positive"),
        (Picks(np.array([0.1]), np.array([0.005]), ("A B",)), {}, "no spaces"),
        (Picks(np.array([0.1]), np.array([0.005]), ()), {}, "one station label per pick"),
        (Picks(np.array([0.1]), np.array([0.005]), ("A",)), {"phase": "P wave"}, "phase"),
    ],
)
def test_write_refuses_bad_picks(tmp_path, picks, kw, match):
    with pytest.raises(ValueError, match=match):
        write_nlloc_obs(tmp_path / "o", picks, **kw)
    assert not (tmp_path / "o").exists()
