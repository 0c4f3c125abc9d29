"""Physiology from a CSV file: one column per channel at one rate, and a ``time`` column in seconds (or a rate
given by the caller). What ``cxsense assess --physio``, ``cxsense session --physio`` and
:func:`cxsense.analyze_session` read.

Columns: ``ecg``, ``ppg``/``bvp``, ``eda``/``gsr``, ``rsp``, ``temp`` and ``acc_x``, ``acc_y``, ``acc_z``
(names as :func:`cxsense.inputs.physio.load_physio` accepts, any case). Other columns (NeuroKit2's example
files carry a ``Photosensor`` column, for instance) are skipped and named in :attr:`PhysioTable.skipped`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["PhysioTable", "read_physio_csv", "MAX_CSV_BYTES"]

#: Largest physiology CSV read, bytes (about 24 h of a six-channel wearable at 64 Hz).
MAX_CSV_BYTES = 512_000_000
_TIME = ("time", "timestamp", "t", "time_s")
_ACC = ("acc_x", "acc_y", "acc_z", "accx", "accy", "accz")


@dataclass
class PhysioTable:
    """A physiology recording: ``times`` (seconds, on the caller's clock after ``offset``), ``frame`` (a pandas
    DataFrame of the known channel columns), ``rate`` (Hz) and the ``skipped`` column names."""

    times: np.ndarray
    frame: object
    rate: float
    skipped: tuple = ()

    def __iter__(self):
        """``times, frame, rate = table`` (the tuple the earlier ``read_physio_csv`` returned)."""
        return iter((self.times, self.frame, self.rate))

    @property
    def duration(self) -> float:
        """Seconds covered."""
        return len(self.times) / self.rate

    def window(self, t_end: float, seconds: float, min_seconds: float = 30.0):
        """``(PhysioInput or None, reason or None)`` for the ``seconds`` up to ``t_end``; ``(None, None)`` when less
        than ``min_seconds`` are covered. Short NaN gaps are interpolated."""
        from .physio import load_physio

        i0, i1 = np.searchsorted(self.times, t_end - seconds), np.searchsorted(self.times, t_end)
        if (i1 - i0) / self.rate < min_seconds:
            return None, None
        try:
            return load_physio(self.frame.iloc[i0:i1].reset_index(drop=True), sampling_rate=self.rate,
                               parameter="physio", nan_policy="interpolate"), None
        except InputError as e:
            return None, str(e)[:200]

    def last(self, seconds: float) -> tuple[object, tuple[float, float]]:
        """The last ``seconds`` as a DataFrame, with the (start, end) it covers in seconds of the file."""
        n = min(len(self.times), int(round(seconds * self.rate)))
        return self.frame.iloc[len(self.times) - n:].reset_index(drop=True), \
            (float(self.times[-n] - self.times[0]), float(self.times[-1] - self.times[0] + 1 / self.rate))


def _known(column) -> bool:
    from .physio import ALIASES, CHANNELS

    key = str(column).strip().lower()
    return key in _ACC or ALIASES.get(key, key) in CHANNELS and key != "acc"


def read_physio_csv(path, *, sampling_rate: float | None = None, offset: float = 0.0,
                    parameter: str = "physio") -> PhysioTable:
    """Read a physiology CSV.

    Parameters
    ----------
    path : str or os.PathLike
    sampling_rate : float, optional
        Hz, for a CSV without a ``time`` column; with one, the rate is the median step of ``time``.
    offset : float
        Seconds added to ``time`` (sessions: video time = CSV time + offset).
    parameter : str
        The name used in error messages.

    Returns
    -------
    PhysioTable

    Raises
    ------
    InputError
        A missing, unreadable or oversized file, no known channel column, a ``time`` column that is not
        increasing, or neither a ``time`` column nor ``sampling_rate``.
    """
    import pandas as pd

    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset):
        raise InputError("physio_offset", "a finite number of seconds", repr(offset))
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise InputError(parameter, "an existing CSV file", repr(path))
    size = os.path.getsize(path)
    if size > MAX_CSV_BYTES:
        raise InputError(parameter, f"a CSV of at most {MAX_CSV_BYTES // 1_000_000} MB", f"{size / 1e6:.0f} MB")
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(parameter, "a readable CSV with one column per channel",
                         f"{os.fspath(path)!r} ({type(e).__name__})") from None
    time_col = next((c for c in df.columns if str(c).strip().lower() in _TIME), None)
    skipped = tuple(str(c) for c in df.columns if c != time_col and not _known(c))
    frame = df[[c for c in df.columns if c != time_col and _known(c)]]
    if frame.shape[1] == 0:
        raise InputError(parameter, "a CSV with at least one channel column (ecg, ppg, eda, rsp, temp, acc_x/y/z)",
                         f"columns {list(df.columns)[:12]}")
    frame = frame.apply(pd.to_numeric, errors="coerce")
    if time_col is not None:
        t = pd.to_numeric(df[time_col], errors="coerce").to_numpy(dtype=float)
        steps = np.diff(t)
        if len(t) < 2 or not np.all(np.isfinite(t)) or np.any(steps <= 0):
            raise InputError(parameter, f"a {time_col!r} column of increasing finite seconds", f"{os.fspath(path)!r}")
        rate = float(1.0 / np.median(steps))
    elif sampling_rate is not None:
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, float)) \
                or not math.isfinite(sampling_rate) or sampling_rate <= 0:
            raise InputError("sampling_rate", "a positive number of Hz", repr(sampling_rate))
        rate = float(sampling_rate)
        t = np.arange(len(frame)) / rate
    else:
        raise InputError("sampling_rate", "a rate in Hz, or a 'time' column in the CSV", "neither")
    return PhysioTable(times=t + float(offset), frame=frame.reset_index(drop=True), rate=rate, skipped=skipped)
