"""How recorded traces are checked and prepared: :class:`WaveformOptions`."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["INSTRUMENT_MODES", "WaveformOptions"]

INSTRUMENT_MODES = ("sensitivity", "response", "none")
"""How the instrument is removed: its sensitivity (a gain), its full response, or not at all."""


@dataclasses.dataclass(frozen=True)
class WaveformOptions:
    """How recorded traces are checked and prepared.

    Attributes:
        channel: channel codes to use (an ObsPy ``select`` pattern, e.g. ``"?DH"``); one
            channel per station must remain.
        instrument: ``"sensitivity"`` (divide by the inventory's instrument sensitivity),
            ``"response"`` (deconvolve the full response, ``output="DEF"``) or ``"none"``.
            Channels without a response in the inventory, and station tables, are left as
            they are (their data must already be in pascals).
        input_units: the units the response must take the data to (``"PA"``: pascals), or
            ``None`` to accept any.
        detrend: ObsPy detrend type (``"demean"``, ``"linear"``, ...) or ``None``.
        bandpass_hz: ``(low, high)`` corners of a Butterworth band-pass, Hz (the emulators'
            band), or ``None``.
        filter_corners: the filter's corners (order).
        zerophase: filter forwards and backwards (no phase shift).
        taper_s: length of the Hann taper at each end of a trace before filtering, s.
        antialias: corner of the anti-alias low-pass applied before decimation, as a fraction
            of the model's Nyquist frequency.
        lanczos_a: half-width of the Lanczos interpolation kernel, samples.
        allow_upsampling: accept traces sampled more coarsely than the model (refused by
            default: they lack part of the band the emulators model).
        noise_window_s: length of the pre-event window (s before the reference time) from
            which a :class:`~jaxseis.noise.ColouredNoise` model is estimated, or ``None``.
        noise_sigma: white-noise standard deviation, Pa (a number or one per receiver, in the
            emulators' order), when there is no noise window.
        tol_km: how far a station may lie from an emulator's receiver and match it, km.
        extra_stations: ``"error"`` for a station that matches no receiver, or ``"ignore"``
            (dropped).
        clip_run: a channel with this many consecutive samples at its largest (or smallest)
            value is clipped; ``None`` skips the check.
        margin_s: data kept on each side of the window (noise window included) for the
            checks, the detrend and the filters, s; the rest of a long recording is cut off
            first. Filters, tapers and the interpolation (``lanczos_a`` samples) need data
            beyond the window: a trace that ends at the window's edge is read, but its edge
            samples are only exact without filtering and at the model's own sampling.
    """

    channel: str = "*"
    instrument: str = "sensitivity"
    input_units: str | None = "PA"
    detrend: str | None = "demean"
    bandpass_hz: tuple[float, float] | None = None
    filter_corners: int = 4
    zerophase: bool = True
    taper_s: float = 0.05
    antialias: float = 0.8
    lanczos_a: int = 20
    allow_upsampling: bool = False
    noise_window_s: float | None = None
    noise_sigma: float | tuple[float, ...] | None = None
    tol_km: float = 0.005
    extra_stations: str = "error"
    clip_run: int | None = 5
    margin_s: float = 5.0

    def __post_init__(self):
        if self.instrument not in INSTRUMENT_MODES:
            raise ValueError(
                f"instrument must be one of {INSTRUMENT_MODES}, got {self.instrument!r}"
            )
        if self.extra_stations not in ("error", "ignore"):
            raise ValueError(
                f"extra_stations must be 'error' or 'ignore', got {self.extra_stations!r}"
            )
        if self.bandpass_hz is not None:
            lo, hi = (float(v) for v in self.bandpass_hz)
            if not (0 < lo < hi and math.isfinite(hi)):
                raise ValueError(
                    f"bandpass_hz must be (low, high) with 0 < low < high, got {self.bandpass_hz}"
                )
            object.__setattr__(self, "bandpass_hz", (lo, hi))
        if self.noise_window_s is not None and not (
            math.isfinite(self.noise_window_s) and self.noise_window_s > 0
        ):
            raise ValueError(
                f"noise_window_s must be a positive number of seconds, got {self.noise_window_s}"
            )
        if self.noise_window_s is not None and self.noise_sigma is not None:
            raise ValueError(
                "give either noise_window_s (coloured noise) or noise_sigma (white), not both"
            )
        if self.noise_sigma is not None:
            s = np.atleast_1d(np.asarray(self.noise_sigma, dtype=np.float64))
            if not np.all(np.isfinite(s) & (s > 0)):
                raise ValueError(
                    f"noise_sigma must be positive numbers (Pa), got {self.noise_sigma}"
                )
        for name in ("taper_s", "tol_km", "margin_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if not 0 < self.antialias <= 1:
            raise ValueError(f"antialias must lie in (0, 1], got {self.antialias}")
        if int(self.lanczos_a) < 1 or int(self.filter_corners) < 1:
            raise ValueError("lanczos_a and filter_corners must be positive integers")
        if self.clip_run is not None and int(self.clip_run) < 2:
            raise ValueError(f"clip_run must be an integer >= 2 or None, got {self.clip_run}")
