"""One recorded channel made ready for the likelihood: the instrument removed (to pascals),
detrended, band-passed, anti-alias filtered and interpolated onto the model's samples, with
ObsPy's own tools (:func:`prepare_trace`)."""

from __future__ import annotations

import warnings

import numpy as np
from obspy import Trace, UTCDateTime

from jaxseis.io.waveforms.checks import check_samples
from jaxseis.io.waveforms.options import WaveformOptions

__all__ = ["prepare_trace", "remove_instrument"]


def prepare_trace(
    tr: Trace, inventory, start: UTCDateTime, npts: int, dt: float, options: WaveformOptions
) -> np.ndarray:
    """One channel in pascals, filtered and interpolated onto ``npts`` samples from ``start``."""
    tr = tr.copy()
    tr.data = np.asarray(tr.data, dtype=np.float64)
    rate, model_rate = float(tr.stats.sampling_rate), 1.0 / dt
    end = start + (npts - 1) * dt
    slack = 1e-3 * tr.stats.delta
    if tr.stats.starttime > start + slack or tr.stats.endtime < end - slack:
        raise ValueError(
            f"channel {tr.id} covers {tr.stats.starttime} - {tr.stats.endtime}, too short for the "
            f"window {start} - {end} ({npts} samples at {dt} s, noise window included)"
        )
    tr.trim(start - options.margin_s, end + options.margin_s)
    check_samples(tr, options)
    if rate < model_rate * (1 - 1e-9) and not options.allow_upsampling:
        raise ValueError(
            f"channel {tr.id} is sampled at {rate:g} Hz, below the emulators' {model_rate:g} Hz: "
            "it lacks part of their band (pass WaveformOptions(allow_upsampling=True) if the "
            "data are band-limited)"
        )
    band = options.bandpass_hz
    if band is not None and band[1] >= 0.5 * min(rate, model_rate):
        raise ValueError(
            f"channel {tr.id}: the band-pass corner {band[1]} Hz is not below the Nyquist "
            f"frequency {0.5 * min(rate, model_rate):g} Hz"
        )
    if inventory is not None and options.instrument != "none":
        remove_instrument(tr, inventory, options)
    if options.detrend is not None:
        tr.detrend(options.detrend)
    filtering = band is not None or rate > model_rate * (1 + 1e-9)
    if filtering and options.taper_s > 0:
        if tr.stats.starttime > start - options.taper_s or tr.stats.endtime < end + options.taper_s:
            warnings.warn(
                f"channel {tr.id}: the {options.taper_s} s taper before filtering reaches into "
                "the window; record longer traces around it",
                stacklevel=4,
            )
        tr.taper(max_percentage=0.5, type="hann", max_length=options.taper_s)
    if band is not None:
        tr.filter(
            "bandpass", freqmin=band[0], freqmax=band[1],
            corners=int(options.filter_corners), zerophase=options.zerophase,
        )  # fmt: skip
    if rate > model_rate * (1 + 1e-9):
        tr.filter(
            "lowpass", freq=options.antialias * 0.5 * model_rate,
            corners=int(options.filter_corners), zerophase=options.zerophase,
        )  # fmt: skip
    tr.interpolate(
        model_rate, method="lanczos", starttime=start, npts=npts, a=int(options.lanczos_a)
    )
    return np.asarray(tr.data, dtype=np.float64)


def remove_instrument(tr: Trace, inventory, options: WaveformOptions) -> None:
    """Remove the instrument from ``tr`` in place (its sensitivity or full response, as
    ``options.instrument`` says); a channel without a response in ``inventory`` is left as it
    is (its data are taken as pascals).

    Raises:
        ValueError: input units other than ``options.input_units``.
    """
    try:
        response = inventory.get_response(tr.id, tr.stats.starttime)
    except Exception:  # no response for the channel: its data are taken as pascals
        return
    sens = response.instrument_sensitivity
    if sens is None or not sens.value:
        return
    units = (sens.input_units or "").upper()
    if options.input_units is not None and units != options.input_units.upper():
        raise ValueError(
            f"channel {tr.id}: the instrument's input units are {units or 'unset'}, not "
            f"{options.input_units} (a pressure sensor is needed; set "
            "WaveformOptions(input_units=None) to accept them)"
        )
    if options.instrument == "sensitivity":
        tr.remove_sensitivity(inventory)
    else:
        tr.remove_response(inventory, output="DEF")
