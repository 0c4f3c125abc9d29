"""The one small interface every modality encoder fills, and the result it returns.

An encoder turns one normalised input (see :mod:`cxsense.inputs`) into a :class:`ModalityResult`:
an embedding (the pre-logit vector the fusion consumes), the modality's own estimate, and a
quality in [0, 1]. Quality 0 means "no usable signal": the result then carries no estimate and
the fusion ignores it. Adding a fourth modality means writing one more subclass of
:class:`Encoder` and adding it to :data:`cxsense.encoders.ENCODERS`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import numpy as np

from ..emotions import EMOTIONS

__all__ = ["ModalityResult", "Encoder"]


def _freeze(d: Mapping | None) -> Mapping | None:
    return None if d is None else MappingProxyType(dict(d))


def _finite01(name: str, v: float | None, lo: float = 0.0, hi: float = 1.0) -> float | None:
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v) or v < lo - 1e-9 or v > hi + 1e-9:
        raise RuntimeError(f"internal error: {name}={v} outside [{lo}, {hi}]")
    return min(max(v, lo), hi)


@dataclass(frozen=True)
class ModalityResult:
    """One modality's reading of its input (immutable).

    Attributes
    ----------
    modality : str
        ``"face"``, ``"voice"`` or ``"physio"``.
    probabilities : mapping str -> float, or None
        Over :data:`cxsense.EMOTIONS`, calibrated, summing to 1; ``None`` where the modality makes
        no categorical estimate (physiology) or has no usable signal.
    embedding : np.ndarray [shape=(d,)], float32
        Pre-logit vector of the modality's network (read-only). Zeros when ``quality == 0``.
    quality : float in [0, 1]
        How usable the input was; 0 means no usable signal (the result then carries no estimate).
    valence, arousal : float in [-1, 1] or None
    stress : float in [0, 1] or None
    details : mapping
        Modality-specific, JSON-serialisable facts: the face box, per-channel quality, the reason
        for a quality of 0, the methods used.
    model : mapping
        Provenance: model names, versions and SHA-256 of the weights used.
    cues : mapping str -> float, or None
        Facial action cues of the face (read-only; :data:`cxsense.encoders.face.cues.CUE_NAMES`, docs/cues.md);
        None for other modalities, without a face, or where the face mesh could not run.
    """

    modality: str
    probabilities: Mapping[str, float] | None
    embedding: np.ndarray
    quality: float
    valence: float | None = None
    arousal: float | None = None
    stress: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    cues: Mapping[str, float] | None = None

    def __post_init__(self):
        emb = np.array(self.embedding, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(emb)):
            raise RuntimeError(f"internal error: non-finite {self.modality} embedding")
        emb.setflags(write=False)
        object.__setattr__(self, "embedding", emb)
        object.__setattr__(self, "quality", _finite01("quality", self.quality))
        object.__setattr__(self, "valence", _finite01("valence", self.valence, -1, 1))
        object.__setattr__(self, "arousal", _finite01("arousal", self.arousal, -1, 1))
        object.__setattr__(self, "stress", _finite01("stress", self.stress))
        if self.probabilities is not None:
            p = {e: _finite01(f"p[{e}]", self.probabilities[e]) for e in EMOTIONS}
            object.__setattr__(self, "probabilities", _freeze(p))
        object.__setattr__(self, "details", _freeze(self.details))
        object.__setattr__(self, "model", _freeze(self.model))
        if self.cues is not None:
            cues = {str(k): float(v) for k, v in self.cues.items()}
            if not all(math.isfinite(v) for v in cues.values()):
                raise RuntimeError(f"internal error: non-finite cues {cues}")
            object.__setattr__(self, "cues", _freeze(cues))

    @property
    def has_signal(self) -> bool:
        """True when the modality carried a usable signal (``quality > 0``)."""
        return self.quality > 0

    @property
    def emotion(self) -> str | None:
        """The most probable category, or None without a categorical estimate."""
        if self.probabilities is None:
            return None
        return max(EMOTIONS, key=lambda e: self.probabilities[e])

    def probability_vector(self) -> np.ndarray | None:
        """Probabilities as an array ordered as :data:`EMOTIONS`, or None."""
        if self.probabilities is None:
            return None
        return np.array([self.probabilities[e] for e in EMOTIONS], dtype=np.float64)

    @classmethod
    def no_signal(cls, modality: str, embedding_dim: int, reason: str, details=None, model=None) -> "ModalityResult":
        """The documented no-signal result: quality 0, no estimate, a zero embedding, and the reason."""
        d = dict(details or {})
        d["reason"] = reason
        return cls(modality=modality, probabilities=None, embedding=np.zeros(embedding_dim, np.float32),
                   quality=0.0, details=d, model=model or {})

    def to_dict(self) -> dict:
        """JSON-serialisable form (the embedding as a list)."""
        return {
            "modality": self.modality,
            "emotion": self.emotion,
            "probabilities": None if self.probabilities is None else dict(self.probabilities),
            "valence": self.valence,
            "arousal": self.arousal,
            "stress": self.stress,
            "quality": self.quality,
            "embedding": [float(v) for v in self.embedding],
            "details": _jsonable(self.details),
            "model": _jsonable(self.model),
            "cues": None if self.cues is None else dict(self.cues),
        }


def _jsonable(x):
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


class Encoder(ABC):
    """One modality: a normalised input in, a :class:`ModalityResult` out.

    Subclasses set :attr:`modality` and :attr:`embedding_dim`, load their weights through
    :mod:`cxsense.registry` in ``__init__`` and implement :meth:`encode`. Encoders are stateless
    between calls (safe to share between threads) and keep no input.
    """

    modality: ClassVar[str]
    embedding_dim: ClassVar[int]

    @abstractmethod
    def encode(self, x: Any, **options) -> ModalityResult:
        """Read one normalised input (the form :mod:`cxsense.inputs` gives for this modality)."""

    def info(self) -> dict:
        """Provenance of the models this encoder uses (names, versions, SHA-256)."""
        return {}
