"""Baselines adapted to the person: the voice speaker baseline and the face neutral baseline (encoder level).

Inputs are made here: synthetic vowel-like speech and the shipped example portrait.
"""

from __future__ import annotations

import numpy as np
import pytest

from cxsense.emotions import EMOTIONS
from cxsense.errors import InputError
from cxsense.inputs.audio import load_audio

SR = 16000


def voice(seconds=2.0, f0=(120.0, 180.0), level=0.3, seed=0, rate=0.26):
    """Vowel-like syllables (harmonics of a gliding f0, ``rate``-s cycles) with /s/-like bursts in the gaps."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f = f0[0] + (f0[1] - f0[0]) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    ph = 2 * np.pi * np.cumsum(f) / SR
    y = sum(np.sin(k * ph) / k for k in range(1, 8))
    cycle = (t % rate) / rate
    y = y * np.where(cycle < 0.77, np.sin(np.pi * np.minimum(cycle / 0.77, 1.0)) ** 0.5, 0.0)
    hiss = sosfilt(butter(4, 4500, "high", fs=SR, output="sos"), rng.standard_normal(n))
    y = level * y / np.max(np.abs(y)) + 0.02 * ((cycle > 0.81) & (cycle < 0.96)) * hiss / np.max(np.abs(hiss))
    return load_audio(((y + 1e-4 * rng.standard_normal(n)).astype(np.float32), SR))


@pytest.fixture(scope="module")
def venc():
    from cxsense.encoders.voice.encoder import VoiceEncoder

    return VoiceEncoder()


# ---------------------------------------------------------------- voice


def test_speaker_stats_keeps_means_only(venc):
    from cxsense.encoders.voice.baseline import SpeakerBaseline, speaker_stats

    b = speaker_stats([voice(seed=1), voice(seed=2, f0=(110.0, 150.0))], encoder=venc)
    assert isinstance(b, SpeakerBaseline)
    assert b.logp.shape == (7,) and b.stats.shape == (22,) and b.mel.shape == (64,)
    assert np.exp(b.logp).sum() < 1.0 + 1e-9 and np.all(np.isfinite(b.logp))
    assert (b.n_items, b.n_usable) == (2, 2) and b.speech_s > 2.0
    # nothing but these fixed-size summaries: no samples, no frames
    assert set(vars(b)) == {"logp", "stats", "mel", "n_items", "n_usable", "speech_s", "model"}


def test_speaker_stats_counts_unusable_items(venc):
    from cxsense.encoders.voice.baseline import speaker_stats

    silence = load_audio((np.zeros(SR, np.float32), SR))
    b = speaker_stats([voice(seed=1), silence], encoder=venc)
    assert (b.n_items, b.n_usable) == (2, 1)
    assert b.summary() == {"items": 2, "usable_items": 1, "speech_s": round(b.speech_s, 2)}


@pytest.mark.parametrize("items, name", [([], "voice_baseline"),
                                         ((np.zeros(SR, np.float32), SR), "voice_baseline"),
                                         ([np.full(SR, np.nan, np.float32)], "voice_baseline[0]")])
def test_speaker_stats_refuses_unusable_baselines(venc, items, name):
    from cxsense.encoders.voice.baseline import speaker_stats

    if isinstance(items, list) and items and not isinstance(items[0], tuple):
        items = [(items[0], SR)]
    with pytest.raises(InputError) as e:
        speaker_stats(items, encoder=venc)
    assert e.value.parameter == name


def test_encode_with_a_baseline(venc):
    from cxsense.encoders.voice.baseline import speaker_stats

    x = voice(seed=3)
    b = speaker_stats([voice(seed=4), voice(seed=5)], encoder=venc)
    r0, r1 = venc.encode(x), venc.encode(x, baseline=b)
    p0, p1 = r0.probability_vector(), r1.probability_vector()
    assert abs(p1.sum() - 1) < 1e-9 and np.all(p1 >= 0)
    assert "baseline" not in r0.details
    assert r1.details["baseline"]["used"] is True and r1.details["baseline"]["usable_items"] == 2
    assert not np.allclose(p0, p1)  # the head reads the baseline
    np.testing.assert_array_equal(r0.embedding, r1.embedding)  # the embedding is the network's, unchanged
    assert -1 <= r1.valence <= 1 and -1 <= r1.arousal <= 1


def test_encode_refuses_a_raw_baseline(venc):
    with pytest.raises(InputError) as e:
        venc.encode(voice(seed=3), baseline=voice(seed=4))
    assert e.value.parameter == "voice_baseline"


def test_higher_and_livelier_than_usual_reads_as_more_aroused(venc):
    """The same recording against two baselines: the speaker's usual voice 5 semitones lower and flatter, or
    the same voice as the recording. Higher pitch and a wider range than usual should raise arousal."""
    from cxsense.encoders.voice.baseline import speaker_stats

    x = voice(seconds=2.5, f0=(180.0, 280.0), seed=6)
    usual_low = speaker_stats([voice(seconds=2.5, f0=(135.0, 150.0), seed=s) for s in (7, 8)], encoder=venc)
    usual_same = speaker_stats([voice(seconds=2.5, f0=(180.0, 280.0), seed=s) for s in (7, 8)], encoder=venc)
    assert venc.encode(x, baseline=usual_low).arousal > venc.encode(x, baseline=usual_same).arousal


def test_head_file_is_registered_and_consistent():
    from cxsense.encoders.voice.baseline import BaselineHead
    from cxsense.registry import model_entry

    head = BaselineHead.load()
    assert model_entry("voice-baseline")["licence"].startswith("CC BY-NC-SA")
    assert head.coef.shape[0] == len(EMOTIONS) and head.temperature > 0


def test_head_rejects_inconsistent_weights():
    from cxsense.encoders.voice.baseline import BaselineHead

    w = {"features": {"groups": ["logp"]}, "mean": [0.0] * 7, "sd": [1.0] * 7, "coef": [[0.0] * 6] * 7,
         "intercept": [0.0] * 7, "temperature": 1.0}
    with pytest.raises(ValueError):
        BaselineHead(w)


# ---------------------------------------------------------------- face


@pytest.fixture(scope="module")
def fenc():
    from cxsense.encoders.face.encoder import FaceEncoder

    return FaceEncoder("base")


def test_face_correction_is_neutral_for_a_typical_neutral_face():
    from cxsense.encoders.face.baseline import FaceBaseline, NeutralCorrection

    corr = NeutralCorrection.load()
    p = np.array([0.1, 0.02, 0.08, 0.3, 0.2, 0.05, 0.25])
    same = corr.apply(p, FaceBaseline(corr.ref.copy(), 1, 1))
    np.testing.assert_allclose(same, p, atol=1e-12)


def test_face_correction_removes_a_resting_offset():
    """A person whose neutral face reads sad: the same sadness in a later image weighs less."""
    from cxsense.encoders.face.baseline import FaceBaseline, NeutralCorrection

    corr = NeutralCorrection.load()
    sad_rest = corr.ref * 0.5
    sad_rest[EMOTIONS.index("sadness")] += 0.5
    p = np.array([0.05, 0.01, 0.1, 0.04, 0.5, 0.05, 0.25])
    q = corr.apply(p, FaceBaseline(sad_rest, 1, 1))
    s, n = EMOTIONS.index("sadness"), EMOTIONS.index("neutral")
    assert q[s] < p[s] and q[n] > p[n] and abs(q.sum() - 1) < 1e-12
    assert 0 < corr.alpha <= 1


def test_face_baseline_through_the_encoder(fenc, face_rgb):
    from cxsense.encoders.face.baseline import FaceBaseline, face_stats
    from cxsense.inputs.image import load_image

    img = load_image(face_rgb, parameter="face")
    b = face_stats([face_rgb], encoder=fenc)
    assert isinstance(b, FaceBaseline) and b.probabilities.shape == (7,) and (b.n_items, b.n_usable) == (1, 1)
    r0, r1 = fenc.encode(img), fenc.encode(img, baseline=b)
    assert r1.details["baseline"]["used"] is True and "baseline" not in r0.details
    # the portrait smiles; given itself as "neutral", its own smile is partly discounted
    h = EMOTIONS.index("happiness")
    assert r1.probabilities["happiness"] < r0.probabilities["happiness"]
    assert abs(sum(r1.probabilities.values()) - 1) < 1e-9
    np.testing.assert_allclose(r1.probability_vector(), fenc._correction.apply(r0.probability_vector(), b),
                               atol=1e-12)
    assert h >= 0


def test_face_stats_refuses_images_without_a_face(fenc):
    from cxsense.encoders.face.baseline import face_stats

    blank = np.full((120, 160, 3), 128, np.uint8)
    with pytest.raises(InputError) as e:
        face_stats([blank], encoder=fenc)
    assert e.value.parameter == "face_baseline"
    with pytest.raises(InputError) as e:
        face_stats([], encoder=fenc)
    assert e.value.parameter == "face_baseline"
    from cxsense.inputs.image import load_image

    with pytest.raises(InputError) as e:
        fenc.encode(load_image(blank, parameter="face"), baseline=blank)
    assert e.value.parameter == "face_baseline"


def test_prepare_baseline_is_the_encoders_entry_point(fenc, venc, face_rgb):
    """What assess calls: prepare_baseline once, then encode(x, options, baseline=prepared)."""
    from cxsense.encoders.face.baseline import FaceBaseline
    from cxsense.encoders.voice.baseline import SpeakerBaseline
    from cxsense.inputs.image import load_image

    fb = fenc.prepare_baseline([load_image(face_rgb, parameter="face_baseline")])
    vb = venc.prepare_baseline([voice(seed=21), voice(seed=22)])
    assert isinstance(fb, FaceBaseline) and isinstance(vb, SpeakerBaseline) and vb.n_usable == 2
    assert fenc.encode(load_image(face_rgb, parameter="face"), None, baseline=fb).details["baseline"]["used"]
    assert venc.encode(voice(seed=23), None, baseline=vb).details["baseline"]["used"]


def test_merged_summaries_equal_one_summary(venc):
    from cxsense.encoders.voice.baseline import SpeakerBaseline, speaker_stats

    items = [voice(seed=s) for s in (11, 12, 13)]
    whole = speaker_stats(items, encoder=venc)
    merged = SpeakerBaseline.merge([speaker_stats(items[:2], encoder=venc), speaker_stats(items[2], encoder=venc)])
    np.testing.assert_allclose(merged.logp, whole.logp, atol=1e-9)
    np.testing.assert_allclose(merged.stats, whole.stats, atol=1e-5)
    assert (merged.n_items, merged.n_usable) == (3, 3)
