"""Data for the speech/music/noise classifier: noise beds, real music, mixtures and the feature of a window.

Labels (decided here, documented in the model card):

* **speech**: a RAVDESS take (``train`` actors for training, ``dev`` actors 19-20 for the threshold and the
  benchmark), clean or augmented, or mixed with music or noise at 0-25 dB SNR (speech over a background).
* **music**: synthetic music (:mod:`training.common.music_synth`) and, for the benchmark, real instrumental and
  choral game music (Debian package ``wesnoth-1.16-music``, GPL-2+, read where the package installs it).
* **noise**: non-stationary noise the VAD lets through: typing, footsteps and knocks, clatter, traffic swells,
  wind gusts, rain, a machine switching on and off, and **babble of six to ten simultaneous talkers** (RAVDESS
  takes of the same split). Babble is labelled noise: no single voice can be followed in it and the voice
  encoder must not read a crowd's tone; speech *over* babble (one talker 0-25 dB above it) is speech.
  Stationary noise (white, pink, brown, hum) never passes the VAD and needs no class.
"""

from __future__ import annotations

import glob
import os

import numpy as np
from scipy.signal import butter, sosfilt

from training.common.ravdess import coloured_noise, read_wav, speech_power

SR = 16_000
WESNOTH = "/usr/share/games/wesnoth/1.16/data/core/music"
NOISE_KINDS = ("typing", "steps", "clatter", "traffic", "wind", "rain", "machine", "babble")


def _bp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return sosfilt(butter(2, [lo, hi], "band", fs=SR, output="sos"), x)


def _bursts(n: int, rng: np.random.Generator, rate: float, make) -> np.ndarray:
    y = np.zeros(n + SR)
    t = 0.0
    while True:
        t += rng.exponential(1.0 / rate)
        i = int(t * SR)
        if i >= n:
            break
        b = make()
        y[i:i + len(b)] += b[: len(y) - i]
    return y[:n]


def make_noise(kind: str, duration: float, rng: np.random.Generator, babble_pool: list[str] | None = None) -> np.ndarray:
    """One noise bed of ``duration`` seconds (16 kHz, peak 0.5); ``babble_pool``: RAVDESS paths for babble."""
    n = int(duration * SR)
    t = np.arange(n) / SR
    bg = 10 ** (rng.uniform(-45, -25) / 20) * coloured_noise(n, rng, str(rng.choice(["white", "pink", "brown"])))
    if kind == "typing":
        def key():
            m = int(rng.uniform(0.004, 0.02) * SR)
            return _bp(rng.standard_normal(m), rng.uniform(800, 2000), rng.uniform(3000, 7000)) * np.exp(-np.arange(m) / (0.003 * SR))
        y = _bursts(n, rng, rng.uniform(3, 10), key)
    elif kind == "steps":
        period = rng.uniform(0.4, 0.7)

        def step():
            m = int(0.15 * SR)
            f = rng.uniform(50, 120)
            thump = np.sin(2 * np.pi * f * np.arange(m) / SR) + 0.3 * _bp(rng.standard_normal(m), 200, 2000)
            return thump * np.exp(-np.arange(m) / (0.03 * SR))
        y = _bursts(n, rng, 1.0 / period, step)
    elif kind == "clatter":  # dishes, cutlery: short resonant pings
        def ping():
            m = int(0.3 * SR)
            fs = rng.uniform(1500, 6000, 3)
            return sum(np.sin(2 * np.pi * f * np.arange(m) / SR) for f in fs) * np.exp(-np.arange(m) / (rng.uniform(0.02, 0.1) * SR))
        y = _bursts(n, rng, rng.uniform(1, 6), ping)
    elif kind == "traffic":
        swell = np.zeros(n)
        for _ in range(int(rng.integers(1, 4))):
            c, w = rng.uniform(0, duration), rng.uniform(0.8, 3.0)
            swell += np.exp(-0.5 * ((t - c) / w) ** 2)
        y = coloured_noise(n, rng, "brown") * (0.1 + swell)
    elif kind == "wind":
        g = np.cumsum(rng.standard_normal(n // 400 + 2))
        g = np.interp(np.arange(n), np.arange(len(g)) * 400, g)
        gust = np.exp(0.8 * (g - g.mean()) / (g.std() + 1e-9))
        y = _bp(coloured_noise(n, rng, "pink"), 80, rng.uniform(800, 3000)) * gust
    elif kind == "rain":
        def drop():
            m = int(0.01 * SR)
            return rng.standard_normal(m) * np.exp(-np.arange(m) / (0.002 * SR))
        y = _bursts(n, rng, rng.uniform(30, 200), drop) + 0.3 * coloured_noise(n, rng, "pink")
    elif kind == "machine":
        f = rng.uniform(20, 120)
        hum = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 8)) + 0.5 * coloured_noise(n, rng, "pink")
        on = np.zeros(n)
        a = 0
        while a < n:
            d = int(rng.uniform(0.3, 2.0) * SR)
            on[a:a + d] = rng.random() < 0.6
            a += d
        y = hum * np.convolve(on, np.ones(800) / 800, "same")
    elif kind == "babble":
        pool = babble_pool or []
        y = np.zeros(n)
        for p in rng.choice(pool, size=int(rng.integers(6, 11)), replace=False):
            w = read_wav(str(p))
            w = w / (np.sqrt(speech_power(w)) + 1e-9)
            off = int(rng.integers(-len(w) // 2, n))
            a, b = max(0, off), min(n, off + len(w))
            if b > a:
                y[a:b] += w[a - off:b - off] * 10 ** (rng.uniform(-3, 3) / 20)
    else:
        raise ValueError(kind)
    y = y / (np.sqrt(np.mean(y ** 2)) + 1e-12) * 0.05 + bg
    return 0.5 * y / (np.max(np.abs(y)) + 1e-9)


def wesnoth_tracks(split: str) -> list[str]:
    """Tracks of the ``wesnoth-1.16-music`` package: ``test`` = every third (sorted), ``train`` = the others."""
    paths = sorted(glob.glob(os.path.join(WESNOTH, "*.ogg")))
    paths = [p for p in paths if os.path.basename(p) != "silence.ogg"]
    if not paths:
        raise SystemExit(f"no music in {WESNOTH}: apt-get install wesnoth-1.16-music")
    return [p for i, p in enumerate(paths) if (i % 3 == 2) == (split == "test")]


def read_music(path: str, max_s: float | None = None) -> np.ndarray:
    """An audio file as 16-kHz mono float64 (first ``max_s`` seconds)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    info = sf.info(path)
    frames = -1 if max_s is None else int(max_s * info.samplerate)
    y, sr = sf.read(path, dtype="float64", always_2d=True, frames=frames)
    y = y.mean(1)
    if sr != SR:
        g = np.gcd(int(sr), SR)
        y = resample_poly(y, SR // g, int(sr) // g)
    return y


def mix(speech: np.ndarray, bed: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Speech over a bed at ``snr_db`` (speech active power against the bed's mean power), random bed offset."""
    n = len(speech)
    if len(bed) < n:
        bed = np.tile(bed, int(np.ceil(n / len(bed))))
    off = int(rng.integers(0, len(bed) - n + 1))
    b = bed[off:off + n]
    pb = np.mean(b ** 2) + 1e-12
    return speech + b * np.sqrt(speech_power(speech) / pb / 10 ** (snr_db / 10))


def window_features(y: np.ndarray) -> np.ndarray | None:
    """Features of every encoder segment of one window, as the voice encoder will compute them.

    Returns
    -------
    np.ndarray [shape=(segments, N_FEATURES)], or None when the VAD finds no usable speech (quality 0):
    the encoder never asks the classifier about such a window.
    """
    from cxsense.encoders.voice.encoder import segments
    from cxsense.encoders.voice.features import voice_process
    from cxsense.encoders.voice.speech import sound_features

    y = np.asarray(y, np.float64)
    peak = np.max(np.abs(y))
    if peak > 1.0:
        y = y / peak
    f = voice_process(y)
    if f.quality <= 0:
        return None
    f0, v = f.f0[f.kept_index], f.voiced[f.kept_index]
    return np.stack([sound_features(f.logmel[:, a:b], f0[a:b], v[a:b]) for a, b in segments(f.logmel.shape[1])])
