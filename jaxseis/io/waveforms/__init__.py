"""Observed waveforms in: an :class:`~jaxseis.observation.Observation` from ObsPy streams or
files; and out: synthetic observations written as miniSEED or SAC.

:func:`read_waveforms` (files: paths or glob patterns in any format ObsPy reads) and
:func:`observation_from_stream` (an ObsPy ``Stream``) turn recorded traces into the observation
the likelihoods take, with ObsPy's own tools at every step:

1. the channels matching :attr:`WaveformOptions.channel` are kept; every channel is checked:
   masked data, gaps, overlaps with differing samples, differing or non-positive sampling rates
   (``Stream.get_gaps``, ``Stream.merge``), two channels of one station, a trace that does not
   cover the window, and non-finite, flat or clipped samples around it
   (:attr:`WaveformOptions.margin_s`); each is a ``ValueError`` naming the channel;
2. station positions come from an ObsPy ``Inventory`` (StationXML, mapped to model coordinates
   by a :class:`~jaxseis.io.coordinates.GeoTransform`) or a station table
   (:mod:`jaxseis.io.stations`), and are matched to the emulators' receivers by position within
   :attr:`WaveformOptions.tol_km`;
3. the instrument sensitivity (``Trace.remove_sensitivity``, or the full response with
   ``Trace.remove_response``) is removed to pascals where the inventory has it;
4. ``Trace.detrend``, then, with a band, ``Trace.taper`` and ``Trace.filter("bandpass")`` at the
   recorded rate; when the recorded rate exceeds the model's, an anti-alias
   ``Trace.filter("lowpass")``;
5. ``Trace.interpolate(method="lanczos")`` onto the model's samples: ``n_samples`` at the
   model's ``dt`` from the reference time (and a noise window before it);
6. the noise model: :func:`jaxseis.noise.estimate_noise` (a
   :class:`~jaxseis.noise.ColouredNoise`) on the pre-event window, or white noise of a level
   the user gives.

The reference time is the user's (an origin-time estimate, a catalogue's origin) or derived
from the earliest STA/LTA trigger (:func:`trigger_time`).

The writers make files of the project's own synthetic events: :func:`observation_to_stream`
(traces in pascals, or counts with a sensitivity, optionally with samples before the window)
and :func:`write_waveforms`; station metadata come from
:func:`jaxseis.io.stations.station_inventory`.

Modules, one job each:

* :mod:`~jaxseis.io.waveforms.options`: :class:`WaveformOptions`;
* :mod:`~jaxseis.io.waveforms.reading`: files and streams to an observation (steps 2 and 6,
  and the order of the steps);
* :mod:`~jaxseis.io.waveforms.checks`: the channel and sample checks (step 1);
* :mod:`~jaxseis.io.waveforms.processing`: one channel in pascals on the model's samples
  (steps 3 to 5);
* :mod:`~jaxseis.io.waveforms.trigger`: :func:`trigger_time`;
* :mod:`~jaxseis.io.waveforms.writing`: :func:`observation_to_stream`, :func:`write_waveforms`.
"""

from jaxseis.io.waveforms.options import INSTRUMENT_MODES, WaveformOptions
from jaxseis.io.waveforms.reading import (
    model_window,
    observation_from_stream,
    read_stream,
    read_waveforms,
)
from jaxseis.io.waveforms.trigger import trigger_time
from jaxseis.io.waveforms.writing import observation_to_stream, write_waveforms

__all__ = [
    "INSTRUMENT_MODES",
    "WaveformOptions",
    "model_window",
    "observation_from_stream",
    "observation_to_stream",
    "read_stream",
    "read_waveforms",
    "trigger_time",
    "write_waveforms",
]
