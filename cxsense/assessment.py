"""The result of :func:`cxsense.assess`: one immutable, JSON-serialisable Assessment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ._version import __version__
from .emotions import EMOTIONS
from .encoders.base import ModalityResult, _jsonable

__all__ = ["Assessment", "ROW_COLUMNS", "MODALITY_COLUMNS", "CUE_COLUMNS", "no_signal_row"]

#: Per-modality columns of a timeline row: each modality's own reading, 0 or "" where it had no signal.
MODALITY_COLUMNS = ["face_quality", "face_emotion", "face_valence", "face_arousal",
                    "voice_quality", "voice_emotion", "voice_valence", "voice_arousal", "voice_fused",
                    "physio_quality", "physio_arousal", "physio_stress"]
#: The facial cue columns (``Assessment.cues``; docs/cues.md): NaN where no face gave cues.
CUE_COLUMNS = ["head_yaw", "head_pitch", "head_roll", "mouth_open", "smile", "brow_raise", "eyes_open", "gaze_on_camera"]
#: Columns of :meth:`Assessment.to_row` (a session timeline adds ``time`` and ``person`` in front).
ROW_COLUMNS = (["emotion", *EMOTIONS, "valence", "arousal", "stress", "confidence", "incongruence",
                "categorical_evidence"] + MODALITY_COLUMNS + CUE_COLUMNS)


@dataclass(frozen=True)
class Assessment:
    """How a person appears to feel, estimated from the modalities given (immutable).

    These are estimates of expressed affect (what a face, a voice or a body shows), not of inner
    feelings, and never of identity.

    Attributes
    ----------
    emotion : str
        The most probable entry of ``probabilities``.
    probabilities : mapping str -> float
        Over :data:`cxsense.EMOTIONS`, each in [0, 1], summing to 1.
    valence, arousal : float in [-1, 1]
    stress : float in [0, 1]
        Probability of a stress state (high arousal with negative valence).
    confidence : float in [0, 1]
        The probability that ``emotion`` is right, as calibrated on the models' dev splits: among
        assessments with confidence c, a share of about c had the right emotion (see docs/confidence.md).
    modalities : mapping str -> ModalityResult
        Each modality given, keyed ``"face"``, ``"voice"``, ``"physio"``; quality 0 marks one without signal.
    fusion : mapping
        How the estimate was combined: the method, the inputs used and, under ``"incongruence"``, the
        disagreement of each pair of modalities with each modality's own estimate.
    incongruence : float in [0, 1]
        How strongly the modalities disagree (0 with fewer than two usable modalities): the largest, over
        pairs, of the Jensen-Shannon divergence of their categories and the gaps of their valence, arousal
        and stress, each times the pair's lower quality. See :mod:`cxsense.fusion.incongruence`.
    categorical_evidence : bool
        False when no modality in the estimate reads categories (physiology alone): ``probabilities`` are
        then uniform, ``emotion`` is ``"neutral"`` by convention, ``valence`` is 0 and ``confidence`` 1/7 --
        placeholders, not a reading. Check this before showing ``emotion``.

    Assessments are made by :func:`cxsense.fusion.fuse`, the one step every entry point shares.
    """

    emotion: str
    probabilities: Mapping[str, float]
    valence: float
    arousal: float
    stress: float
    confidence: float
    modalities: Mapping[str, ModalityResult]
    fusion: Mapping[str, Any] = field(default_factory=dict)
    incongruence: float = 0.0
    categorical_evidence: bool = True

    def __post_init__(self):
        p = {e: float(self.probabilities[e]) for e in EMOTIONS}
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in p.values()) or abs(sum(p.values()) - 1) > 1e-6:
            raise RuntimeError(f"internal error: invalid fused probabilities {p}")
        for name, lo in (("valence", -1.0), ("arousal", -1.0), ("stress", 0.0), ("confidence", 0.0),
                         ("incongruence", 0.0)):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and lo - 1e-9 <= v <= 1.0 + 1e-9):
                raise RuntimeError(f"internal error: {name}={v}")
            object.__setattr__(self, name, min(max(v, lo), 1.0))
        object.__setattr__(self, "probabilities", MappingProxyType(p))
        object.__setattr__(self, "modalities", MappingProxyType(dict(self.modalities)))
        object.__setattr__(self, "fusion", MappingProxyType(dict(self.fusion)))

    @property
    def cues(self) -> Mapping[str, float] | None:
        """The face's facial action cues (read-only mapping: ``head_yaw``, ``head_pitch``, ``head_roll`` in degrees;
        ``mouth_open``, ``smile``, ``brow_raise``, ``eyes_open``, ``gaze_on_camera`` in [0, 1]; docs/cues.md), or
        None without a usable face."""
        face = self.modalities.get("face")
        return None if face is None or not face.has_signal else face.cues

    def to_dict(self, embeddings: bool = True) -> dict:
        """All of the above as a JSON-serialisable dict.

        Parameters
        ----------
        embeddings : bool, default True
            Include each modality's embedding as a list of floats (the contract's default); ``False`` leaves
            them out (what ``cxsense assess`` prints unless ``--embeddings``, and what the service returns).
        """
        return {
            "emotion": self.emotion,
            "probabilities": dict(self.probabilities),
            "valence": self.valence,
            "arousal": self.arousal,
            "stress": self.stress,
            "confidence": self.confidence,
            "categorical_evidence": self.categorical_evidence,
            "modalities": {k: m.to_dict(embedding=embeddings) for k, m in self.modalities.items()},
            "incongruence": self.incongruence,
            "cues": None if self.cues is None else dict(self.cues),
            "fusion": _jsonable(self.fusion),
            "cxsense_version": __version__,
        }

    def to_row(self) -> dict:
        """One timeline row (columns :data:`ROW_COLUMNS`): the estimate and each modality's own reading.

        ``voice_fused`` is True when a usable voice took part in the estimate (a session keeps the voice out
        when several faces are on screen). A modality without signal gives 0 and ``""``; the cue columns are NaN
        when there are no cues (an empty cell in a CSV), the only columns that can be.
        """
        row = {"emotion": self.emotion, **{e: float(self.probabilities[e]) for e in EMOTIONS},
               "valence": self.valence, "arousal": self.arousal, "stress": self.stress,
               "confidence": self.confidence, "incongruence": self.incongruence,
               "categorical_evidence": bool(self.categorical_evidence)}
        row.update(_modality_columns(self.modalities, set(self.fusion.get("used", ()))))
        cues = self.cues or {}
        row.update({c: float(cues[c]) if c in cues else float("nan") for c in CUE_COLUMNS})
        return row

    def __repr__(self) -> str:
        mods = ", ".join(f"{k}(q={m.quality:.2f})" for k, m in self.modalities.items())
        return (f"Assessment(emotion={self.emotion!r}, confidence={self.confidence:.2f}, valence={self.valence:+.2f}, "
                f"arousal={self.arousal:+.2f}, stress={self.stress:.2f}, modalities=[{mods}])")


def _modality_columns(results: Mapping[str, ModalityResult], fused: set) -> dict:
    row: dict[str, Any] = {}
    for m in ("face", "voice"):
        r = results.get(m)
        ok = r is not None and r.quality > 0
        row[f"{m}_quality"] = r.quality if ok else 0.0
        row[f"{m}_emotion"] = (r.emotion or "") if ok else ""
        row[f"{m}_valence"] = float(r.valence) if ok and r.valence is not None else 0.0
        row[f"{m}_arousal"] = float(r.arousal) if ok and r.arousal is not None else 0.0
    row["voice_fused"] = "voice" in fused
    r = results.get("physio")
    ok = r is not None and r.quality > 0
    row["physio_quality"] = r.quality if ok else 0.0
    row["physio_arousal"] = float(r.arousal) if ok and r.arousal is not None else 0.0
    row["physio_stress"] = float(r.stress) if ok and r.stress is not None else 0.0
    return row


def no_signal_row(results: Mapping[str, ModalityResult] | None = None) -> dict:
    """A timeline row for a step in which nothing usable was seen: ``emotion == "no_signal"``, the estimate's
    columns 0 (never NaN), and whatever the modalities reported."""
    row = {"emotion": "no_signal", **{e: 0.0 for e in EMOTIONS}, "valence": 0.0, "arousal": 0.0, "stress": 0.0,
           "confidence": 0.0, "incongruence": 0.0, "categorical_evidence": False}
    row.update(_modality_columns(results or {}, set()))
    row.update({c: float("nan") for c in CUE_COLUMNS})
    return row
