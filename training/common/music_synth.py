"""Synthetic music for the speech/music/noise classifier: random scores rendered two ways.

:func:`make_score` writes a random piece: a key and scale, a tempo, a chord progression, and a random subset
of parts (a sustained pad, a bass line, a melody with vibrato, an arpeggio, a drum pattern); one piece in five
is a solo melody, the case closest to a voice. A score is rendered by

* :func:`render_additive` -- additive synthesis in numpy: harmonic instruments with their own harmonic
  profiles, envelopes and vibrato, a formant-filtered "choir" pad, Karplus-Strong plucks, FM bells, brass
  with a brightening attack, and synthetic drums; or
* :func:`render_soundfont` -- a General MIDI file rendered by the ``fluidsynth`` program with the
  FluidR3 GM SoundFont (sampled instruments; Debian packages ``fluidsynth`` and ``fluid-soundfont-gm``,
  the SoundFont under the MIT licence). Used only for training data, never at run time.

``held_out=True`` draws the *held-out* settings: other instrument families (pluck, FM, brass, organ with
another drawbar set), other General MIDI programs (``program % 4 == 3``), another drum kit and a wider tempo
range, so that the benchmark's music shares no timbre with the training music.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

SR = 16_000
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10], "dorian": [0, 2, 3, 5, 7, 9, 10],
          "pentatonic": [0, 2, 4, 7, 9], "harmonic_minor": [0, 2, 3, 5, 7, 8, 11]}
PROGRESSIONS = [[0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 3, 0, 4], [1, 4, 0, 0], [0, 6, 5, 4]]
TRAIN_FAMILIES = {"pad": ["strings", "organ", "choir", "sine"], "bass": ["sine", "piano", "strings"],
                  "melody": ["flute", "clarinet", "strings", "organ", "piano", "choir"], "arp": ["piano", "organ", "sine"]}
HELD_OUT_FAMILIES = {"pad": ["brass", "fm", "organ2"], "bass": ["pluck", "fm"], "melody": ["brass", "fm", "pluck"],
                     "arp": ["pluck", "fm"]}
GM_PARTS = {"pad": list(range(16, 24)) + list(range(48, 56)) + list(range(88, 96)),
            "bass": list(range(32, 40)), "arp": list(range(0, 16)) + list(range(24, 32)) + [46],
            "melody": list(range(0, 8)) + list(range(40, 48)) + list(range(56, 88))}


@dataclass
class Score:
    """A piece: notes ``(start_s, dur_s, midi, velocity 0-1, part)`` and drum hits ``(start_s, kind, velocity)``."""

    notes: list
    drums: list
    duration: float
    tempo: float


def make_score(duration: float, rng: np.random.Generator, held_out: bool = False) -> Score:
    """A random piece of ``duration`` seconds (see the module docstring)."""
    bpm = float(rng.uniform(55, 185) if held_out else rng.uniform(70, 150))
    beat = 60.0 / bpm
    scale = SCALES[str(rng.choice(list(SCALES)))]
    root = int(rng.integers(45, 58))
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    bar_beats = 4 * int(rng.choice([1, 2]))
    solo = rng.random() < 0.2
    parts = {"melody"} if solo else {p for p in ("pad", "bass", "melody", "arp", "drums") if rng.random() < 0.55}
    if not parts:
        parts = {str(rng.choice(["pad", "melody", "arp"]))}
    notes, drums = [], []

    def deg(d, octave=0):
        return root + 12 * (octave + d // len(scale)) + scale[d % len(scale)]

    n_bars = int(np.ceil(duration / (bar_beats * beat)))
    for bar in range(n_bars):
        t0 = bar * bar_beats * beat
        d = prog[bar % len(prog)]
        chord = [deg(d), deg(d + 2), deg(d + 4)]
        if "pad" in parts:
            for m in chord:
                notes.append((t0, bar_beats * beat * 0.98, m + 12, 0.5, "pad"))
        if "bass" in parts:
            step = beat * int(rng.choice([1, 2]))
            for k in range(int(bar_beats * beat / step)):
                notes.append((t0 + k * step, step * 0.9, deg(d) - 12, 0.7, "bass"))
        if "arp" in parts:
            step = beat / int(rng.choice([2, 4]))
            pattern = chord + [chord[1] + 12] if rng.random() < 0.5 else chord
            for k in range(int(bar_beats * beat / step)):
                notes.append((t0 + k * step, step * 1.5, pattern[k % len(pattern)] + 12, 0.5, "arp"))
        if "drums" in parts:
            grid = beat / 2
            for k in range(int(bar_beats * 2)):
                t = t0 + k * grid + (0.03 * beat if k % 2 and rng.random() < 0.3 else 0.0)
                if k % 4 == 0 or (k % 8 == 5 and rng.random() < 0.4):
                    drums.append((t, "kick", 0.9))
                if k % 4 == 2:
                    drums.append((t, "snare", 0.8))
                if rng.random() < 0.85:
                    drums.append((t, "hat", 0.4 + 0.2 * (k % 2 == 0)))
    if "melody" in parts:
        t, idx = 0.0, int(rng.integers(0, len(scale)))
        durs = np.array([0.25, 0.5, 0.5, 1, 1, 1.5, 2, 3]) * beat
        while t < duration:
            dur = float(rng.choice(durs))
            if rng.random() < 0.15:
                t += dur
                continue
            idx = int(np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), -3, 2 * len(scale)))
            notes.append((t, dur * float(rng.uniform(0.7, 1.0)), deg(idx, 1), float(rng.uniform(0.5, 0.9)), "melody"))
            t += dur
    return Score([n for n in notes if n[0] < duration], [h for h in drums if h[0] < duration], duration, bpm)


def _hz(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


def _env(n: int, attack: float, release: float, decay: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SR
    a = np.minimum(1.0, t / max(attack, 1e-3))
    r = np.clip((n / SR - t) / max(release, 1e-3), 0, 1)
    return a * r * (np.exp(-t / decay) if decay > 0 else 1.0)


_FORMANTS = {"a": (730, 1090, 2440), "o": (570, 840, 2410), "u": (300, 870, 2240), "e": (530, 1840, 2480)}


def _harmonic_amps(family: str, f: float, K: int, rng: np.random.Generator, vowel: str) -> np.ndarray:
    k = np.arange(1, K + 1, dtype=np.float64)
    if family in ("strings", "brass"):
        a = 1.0 / k
    elif family == "clarinet":
        a = np.where(k % 2 == 1, 1.0 / k, 0.05 / k)
    elif family == "flute":
        a = np.exp(-1.2 * (k - 1))
    elif family == "sine":
        a = (k == 1) * 1.0 + (k == 2) * 0.15
    elif family in ("organ", "organ2"):
        bars = [1, 2, 3, 4, 6, 8] if family == "organ" else [1, 2, 4, 5, 8, 10, 12]
        a = np.zeros(K)
        for b in bars:
            if b <= K:
                a[b - 1] = rng.uniform(0.2, 1.0)
    elif family == "choir":
        g = np.zeros(K)
        for fc, bw in zip(_FORMANTS[vowel], (90, 110, 160)):
            g += 1.0 / (1.0 + ((k * f - fc) / bw) ** 2)
        a = g / np.sqrt(k)
    else:  # piano
        a = 1.0 / k ** 1.3
    return a


def _note(family: str, f: float, dur: float, vel: float, rng: np.random.Generator, vib: tuple, vowel: str) -> np.ndarray:
    rel = {"piano": 0.3, "pluck": 0.4, "fm": 0.5}.get(family, 0.08)
    n = int((dur + rel) * SR)
    t = np.arange(n) / SR
    if family == "pluck":  # Karplus-Strong: a noise burst in a damped comb filter
        from scipy.signal import lfilter

        p = max(2, int(round(SR / f)))
        x = np.zeros(n)
        x[:p] = rng.uniform(-1, 1, p)
        a = np.zeros(p + 2)
        a[0], a[p], a[p + 1] = 1.0, -0.497, -0.497
        return vel * lfilter([1.0], a, x) * _env(n, 0.001, 0.05)
    rate, depth, delay = vib
    f0 = f * 2 ** (depth * np.sin(2 * np.pi * rate * t) * np.clip((t - delay) / 0.2, 0, 1) / 12.0)
    ph = 2 * np.pi * np.cumsum(f0) / SR
    if family == "fm":
        idx = float(rng.uniform(1, 5)) * np.exp(-t / float(rng.uniform(0.2, 1.0)))
        ratio = float(rng.choice([1.0, 2.0, 3.5, 1.4]))
        return vel * np.sin(ph + idx * np.sin(ratio * ph)) * _env(n, 0.005, rel, 1.5)
    K = int(max(1, min(24, 6500 // f)))
    a = _harmonic_amps(family, f, K, rng, vowel)
    k = np.arange(1, K + 1)[:, None]
    parts = np.sin(k * ph[None] + rng.uniform(0, 2 * np.pi, (K, 1)))
    if family == "piano":
        parts *= np.exp(-t[None] * (1.5 + 0.6 * k) / 2)
        env = _env(n, 0.003, rel)
    elif family == "brass":  # brightness opens during the attack
        cut = 2 + 20 * np.clip(t / 0.12, 0, 1)
        parts *= 1.0 / (1.0 + (k / cut[None]) ** 2)
        env = _env(n, 0.04, rel)
    else:
        env = _env(n, {"strings": 0.12, "choir": 0.2, "flute": 0.05}.get(family, 0.01), rel)
    y = (a[:, None] * parts).sum(0) * env
    if family == "flute":
        y += 0.03 * rng.standard_normal(n) * env
    return vel * y / (np.abs(a).sum() + 1e-9)


def _drum(kind: str, kit: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * SR)
    t = np.arange(n) / SR
    if kind == "kick":
        f_hi, f_lo, dec = (130, 45, 0.15) if kit == 0 else (180, 60, 0.09)
        f = f_lo + (f_hi - f_lo) * np.exp(-t / 0.03)
        return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / dec)
    noise = rng.standard_normal(n)
    if kind == "snare":
        from scipy.signal import butter, sosfilt

        lo, hi = (1000, 5000) if kit == 0 else (600, 7000)
        body = 0.5 * np.sin(2 * np.pi * (185 if kit == 0 else 240) * t)
        return (sosfilt(butter(2, [lo, hi], "band", fs=SR, output="sos"), noise) + body) * np.exp(-t / (0.1 if kit == 0 else 0.06))
    hp = np.diff(noise, prepend=0.0)
    hp = np.diff(hp, prepend=0.0) if kit == 0 else hp
    return 0.5 * hp * np.exp(-t / (0.03 if kit == 0 else 0.06))


def render_additive(score: Score, rng: np.random.Generator, held_out: bool = False) -> np.ndarray:
    """The score as a 16-kHz float waveform by additive synthesis (peak 0.5 before any later gain)."""
    fam = HELD_OUT_FAMILIES if held_out else TRAIN_FAMILIES
    inst = {p: str(rng.choice(fam[p])) for p in fam}
    level = {p: 10 ** (rng.uniform(-8, 0) / 20) for p in list(fam) + ["drums"]}
    vowel = str(rng.choice(list(_FORMANTS)))
    vib = (float(rng.uniform(4.5, 6.5)), float(rng.uniform(0.0, 0.5) if rng.random() < 0.6 else 0.0),
           float(rng.uniform(0.05, 0.3)))
    n = int(score.duration * SR)
    y = np.zeros(n + SR)
    for start, dur, m, vel, part in score.notes:
        v = vib if part == "melody" else (vib[0], 0.5 * vib[1], vib[2])
        x = _note(inst[part], _hz(m), dur, vel * level[part], rng, v, vowel)
        i = int(start * SR)
        x = x[: len(y) - i]
        y[i:i + len(x)] += x
    kit = int(held_out)
    for start, kind, vel in score.drums:
        x = vel * level["drums"] * _drum(kind, kit, rng)
        i = int(start * SR)
        x = x[: len(y) - i]
        y[i:i + len(x)] += x
    y = y[:n]
    return 0.5 * y / (np.max(np.abs(y)) + 1e-9)


def _midi_bytes(score: Score, programs: dict) -> bytes:
    """A format-0 Standard MIDI File of the score (480 ticks per beat)."""
    tpb = 480
    sec = tpb * score.tempo / 60.0
    chan = {p: i for i, p in enumerate(["pad", "bass", "melody", "arp"])}
    ev = []
    for start, dur, m, vel, part in score.notes:
        c, v = chan[part], int(np.clip(vel * 127, 1, 127))
        ev.append((int(start * sec), 1, bytes([0x90 | c, int(m), v])))
        ev.append((int((start + dur) * sec), 0, bytes([0x80 | c, int(m), 0])))
    gm = {"kick": 36, "snare": 38, "hat": 42}
    for start, kind, vel in score.drums:
        ev.append((int(start * sec), 1, bytes([0x99, gm[kind], int(np.clip(vel * 127, 1, 127))])))
        ev.append((int(start * sec) + 60, 0, bytes([0x89, gm[kind], 0])))
    ev.sort(key=lambda e: (e[0], e[1]))
    us = int(60e6 / score.tempo)
    data = bytearray(b"\x00\xff\x51\x03" + us.to_bytes(3, "big"))
    for p, c in chan.items():
        data += bytes([0, 0xC0 | c, programs[p]])

    def vlq(x):
        out = [x & 0x7F]
        x >>= 7
        while x:
            out.append(0x80 | (x & 0x7F))
            x >>= 7
        return bytes(reversed(out))

    last = 0
    for tick, _, msg in ev:
        data += vlq(tick - last) + msg
        last = tick
    data += b"\x00\xff\x2f\x00"
    return b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + tpb.to_bytes(2, "big") \
        + b"MTrk" + len(data).to_bytes(4, "big") + bytes(data)


SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def render_soundfont(score: Score, rng: np.random.Generator, held_out: bool = False) -> np.ndarray:
    """The score rendered by ``fluidsynth`` with the FluidR3 GM SoundFont, 16 kHz mono float."""
    import soundfile as sf

    keep = (lambda p: p % 4 == 3) if held_out else (lambda p: p % 4 != 3)
    programs = {part: int(rng.choice([p for p in progs if keep(p)])) for part, progs in GM_PARTS.items()}
    with tempfile.TemporaryDirectory() as d:
        mid, wav = os.path.join(d, "s.mid"), os.path.join(d, "s.wav")
        with open(mid, "wb") as fh:
            fh.write(_midi_bytes(score, programs))
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SR), "-F", wav, SOUNDFONT, mid],
                       check=True, capture_output=True, timeout=120)
        y, sr = sf.read(wav, dtype="float64", always_2d=True)
    y = y.mean(1)[: int(score.duration * SR)]
    return 0.5 * y / (np.max(np.abs(y)) + 1e-9)
