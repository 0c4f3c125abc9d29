"""Issue 29, audio: header rates and lengths checked before decoding, decoding and resampling block by block.

Files are made by the tests in their own temporary folders; the one-shot resampler is the reference.
"""

import io
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import cxsense
from cxsense import limits
from cxsense.inputs._resample import StreamResampler
from cxsense.inputs.audio import load_audio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from hostile import flac_silence, traced_peak, wav_claiming  # noqa: E402


def _reference(x: np.ndarray, rate: int) -> np.ndarray:
    """What load_audio computed before it streamed: one resample_poly call on the whole float64 signal."""
    y = np.asarray(x, np.float64)
    if rate != 16000:
        fr = Fraction(16000, rate).limit_denominator(1000)
        y = resample_poly(y, fr.numerator, fr.denominator, window=("kaiser", 5.0))
    return np.clip(y, -1, 1).astype(np.float32)


@pytest.mark.parametrize("rate", [1000, 8000, 11025, 12345, 16000, 22050, 44100, 48000, 96000, 384000])
def test_stream_resampler_equals_one_resample_poly_call(rate, monkeypatch):
    import cxsense.inputs._resample as R

    monkeypatch.setattr(R, "_CHUNK", 97)  # many output chunks per block
    rng = np.random.default_rng(rate)
    for n in (1, 5, 777, 20_011):
        x = np.clip(0.3 * rng.standard_normal(n), -1, 1)
        ref = _reference(x, rate)
        for block in (1, 13, 4096, n):
            if block < 13 and n > 1000:
                continue
            for known in (True, False):
                rs = StreamResampler(rate, n_in=n if known else None)
                for i in range(0, n, block):
                    rs.push(x[i:i + block])
                np.testing.assert_array_equal(rs.finish(), ref)


@pytest.mark.parametrize("rate", [1, 999, 384_001, 40_000_000, 1_000_000_000])
def test_header_rates_outside_the_range_are_input_errors(tmp_path, rate):
    p = tmp_path / "x.wav"
    p.write_bytes(wav_claiming(rate))
    with pytest.raises(cxsense.InputError, match=f"sampled at 1000 to 384000 Hz.*header says {rate} Hz") as e:
        cxsense.assess(voice=p)
    assert e.value.parameter == "voice"


def test_a_long_flac_is_refused_on_its_header(tmp_path):
    p = tmp_path / "2h.flac"
    flac_silence(p, 7200, 8000, 1)
    with pytest.raises(cxsense.InputError, match="header says 7200.0 s"):
        load_audio(p)


def test_a_flac_without_its_length_is_refused_once_decoding_passes_the_limit(tmp_path, monkeypatch):
    """STREAMINFO's total-samples field zeroed (libsndfile then reports an unknown length): the file is decoded
    block by block and refused when the running count passes the limit, not after decoding all 2 hours."""
    p = tmp_path / "2h.flac"
    flac_silence(p, 7200, 8000, 1)
    d = bytearray(p.read_bytes())
    d[8 + 13] &= 0xF0
    d[8 + 14:8 + 18] = b"\0\0\0\0"
    p.write_bytes(bytes(d))
    read = []
    real_read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, *a, **k: read.append(1) or real_read(self, *a, **k))
    with pytest.raises(cxsense.InputError, match="holds more than 600 s"):
        load_audio(p)
    decoded_s = len(read) * limits.AUDIO_BLOCK_FRAMES / 8000
    assert limits.AUDIO_MAX_DURATION_S < decoded_s < limits.AUDIO_MAX_DURATION_S + 2 * limits.AUDIO_BLOCK_FRAMES / 8000


def test_multichannel_files_are_mixed_down_block_by_block(tmp_path):
    rng = np.random.default_rng(0)
    x = np.clip(0.2 * rng.standard_normal((48000 * 3 + 11, 8)), -1, 1)
    p = tmp_path / "8ch.wav"
    sf.write(p, x, 48000, subtype="FLOAT")
    whole, _ = sf.read(p, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(load_audio(p).samples, _reference(whole.mean(axis=1), 48000))


def test_an_8_channel_file_never_exists_whole_in_memory(tmp_path):
    p = tmp_path / "8ch.flac"
    flac_silence(p, 240, 48000, 8, value=100)  # 4 min: 369 MB as float32 frames, 61 MB as the result
    a, peak = traced_peak(load_audio, p)
    assert a.samples.shape == (240 * 16000,)
    assert peak < 61e6 + 40e6, peak


def test_array_forms_equal_the_one_shot_reference():
    rng = np.random.default_rng(1)
    x = np.clip(0.2 * rng.standard_normal(44100 * 2), -1, 1)
    st = np.stack([x, 0.5 * x, -x], axis=1)
    for given, ref in [((x, 44100), _reference(x, 44100)),
                       ((x.astype(np.float32), 22050), _reference(x.astype(np.float32), 22050)),
                       (((x * 32767).astype(np.int16), 16000), _reference((x * 32767).astype(np.int16).astype(np.float32) / 32768.0, 16000)),
                       ((st.astype(np.float32), 48000), _reference(st.astype(np.float32).mean(axis=1), 48000)),
                       ((st.T.copy(), 8000), _reference(st.T.mean(axis=0), 8000))]:
        np.testing.assert_array_equal(load_audio(given).samples, ref)


def test_a_long_array_is_refused_on_its_shape_and_an_allowed_one_is_not_copied_as_float64():
    n = int(limits.AUDIO_MAX_DURATION_S * 16000) + 1

    def refuse():
        with pytest.raises(cxsense.InputError, match="at most 600 s"):
            load_audio((np.broadcast_to(np.float32(0), (n, 2)), 16000))

    assert traced_peak(refuse)[1] < 1e6
    x = np.zeros((48000 * 60, 2), np.float32)  # 1 minute of stereo at 48 kHz, 23 MB
    _, peak = traced_peak(load_audio, (x, 48000))
    assert peak < 3.84e6 + 20e6, peak  # the 16-kHz result plus a few blocks; not 46 MB of float64


@pytest.mark.parametrize("bad,words", [
    ((np.array([0.1, np.nan] * 500_000, np.float32), 16000), "500000 non-finite samples"),
    ((np.full(300_000, 1.5, np.float32), 16000), "peak magnitude 1.5"),
])
def test_messages_count_over_every_block(bad, words):
    with pytest.raises(cxsense.InputError, match=words):
        load_audio(bad)
