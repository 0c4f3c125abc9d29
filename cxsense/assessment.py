"""The result of :func:`cxsense.assess`: one immutable, JSON-serialisable Assessment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ._version import __version__
from .emotions import EMOTIONS
from .encoders.base import ModalityResult, _jsonable

__all__ = ["Assessment"]


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

    def to_dict(self) -> dict:
        """All of the above as a JSON-serialisable dict (embeddings as lists)."""
        return {
            "emotion": self.emotion,
            "probabilities": dict(self.probabilities),
            "valence": self.valence,
            "arousal": self.arousal,
            "stress": self.stress,
            "confidence": self.confidence,
            "modalities": {k: m.to_dict() for k, m in self.modalities.items()},
            "incongruence": self.incongruence,
            "cues": None if self.cues is None else dict(self.cues),
            "fusion": _jsonable(self.fusion),
            "cxsense_version": __version__,
        }

    def __repr__(self) -> str:
        mods = ", ".join(f"{k}(q={m.quality:.2f})" for k, m in self.modalities.items())
        return (f"Assessment(emotion={self.emotion!r}, confidence={self.confidence:.2f}, valence={self.valence:+.2f}, "
                f"arousal={self.arousal:+.2f}, stress={self.stress:.2f}, modalities=[{mods}])")
