"""Live sessions: push frames, audio chunks and physiology samples with timestamps; read rolling assessments.

    live = cxsense.LiveSession()
    live.push_frame(rgb, t)                      # uint8 (H, W, 3) RGB, t in seconds on your clock
    live.push_audio(samples, rate, t)            # t = time of the chunk's first sample
    live.push_physio({"ppg": (x, 64), "eda": (y, 4)}, t)
    a = live.assessment()                        # an Assessment over the rolling windows, or None

Each push does the work for its modality at once (a frame is detected and assessed when pushed, so
``push_frame`` costs one face pass); ``assessment()`` then assesses the last ``voice_window`` seconds of
audio (default 3) and the last ``physio_window`` seconds of physiology (default 60, at least 30 needed)
and fuses them with the faces of the last ``face_window`` seconds (default 1; the largest face per frame,
pooled). Only those windows are kept in memory; older samples are dropped. Latency per update: see
``benchmarks/live_latency.py`` and docs/sessions.md.
"""

from __future__ import annotations

import math
import threading
from collections import deque

import numpy as np

from ..errors import InputError, NoSignalError

__all__ = ["LiveSession"]


def _check_t(t, parameter="t"):
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)) or not math.isfinite(float(t)):
        raise InputError(parameter, "a finite time in seconds", repr(t))
    return float(t)


class LiveSession:
    """Rolling assessments from pushed frames, audio and physiology (see the module docstring).

    Parameters
    ----------
    face_window, voice_window, physio_window : float
        Seconds of each modality that an assessment covers.
    face_model : {"base", "small"}, default "base"
        The face expression network (see :func:`cxsense.assess`).
    face_early_exit : "auto", float in (0, 1] or None, default "auto"
        Base's early exit (see :func:`cxsense.assess`): a face the stage-1 network reads with at least this
        probability costs one small pass instead of eight (``"auto"``: 0.65 for base v1.4.0; ``None``: off).
    """

    def __init__(self, face_window: float = 1.0, voice_window: float = 3.0, physio_window: float = 60.0, *,
                 face_model: str = "base", face_early_exit: float | str | None = "auto"):
        from ..encoders.face.encoder import check_face_options

        for name, v, lo, hi in (("face_window", face_window, 0.1, 10), ("voice_window", voice_window, 1, 10),
                                ("physio_window", physio_window, 30, 120)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise InputError(name, f"seconds in [{lo}, {hi}]", repr(v))
        check_face_options(face_model, face_early_exit)
        self._face_config = {"model": face_model, "early_exit": face_early_exit}
        self.face_window, self.voice_window, self.physio_window = float(face_window), float(voice_window), float(physio_window)
        self._faces: deque = deque()  # (t, ModalityResult or None)
        self._audio: deque = deque()  # (t0, samples at 16 kHz)
        self._physio: dict[str, deque] = {}  # channel -> deque of (t0, samples, rate)
        self._now = -math.inf
        self._lock = threading.Lock()

    # -- pushes --------------------------------------------------------------------------------
    def push_frame(self, frame, t) -> None:
        """Assess the largest face of one RGB frame taken at time ``t`` (seconds)."""
        from ..encoders import get_encoder
        from ..inputs.image import load_image

        t = _check_t(t)
        img = load_image(frame, parameter="frame")
        rs = [r for r in get_encoder("face", **self._face_config).encode_all(img, tiled="auto") if r.quality > 0]
        with self._lock:
            self._faces.append((t, rs[0] if rs else None))
            self._advance(t)

    def push_audio(self, samples, sampling_rate, t) -> None:
        """Append an audio chunk whose first sample was taken at ``t`` (seconds)."""
        from ..inputs.audio import load_audio

        t = _check_t(t)
        try:
            a = load_audio((samples, sampling_rate), parameter="samples")
        except InputError as e:  # name this method's own parameters, not the tuple's parts
            name = e.parameter.replace("samples[1] (sampling_rate)", "sampling_rate").replace("samples[0] (samples)", "samples")
            raise InputError(name, e.allowed, e.given) from None
        with self._lock:
            self._audio.append((t, np.asarray(a.samples)))
            self._advance(t + a.duration_s)

    def push_physio(self, channels, t) -> None:
        """Append physiology chunks ``{channel: (samples, rate)}`` whose first samples were at ``t``."""
        from ..inputs.physio import ALIASES, CHANNELS

        t = _check_t(t)
        if not isinstance(channels, dict) or not channels:
            raise InputError("channels", "a non-empty dict {channel: (samples, rate)}", type(channels).__name__)
        new = {}
        for name, val in channels.items():
            key = ALIASES.get(str(name).lower(), str(name).lower())
            if key not in CHANNELS:
                raise InputError("channels", f"channel names {sorted(CHANNELS)}", repr(name))
            try:
                x, rate = val
                x = np.asarray(x, dtype=np.float64)
                rate = float(rate)
            except (TypeError, ValueError):
                raise InputError(f"channels[{name!r}]", "(samples, sampling_rate)", repr(type(val).__name__)) from None
            if not (math.isfinite(rate) and rate > 0) or x.size == 0 or not np.all(np.isfinite(x)):
                raise InputError(f"channels[{name!r}]", "finite samples and a positive rate", f"rate {rate}, {x.size} samples")
            new[key] = (x, rate)
        with self._lock:
            end = t
            for key, (x, rate) in new.items():
                self._physio.setdefault(key, deque()).append((t, x, rate))
                end = max(end, t + len(x) / rate)
            self._advance(end)

    def _advance(self, t: float) -> None:
        self._now = max(self._now, t)
        now = self._now
        while self._faces and self._faces[0][0] < now - self.face_window:
            self._faces.popleft()
        while self._audio and self._audio[0][0] + len(self._audio[0][1]) / 16000 < now - self.voice_window:
            self._audio.popleft()
        for dq in self._physio.values():
            while dq and dq[0][0] + len(dq[0][1]) / dq[0][2] < now - self.physio_window:
                dq.popleft()

    # -- reading -------------------------------------------------------------------------------
    def _voice(self):
        if not self._audio:
            return None
        t_end = self._now
        t0 = t_end - self.voice_window
        parts = []
        for ts, x in self._audio:
            i0 = max(0, int(round((t0 - ts) * 16000)))
            parts.append(x[i0:])
        w = np.concatenate(parts)[-int(self.voice_window * 16000):] if parts else np.zeros(0)
        if len(w) < 1600:
            return None
        from ..encoders import get_encoder
        from ..inputs.audio import Audio

        return get_encoder("voice").encode(Audio(np.clip(w, -1, 1).astype(np.float32), 16000))

    def _physio_result(self):
        if not self._physio:
            return None
        t0 = self._now - self.physio_window
        mapping = {}
        for key, dq in self._physio.items():
            rate = dq[-1][2]
            x = np.concatenate([c[1][max(0, int(round((t0 - c[0]) * c[2]))):] for c in dq])
            x = x[-int(self.physio_window * rate):]
            if len(x) / rate < 30.0:
                return None
            mapping[key] = (x, rate)
        n = min(len(x) / r for x, r in mapping.values())
        mapping = {k: (x[-int(round(n * r)):], r) for k, (x, r) in mapping.items()}
        from ..encoders import get_encoder
        from ..inputs.physio import load_physio

        try:
            return get_encoder("physio").encode(load_physio(mapping, parameter="physio", nan_policy="interpolate"))
        except InputError:
            return None

    def assessment(self):
        """An :class:`~cxsense.Assessment` over the current windows, or None when nothing usable is there."""
        from ..api import _assessment
        from .tracking import pool_face

        with self._lock:
            faces = [r for _, r in self._faces]
            results = {}
            pooled = pool_face([r for r in faces if r is not None], len(faces)) if faces else None
            if pooled is not None:
                results["face"] = pooled
            v = self._voice()
            if v is not None:
                results["voice"] = v
            p = self._physio_result()
            if p is not None:
                results["physio"] = p
        if not results:
            return None
        try:
            return _assessment(results)
        except NoSignalError:
            return None

    @property
    def time(self) -> float:
        """The latest time pushed (seconds), or -inf before any push."""
        return self._now
