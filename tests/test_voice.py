"""Voice input forms, signal stages with known answers, and the voice-tone encoder's contract."""

from __future__ import annotations


import numpy as np
import pytest

from cxsense.emotions import EMOTIONS
from cxsense.errors import InputError
from cxsense.inputs.audio import SAMPLING_RATE, load_audio

SR = 16000


def speech_like(seconds=2.0, sr=SR, f0=(120.0, 180.0), level=0.3, seed=0):
    """Vowel-like syllables: 7 harmonics of a gliding f0, 200-ms syllables with 60-ms gaps, a faint noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f = f0[0] + (f0[1] - f0[0]) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    ph = 2 * np.pi * np.cumsum(f) / sr
    y = sum(np.sin(k * ph) * (1.0 / k) for k in range(1, 8))
    cycle = (t % 0.26) / 0.26
    env = np.where(cycle < 0.77, np.sin(np.pi * np.minimum(cycle / 0.77, 1.0)) ** 0.5, 0.0)
    y = y * env
    y = level * y / np.max(np.abs(y)) + 1e-4 * rng.standard_normal(n)
    return y.astype(np.float32)


# ---------------------------------------------------------------- input forms

def test_tuple_float_and_int16_agree():
    y = speech_like(1.0)
    a = load_audio((y, SR))
    b = load_audio(((y * 32767).astype(np.int16), SR))
    assert a.sampling_rate == b.sampling_rate == SAMPLING_RATE
    assert a.samples.dtype == np.float32 and a.samples.shape == (SR,)
    assert np.max(np.abs(a.samples - b.samples)) < 1e-3
    assert not a.samples.flags.writeable


@pytest.mark.parametrize("layout", ["n_by_2", "2_by_n"])
def test_stereo_is_mixed_down(layout):
    y = speech_like(1.0)
    st = np.stack([y, 0.5 * y], axis=1 if layout == "n_by_2" else 0)
    a = load_audio((st, SR))
    np.testing.assert_allclose(a.samples, 0.75 * y, atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_rates_are_resampled_and_keep_frequency(rate):
    t = np.arange(int(1.5 * rate)) / rate
    a = load_audio((0.5 * np.sin(2 * np.pi * 440.0 * t), rate))
    assert a.sampling_rate == SR and a.source_rate == rate
    assert abs(len(a.samples) - 1.5 * SR) <= 2
    spec = np.abs(np.fft.rfft(a.samples * np.hanning(len(a.samples))))
    peak = np.fft.rfftfreq(len(a.samples), 1 / SR)[np.argmax(spec)]
    assert abs(peak - 440.0) < 2.0


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("WAV", "FLOAT")])
def test_path_forms(tmp_path, fmt, subtype):
    import soundfile as sf

    y = speech_like(1.0, sr=22050)
    p = tmp_path / f"x.{fmt.lower()}"
    sf.write(p, np.stack([y, y], 1), 22050, format=fmt, subtype=subtype)
    a = load_audio(p)
    b = load_audio(str(p))
    assert a.source == "file" and a.source_rate == 22050 and a.sampling_rate == SR
    np.testing.assert_array_equal(a.samples, b.samples)
    ref = load_audio((y, 22050)).samples
    assert np.max(np.abs(a.samples - ref)) < 2e-3


def test_audio_passes_through():
    a = load_audio((speech_like(1.0), SR))
    assert load_audio(a) is a


# ---------------------------------------------------------------- bad input

BAD = [
    ((np.zeros(0, np.float32), SR), "non-empty"),
    ((np.array([0.1, np.nan] * 1000, np.float32), SR), "finite"),
    ((np.array([0.1, np.inf] * 1000), SR), "finite"),
    ((np.zeros((10, 10, 2), np.float32), SR), "shape"),
    ((np.zeros((100, 100), np.float32), SR), "shape"),
    ((np.zeros(1000, np.float32), 0), "between"),
    ((np.zeros(1000, np.float32), -16000), "between"),
    ((np.zeros(1000, np.float32), 10**9), "between"),
    ((np.zeros(1000, np.float32), 16000.0), "an int"),
    ((np.zeros(1000, np.float32), True), "an int"),
    ((np.zeros(1000, bool), SR), "dtype"),
    ((np.zeros(1000, np.int32), SR), "dtype"),
    ((np.zeros(1000, np.complex64), SR), "dtype"),
    ((np.full(1000, 300.0), SR), "[-1, 1]"),
    (("abc", SR), "1-D float"),
    ((np.zeros(1000), SR, 1), "tuple"),
    (12345, "path"),
    ([0.0, 0.1], "path"),
]


@pytest.mark.parametrize("given,words", BAD)
def test_bad_input_raises_input_error(given, words):
    with pytest.raises(InputError) as ei:
        load_audio(given)
    assert ei.value.parameter.startswith("voice")
    assert words in str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(InputError, match="could not be decoded") as ei:
        load_audio(bad, parameter="clip")
    assert ei.value.parameter == "clip"


# ---------------------------------------------------------------- signal stages, known answers

def test_pitch_of_a_tone():
    from cxsense.encoders.voice.features import voice_pitch

    t = np.arange(SR) / SR
    for f in (110.0, 220.0, 330.0):
        y = sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 5))
        f0, harm = voice_pitch(0.3 * y, 101)
        mid = slice(10, 90)
        assert abs(np.median(f0[mid]) - f) / f < 0.01
        assert np.mean(harm[mid] > 0.55) > 0.95


def test_pitch_follows_a_chirp():
    from cxsense.encoders.voice.features import voice_pitch

    t = np.arange(2 * SR) / SR
    f_true = 120 * (300 / 120) ** (t / 2.0)  # exponential chirp 120 -> 300 Hz in 2 s
    ph = 2 * np.pi * np.cumsum(f_true) / SR
    y = 0.3 * (np.sin(ph) + 0.5 * np.sin(2 * ph))
    f0, _ = voice_pitch(y, 201)
    ref = f_true[np.minimum(np.arange(201) * 160, len(t) - 1)]
    err = np.abs(f0[10:190] - ref[10:190]) / ref[10:190]
    assert np.median(err) < 0.02
    assert np.all(np.diff(f0[10:190]) > -5.0)  # rising, no octave errors


def test_white_noise_has_no_voiced_frames():
    from cxsense.encoders.voice.features import voice_pitch

    y = 0.1 * np.random.default_rng(1).standard_normal(SR)
    _, harm = voice_pitch(y, 101)
    assert np.mean(harm > 0.55) < 0.05


def test_vad_finds_speech_after_silence():
    from cxsense.encoders.voice.features import voice_process

    y = np.concatenate([np.zeros(SR, np.float32), speech_like(1.0)])
    f = voice_process(y)
    assert f.kept_index.min() >= 100 - 16  # margin of 150 ms before the first syllable
    assert 0.6 <= f.speech_s <= 1.0


def test_features_are_level_invariant():
    from cxsense.encoders.voice.features import voice_process

    y = speech_like(2.0)
    a, b = voice_process(y), voice_process(y * 0.01)  # -40 dB
    np.testing.assert_array_equal(a.kept_index, b.kept_index)
    assert np.max(np.abs(a.logmel - b.logmel)[a.logmel > -60]) < 0.5
    np.testing.assert_allclose(a.stats, b.stats, atol=0.05)


# ---------------------------------------------------------------- encoder

@pytest.fixture(scope="module")
def encoder():
    from cxsense.encoders.voice.encoder import VoiceEncoder

    return VoiceEncoder()


def _check_result(r, dim=128):
    assert r.modality == "voice"
    assert r.embedding.shape == (dim,) and np.all(np.isfinite(r.embedding))
    assert 0 <= r.quality <= 1
    if r.quality > 0:
        p = r.probability_vector()
        assert np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-6 and p.min() >= 0
        assert -1 <= r.valence <= 1 and -1 <= r.arousal <= 1 and 0 <= r.stress <= 1
    r.to_dict()


def with_fricatives(y, sr=SR, level=0.02, seed=1):
    """``speech_like`` plus a 40-ms burst of high-passed noise (an /s/) in every 60-ms gap between syllables."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    t = np.arange(len(y)) / sr
    cycle = (t % 0.26) / 0.26
    burst = (cycle > 0.81) & (cycle < 0.96)
    hiss = sosfilt(butter(4, 4500, "high", fs=sr, output="sos"), rng.standard_normal(len(y)))
    return (y + level * burst * hiss / np.max(np.abs(hiss))).astype(np.float32)


def test_speech_like_signal_gets_an_estimate(encoder):
    r = encoder.encode(load_audio((with_fricatives(speech_like(2.0)), SR)))
    _check_result(r)
    assert r.quality > 0.9 and r.details["signal"]["narrowband"] is False
    assert r.details["f0_median_hz"] == pytest.approx(150, rel=0.2)
    assert r.model["name"] == "voice-tone" and len(r.model["sha256"]) == 64


def _telephone_version(wide):
    from scipy.signal import butter, resample_poly, sosfiltfilt

    tel = sosfiltfilt(butter(4, [300, 3400], "band", fs=SR, output="sos"), wide)
    return np.round(resample_poly(tel, 1, 2) * 32767).astype(np.int16)


def test_narrowband_speech_goes_to_the_telephone_model(encoder):
    wide = with_fricatives(speech_like(2.0))
    rw, rt = encoder.encode(load_audio((wide, SR))), encoder.encode(load_audio((_telephone_version(wide), 8000)))
    assert rt.details["signal"]["narrowband"] is True and rw.details["signal"]["narrowband"] is False
    assert rt.details["signal"]["high_band_db"] < -38 < rw.details["signal"]["high_band_db"]
    assert rw.model["name"] == "voice-tone" and rt.model["name"] == "voice-tone-narrowband"
    assert len(rt.model["sha256"]) == 64 and rt.model["sha256"] != rw.model["sha256"]
    assert rt.quality == pytest.approx(rw.quality, rel=0.05)  # a model trained for it: no penalty
    _check_result(rt)
    # the encoder's public routing names the same model
    assert encoder.model_for(narrowband=True).info["name"] == "voice-tone-narrowband"
    assert encoder.model_for(narrowband=False).info == encoder.info()


def test_narrowband_speech_counts_half_without_a_telephone_model(encoder):
    # a model without telephone training (here the main weights alone) loses ~19 points there: quality halved
    from cxsense.encoders.voice.encoder import VoiceEncoder
    from cxsense.encoders.voice.model import VoiceModel
    from cxsense.registry import model_path

    alone = VoiceEncoder(model=VoiceModel.from_file(model_path("voice-tone")), warmup=False)
    assert alone.info()["sha256"] == encoder.info()["sha256"]
    wide = with_fricatives(speech_like(2.0))
    rw, rt = alone.encode(load_audio((wide, SR))), alone.encode(load_audio((_telephone_version(wide), 8000)))
    assert rt.details["signal"]["narrowband"] is True
    assert rt.quality == pytest.approx(0.5 * rw.quality, rel=0.05)
    # vowels without any fricative are narrowband too (documented): an estimate, at half quality
    rv = alone.encode(load_audio((speech_like(2.0), SR)))
    assert rv.details["signal"]["narrowband"] is True and 0 < rv.quality <= 0.5


def test_deterministic_and_level_invariant(encoder):
    y = with_fricatives(speech_like(2.5, seed=3))  # vowels alone are judged music (test_speech_music.py)
    a = encoder.encode(load_audio((y, SR)))
    b = encoder.encode(load_audio((y, SR)))
    c = encoder.encode(load_audio((y * 0.05, SR)))  # -26 dB
    np.testing.assert_array_equal(a.probability_vector(), b.probability_vector())
    np.testing.assert_array_equal(a.embedding, b.embedding)
    assert np.max(np.abs(a.probability_vector() - c.probability_vector())) < 0.02


@pytest.mark.parametrize("case", ["zeros", "tiny_noise", "white_noise", "short", "tone", "clipped"])
def test_no_usable_signal_gives_quality_zero(encoder, case):
    rng = np.random.default_rng(5)
    y = {
        "zeros": np.zeros(2 * SR, np.float32),
        "tiny_noise": (1e-6 * rng.standard_normal(2 * SR)).astype(np.float32),
        "white_noise": (0.1 * rng.standard_normal(2 * SR)).astype(np.float32),
        "short": np.concatenate([np.zeros(SR), speech_like(0.3), np.zeros(SR)]).astype(np.float32),
        "tone": (0.3 * np.sin(2 * np.pi * 200 * np.arange(2 * SR) / SR)).astype(np.float32),
        "clipped": np.clip(speech_like(2.0) * 20, -1, 1).astype(np.float32),
    }[case]
    r = encoder.encode(load_audio((y, SR)))
    _check_result(r)
    assert r.quality == 0 and r.probabilities is None and r.valence is None
    assert r.details["reason"]
    assert not np.any(r.embedding)


@pytest.mark.parametrize("n", [1, 100, 511])
def test_very_short_audio_is_no_signal_without_warnings(encoder, n):
    import warnings

    y = (0.3 * np.sin(2 * np.pi * 150 * np.arange(n) / SR)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # librosa warned "n_fft=512 is too large" before the padding
        r = encoder.encode(load_audio((y, SR)))
    _check_result(r)
    assert r.quality == 0 and r.probabilities is None and r.details["reason"]


def test_long_audio_is_segmented(encoder):
    y = np.concatenate([with_fricatives(speech_like(3.0, seed=s, f0=(100 + 20 * s, 160 + 20 * s))) for s in range(4)])
    r = encoder.encode(load_audio((y, SR)))
    _check_result(r)
    assert r.details["segments"] >= 3


def test_other_rate_and_file_through_encoder(encoder, tmp_path):
    import soundfile as sf

    y = with_fricatives(speech_like(2.0, sr=44100), sr=44100)
    p = tmp_path / "speech.wav"
    sf.write(p, y, 44100, subtype="PCM_16")
    a, b = encoder.encode(load_audio(p)), encoder.encode(load_audio((y, 44100)))
    _check_result(a)
    assert a.quality > 0 and np.max(np.abs(a.probability_vector() - b.probability_vector())) < 0.02


def test_member_logits_are_the_inference_path(encoder):
    # the path training calibrates on (VoiceModel.member_logits, then the temperature and bias) is the encoder's
    from cxsense.encoders.voice.encoder import segments
    from cxsense.encoders.voice.features import voice_process

    y = with_fricatives(speech_like(2.0, seed=7))
    r = encoder.encode(load_audio((y, SR)))
    model = encoder.model_for(narrowband=r.details["signal"]["narrowband"])
    f = voice_process(load_audio((y, SR)).samples)
    lg, emb, _ = model.member_logits(f, segments(f.logmel.shape[1]))
    assert lg.shape == (encoder.info()["members"], 7)
    np.testing.assert_array_equal(model.probabilities(lg), r.probability_vector())
    np.testing.assert_array_equal(emb, r.embedding)


def test_shipped_model_assumes_equal_class_priors(encoder):
    # calm counts as neutral, so neutral is 1.5 times as frequent in training: the shipped bias removes that prior
    info = encoder.info()
    assert info["class_prior"] == "uniform"
    b = np.array(info["logit_bias"])
    assert b[EMOTIONS.index("neutral")] < 0 and np.allclose(np.delete(b, EMOTIONS.index("neutral")), b[0])
    assert np.log(np.exp(-b).sum() / 7) == pytest.approx(0, abs=1e-3)  # exp(-b) / 7 is the training prior


@pytest.mark.parametrize("bias", [[0, 0, 0], [0, 0, 0, 0, 0, 0, float("nan")]])
def test_bad_logit_bias_is_a_model_error(bias):
    from cxsense.encoders.voice.model import VoiceModel, _tensors
    from cxsense.errors import ModelError
    from cxsense.registry import model_file

    f = model_file("voice-tone")
    meta = f.meta.replace(calibration=dict(f.meta.calibration, logit_bias=bias))
    with pytest.raises(ModelError, match="logit_bias"):
        VoiceModel(_tensors(f.path), meta)


def test_voice_files_of_another_format_or_without_a_field_are_refused(tmp_path):
    """No compatibility defaults: a file without the metadata block (the style before format 2) names both
    versions; a block without a field the loader needs names the field."""
    from safetensors.torch import save_file

    from cxsense.encoders.voice.model import VoiceModel, _tensors
    from cxsense.errors import ModelError
    from cxsense.registry import model_file

    f = model_file("voice-tone")
    state = _tensors(f.path)
    old = tmp_path / "old.safetensors"
    save_file(state, str(old), metadata={"arch": "voicetdnn-v1", "temperature": "1.0", "version": "1.0.0"})
    with pytest.raises(ModelError, match="format version '0'.*this cxsense reads '2'"):
        VoiceModel.from_file(old)
    for section, key in (("calibration", "logit_bias"), ("input", "cmn"), ("architecture", "members")):
        d = dict(getattr(f.meta, section))
        d.pop(key)
        with pytest.raises(ModelError, match=key):
            VoiceModel(state, f.meta.replace(**{section: d}))
