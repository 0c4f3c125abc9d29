"""Normalise every accepted form of physiological input into one :class:`PhysioInput`.

Accepted forms (see the contract):

* a mapping ``{channel: (samples, sampling_rate)}``; channels ``"ecg"``, ``"ppg"`` (alias ``"bvp"``),
  ``"eda"`` (alias ``"gsr"``), ``"rsp"``, ``"temp"``, ``"acc"``; each channel at its own rate;
* a :class:`pandas.DataFrame` whose columns are channel names (``acc`` as ``acc_x``, ``acc_y``,
  ``acc_z``), all at one rate given by ``sampling_rate=``; a ``time`` or ``timestamp`` column is ignored;
* a :class:`PhysioInput` (returned as it is).

Checks, in order: the form, channel names, sampling rates, dtype and shape, the number of samples (at most
:data:`MAX_SAMPLES`, from the shape, before any copy), non-finite samples, magnitudes (at most :data:`MAX_ABS`),
duration per channel, and agreement of durations between channels. Every failure raises
:class:`~cxsense.errors.InputError` naming the parameter (e.g. ``physio['eda']``).

NaN policy
----------
NaN or infinite samples are refused by default (``nan_policy="raise"``), as the contract says.
With ``nan_policy="interpolate"``, NaN gaps of at most :data:`MAX_GAP_S` seconds are filled by linear
interpolation (the count of filled samples is kept in :attr:`Channel.n_filled`); longer gaps, gaps
at both ends that leave nothing to interpolate from, or more than :data:`MAX_FILLED_FRACTION` of a
channel filled, still raise. Infinite values always raise.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..limits import PHYSIO_MAX_ABS, PHYSIO_MAX_RATE, PHYSIO_MAX_SAMPLES, PHYSIO_MIN_DURATION_S

__all__ = [
    "CHANNELS",
    "ALIASES",
    "MIN_DURATION_S",
    "DURATION_TOLERANCE_S",
    "MAX_GAP_S",
    "MAX_SAMPLES",
    "MAX_ABS",
    "Channel",
    "PhysioInput",
    "load_physio",
]

#: Canonical channel names, with the lowest sampling rate (Hz) each is accepted at.
CHANNELS: Mapping[str, float] = MappingProxyType({
    "ecg": 50.0,
    "ppg": 15.0,
    "eda": 1.0,
    "rsp": 2.0,
    "temp": 0.2,
    "acc": 4.0,
})

#: Other names accepted for a channel.
ALIASES: Mapping[str, str] = MappingProxyType({"bvp": "ppg", "gsr": "eda", "resp": "rsp", "skt": "temp"})

#: Shortest accepted channel, in seconds. Features are computed for 10 s or more; the stress model
#: was trained on 60-s windows and the encoder lowers its quality for shorter ones.
MIN_DURATION_S = PHYSIO_MIN_DURATION_S

#: Channels of one window may differ in duration by at most this many seconds, or 5 % of the
#: longest, whichever is larger (devices start and stop their streams a little apart).
DURATION_TOLERANCE_S = 2.0

#: Longest NaN gap (seconds) filled with ``nan_policy="interpolate"``.
MAX_GAP_S = 2.0

#: Largest fraction of a channel that ``nan_policy="interpolate"`` may fill.
MAX_FILLED_FRACTION = 0.1

#: Highest accepted sampling rate, in Hz.
MAX_RATE = PHYSIO_MAX_RATE

#: Most samples in one channel, checked on the array's shape before it is copied (:mod:`cxsense.limits`).
MAX_SAMPLES = PHYSIO_MAX_SAMPLES

#: Largest accepted magnitude of a sample, in the channel's unit (far above any real signal; beyond it the
#: filters overflow).
MAX_ABS = PHYSIO_MAX_ABS


@dataclass(frozen=True)
class Channel:
    """One channel of one window.

    Attributes
    ----------
    samples : np.ndarray [shape=(n,) or (n, 3) for ``acc``], float64, read-only
        Units: ECG mV, PPG device units, EDA µS, RSP device units, TEMP °C,
        ACC in g, m/s² or the Empatica E4's 1/64 g (the encoder detects which from gravity).
    sampling_rate : float > 0
        In Hz.
    n_filled : int
        Samples filled by interpolation (``nan_policy="interpolate"``), else 0.
    """

    samples: np.ndarray
    sampling_rate: float
    n_filled: int = 0

    @property
    def duration(self) -> float:
        """Duration in seconds (``n / sampling_rate``)."""
        return self.samples.shape[0] / self.sampling_rate


@dataclass(frozen=True)
class PhysioInput:
    """A normalised window of physiological signals: canonical channel name -> :class:`Channel`."""

    channels: Mapping[str, Channel] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "channels", MappingProxyType(dict(self.channels)))

    @property
    def duration(self) -> float:
        """The longest channel's duration, in seconds."""
        return max(c.duration for c in self.channels.values())

    def __contains__(self, name: str) -> bool:
        return name in self.channels

    def __getitem__(self, name: str) -> Channel:
        return self.channels[name]


def _canonical(name: Any, parameter: str) -> str:
    if not isinstance(name, str):
        raise InputError(parameter, "keyed by channel names (str)", f"a key of type {type(name).__name__}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in CHANNELS:
        allowed = ", ".join(repr(c) for c in CHANNELS) + " (aliases " + ", ".join(
            f"{a!r}->{c!r}" for a, c in ALIASES.items()) + ")"
        raise InputError(parameter, f"keyed by known channel names: {allowed}", f"unknown channel {name!r}")
    return key


def _rate(rate: Any, name: str, parameter: str) -> float:
    p = f"{parameter}[{name!r}]"
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real):
        raise InputError(p, "given with a sampling rate in Hz (a positive number)",
                         f"a sampling rate of type {type(rate).__name__}")
    r = float(rate)
    if not math.isfinite(r) or r <= 0:
        raise InputError(p, "given with a positive, finite sampling rate in Hz", f"sampling_rate={rate!r}")
    if r < CHANNELS[name] or r > MAX_RATE:
        raise InputError(p, f"sampled at {CHANNELS[name]:g} Hz to {MAX_RATE:g} Hz", f"sampling_rate={r:g} Hz")
    return r


def _fill_gaps(x: np.ndarray, rate: float, p: str) -> tuple[np.ndarray, int]:
    """Linear interpolation over NaN gaps of at most MAX_GAP_S (per column)."""
    x2 = x.reshape(len(x), -1).copy()
    bad_any = np.isnan(x2).any(1)
    n_bad = int(bad_any.sum())
    if n_bad > MAX_FILLED_FRACTION * len(x):
        raise InputError(p, f"free of NaN except gaps covering at most {MAX_FILLED_FRACTION:.0%} of the channel",
                         f"{n_bad} NaN samples of {len(x)}")
    # run lengths of the NaN gaps
    edges = np.diff(np.concatenate([[0], bad_any.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int((ends - starts).max())
    if longest > MAX_GAP_S * rate:
        raise InputError(p, f"free of NaN except gaps of at most {MAX_GAP_S:g} s (nan_policy='interpolate')",
                         f"a NaN gap of {longest / rate:.2f} s starting at {starts[np.argmax(ends - starts)] / rate:.2f} s")
    idx = np.arange(len(x))
    for j in range(x2.shape[1]):
        col = x2[:, j]
        bad = np.isnan(col)
        if bad.any():
            col[bad] = np.interp(idx[bad], idx[~bad], col[~bad])
    return x2.reshape(x.shape), n_bad


def _samples(samples: Any, name: str, rate: float, parameter: str, nan_policy: str) -> Channel:
    p = f"{parameter}[{name!r}]"
    try:
        arr = np.asarray(samples)
    except Exception as e:  # ragged lists and the like
        raise InputError(p, "a numeric NumPy array", f"an object that is not an array ({type(e).__name__})") from None
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InputError(p, "a real numeric array (int or float)", f"dtype {arr.dtype}")
    if name == "acc":
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise InputError(p, "shaped (n, 3) (x, y, z per sample)", f"shape {arr.shape}")
    else:
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise InputError(p, "a 1-D array of samples", f"shape {arr.shape}")
    if arr.shape[0] > MAX_SAMPLES:
        raise InputError(p, f"at most {MAX_SAMPLES} samples per channel (cut longer recordings into windows)",
                         f"{arr.shape[0]} samples ({arr.shape[0] / rate:.0f} s at {rate:g} Hz)")
    x = arr.astype(np.float64, copy=True)
    n_filled = 0
    if np.isinf(x).any():
        i = int(np.flatnonzero(np.isinf(x).reshape(len(x), -1).any(1))[0])
        raise InputError(p, "free of infinite values", f"an infinite sample at index {i} ({i / rate:.2f} s)")
    if np.isnan(x).any():
        bad = np.isnan(x).reshape(len(x), -1).any(1)
        if nan_policy == "interpolate" and not bad.all():
            x, n_filled = _fill_gaps(x, rate, p)
        else:
            i = int(np.flatnonzero(bad)[0])
            raise InputError(p, "free of NaN (or use nan_policy='interpolate' for gaps of at most "
                             f"{MAX_GAP_S:g} s)", f"{int(bad.sum())} NaN samples, the first at index {i} ({i / rate:.2f} s)")
    if x.size and max(float(x.max()), -float(x.min())) > MAX_ABS:
        raise InputError(p, f"samples of magnitude at most {MAX_ABS:g} (in the channel's own unit)",
                         f"a sample of magnitude {max(float(x.max()), -float(x.min())):.3g}")
    dur = x.shape[0] / rate
    if dur < MIN_DURATION_S:
        raise InputError(p, f"at least {MIN_DURATION_S:g} s long", f"{x.shape[0]} samples at {rate:g} Hz = {dur:.2f} s")
    x.setflags(write=False)
    return Channel(samples=x, sampling_rate=rate, n_filled=n_filled)


def _from_dataframe(df, sampling_rate, parameter: str) -> dict[str, tuple[Any, Any]]:
    if sampling_rate is None:
        raise InputError("sampling_rate", "given (Hz, a positive number) when physio is a DataFrame", "None")
    cols: dict[str, str] = {}
    acc_cols: dict[str, str] = {}
    for c in df.columns:
        key = str(c).strip().lower()
        if key in ("time", "timestamp", "t", "time_s"):
            continue
        if key in ("acc_x", "acc_y", "acc_z", "accx", "accy", "accz"):
            acc_cols[key[-1]] = c
            continue
        canon = _canonical(str(c), parameter)
        if canon in cols:
            raise InputError(parameter, "one column per channel", f"two columns for {canon!r}")
        cols[canon] = c
    out: dict[str, tuple[Any, Any]] = {}
    for canon, c in cols.items():
        if canon == "acc":
            raise InputError(f"{parameter}[{c!r}]", "acc given as three columns acc_x, acc_y, acc_z", "one column 'acc'")
        out[canon] = (df[c].to_numpy(), sampling_rate)
    if acc_cols:
        if set(acc_cols) != {"x", "y", "z"}:
            raise InputError(f"{parameter}['acc']", "three columns acc_x, acc_y, acc_z",
                             f"columns {sorted(acc_cols.values())}")
        out["acc"] = (np.column_stack([df[acc_cols[k]].to_numpy() for k in "xyz"]), sampling_rate)
    return out


def load_physio(physio: Any, *, sampling_rate: float | None = None, parameter: str = "physio",
                nan_policy: str = "raise") -> PhysioInput:
    """Check and normalise one window of physiological signals.

    Parameters
    ----------
    physio : mapping, pandas.DataFrame or PhysioInput
        ``{channel: (samples, sampling_rate)}`` with channels ``"ecg"``, ``"ppg"`` (alias ``"bvp"``),
        ``"eda"`` (alias ``"gsr"``), ``"rsp"``, ``"temp"``, ``"acc"`` (samples ``(n, 3)``), each at its
        own rate in Hz; or a DataFrame whose columns are channel names, all at ``sampling_rate``.
        In a mapping, a value may be a bare array when ``sampling_rate`` is given.
    sampling_rate : float > 0, optional
        In Hz; required for a DataFrame.
    parameter : str
        Name used in error messages.
    nan_policy : {"raise", "interpolate"}
        See the module's NaN policy.

    Returns
    -------
    PhysioInput

    Raises
    ------
    InputError
        Empty input, unknown channel, bad sampling rate, wrong dtype or shape, more than
        :data:`MAX_SAMPLES` samples in a channel, NaN or infinite samples, a sample larger in magnitude than
        :data:`MAX_ABS`, a channel shorter than :data:`MIN_DURATION_S`, or channels whose durations differ
        by more than the tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> x = load_physio({"bvp": (np.sin(np.arange(3840) / 64 * 2 * np.pi * 1.2), 64),
    ...                  "eda": (np.full(240, 2.0), 4)})
    >>> sorted(x.channels), x["ppg"].sampling_rate
    (['eda', 'ppg'], 64.0)
    """
    if isinstance(physio, PhysioInput):
        return physio
    if nan_policy not in ("raise", "interpolate"):
        raise InputError("nan_policy", "'raise' or 'interpolate'", repr(nan_policy))
    try:
        import pandas as pd  # optional
        is_df = isinstance(physio, pd.DataFrame)
    except ImportError:  # pragma: no cover
        is_df = False
    if is_df:
        items = _from_dataframe(physio, sampling_rate, parameter)
    elif isinstance(physio, Mapping):
        items = {}
        for k, v in physio.items():
            canon = _canonical(k, parameter)
            if canon in items:
                raise InputError(parameter, "one entry per channel", f"{canon!r} given twice (through an alias)")
            if isinstance(v, tuple) and len(v) == 2:
                items[canon] = v
            elif isinstance(v, tuple):
                raise InputError(f"{parameter}[{k!r}]", "a tuple (samples, sampling_rate)", f"a tuple of length {len(v)}")
            elif sampling_rate is not None:
                items[canon] = (v, sampling_rate)
            else:
                raise InputError(f"{parameter}[{k!r}]", "a tuple (samples, sampling_rate)",
                                 f"a {type(v).__name__} without a sampling rate")
    else:
        raise InputError(parameter, "a mapping {channel: (samples, sampling_rate)} or a pandas DataFrame",
                         f"a {type(physio).__name__}")
    if not items:
        raise InputError(parameter, "a non-empty mapping of channels", "no channel")
    channels = {}
    for name, (samples, rate) in items.items():
        r = _rate(rate, name, parameter)
        channels[name] = _samples(samples, name, r, parameter, nan_policy)
    durs = {k: c.duration for k, c in channels.items()}
    longest = max(durs.values())
    tol = max(DURATION_TOLERANCE_S, 0.05 * longest)
    short = {k: d for k, d in durs.items() if longest - d > tol}
    if short:
        desc = ", ".join(f"{k}={d:.2f} s" for k, d in durs.items())
        raise InputError(parameter, f"channels of one window, equal in duration within {tol:.2f} s", f"durations {desc}")
    return PhysioInput(channels=channels)
