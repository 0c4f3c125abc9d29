"""Live sessions: push frames, audio chunks and physiology samples with timestamps; read rolling assessments.

    live = cxsense.LiveSession(warm_up=True)     # load the models now, not in the first push
    live.push_frame(rgb, t)                      # uint8 (H, W, 3) RGB or an av.VideoFrame, t in seconds
    live.push_audio(samples, rate, t)            # t = time of the chunk's first sample
    live.push_physio({"ppg": (x, 64), "eda": (y, 4)}, t)
    a = live.assessment()                        # an Assessment over the rolling windows, or None
    new = live.events()                          # jaw_drop, smile_onset, looked_away found since the last call

A frame is detected and assessed when it is pushed (one face pass). ``assessment()`` reads the last
``voice_window`` seconds of audio (default 3) and the last ``physio_window`` seconds of physiology (default 60;
at least 30 needed), pools the largest face of each frame of the last ``face_window`` seconds (default 1), and
fuses them with :func:`cxsense.fusion.fuse`, as :func:`cxsense.assess` and recorded sessions do. Only those
windows are kept; older samples are dropped. Each modality's timestamps must not go backwards.

``events()`` runs :func:`cxsense.session.cue_events.cue_events` over the facial cues and the face's ``surprise`` of
the frames of the last :data:`CUE_HISTORY` seconds (10; only those eight cues and one probability per frame are kept,
no image) and returns the events it has not returned before, in the layout of recorded sessions' events, ``person``
``"p0"`` (the largest face of each frame). An event is returned once its rule can decide it: a ``jaw_drop`` about a
second after the mouth's top (the rule needs the mouth held open for 1 s), a ``smile_onset`` when the smile crosses
0.6, a ``looked_away`` once the face has been inattentive for 1 s (its ``strength``, the duration, is then the
duration so far). Frames without a face break the runs as in recorded sessions; with ``face_cues="off"`` there
are no cues and so no events.
"""

from __future__ import annotations

import math
import threading
from collections import deque

import numpy as np

from ..errors import InputError, NoSignalError
from ..options import EarlyExit, FaceOptions
from .buffers import AudioBuffer, PhysioRing

__all__ = ["LiveSession", "CUE_HISTORY"]

#: Seconds of per-frame facial cues a live session keeps for :meth:`LiveSession.events` (a jaw drop needs about 4:
#: 2 s of rest, the rise, and 1 s held open).
CUE_HISTORY = 10.0


def _check_t(t, last: float, parameter: str = "t") -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)) or not math.isfinite(float(t)):
        raise InputError(parameter, "a finite time in seconds", repr(t))
    if float(t) < last - 1e-6:
        raise InputError(parameter, f"a time at or after the previous push of this kind ({last:.3f} s)", repr(float(t)))
    return float(t)


def _mono(samples, parameter: str = "samples"):
    """A (channels, n) or (n, channels) chunk down-mixed to mono; 1-D passes through. Channels: 1 to 8."""
    x = np.asarray(samples)
    if x.ndim == 2 and min(x.shape) <= 8:
        axis = 0 if x.shape[0] <= x.shape[1] else 1
        kind = x.dtype.kind
        x = x.astype(np.float64).mean(axis=axis)
        return x.astype(np.int16) if kind == "i" else x
    if x.ndim != 1:
        raise InputError(parameter, "1-D mono samples, or (channels, n) with up to 8 channels", f"shape {x.shape}")
    return x


def _cue_row(result) -> dict:
    """The eight cues and the face's surprise of one frame's largest face; NaN without a face or cues."""
    from ..encoders.face.cues import CUE_NAMES

    cues = None if result is None else result.cues
    if cues is None or result.probabilities is None:
        return {**{k: math.nan for k in CUE_NAMES}, "surprise": math.nan}
    return {**{k: float(cues[k]) for k in CUE_NAMES}, "surprise": float(result.probabilities["surprise"])}


class LiveSession:
    """Rolling assessments from pushed frames, audio and physiology (see the module docstring).

    Parameters
    ----------
    face_window, voice_window, physio_window : float
        Seconds of each modality that an assessment covers (0.1-10, 1-10 and 30-120).
    face_model, face_early_exit, face_cues
        As for :func:`cxsense.assess`.
    warm_up : bool, default False
        Load the face and voice models now (:func:`cxsense.warm_up`), so that the first assessment with audio
        does not stall for about a second mid-stream.
    """

    def __init__(self, face_window: float = 1.0, voice_window: float = 3.0, physio_window: float = 60.0, *,
                 face_model: str = "base", face_early_exit: EarlyExit = "auto", face_cues: str = "full",
                 warm_up: bool = False):
        for name, v, lo, hi in (("face_window", face_window, 0.1, 10), ("voice_window", voice_window, 1, 10),
                                ("physio_window", physio_window, 30, 120)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise InputError(name, f"seconds in [{lo}, {hi}]", repr(v))
        self._face_options = FaceOptions(model=face_model, early_exit=face_early_exit, cues=face_cues)
        self.face_window, self.voice_window, self.physio_window = float(face_window), float(voice_window), float(physio_window)
        self._faces: deque = deque()  # (t, ModalityResult or None)
        self._cues: deque = deque()  # (t, {cue: value, "surprise": p}) per frame; NaN where no face or no cues
        self._reported: deque = deque()  # (kind, onset) of the events events() has returned
        self._audio = AudioBuffer()
        self._physio = PhysioRing(self.physio_window)
        self._last = {"frame": -math.inf, "audio": -math.inf, "physio": -math.inf}
        self._now = -math.inf
        self._lock = threading.Lock()
        if warm_up:
            from ..api import warm_up as _warm

            _warm("face", "voice", face_model=face_model, face_early_exit=face_early_exit)

    # -- pushes --------------------------------------------------------------------------------
    def push_frame(self, frame, t) -> None:
        """Assess the largest face of one frame taken at ``t`` seconds.

        Parameters
        ----------
        frame : np.ndarray uint8 (H, W, 3) RGB or (H, W) grey, encoded image bytes, or an ``av.VideoFrame``
        t : float, seconds on your clock (not before the previous frame)
        """
        from ..encoders import get_encoder
        from ..inputs.image import load_image

        t = _check_t(t, self._last["frame"])
        if type(frame).__name__ == "VideoFrame" and hasattr(frame, "to_ndarray"):
            frame = frame.to_ndarray(format="rgb24")
        img = load_image(frame, parameter="frame")
        rs = [r for r in get_encoder("face", self._face_options).encode_all(img, tiled="auto", options=self._face_options) if r.quality > 0]
        with self._lock:
            self._last["frame"] = t
            self._faces.append((t, rs[0] if rs else None))
            self._cues.append((t, _cue_row(rs[0] if rs else None)))
            self._advance(t)

    def push_audio(self, samples, sampling_rate, t) -> None:
        """Append an audio chunk whose first sample was taken at ``t`` seconds.

        Parameters
        ----------
        samples : 1-D float in [-1, 1] or int16; (channels, n) or (n, channels) with up to 8 channels is down-mixed
        sampling_rate : int, Hz
        t : float, seconds (not before the previous chunk)
        """
        from ..inputs.audio import load_audio

        t = _check_t(t, self._last["audio"])
        try:
            a = load_audio((_mono(samples), sampling_rate), parameter="samples")
        except InputError as e:  # name this method's own parameters, not the tuple's parts
            name = e.parameter.replace("samples[1] (sampling_rate)", "sampling_rate").replace("samples[0] (samples)", "samples")
            raise InputError(name, e.allowed, e.given) from None
        with self._lock:
            self._last["audio"] = t
            self._audio.push(np.asarray(a.samples), t)
            self._advance(t + a.duration_s)

    def push_physio(self, channels, t) -> None:
        """Append physiology chunks ``{channel: (samples, rate)}`` whose first samples were at ``t`` seconds."""
        from ..inputs.physio import ALIASES, CHANNELS

        t = _check_t(t, self._last["physio"])
        if not isinstance(channels, dict) or not channels:
            raise InputError("channels", "a non-empty dict {channel: (samples, rate)}", type(channels).__name__)
        new = {}
        for name, val in channels.items():
            key = ALIASES.get(str(name).lower(), str(name).lower())
            if key not in CHANNELS:
                raise InputError("channels", f"channel names {sorted(CHANNELS)}", repr(name))
            try:
                x, rate = val
                x, rate = np.asarray(x, dtype=np.float64), float(rate)
            except (TypeError, ValueError):
                raise InputError(f"channels[{name!r}]", "(samples, sampling_rate)", repr(type(val).__name__)) from None
            if not (math.isfinite(rate) and rate > 0) or x.size == 0 or not np.all(np.isfinite(x)):
                raise InputError(f"channels[{name!r}]", "finite samples and a positive rate", f"rate {rate}, {x.size} samples")
            new[key] = (x, rate)
        with self._lock:
            self._last["physio"] = t
            self._advance(self._physio.push(new, t))

    def _advance(self, t: float) -> None:
        self._now = max(self._now, t)
        while self._faces and self._faces[0][0] < self._now - self.face_window:
            self._faces.popleft()
        while self._cues and self._cues[0][0] < self._now - CUE_HISTORY:
            self._cues.popleft()
        while self._reported and self._reported[0][1] < self._now - 2 * CUE_HISTORY:
            self._reported.popleft()
        self._audio.drop_before(self._now - self.voice_window)
        self._physio.drop_before(self._now - self.physio_window)

    # -- reading -------------------------------------------------------------------------------
    def _results(self) -> dict:
        from ..encoders import get_encoder
        from .steps import StepAssessor
        from .tracking import pool_face

        results = {}
        faces = [r for _, r in self._faces]
        pooled = pool_face([r for r in faces if r is not None], len(faces)) if faces else None
        if pooled is not None:
            results["face"] = pooled
        steps = StepAssessor(get_encoder("voice") if self._audio.start is not None else None,
                             get_encoder("physio") if self._physio else None, self._physio,
                             voice_window=self.voice_window, physio_window=self.physio_window)
        voice = steps.voice(self._audio, self._now - self.voice_window, self._now)
        physio = steps.physio_at(self._now)
        results.update({m: r for m, r in (("voice", voice), ("physio", physio)) if r is not None})
        return results

    def assessment(self):
        """An :class:`~cxsense.Assessment` over the current windows, or None when nothing usable is there."""
        from ..fusion import fuse

        with self._lock:
            results = self._results()
        try:
            return fuse(results) if results else None
        except NoSignalError:
            return None

    def events(self):
        """Facial cue events (``jaw_drop``, ``smile_onset``, ``looked_away``) found since the last call (module
        docstring): a pandas DataFrame with columns ``time, person, kind, signal, strength, peak_time, peak_value``,
        ``time`` the onset on the clock of :meth:`push_frame`; empty when there is nothing new."""
        import pandas as pd

        from .cue_events import _frame, cue_events

        with self._lock:
            if not self._cues:
                return _frame([])
            tl = pd.DataFrame([{"time": t, "person": "p0", **row} for t, row in self._cues])
            ev = cue_events(tl)
            keep = []
            for i, (kind, onset) in enumerate(zip(ev["kind"], ev["time"])):
                if any(k == kind and abs(o - onset) < 0.5 for k, o in self._reported):
                    continue  # returned before (the same onset, seen again as the history moves on)
                self._reported.append((kind, float(onset)))
                keep.append(i)
            return ev.iloc[keep].reset_index(drop=True)

    @property
    def time(self) -> float:
        """The latest time pushed (seconds), or -inf before any push."""
        return self._now
