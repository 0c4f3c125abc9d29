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

Everything is resampled to :data:`SAMPLING_RATE` (16 kHz, the model's rate) with
:func:`scipy.signal.resample_poly` (polyphase FIR, Kaiser window beta 5.0, deterministic), so
any rate is accepted. Every failure raises :class:`~cxsense.errors.InputError` naming the
parameter. No file is written, nothing leaves the process.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InputError

__all__ = ["Audio", "load_audio", "SAMPLING_RATE", "MIN_RATE", "MAX_RATE", "MAX_DURATION_S"]

#: The rate every :class:`Audio` has, in Hz (the voice model's rate).
SAMPLING_RATE = 16_000
#: Lowest and highest accepted input rates, in Hz.
MIN_RATE = 1_000
MAX_RATE = 384_000
#: Longest accepted input, in seconds (one hour): longer audio should be cut by the caller.
MAX_DURATION_S = 3600.0
#: Most channels accepted in a 2-D array (the short axis is the channel axis).
MAX_CHANNELS = 8
_FLOAT_TOLERANCE = 1e-3


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


def _read_file(path, parameter: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise InputError(parameter, "a path to an existing audio file (wav, flac, ogg, mp3)",
                         f"{p!r}, which does not exist or is not a file")
    try:
        data, sr = sf.read(p, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise InputError(parameter, "a readable audio file (wav, flac, ogg; mp3 where libsndfile decodes it)",
                         f"{p!r}, which could not be decoded ({type(e).__name__}: {e})") from None
    return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0], int(sr)


def _check_rate(rate, parameter: str) -> int:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Integral):
        raise InputError(f"{parameter}[1] (sampling_rate)", "an int in Hz", _describe(rate))
    rate = int(rate)
    if rate < MIN_RATE or rate > MAX_RATE:
        raise InputError(f"{parameter}[1] (sampling_rate)", f"an int in Hz between {MIN_RATE} and {MAX_RATE}",
                         str(rate))
    return rate


def _check_samples(x, parameter: str) -> np.ndarray:
    name = f"{parameter}[0] (samples)"
    if isinstance(x, (str, bytes)) or x is None:
        raise InputError(name, "a 1-D float array in [-1, 1] or an int16 array", _describe(x))
    try:
        a = np.asarray(x)
    except Exception:
        raise InputError(name, "a 1-D float array in [-1, 1] or an int16 array", _describe(x)) from None
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    elif a.dtype.kind == "f":
        pass
    else:
        raise InputError(name, "dtype float16/32/64 (values in [-1, 1]) or int16", f"dtype {a.dtype}")
    if a.ndim == 2:
        rows, cols = a.shape
        if cols <= MAX_CHANNELS and rows > cols:
            a = a.mean(axis=1)  # (n, channels)
        elif rows <= MAX_CHANNELS and cols > rows:
            a = a.mean(axis=0)  # (channels, n)
        elif rows == 1 or cols == 1:
            a = a.reshape(-1)
        else:
            raise InputError(name, f"shape (n,), (n, channels) or (channels, n) with at most {MAX_CHANNELS} channels",
                             f"shape {a.shape}")
    elif a.ndim != 1:
        raise InputError(name, f"shape (n,), (n, channels) or (channels, n) with at most {MAX_CHANNELS} channels",
                         f"shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(name, "finite samples (no NaN or infinity)",
                         f"{int(np.sum(~np.isfinite(a)))} non-finite samples")
    return a


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
        [-1, 1], a wrong dtype or shape, a non-int sampling rate or one outside [1000, 384000] Hz,
        audio longer than one hour.

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
        samples, rate = _read_file(voice, parameter)
        source = "file"
        name = parameter
    elif isinstance(voice, tuple):
        if len(voice) != 2:
            raise InputError(parameter, "a path or a tuple (samples, sampling_rate)", f"a tuple of length {len(voice)}")
        rate = _check_rate(voice[1], parameter)
        samples = _check_samples(voice[0], parameter)
        source = "array"
        name = f"{parameter}[0] (samples)"
    else:
        raise InputError(parameter, "a path (str or os.PathLike) or a tuple (samples, sampling_rate)",
                         _describe(voice))
    if samples.size == 0:
        raise InputError(name, "non-empty audio", "0 samples")
    if not np.all(np.isfinite(samples)):
        raise InputError(name, "finite samples (no NaN or infinity)", "non-finite samples")
    peak = float(np.max(np.abs(samples)))
    if peak > 1.0 + _FLOAT_TOLERANCE:
        raise InputError(name, "float samples in [-1, 1] (divide int16-range floats by 32768)",
                         f"samples with peak magnitude {peak:.4g}")
    if len(samples) / rate > MAX_DURATION_S:
        raise InputError(name, f"at most {MAX_DURATION_S:.0f} s of audio (cut longer recordings)",
                         f"{len(samples) / rate:.1f} s")
    y = np.asarray(samples, dtype=np.float64)
    if rate != SAMPLING_RATE:
        from scipy.signal import resample_poly

        fr = Fraction(SAMPLING_RATE, rate).limit_denominator(1000)
        y = resample_poly(y, fr.numerator, fr.denominator, window=("kaiser", 5.0))
    y = np.clip(y, -1.0, 1.0).astype(np.float32)
    if y.size == 0:
        raise InputError(name, "non-empty audio", "too few samples to resample")
    y.setflags(write=False)
    return Audio(samples=y, sampling_rate=SAMPLING_RATE, source_rate=int(rate), source=source)
