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

from ..emotions import EMOTIONS, top_emotion

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
        return top_emotion(self.probability_vector())

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

    def to_dict(self, embedding: bool = True) -> dict:
        """JSON-serialisable form; the embedding as a list unless ``embedding=False`` (then left out)."""
        d = {
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
        if not embedding:
            del d["embedding"]
        return d


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
    """One modality: a cleaned input and its options in, a :class:`ModalityResult` out.

    A modality is four things: a loader in :mod:`cxsense.inputs` that turns every accepted form into one clean
    form, an options class in :mod:`cxsense.options`, a subclass of this class, and one line in
    :data:`cxsense.encoders.ENCODERS`. Subclasses set :attr:`modality` and :attr:`embedding_dim`, load their
    weights through :mod:`cxsense.registry` in ``__init__`` (from the options' ``encoder_key`` fields) and
    implement :meth:`encode`. Encoders keep no state between calls (one instance serves all threads) and keep
    no input.
    """

    modality: ClassVar[str]
    embedding_dim: int

    @abstractmethod
    def encode(self, x: Any, options: Any = None, *, baseline: Any = None) -> ModalityResult:
        """Read one cleaned input.

        Parameters
        ----------
        x : the clean form :mod:`cxsense.inputs` gives for this modality (``Image``, ``Audio``, ``PhysioInput``)
        options : this modality's options object (:mod:`cxsense.options`); ``None`` means the defaults
        baseline : what :meth:`prepare_baseline` returned for the same person, or None

        Returns
        -------
        ModalityResult
        """

    def info(self) -> dict:
        """Provenance of the models this encoder uses (names, versions, SHA-256)."""
        return {}

    def prepare_baseline(self, baseline: Any, options: Any = None) -> Any:
        """Read a person's baseline (a clean input of this modality) once, for :meth:`encode`'s ``baseline=``.

        Raises
        ------
        NotAvailableError
            This modality takes no baseline in this version.
        """
        from ..errors import NotAvailableError

        raise NotAvailableError(f"{self.modality} baselines are not available in this version of cxsense")

    def warm_up(self) -> None:
        """Pay one-time costs (compilation, first-call allocations) now rather than in the first call."""
