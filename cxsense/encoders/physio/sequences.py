"""Within-window shapes: one window as 4-Hz series centred on their own window means.

The tree model reads levels (mean heart rate, EDA level, ...), and levels differ between people
by more than stress moves them. These series keep only how each signal moves *within* the window:
each is centred on its own mean, so a person's offset (a higher resting heart rate, drier skin,
a warmer wrist) cancels. The small convolutional network in :mod:`.shape_model` reads them.

Channels, in model order (:data:`SHAPE_CHANNELS`), all sampled at :data:`SHAPE_FS` Hz on the
window's clock ``t = i / SHAPE_FS``:

* ``eda``: ln(µS + 0.01), pooled or interpolated to 4 Hz;
* ``temp``: skin temperature, °C;
* ``activity``: ln(1-s SD of the acceleration magnitude in g + 0.001);
* ``hr``: instantaneous heart rate (bpm) from the accepted inter-beat intervals (ECG or PPG beats,
  the same cleaning as the heart features), linearly interpolated;
* ``ppg_amp``: ln of the 2-s SD of the PPG after removing its 2-s moving average (pulse amplitude;
  PPG only, the units cancel);
* ``hr_valid``: 1 where an accepted beat lies within 2 s, else 0 (not centred).

A channel that is absent or failed its quality check is all zeros (and ``hr_valid`` is 0), which
the network saw in training (channel dropout).
"""

from __future__ import annotations

import math

import numpy as np

from .features import _acc_scale, _clean_ibi, _to_rate

__all__ = ["SHAPE_CHANNELS", "SHAPE_FS", "shape_sequences"]

SHAPE_FS = 4.0
SHAPE_CHANNELS = ("eda", "temp", "activity", "hr", "ppg_amp", "hr_valid")


def _moving(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` samples (edges use the available samples)."""
    n = max(1, int(n))
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(len(x))
    lo = np.clip(i - n // 2, 0, len(x))
    hi = np.clip(i - n // 2 + n, 0, len(x))
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def _moving_sd(x: np.ndarray, n: int) -> np.ndarray:
    m = _moving(x, n)
    m2 = _moving(x * x, n)
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def _on_grid(y: np.ndarray, fs: float, t: np.ndarray) -> np.ndarray:
    ts = np.arange(len(y)) / fs
    return np.interp(t, ts, y)


def shape_sequences(x, usable: dict[str, bool], beats: np.ndarray | None) -> np.ndarray:
    """The window's centred 4-Hz series.

    Parameters
    ----------
    x : PhysioInput
        The normalised window.
    usable : dict
        Channel name -> whether it passed its quality check (``eda``, ``temp``, ``acc``, ``ppg``).
    beats : np.ndarray or None
        Beat times in seconds (from the ECG or PPG that fed the heart features), or None.

    Returns
    -------
    np.ndarray [shape=(len(SHAPE_CHANNELS), T)], float32
        ``T = floor(duration * SHAPE_FS)``; finite everywhere.
    """
    T = max(1, int(math.floor(x.duration * SHAPE_FS + 1e-9)))
    t = np.arange(T) / SHAPE_FS
    out = np.zeros((len(SHAPE_CHANNELS), T), dtype=np.float64)
    ch = x.channels

    def put(k: int, y: np.ndarray) -> None:
        if np.all(np.isfinite(y)):
            out[k] = y - y.mean()

    if usable.get("eda") and "eda" in ch:
        c = ch["eda"]
        y, fs = _to_rate(np.asarray(c.samples, np.float64), c.sampling_rate, SHAPE_FS)
        put(0, _on_grid(np.log(np.maximum(y, 0.0) + 0.01), fs, t))
    if usable.get("temp") and "temp" in ch:
        c = ch["temp"]
        put(1, _on_grid(np.asarray(c.samples, np.float64), c.sampling_rate, t))
    if usable.get("acc") and "acc" in ch:
        c = ch["acc"]
        a = np.asarray(c.samples, np.float64)
        mag = np.sqrt((a ** 2).sum(1))
        scale, _ = _acc_scale(float(np.median(mag)))
        if math.isfinite(scale):
            sd = _moving_sd(mag * scale, round(c.sampling_rate))
            put(2, _on_grid(np.log(sd + 1e-3), c.sampling_rate, t))
    if beats is not None and len(beats) >= 3:
        ibi, tb, ok = _clean_ibi(np.asarray(beats, np.float64))
        if ok.sum() >= 3:
            tb, hr = tb[ok], 60.0 / ibi[ok]
            put(3, np.interp(t, tb, hr))
            j = np.clip(np.searchsorted(tb, t), 1, len(tb) - 1)
            dist = np.minimum(np.abs(tb[j] - t), np.abs(tb[j - 1] - t))
            out[5] = (dist < 2.0).astype(np.float64)
    if usable.get("ppg") and "ppg" in ch:
        c = ch["ppg"]
        p = np.asarray(c.samples, np.float64)
        n = round(2 * c.sampling_rate)
        amp = _moving_sd(p - _moving(p, n), n)
        put(4, _on_grid(np.log(amp + 1e-3 * (np.median(amp) + 1e-12)), c.sampling_rate, t))
    return out.astype(np.float32)
