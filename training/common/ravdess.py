"""RAVDESS speech for the voice-tone model: file lists, labels, augmentation and a feature cache.

The data is read where it lies (``<data_root>/voice/ravdess``) and never copied into the project.
Speaker-independent split: ``train`` = actors 01-18, ``dev`` = actors 19-20 (the ``split`` column of
``labels.csv``); actors 21-24 are kept back by the data owner. "calm" is merged into "neutral"
(it has no Ekman counterpart and is acoustically a low-arousal neutral).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cxsense.emotions import EMOTIONS

#: RAVDESS emotion name -> cxsense category. "calm" counts as neutral.
RAVDESS_TO_CX = {
    "neutral": "neutral", "calm": "neutral", "happy": "happiness", "sad": "sadness", "angry": "anger",
    "fearful": "fear", "disgust": "disgust", "surprised": "surprise",
}
SR = 16_000


def load_ravdess(root: Path, split: str) -> list[dict]:
    """Rows of ``labels.csv`` for one split, each with ``path`` (absolute) and ``label`` (index in EMOTIONS).

    Parameters
    ----------
    root : Path, the data root (:func:`training.common.data.data_root`)
    split : "train" (actors 01-18) or "dev" (actors 19-20)
    """
    folder = Path(root) / "voice" / "ravdess"
    rows = []
    with open(folder / "labels.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["split"] != split:
                continue
            r = dict(r)
            r["path"] = str(folder / r["file"])
            r["label"] = EMOTIONS.index(RAVDESS_TO_CX[r["emotion"]])
            rows.append(r)
    if not rows:
        raise SystemExit(f"no RAVDESS rows for split {split!r} in {folder}")
    speakers = {r["speaker"] for r in rows}
    other = "dev" if split == "train" else "train"
    with open(folder / "labels.csv", newline="") as f:
        other_speakers = {r["speaker"] for r in csv.DictReader(f) if r["split"] == other}
    if speakers & other_speakers:
        raise SystemExit(f"speakers in both splits: {sorted(speakers & other_speakers)}")
    return rows


def read_wav(path: str) -> np.ndarray:
    """One RAVDESS file as float64 mono at 16 kHz."""
    import soundfile as sf

    y, sr = sf.read(path, dtype="float64", always_2d=True)
    if sr != SR:
        raise SystemExit(f"{path}: expected 16 kHz, got {sr}")
    return y.mean(1)


def speech_power(y: np.ndarray) -> float:
    """Mean power of the active-speech frames (the encoder's own VAD), for SNR definitions."""
    from cxsense.encoders.voice.features import _frame_db, voice_activity, voice_frames

    db = _frame_db(voice_frames(y))
    act = voice_activity(db)
    sel = db[act] if act.any() else db
    return float(np.mean(10 ** (sel / 10)))


def coloured_noise(n: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """Unit-power white, pink (1/f) or brown (1/f^2) noise of ``n`` samples."""
    w = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(w)
        f = np.fft.rfftfreq(n, 1 / SR)
        f[0] = f[1]
        spec /= np.sqrt(f) if kind == "pink" else f
        w = np.fft.irfft(spec, n)
    return w / (np.sqrt(np.mean(w ** 2)) + 1e-12)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator, kind: str = "white") -> np.ndarray:
    """Add noise at ``snr_db`` relative to the active-speech power of ``y``."""
    p = speech_power(y)
    return y + np.sqrt(p / 10 ** (snr_db / 10)) * coloured_noise(len(y), rng, kind)


def reverberate(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room response: exponentially decaying noise, RT60 0.15-0.8 s."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.15, 0.8)
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    h[0] = 0.0
    h *= rng.uniform(0.2, 1.0) / (np.sqrt(np.sum(h ** 2)) + 1e-12)
    h[0] = 1.0
    return fftconvolve(y, h)[: len(y)]


def equalise(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random recording chain: spectral tilt (first-order filter) and sometimes a low-pass (3.4-7 kHz)."""
    from scipy.signal import butter, lfilter

    a = rng.uniform(-0.6, 0.8)
    y = lfilter([1.0, -a], [1.0], y)
    if rng.random() < 0.4:
        b, c = butter(4, rng.uniform(3400, 7000) / (SR / 2))
        y = lfilter(b, c, y)
    if rng.random() < 0.3:
        b, c = butter(2, rng.uniform(80, 300) / (SR / 2), btype="high")
        y = lfilter(b, c, y)
    return y


def pitch_shift(y: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch shift keeping the duration: phase-vocoder stretch, then polyphase resampling (deterministic)."""
    from fractions import Fraction

    import librosa
    from scipy.signal import resample_poly

    fr = Fraction(2 ** (semitones / 12)).limit_denominator(60)
    ys = librosa.effects.time_stretch(y, rate=fr.denominator / fr.numerator)
    return resample_poly(ys, fr.denominator, fr.numerator)


def telephone_channel(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A telephone line: band-pass (low edge 250-350 Hz, high edge 3.2-3.6 kHz, 4th-order Butterworth), 8-kHz
    sampling and 16-bit quantisation, back to 16 kHz (what ``load_audio`` does with an 8-kHz recording)."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    lo, hi = float(rng.uniform(250, 350)), float(rng.uniform(3200, 3600))
    z = sosfiltfilt(butter(4, [lo, hi], "band", fs=16000, output="sos"), y)
    z8 = resample_poly(z, 1, 2)
    peak = float(np.max(np.abs(z8))) if z8.size else 0.0
    if peak > 1.0:
        z8 = z8 / peak
    z8 = np.round(z8 * 32767) / 32767
    return resample_poly(z8, 2, 1)[: len(y)]


def augment(y: np.ndarray, rng: np.random.Generator, pitch_tempo: bool = True,
            telephone: float = 0.0, noise_p: float = 0.6) -> tuple[np.ndarray, list[str]]:
    """One random augmentation of a 16-kHz waveform; returns it and the list of operations applied.

    Pitch shift (+-2.5 semitones, p=0.4), tempo change (0.85-1.15, p=0.3), recording-chain equalisation
    (p=0.5), reverberation (p=0.35), gain (+-20 dB, always), noise at 3-30 dB SNR (white, pink or brown,
    p=``noise_p``, 0.6 by default). With ``pitch_tempo=False`` the two costly phase-vocoder steps are
    skipped (the training script then perturbs pitch and tempo on the features). With ``telephone > 0``, a telephone line
    (:func:`telephone_channel`) last, with that probability (no random draw when 0, so older caches are
    reproduced exactly). Random crops and SpecAugment happen at training time.
    """
    import librosa

    ops = []
    if pitch_tempo and rng.random() < 0.4:
        st = float(rng.uniform(-2.5, 2.5))
        y = pitch_shift(y, st)
        ops.append(f"pitch{st:+.1f}")
    if pitch_tempo and rng.random() < 0.3:
        rate = float(rng.uniform(0.85, 1.15))
        y = librosa.effects.time_stretch(y, rate=rate)
        ops.append(f"tempo{rate:.2f}")
    if rng.random() < 0.5:
        y = equalise(y, rng)
        ops.append("eq")
    if rng.random() < 0.35:
        y = reverberate(y, rng)
        ops.append("reverb")
    g = float(rng.uniform(-20, 20))
    y = y * 10 ** (g / 20)
    ops.append(f"gain{g:+.0f}")
    if rng.random() < noise_p:
        snr = float(rng.uniform(3, 30))
        kind = str(rng.choice(["white", "pink", "brown"]))
        y = add_noise(y, snr, rng, kind)
        ops.append(f"{kind}{snr:.0f}dB")
    if telephone > 0 and rng.random() < telephone:
        y = telephone_channel(y, rng)
        ops.append("tel")
    return y, ops
