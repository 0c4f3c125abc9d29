"""One session step becomes timeline rows: the step's faces per person, its voice and its physiology are read and
fused by :func:`cxsense.fusion.fuse` (the step every estimate of cxsense shares), and each row is
:meth:`Assessment.to_row` of the result, or :func:`~cxsense.assessment.no_signal_row` when nothing usable was
seen.

The audio is not diarised: when two or more faces are on screen together in a step, the voice is reported in
every row's ``voice_*`` columns but kept out of the estimate (``voice_fused`` False), since cxsense cannot tell
who speaks. Two faces one after the other (a cut) each get the voice.
"""

from __future__ import annotations

import numpy as np

from ..assessment import no_signal_row
from ..encoders.base import ModalityResult
from ..errors import NoSignalError
from ..fusion import fuse
from .buffers import AudioBuffer

__all__ = ["StepAssessor", "VOICE_NOT_ATTRIBUTED", "MIN_VOICE_SAMPLES"]

#: Why a step's voice is kept out of the estimate when several faces are on screen.
VOICE_NOT_ATTRIBUTED = "several faces on screen: the voice is not attributed to one of them"
#: A voice window shorter than this (samples at 16 kHz, 0.1 s) is not read.
MIN_VOICE_SAMPLES = 1600


class StepAssessor:
    """Reads the voice and the physiology of a step and makes its rows.

    Parameters
    ----------
    voice_encoder, physio_encoder : Encoder or None
    physio : PhysioTable or PhysioRing, optional
        Where the physiology windows come from (``window(t_end, ...)``).
    voice_window, physio_window : float, seconds
    physio_baseline : PhysioBaseline, optional
        The person's resting features, prepared once for the whole session.
    """

    def __init__(self, voice_encoder=None, physio_encoder=None, physio=None, *, voice_window: float = 3.0,
                 physio_window: float = 60.0, physio_baseline=None):
        self.voice_encoder, self.physio_encoder, self.physio = voice_encoder, physio_encoder, physio
        self.voice_window, self.physio_window = float(voice_window), float(physio_window)
        self.physio_baseline = physio_baseline
        self.voice_baseline = None  # a SpeakerBaseline, when the session has one
        self.notes: set[str] = set()
        self.physio_steps = 0
        self.sound: dict[str, int] = {}  # "music without speech" / "noise without speech" -> windows
        self.unheard: dict[str, int] = {}  # other reasons for no voice ("silence", "no voiced speech", ...) -> windows

    def voice(self, audio: AudioBuffer, t0: float, t1: float) -> ModalityResult | None:
        """The voice encoder's reading of the audio between ``t0`` and ``t1`` (None without enough audio)."""
        from ..inputs.audio import Audio

        w = audio.window(t0, t1)
        if self.voice_encoder is None or len(w) < MIN_VOICE_SAMPLES:
            return None
        r = self.voice_encoder.encode(Audio(np.clip(w, -1, 1).astype(np.float32), 16000), baseline=self.voice_baseline)
        reason = str(r.details.get("reason", ""))
        if r.quality <= 0 and reason.endswith("without speech"):
            self.sound[reason] = self.sound.get(reason, 0) + 1
        elif r.quality <= 0:  # the reason's head: "silence", "no voiced speech", "too little speech", ...
            key = reason.split(":")[0].split(" (")[0].strip() or "no usable speech"
            self.unheard[key] = self.unheard.get(key, 0) + 1
        return r

    def physio_at(self, t_end: float) -> ModalityResult | None:
        """The physiology encoder's reading of the ``physio_window`` seconds ending at ``t_end``."""
        if self.physio is None or self.physio_encoder is None:
            return None
        x, why = self.physio.window(t_end, self.physio_window)
        if why:
            self.notes.add(why)
        if x is None:
            return None
        self.physio_steps += 1
        return self.physio_encoder.encode(x, baseline=self.physio_baseline)

    def rows(self, t: float, faces: dict[str, ModalityResult], voice: ModalityResult | None,
             physio: ModalityResult | None, together: bool | None = None) -> list[dict]:
        """Rows ``{"time", "person", **to_row()}`` of one step: one per person with a face, or one row ``"-"``.

        ``together``: whether two or more of the faces were on screen in one frame (default: more than one face);
        then the voice is kept out of the estimate.
        """
        shared = {m: r for m, r in (("voice", voice), ("physio", physio)) if r is not None}
        together = len(faces) > 1 if together is None else together
        exclude = {"voice": VOICE_NOT_ATTRIBUTED} if voice is not None and together else None
        out = []
        for person in sorted(faces, key=lambda s: int(s[1:])) or ["-"]:
            results = dict(shared, **({"face": faces[person]} if person in faces else {}))
            try:
                row = fuse(results, exclude=exclude).to_row()
            except NoSignalError:
                row = no_signal_row(results)
            out.append({"time": round(float(t), 6), "person": person, **row})
        return out
