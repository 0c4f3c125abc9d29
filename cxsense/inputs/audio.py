"""Normalise every accepted form of voice input into one :class:`Audio` (mono, float32, 16 kHz).

Accepted forms (see the contract):

* a path (``str`` or :class:`os.PathLike`) to an audio file: WAV, FLAC and OGG/Vorbis are read with
  :mod:`soundfile` (libsndfile); MP3 too where the installed libsndfile has the MP3 decoder (>= 1.1).
  Integer files are scaled to [-1, 1] by soundfile; multichannel files are averaged to mono.
* a tuple ``(samples, sampling_rate)``:

  - ``samples``: a NumPy array (or anything :func:`numpy.asarray` turns into one) of dtype
    float16/32/64 with every value in [-1, 1] (a tolerance of 1e-3 for rounding), or int16
    (scaled by 1/32768). Bool, other integer, complex and object arrays are refused.
  - shape ``(n,)`` mono; or 2-D multichannel, **either** ``(n, channels)`` (soundfile's and
    scipy's layout) **or** ``(channels, n)`` (librosa's and torchaudio's layout), with 1 to 8
    channels. The channel axis is the short one (at most 8 entries); the channels are averaged.
    A 2-D array with both sides longer than 8 is refused (ambiguous), as is 3-D or more.
  - ``sampling_rate``: a Python or NumPy ``int`` (not bool, not float) in [1000, 384000] Hz.

* an :class:`Audio` (returned as it is).

Everything is resampled to :data:`SAMPLING_RATE` (16 kHz, the model's rate) with the polyphase FIR of
:func:`scipy.signal.resample_poly` (Kaiser window beta 5.0, deterministic), so any rate in
[:data:`MIN_RATE`, :data:`MAX_RATE`] is accepted. Every failure raises :class:`~cxsense.errors.InputError`
naming the parameter. No file is written, nothing leaves the process.

Bounded cost (see :mod:`cxsense.limits`): the rate, channel count and length are checked on what the input
claims (an array's shape; a file's header) before anything is decoded or copied; then the input is read, mixed
down, checked and resampled block by block (:data:`~cxsense.limits.AUDIO_BLOCK_FRAMES` frames), with a running
length check, so a file that holds more than its header says is refused once decoding passes the limit. The
peak memory is the caller's array (if any) plus the 16-kHz float32 result plus a few blocks: a long array or
an 8-channel file never exists as a float64 or multichannel copy. The blocks are resampled with
:func:`scipy.signal.upfirdn` on overlapping spans, which gives exactly what one ``resample_poly`` call on the
whole signal gives (``tests/test_bounds_audio.py`` checks equality).
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..limits import (AUDIO_BLOCK_FRAMES, AUDIO_MAX_ARRAY_CHANNELS, AUDIO_MAX_DURATION_S, AUDIO_MAX_FILE_CHANNELS,
                      AUDIO_MAX_RATE, AUDIO_MIN_RATE)
from ._resample import SAMPLING_RATE, StreamResampler

__all__ = ["Audio", "load_audio", "SAMPLING_RATE", "MIN_RATE", "MAX_RATE", "MAX_DURATION_S", "MAX_CHANNELS",
           "MAX_FILE_CHANNELS"]

#: Lowest and highest accepted input rates, in Hz, for arrays and file headers alike.
MIN_RATE = AUDIO_MIN_RATE
MAX_RATE = AUDIO_MAX_RATE
#: Longest accepted input, in seconds (10 minutes; see :data:`cxsense.limits.AUDIO_MAX_DURATION_S`).
MAX_DURATION_S = AUDIO_MAX_DURATION_S
#: Most channels accepted in a 2-D array (the short axis is the channel axis).
MAX_CHANNELS = AUDIO_MAX_ARRAY_CHANNELS
#: Most channels accepted in a file.
MAX_FILE_CHANNELS = AUDIO_MAX_FILE_CHANNELS
_FLOAT_TOLERANCE = 1e-3
_UNKNOWN_FRAMES = 1 << 62  # what libsndfile reports when a format does not know its length


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono audio at the model rate.

    Attributes
    ----------
    samples : np.ndarray [shape=(n,)], float32 in [-1, 1], read-only
    sampling_rate : int
        Hz; always :data:`SAMPLING_RATE` when made by :func:`load_audio`.
    source_rate : int
        The rate of the input before resampling, Hz.
    source : str
        ``"file"`` or ``"array"``.
    """

    samples: np.ndarray
    sampling_rate: int
    source_rate: int = SAMPLING_RATE
    source: str = "array"

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return len(self.samples) / float(self.sampling_rate)


def _describe(x) -> str:
    from ..errors import describe

    return describe(x)


def _check_rate(rate, parameter: str) -> int:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Integral):
        raise InputError(f"{parameter}[1] (sampling_rate)", "an int in Hz", _describe(rate))
    rate = int(rate)
    if rate < MIN_RATE or rate > MAX_RATE:
        raise InputError(f"{parameter}[1] (sampling_rate)", f"an int in Hz between {MIN_RATE} and {MAX_RATE}",
                         str(rate))
    return rate


def _too_long(parameter: str, given: str) -> InputError:
    return InputError(parameter, f"at most {MAX_DURATION_S:.0f} s of audio (cut longer recordings)", given)


def _check_samples(x, parameter: str) -> tuple[np.ndarray, int]:
    """The samples' dtype and shape, checked without copying: ``(array, channel_axis)``, the axis being None
    for mono (a 1-D array, or a 2-D one with a side of 1 is made 1-D)."""
    name = f"{parameter}[0] (samples)"
    if isinstance(x, (str, bytes)) or x is None:
        raise InputError(name, "a 1-D float array in [-1, 1] or an int16 array", _describe(x))
    try:
        a = np.asarray(x)
    except Exception:
        raise InputError(name, "a 1-D float array in [-1, 1] or an int16 array", _describe(x)) from None
    if a.dtype != np.int16 and a.dtype.kind != "f":
        raise InputError(name, "dtype float16/32/64 (values in [-1, 1]) or int16", f"dtype {a.dtype}")
    shape_msg = f"shape (n,), (n, channels) or (channels, n) with at most {MAX_CHANNELS} channels"
    if a.ndim == 1:
        return a, None
    if a.ndim == 2:
        rows, cols = a.shape
        if cols <= MAX_CHANNELS and rows > cols:
            return a, 1  # (n, channels)
        if rows <= MAX_CHANNELS and cols > rows:
            return a, 0  # (channels, n)
        if rows == 1 or cols == 1:
            return a.reshape(-1), None
    raise InputError(name, shape_msg, f"shape {a.shape}")


def _mono(block: np.ndarray, axis: int | None) -> np.ndarray:
    """One block of samples as float64 mono: int16 scaled by 1/32768 (in float32), channels averaged (in the
    block's float dtype), as the whole array would be."""
    if block.dtype == np.int16:
        block = block.astype(np.float32) / 32768.0
    if axis is not None:
        block = block.mean(axis=axis)
    return np.asarray(block, dtype=np.float64)


def _array_blocks(a: np.ndarray, axis: int | None):
    n = a.shape[0] if axis != 0 else a.shape[1]
    for i in range(0, n, AUDIO_BLOCK_FRAMES):
        j = min(n, i + AUDIO_BLOCK_FRAMES)
        yield _mono(a[:, i:j] if axis == 0 else a[i:j], axis)


def _check_block(y: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(y)):
        raise InputError(name, "finite samples (no NaN or infinity)", f"{int(np.sum(~np.isfinite(y)))} non-finite samples")
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0 + _FLOAT_TOLERANCE:
        raise InputError(name, "float samples in [-1, 1] (divide int16-range floats by 32768)",
                         f"samples with peak magnitude {peak:.4g}")


def _from_array(voice: tuple, parameter: str) -> tuple[np.ndarray, int]:
    if len(voice) != 2:
        raise InputError(parameter, "a path or a tuple (samples, sampling_rate)", f"a tuple of length {len(voice)}")
    rate = _check_rate(voice[1], parameter)
    a, axis = _check_samples(voice[0], parameter)
    name = f"{parameter}[0] (samples)"
    n = a.shape[0] if axis != 0 else a.shape[1]
    if n == 0:
        raise InputError(name, "non-empty audio", "0 samples")
    if n / rate > MAX_DURATION_S:
        raise _too_long(name, f"{n / rate:.1f} s")
    bad, peak = 0, 0.0
    for y in _array_blocks(a, axis):  # one pass: the count of non-finite samples, else the peak
        finite = np.isfinite(y)
        bad += int(y.size - np.count_nonzero(finite))
        if not bad and y.size:
            peak = max(peak, float(np.max(np.abs(y))))
    if bad:
        raise InputError(name, "finite samples (no NaN or infinity)", f"{bad} non-finite samples")
    if peak > 1.0 + _FLOAT_TOLERANCE:
        raise InputError(name, "float samples in [-1, 1] (divide int16-range floats by 32768)",
                         f"samples with peak magnitude {peak:.4g}")
    rs = StreamResampler(rate, n_in=n)
    for y in _array_blocks(a, axis):
        rs.push(y)
    return rs.finish(), rate


def _from_file(path, parameter: str) -> tuple[np.ndarray, int]:
    """Decode a file block by block; its header's rate, channels and length are checked before any block."""
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise InputError(parameter, "a path to an existing audio file (wav, flac, ogg, mp3)",
                         f"{p!r}, which does not exist or is not a file")
    readable = "a readable audio file (wav, flac, ogg; mp3 where libsndfile decodes it)"
    try:
        f = sf.SoundFile(p)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise InputError(parameter, readable, f"{p!r}, which could not be decoded ({type(e).__name__}: {e})") from None
    with f:
        rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
        if not MIN_RATE <= rate <= MAX_RATE:
            raise InputError(parameter, f"an audio file sampled at {MIN_RATE} to {MAX_RATE} Hz",
                             f"{p!r}, whose header says {rate} Hz")
        if not 1 <= channels <= MAX_FILE_CHANNELS:
            raise InputError(parameter, f"an audio file of 1 to {MAX_FILE_CHANNELS} channels",
                             f"{p!r}, whose header says {channels} channels")
        known = 0 < frames < _UNKNOWN_FRAMES
        if known and frames / rate > MAX_DURATION_S:
            raise _too_long(parameter, f"{p!r}, whose header says {frames / rate:.1f} s")
        limit = int(MAX_DURATION_S * rate)
        rs = StreamResampler(rate, n_in=frames if known else None)
        buf = np.empty((max(1, AUDIO_BLOCK_FRAMES // channels), channels), np.float32)
        n = 0
        while True:
            try:
                data = f.read(len(buf), dtype="float32", always_2d=True, out=buf)
            except Exception as e:  # damaged data past a valid header
                raise InputError(parameter, readable,
                                 f"{p!r}, which could not be decoded ({type(e).__name__}: {e})") from None
            if len(data) == 0:
                break
            n += len(data)
            if n > limit:
                raise _too_long(parameter, f"{p!r}, which holds more than {MAX_DURATION_S:.0f} s "
                                           "(decoding stopped there)")
            y = np.asarray(data.mean(axis=1) if channels > 1 else data[:, 0], dtype=np.float64)
            _check_block(y, parameter)
            rs.push(y)
    if n == 0:
        raise InputError(parameter, "non-empty audio", "0 samples")
    return rs.finish(), rate


def load_audio(voice, *, parameter: str = "voice") -> Audio:
    """Turn any accepted voice input into mono float32 :class:`Audio` at 16 kHz.

    Parameters
    ----------
    voice : str, os.PathLike, tuple (samples, sampling_rate) or Audio
        See the module docstring for the accepted forms.
    parameter : str
        The name used in error messages.

    Returns
    -------
    Audio
        ``samples`` float32 ``(n,)`` in [-1, 1] at ``sampling_rate == 16000``.

    Raises
    ------
    InputError
        Missing or unreadable file, empty audio, NaN or infinite samples, float samples outside
        [-1, 1], a wrong dtype or shape, a non-int sampling rate or one outside [1000, 384000] Hz (a file's
        header too), a file of more than 64 channels, audio longer than 10 minutes (by its shape or header before
        anything is read; by what decoding finds otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(8000) / 8000
    >>> a = load_audio((0.1 * np.sin(2 * np.pi * 200 * t), 8000))
    >>> a.sampling_rate, a.samples.shape
    (16000, (16000,))
    """
    if isinstance(voice, Audio):
        return voice
    if isinstance(voice, (str, os.PathLike)):
        y, rate = _from_file(voice, parameter)
        source = "file"
    elif isinstance(voice, tuple):
        y, rate = _from_array(voice, parameter)
        source = "array"
    else:
        raise InputError(parameter, "a path (str or os.PathLike) or a tuple (samples, sampling_rate)",
                         _describe(voice))
    if y.size == 0:
        raise InputError(parameter if source == "file" else f"{parameter}[0] (samples)", "non-empty audio",
                         "too few samples to resample")
    y.setflags(write=False)
    return Audio(samples=y, sampling_rate=SAMPLING_RATE, source_rate=int(rate), source=source)
