"""A statistical model of the emulators' error, marginalised in the waveform likelihood.

An emulator's trace ``f`` differs from the simulation it replaces by an error ``e``. Left out
of the likelihood, that error is fitted as if it were signal and the posterior is too narrow.
On held-out simulations the error of the direct-arrival emulators is, per receiver and event,
part a small change of the whole arrival (its **amplitude**, **timing**, **phase** and
**width**) and part a **waveform** error spread over the frequency band. Modelled as
Gaussian, the spectrum of the error of one trace is::

    E_k = sum_j a_j B_kj F_k + W_k,      B_k = (1, -i omega_k, -i sign(omega_k), -(omega_k dt)^2)
    (a_1..a_4) of all receivers ~ N(0, covariance),
    E|W_k|^2 = floor_fraction_k P,

with ``F`` the spectrum of the predicted trace (which already carries the event's origin time
and amplitude: the arrival's error follows the trace wherever ``t0`` moves it and scales with
the source), ``omega_k`` rad/s (:func:`error_basis`), and ``P`` the mean power of the trace's
part in the signal band (``band_hz``; ``sum_t f_t^2 / n`` of the band-passed trace).

* The arrival's errors of different receivers are correlated (an emulator set errs alike at
  neighbouring receivers, which mimics a change of the event's origin time or strength), so
  they share one covariance ``[4 n_receivers, 4 n_receivers]``: a rank-``4 n_receivers``
  term, marginalised exactly by the Woodbury identity
  (:func:`jaxseis.likelihood.waveform.waveform_log_likelihood` with ``emulator_error``). The
  timing, phase and width terms are linearised: they hold for errors well below the
  dominant period.
* The waveform part is treated as stationary (diagonal in frequency, as the Whittle
  likelihood treats the noise). In the likelihood ``P`` is the **observed** trace's in-band
  power less the noise's, a plug-in that does not depend on the parameters: with this floor
  tied to the predicted amplitude instead, its log-determinant pulled the amplitude (and with
  it ``t0`` and depth) low.
* Outside ``band_hz`` the simulations carry no signal (their wavelet is band-limited) while
  the emulators' output keeps a small artefact of its own; under coloured noise, which is
  weakest exactly there, that artefact biased the posterior. The likelihood therefore sums
  over the band by default.

:func:`fit_emulator_error` estimates the coefficients from simulations the emulators did not see
in training (the **validation** split; never the events being located): per trace, the
least-squares arrival errors give their second-moment matrix ``covariance``; per frequency
bin, the regression of the remaining error power on the trace's in-band power (through the
origin) gives ``floor_fraction``; the simulations' mean spectrum gives ``band_hz``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators.base import Emulator
from jaxseis.emulators.batching import map_batches
from jaxseis.files import atomic_path
from jaxseis.forward import ForwardModel, apply_forward, forward_model
from jaxseis.noise import rfft_weights

__all__ = [
    "EmulatorError",
    "band_mask",
    "band_power",
    "emulator_error_terms",
    "error_basis",
    "fit_emulator_error",
    "load_emulator_error",
    "save_emulator_error",
]

_MIN_TRACES = 20
#: the signal band: bins whose mean power over the held-out simulations is within this many
#: decibels of the peak bin's
SIGNAL_DB = 40.0
#: columns of the arrivals' error per receiver: amplitude, timing, phase, width
N_BASIS = 4


def error_basis(n_samples: int, dt: float) -> np.ndarray:
    """``[n_samples // 2 + 1, N_BASIS]`` complex multipliers of a trace's spectrum ``F_k``
    whose columns are the spectra of its changes: of amplitude (``F``), of timing by one
    second (``-i omega F``), of phase by one radian (``-i sign(omega) F``, the Hilbert
    transform) and of width (``-(omega dt)^2 F``, the second derivative in samples)."""
    omega = 2.0 * np.pi * np.fft.rfftfreq(int(n_samples), float(dt))
    hilbert = -1j * np.sign(omega)
    if n_samples % 2 == 0:
        hilbert[-1] = 0.0  # the Nyquist bin of a real trace stays real
    cols = [np.ones_like(omega), -1j * omega, hilbert, -((omega * dt) ** 2)]
    return np.stack(cols, axis=-1).astype(np.complex128)


_FORMAT = "jaxseis-emulator-error-2"


class EmulatorError(NamedTuple):
    """The error model of an emulator set (one row per receiver, in the model's order).

    Attributes:
        receivers_km: ``[n_receivers, 3]`` km.
        dt: sampling interval, s.
        n_samples: trace length.
        covariance: ``[4 n_receivers, 4 n_receivers]`` second moments of the arrivals'
            errors: relative amplitude, timing (s), phase (rad) and width (samples squared,
            the coefficient of the second derivative), in the order of :func:`error_basis`
            for receiver 0, then for receiver 1, ...
        floor_fraction: ``[n_receivers, n_samples // 2 + 1]`` waveform error power per bin
            (as ``|rfft|^2``) per unit of the mean power of the trace's part in ``band_hz``.
        n_traces: number of traces per receiver the model was fitted on.
        band_hz: ``[2]`` the band (Hz) where the held-out simulations carry signal: their
            mean power per bin within :data:`SIGNAL_DB` of its peak. Outside it the
            emulators' output is their own artefact (what the simulations lack, not an error
            around a signal), and the likelihood leaves it out by default.
    """

    receivers_km: np.ndarray
    dt: float
    n_samples: int
    covariance: np.ndarray
    floor_fraction: np.ndarray
    n_traces: int
    band_hz: np.ndarray

    @property
    def amplitude_sd(self) -> np.ndarray:
        """``[n_receivers]`` relative sd of each arrival's amplitude error."""
        return np.sqrt(np.diag(np.asarray(self.covariance))[0::N_BASIS])

    @property
    def timing_sd_s(self) -> np.ndarray:
        """``[n_receivers]`` sd of each arrival's timing error, s."""
        return np.sqrt(np.diag(np.asarray(self.covariance))[1::N_BASIS])

    @property
    def phase_sd_rad(self) -> np.ndarray:
        """``[n_receivers]`` sd of each arrival's phase error, rad."""
        return np.sqrt(np.diag(np.asarray(self.covariance))[2::N_BASIS])

    def check(self) -> EmulatorError:
        """``self``, validated (shapes and finite, non-negative values).

        Raises:
            ValueError: naming the bad field.
        """
        r = np.asarray(self.receivers_km)
        n_freq = int(self.n_samples) // 2 + 1
        shapes = {
            "covariance": (N_BASIS * r.shape[0], N_BASIS * r.shape[0]),
            "floor_fraction": (r.shape[0], n_freq),
        }
        for name, shape in shapes.items():
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if v.shape != shape:
                raise ValueError(f"EmulatorError.{name} has shape {v.shape}; expected {shape}")
            if not np.all(np.isfinite(v)) or (name != "covariance" and np.any(v < 0)):
                raise ValueError(f"EmulatorError.{name} must be finite and >= 0")
        band = np.asarray(self.band_hz, dtype=np.float64)
        nyquist = 0.5 / float(self.dt)
        if band.shape != (2,) or not (0.0 <= band[0] < band[1] <= nyquist * (1 + 1e-9)):
            raise ValueError(
                f"EmulatorError.band_hz must be (low, high) with 0 <= low < high <= {nyquist:g} "
                f"Hz; got {band}"
            )
        cov = np.asarray(self.covariance, dtype=np.float64)
        if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() < -1e-9 * np.trace(cov):
            raise ValueError("EmulatorError.covariance must be symmetric positive semi-definite")
        return self


def fit_emulator_error(
    emulators: Sequence[Emulator] | ForwardModel,
    sources_km,
    traces,
) -> EmulatorError:
    """Estimate the error model from held-out simulations.

    Args:
        emulators: one emulator per receiver, or a :class:`~jaxseis.forward.ForwardModel`.
        sources_km: ``[m, 3]`` km source positions of simulations no emulator was trained on
            (the validation split).
        traces: ``[n_receivers, m, n_samples]`` the simulated traces at the model's receivers,
            in its order, unit source strength, origin time at the first sample.

    Returns:
        The :class:`EmulatorError`.

    Raises:
        ValueError: mismatched shapes, fewer than 20 traces, or non-finite traces.
    """
    model = emulators if isinstance(emulators, ForwardModel) else forward_model(emulators)
    sources = np.asarray(sources_km, dtype=np.float64)
    sim = np.asarray(traces, dtype=np.float64)
    n_rec, n = len(model.receivers_km), model.n_samples
    if sources.ndim != 2 or sources.shape[1] != 3:
        raise ValueError(f"sources_km must be [m, 3]; got shape {sources.shape}")
    if sim.shape != (n_rec, sources.shape[0], n):
        raise ValueError(
            f"traces must be [n_receivers, m, n_samples] = {(n_rec, sources.shape[0], n)}; "
            f"got {sim.shape}"
        )
    if sources.shape[0] < _MIN_TRACES:
        raise ValueError(
            f"fit the emulator error on at least {_MIN_TRACES} held-out simulations; "
            f"got {sources.shape[0]}"
        )
    if not (np.all(np.isfinite(sim)) and np.all(np.isfinite(sources))):
        raise ValueError("the held-out sources or traces contain NaN or infinity")
    with jax.enable_x64(True):
        params = jax.tree.map(jnp.asarray, model.params)
        run = jax.jit(jax.vmap(lambda s: apply_forward(model.static, params, s)))
        pred = map_batches(run, sources, 256)  # [m, r, n]
    pred = np.swapaxes(np.asarray(pred, dtype=np.float64), 0, 1)  # [r, m, n]
    c = rfft_weights(n)
    spec = np.fft.rfft(pred, axis=-1)
    sim_spec = np.fft.rfft(sim, axis=-1)
    resid = sim_spec - spec
    basis = spec[..., None] * error_basis(n, model.dt)  # [r, m, k, N_BASIS]
    gram = np.einsum("k,rmki,rmkj->rmij", c, basis.conj(), basis).real
    proj = np.einsum("k,rmki,rmk->rmi", c, basis.conj(), resid).real
    gram = gram + 1e-10 * np.diagonal(gram, axis1=-2, axis2=-1)[..., None] * np.eye(N_BASIS)
    z = np.linalg.solve(gram, proj[..., None])[..., 0]  # [r, m, N_BASIS]
    flat = np.swapaxes(z, 0, 1).reshape(z.shape[1], -1)  # [m, N_BASIS r]
    covariance = flat.T @ flat / flat.shape[0]
    rest = np.abs(resid - np.einsum("rmki,rmi->rmk", basis, z)) ** 2  # [r, m, k]
    band = _signal_band(sim_spec, model.dt, n)
    power = band_power(spec, band, n, model.dt)  # the predicted traces' in-band power, [r, m]
    # per receiver and bin, least squares of rest ~ floor * power over the traces
    floor = np.einsum("rm,rmk->rk", power, rest) / np.sum(power**2, axis=1)[:, None]
    return EmulatorError(
        receivers_km=np.asarray(model.receivers_km, dtype=np.float64),
        dt=float(model.dt),
        n_samples=int(n),
        covariance=covariance,
        floor_fraction=floor,
        n_traces=int(sources.shape[0]),
        band_hz=band,
    ).check()


def emulator_error_terms(
    error: EmulatorError, receivers_km, dt: float, n_samples: int, trace_power
) -> dict:
    """The error model's arrays for a likelihood's ``data``, checked against its receivers
    ``[n_receivers, 3]`` km (same order), sampling interval (s) and trace length.

    ``trace_power`` ``[n_receivers]`` is the observed signal's mean power per receiver
    (``sum_t d_t^2 / n`` less the noise's variance, clipped at zero; trace units squared): it
    sets the waveform error's floor.

    Returns:
        ``{"err_chol": [2 r, 2 r] (a square root L of the covariance, L L^T), "err_floor":
        [r, k] (as |rfft|^2), "omega": [k] rad/s}`` as float64 NumPy arrays.

    Raises:
        ValueError: an error model of other receivers, sampling or window length.
    """
    if not isinstance(error, EmulatorError):
        raise ValueError(f"emulator_error must be an EmulatorError; got {type(error).__name__}")
    error = error.check()
    rec = np.asarray(receivers_km, dtype=np.float64)
    if error.receivers_km.shape != rec.shape or not np.allclose(error.receivers_km, rec, atol=1e-6):
        raise ValueError(
            "the emulator error model was fitted for other receivers; fit it with "
            "fit_emulator_error on the same emulator set"
        )
    if int(error.n_samples) != int(n_samples) or not np.isclose(error.dt, dt, rtol=1e-9):
        raise ValueError(
            f"the emulator error model has {error.n_samples} samples at {error.dt * 1e3:g} ms "
            f"but the likelihood {n_samples} at {dt * 1e3:g} ms; fit it on the same emulators"
        )
    power = np.asarray(trace_power, dtype=np.float64)
    if power.shape != (rec.shape[0],) or not np.all(np.isfinite(power)) or np.any(power < 0):
        raise ValueError(
            f"trace_power must be {rec.shape[0]} finite values >= 0 (one per receiver); got {power}"
        )
    cov = np.asarray(error.covariance, dtype=np.float64)
    lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
    return {
        "err_chol": vec * np.sqrt(np.maximum(lam, 0.0)),
        "err_floor": np.asarray(error.floor_fraction, dtype=np.float64) * power[:, None],
        "err_basis": error_basis(int(n_samples), float(dt)),
    }


def save_emulator_error(path: str | Path, error: EmulatorError) -> Path:
    """Write the error model to ``path`` (``.npz``), atomically (an interrupted write leaves
    no file)."""
    error = error.check()
    path = Path(path)
    arrays = {f: np.asarray(getattr(error, f)) for f in EmulatorError._fields}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, format=np.asarray(_FORMAT), **arrays)
    return path


def load_emulator_error(path: str | Path) -> EmulatorError:
    """Read an error model written by :func:`save_emulator_error`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an emulator error file, or a corrupt one.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"emulator error file {path} not found; make it with fit_emulator_error and "
            "save_emulator_error"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            found = str(z["format"]) if "format" in z else ""
            if found.startswith("jaxseis-emulator-error-") and found != _FORMAT:
                raise ValueError(
                    f"{path} is an emulator error file of an older model ({found}); fit it "
                    "again with fit_emulator_error and save_emulator_error"
                )
            if found != _FORMAT:
                raise ValueError(f"{path} is not a jaxseis emulator error file ({_FORMAT})")
            fields = {f: z[f] for f in EmulatorError._fields}
    except (OSError, KeyError, EOFError, ValueError) as err:
        if isinstance(err, ValueError) and "emulator error file" in str(err):
            raise
        raise ValueError(f"cannot read the emulator error file {path}: {err}") from err
    fields["dt"] = float(fields["dt"])
    fields["n_samples"] = int(fields["n_samples"])
    fields["n_traces"] = int(fields["n_traces"])
    return EmulatorError(**fields).check()


def _signal_band(spectra: np.ndarray, dt: float, n: int) -> np.ndarray:
    """``(low, high)`` Hz: the outermost bins whose mean power over all traces
    ``spectra [..., k]`` is within :data:`SIGNAL_DB` of the peak."""
    power = np.mean(np.abs(spectra.reshape(-1, spectra.shape[-1])) ** 2, axis=0)
    inside = np.flatnonzero(power >= power.max() * 10.0 ** (-SIGNAL_DB / 10.0))
    freqs = np.fft.rfftfreq(n, dt)
    return np.array([freqs[inside[0]], freqs[inside[-1]]])


def band_mask(band_hz, n_samples: int, dt: float) -> np.ndarray:
    """``[n_samples // 2 + 1]`` 1.0 for the one-sided DFT bins inside ``band_hz = (low, high)``
    Hz (inclusive), else 0.0."""
    freqs = np.fft.rfftfreq(int(n_samples), float(dt))
    low, high = band_hz
    return ((freqs >= low) & (freqs <= high)).astype(np.float64)


def band_power(spectra, band_hz, n_samples: int, dt: float) -> np.ndarray:
    """Mean power ``sum_t x_t^2 / n`` of the band-passed traces whose one-sided spectra are
    ``spectra [..., n_samples // 2 + 1]``: ``[...]``, trace units squared. The power ``P``
    of the waveform error's floor, in the fit and in the likelihood alike."""
    c = rfft_weights(int(n_samples)) * band_mask(band_hz, n_samples, dt)
    return np.einsum("k,...k->...", c, np.abs(spectra) ** 2) / int(n_samples) ** 2
