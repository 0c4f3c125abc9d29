"""The first signal stages of the voice encoder: framing and voice activity detection.

1. :func:`voice_frames` -- the short-time power spectrum (25-ms Hann window, 10-ms hop, 512-point FFT);
2. :func:`voice_activity` -- energy-based voice activity detection with an adaptive threshold;
3. :func:`voice_keep` -- the frames the model reads: active frames plus 150 ms each side, pauses capped.

All frame sequences share one clock: frame ``i`` is centred on sample ``160 * i``. The later stages are in
:mod:`cxsense.encoders.voice.features`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SR", "N_FFT", "WIN", "HOP", "SILENCE_DBFS", "voice_frames", "voice_activity", "voice_keep", "frame_db"]

SR = 16_000
N_FFT = 512
WIN = 400
HOP = 160
#: Frames below this level are silence whatever the threshold (dBFS).
SILENCE_DBFS = -90.0


def voice_frames(y: np.ndarray) -> np.ndarray:
    """Short-time power spectrum.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float, 16 kHz

    Returns
    -------
    power : np.ndarray [shape=(257, 1 + max(n, 512) // 160)], float64
        |STFT|^2, 25-ms Hann window zero-padded to 512 points, 10-ms hop, centred frames. Signals shorter
        than 512 samples are padded with zeros to 512 first.
    """
    import librosa

    y = np.asarray(y, dtype=np.float64)
    if y.size < N_FFT:  # under 32 ms (always "no speech"): pad with silence rather than let librosa warn
        y = np.pad(y, (0, N_FFT - y.size))
    S = librosa.stft(y, n_fft=N_FFT, hop_length=HOP, win_length=WIN,
                     window="hann", center=True, pad_mode="constant")
    return (S.real ** 2 + S.imag ** 2)


def frame_db(power: np.ndarray) -> np.ndarray:
    """Level of each frame in dBFS: the mean square of the windowed frame (Parseval; Hann window energy
    0.375 * WIN), from the power spectrum ``(257, t)``."""
    ms = (2.0 * power[1:-1].sum(0) + power[0] + power[-1]) / N_FFT / (0.375 * WIN)
    return 10.0 * np.log10(ms + 1e-20)


def voice_activity(frame_db: np.ndarray) -> np.ndarray:
    """Energy-based voice activity with an adaptive threshold.

    The noise floor is the 10th percentile of frame energy and the speech reference the 95th; a frame is
    active above ``max(ref - 35 dB, floor + 6 dB + 0.2 (ref - floor - 6 dB))`` and above silence
    (-90 dBFS). Runs shorter than 50 ms are removed and gaps shorter than 100 ms closed.

    Parameters
    ----------
    frame_db : np.ndarray [shape=(t,)], dBFS per 10-ms frame

    Returns
    -------
    active : np.ndarray [shape=(t,)], bool
    """
    if frame_db.size == 0:
        return np.zeros(0, bool)
    floor = np.percentile(frame_db, 10)
    ref = np.percentile(frame_db, 95)
    thr = max(ref - 35.0, floor + 6.0 + 0.2 * max(ref - floor - 6.0, 0.0), SILENCE_DBFS)
    act = frame_db > thr
    act = _close_gaps(act, 10)
    act = _remove_short(act, 5)
    return act


def _runs(mask: np.ndarray):
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _remove_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    out = mask.copy()
    for s, e in zip(*_runs(mask)):
        if e - s < min_len:
            out[s:e] = False
    return out


def _close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    out = mask.copy()
    starts, ends = _runs(~mask)
    for s, e in zip(starts, ends):
        if 0 < s and e < len(mask) and e - s < max_gap:
            out[s:e] = True
    return out


def voice_keep(active: np.ndarray, margin: int = 15, max_pause: int = 30) -> np.ndarray:
    """Frames the model reads: active frames plus ``margin`` frames each side, pauses capped at ``max_pause``.

    Parameters
    ----------
    active : np.ndarray [shape=(t,)], bool
    margin, max_pause : int, frames of 10 ms

    Returns
    -------
    keep : np.ndarray [shape=(t,)], bool
    """
    t = len(active)
    keep = np.zeros(t, bool)
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return keep
    for s, e in zip(*_runs(active)):
        keep[max(0, s - margin):min(t, e + margin)] = True
    # cap the remaining inactive pauses inside kept stretches: drop the middle of long gaps
    starts, ends = _runs(keep & ~active)
    for s, e in zip(starts, ends):
        if e - s > max_pause:
            cut_s, cut_e = s + max_pause // 2, e - max_pause // 2
            keep[cut_s:cut_e] = False
    return keep
