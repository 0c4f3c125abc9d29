"""Person baselines in sessions (``baseline=`` of :func:`cxsense.analyze_session` and :class:`cxsense.LiveSession`).

Off by default: on the dev data it was measured on, a baseline has not yet shown a gain (docs/sessions.md,
"Baselines"). When asked for:

- ``baseline="auto"``: each person's face baseline comes from their own first :data:`AUTO_FACE_S` seconds on
  screen, and the voice baseline from the recording's first :data:`AUTO_VOICE_S` seconds of audio (the audio is
  not diarised, so the voice baseline is the recording's, not a person's);
- ``baseline=(start, end)``: both come from that stretch of the recording (seconds; ``end`` at most
  :data:`MAX_BASELINE_END_S`).

The face estimate is robust, not a blind mean: of the frames in the stretch, the more neutral half (neutral
probability at or above the stretch's median) is averaged; a person whose kept frames still read neutral under
:data:`MIN_NEUTRAL` on average (someone who is already laughing or crying at the start) gets no baseline, and a
note says so, as it does for fewer than :data:`MIN_FACE_FRAMES` frames or a stretch without speech. A baseline is
used for that session only and dropped with it; only its 7 mean probabilities (face) or means of the voice
features are held, never images or audio beyond the stretch itself while it is read, and no identity is computed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..emotions import EMOTIONS, circumplex_va, stress_from_va
from ..errors import InputError

__all__ = ["check_spec", "FaceBaselines", "correct_face", "voice_baseline", "voice_stretch", "AUTO_FACE_S",
           "AUTO_VOICE_S", "MAX_BASELINE_END_S", "MIN_FACE_FRAMES", "MIN_NEUTRAL"]

AUTO_FACE_S = 5.0
AUTO_VOICE_S = 10.0
MAX_BASELINE_END_S = 300.0
MIN_FACE_FRAMES = 3
MIN_NEUTRAL = 0.3
_NEUTRAL = EMOTIONS.index("neutral")


def check_spec(baseline, parameter: str = "baseline"):
    """``None``, ``"auto"`` or ``(start, end)`` seconds (``0 <= start < end <= 300``), checked."""
    allowed = f"None, 'auto' or (start, end) seconds with 0 <= start < end <= {MAX_BASELINE_END_S:g}"
    if baseline is None or baseline == "auto":
        return baseline
    try:
        a, b = (float(v) for v in baseline)
    except (TypeError, ValueError):
        raise InputError(parameter, allowed, repr(baseline)) from None
    if isinstance(baseline, str) or not (math.isfinite(a) and math.isfinite(b) and 0 <= a < b <= MAX_BASELINE_END_S):
        raise InputError(parameter, allowed, repr(baseline))
    return (a, b)


def voice_stretch(spec) -> tuple[float, float] | None:
    """The seconds of audio the voice baseline is read from, or None without a baseline."""
    return None if spec is None else (0.0, AUTO_VOICE_S) if spec == "auto" else spec


def voice_baseline(encoder, samples: np.ndarray):
    """``(SpeakerBaseline or None, note or None)`` from 16-kHz samples of the baseline stretch."""
    from ..inputs.audio import Audio

    if len(samples) < 8000:
        return None, "no audio in the baseline stretch: the voice was read without a baseline"
    try:
        return encoder.prepare_baseline(Audio(np.clip(samples, -1, 1).astype(np.float32), 16000)), None
    except InputError:
        return None, "no usable speech in the baseline stretch: the voice was read without a baseline"


class FaceBaselines:
    """Per-person face baselines gathered from the frames of a session (see the module docstring)."""

    def __init__(self, spec):
        self.spec = spec
        self._frames: dict[str, list] = {}
        self._first: dict[str, float] = {}

    def add(self, person: str, t: float, probabilities) -> None:
        """Remember one frame's face probabilities when it lies in the person's baseline stretch."""
        first = self._first.setdefault(person, t)
        inside = t - first <= AUTO_FACE_S if self.spec == "auto" else self.spec[0] <= t < self.spec[1]
        if inside:
            self._frames.setdefault(person, []).append(np.asarray(probabilities, np.float64))

    def build(self) -> tuple[dict, list[str]]:
        """``({person: FaceBaseline}, notes)`` for every person seen."""
        from ..encoders.face.baseline import FaceBaseline

        out, notes = {}, []
        for person in sorted(self._first, key=lambda p: self._first[p]):
            P = np.array(self._frames.get(person, []))
            if len(P) < MIN_FACE_FRAMES:
                notes.append(f"{person}: fewer than {MIN_FACE_FRAMES} frames in the baseline stretch: no face baseline")
                continue
            kept = P[P[:, _NEUTRAL] >= np.median(P[:, _NEUTRAL])]
            if kept[:, _NEUTRAL].mean() < MIN_NEUTRAL:
                notes.append(f"{person}: the baseline stretch did not look neutral (neutral {kept[:, _NEUTRAL].mean():.2f}"
                             f" < {MIN_NEUTRAL}): no face baseline")
                continue
            p = kept.mean(0)
            out[person] = FaceBaseline(probabilities=p / p.sum(), n_items=len(P), n_usable=len(kept))
        return out, notes


def correct_face(result, base, correction):
    """A pooled face result with the person's neutral offset removed (:class:`NeutralCorrection`)."""
    p = correction.apply(result.probability_vector(), base)
    v, a = circumplex_va(p)
    details = dict(result.details, baseline=dict(base.summary(), used=True, method="neutral offset",
                                                 alpha=correction.alpha, constants=correction.version))
    return dataclasses.replace(result, probabilities=dict(zip(EMOTIONS, map(float, p))), valence=v, arousal=a,
                               stress=stress_from_va(v, a), details=details)
