"""Speech, music or noise before the voice encoder reads emotion: known answers on media the tests make.

The speech clips in ``tests/data`` were spoken by espeak-ng 1.51 (``espeak-ng -v en-us`` and ``en-us+f3``;
GPL-3 program, its output is free of it), resampled to 16 kHz and stored as Ogg Vorbis by the test author;
see ``tests/data/README.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxsense.inputs.audio import load_audio

SR = 16000
DATA = Path(__file__).resolve().parent / "data"


def _note(f, n, decay, rng):
    t = np.arange(n) / SR
    partials = sum(np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6.3)) / k ** 1.2 for k in range(1, 9) if k * f < 7000)
    return partials * np.exp(-t / decay) * np.minimum(1, t / 0.004)


def music(seconds=6.0, seed=0, bpm=112):
    """A soundtrack: piano-like chords struck on each beat, a bass, a melody in eighths, kick and hi-hat."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    y = np.zeros(n + SR)
    beat = 60.0 / bpm
    chords = [(57, 60, 64), (53, 57, 60), (55, 59, 62), (52, 55, 59)]
    scale = [57, 59, 60, 62, 64, 65, 67, 69]
    hz = lambda m: 440 * 2 ** ((m - 69) / 12)  # noqa: E731
    k, t = 0, 0.0
    while t < seconds:
        i = int(t * SR)
        chord = chords[(k // 8) % 4]
        if k % 2 == 0:
            for m in chord:
                y[i:i + SR] += 0.25 * _note(hz(m), SR, 0.18, rng)[: len(y) - i]
            y[i:i + SR] += 0.3 * _note(hz(chord[0] - 24), SR, 0.25, rng)[: len(y) - i]
        if k % 4 == 0:
            m = int(0.35 * SR)
            tt = np.arange(m) / SR
            kick = np.sin(2 * np.pi * np.cumsum(50 + 90 * np.exp(-tt / 0.03)) / SR) * np.exp(-tt / 0.1)
            y[i:i + m] += 0.3 * kick[: len(y) - i]
        y[i:i + SR // 2] += 0.3 * _note(hz(scale[rng.integers(8)] + 12), SR // 2, 0.12, rng)[: len(y) - i]
        hat = np.diff(rng.standard_normal(800), prepend=0) * np.exp(-np.arange(800) / 200)
        y[i:i + 800] += 0.03 * hat[: len(y) - i]
        k, t = k + 1, t + beat / 2
    y = y[:n] + 1e-4 * rng.standard_normal(n)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


@pytest.fixture(scope="module")
def encoder():
    from cxsense.encoders.voice.encoder import VoiceEncoder

    return VoiceEncoder()


def _espeak(name):
    return load_audio(DATA / name)


def test_music_without_speech_gets_no_voice_estimate(encoder):
    r = encoder.encode(load_audio((music(6.0), SR)))
    assert "sound" in r.details, "the VAD alone rejected the music: the test would not exercise the decision"
    assert r.quality == 0 and r.probabilities is None and not np.any(r.embedding)
    assert r.details["reason"] == "music without speech"
    s = r.details["sound"]
    assert s["decision"] == "music" and s["music"] > s["speech"]
    assert abs(s["speech"] + s["music"] + s["noise"] - 1) < 1e-3
    r.to_dict()


@pytest.mark.parametrize("clip", ["espeak_en_m.ogg", "espeak_en_f.ogg"])
def test_speech_is_read_alone_and_over_light_music(encoder, clip):
    speech = _espeak(clip).samples.astype(np.float64)
    r = encoder.encode(load_audio((speech.astype(np.float32), SR)))
    assert r.quality > 0 and r.details["sound"]["decision"] == "speech", r.details
    # the same speech over the soundtrack 15 dB below it (power of active speech against the music's)
    bed = music(len(speech) / SR + 0.1, seed=3).astype(np.float64)[: len(speech)]
    act = speech[np.abs(speech) > 0.02]
    bed *= np.sqrt(np.mean(act ** 2) / np.mean(bed ** 2)) * 10 ** (-15 / 20)
    mixed = (speech + bed) / max(1.0, np.max(np.abs(speech + bed)))
    rm = encoder.encode(load_audio((mixed.astype(np.float32), SR)))
    assert rm.quality > 0 and rm.details["sound"]["decision"] == "speech", rm.details["sound"]


def test_knocks_are_not_speech(encoder):
    # low thumps with a click every 0.55 s (footsteps, knocking): the VAD keeps them, the decision does not
    rng = np.random.default_rng(2)
    y = 1e-3 * rng.standard_normal(3 * SR)
    m = int(0.2 * SR)
    tt = np.arange(m) / SR
    for t in np.arange(0.1, 2.8, 0.55):
        i = int(t * SR)
        y[i:i + m] += 0.5 * np.sin(2 * np.pi * rng.uniform(60, 110) * tt) * np.exp(-tt / 0.04) \
            + 0.05 * rng.standard_normal(m) * np.exp(-tt / 0.01)
    r = encoder.encode(load_audio((y.astype(np.float32), SR)))
    assert "sound" in r.details and r.details["sound"]["decision"] != "speech"
    assert r.quality == 0 and r.details["reason"].endswith("without speech")


def test_decision_pieces():
    from cxsense.encoders.voice.speech import N_FEATURES, SoundClassifier, sound_features
    from cxsense.errors import ModelError

    assert sound_features(np.zeros((64, 3)), np.zeros(3), np.zeros(3, bool)).shape == (N_FEATURES,)
    x = sound_features(np.full((64, 300), -100.0), np.full(300, 65.0), np.zeros(300, bool))
    assert np.all(np.isfinite(x))
    sc = SoundClassifier()
    assert 0 < sc.threshold <= 0.5 and len(sc.info()["sha256"]) == 64
    p = sc.predict(np.zeros((2, N_FEATURES)))
    assert p.shape == (2, 3) and np.allclose(p.sum(1), 1)
    with pytest.raises(ModelError):
        SoundClassifier({"features": ["x"], "classes": ["speech", "music", "noise"]})


def test_session_with_a_music_track_has_no_voice_rows(tmp_path, encoder):
    from cxsense.session import analyze_session
    from cxsense.session.testing import write_video

    audio = music(4.0, seed=5)
    r = encoder.encode(load_audio((audio[SR:4 * SR], SR)))
    assert r.details.get("sound", {}).get("decision") == "music"
    p = tmp_path / "title.mp4"
    frames = lambda i: np.full((120, 160, 3), (20 + 5 * i) % 255, np.uint8)  # noqa: E731
    write_video(p, frames, n_frames=100, fps=25, audio=audio)
    s = analyze_session(p)
    tl = s.timeline
    assert s.info["has_audio"] and len(tl) >= 3
    assert (tl["voice_quality"] == 0).all() and not tl["voice_fused"].any(), tl[["voice_quality", "voice_emotion"]]
    assert any(n.startswith("music without speech in ") for n in s.info["notes"]), s.info["notes"]
