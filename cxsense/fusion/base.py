"""The fusion interface and the one step from modality results to an :class:`~cxsense.Assessment`.

Every estimate cxsense gives goes through :func:`fuse`: :func:`cxsense.assess`, :func:`cxsense.assess_faces`,
:class:`cxsense.LiveSession` and each row of a session timeline. The conventions live here and nowhere else:

- the fusion in use (:func:`get_fusion`; :func:`set_fusion` replaces it) turns the usable results into a
  :class:`FusedEstimate`;
- ``emotion`` is the most probable category; a tie at the top goes to ``"neutral"`` when neutral is among the
  tied, else to the first in :data:`cxsense.EMOTIONS` order. Without categorical evidence (physiology alone) the
  probabilities are uniform, so ``emotion`` is ``"neutral"`` and ``Assessment.categorical_evidence`` is False;
- modalities can be given for the record but kept out of the estimate (``exclude``: a session's voice when
  several faces are on screen and the speaker is unknown); ``fusion["excluded"]`` says why;
- no usable modality raises :class:`~cxsense.NoSignalError`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Mapping, Protocol

import numpy as np

from ..emotions import EMOTIONS, top_emotion
from ..encoders.base import ModalityResult
from ..errors import InputError, NoSignalError

__all__ = ["FusedEstimate", "Fusion", "fuse", "get_fusion", "set_fusion", "no_signal_reasons"]

@dataclass(frozen=True)
class FusedEstimate:
    """What a fusion returns (internal to :func:`fuse`, which makes the Assessment).

    Attributes
    ----------
    probabilities : np.ndarray [shape=(7,)]
        Over :data:`cxsense.EMOTIONS`, summing to 1 (uniform without categorical evidence).
    valence, arousal : float in [-1, 1]
    stress, confidence : float in [0, 1]
    info : dict
        Provenance and the parts (``method``, ``used``, ``categorical_inputs``, ``incongruence``, ...).
    """

    probabilities: np.ndarray
    valence: float
    arousal: float
    stress: float
    confidence: float
    info: dict = field(default_factory=dict)


class Fusion(Protocol):
    """What :func:`set_fusion` accepts: an object with ``fuse(results) -> FusedEstimate``.

    ``results`` holds only usable modalities (quality > 0), keyed ``"face"``, ``"voice"``, ``"physio"``.
    """

    def fuse(self, results: Mapping[str, ModalityResult]) -> FusedEstimate:  # pragma: no cover - protocol
        """One estimate from the usable modalities' results (each with ``quality > 0``)."""
        ...


_lock = threading.Lock()
_current: Fusion | None = None


def get_fusion() -> Fusion:
    """The fusion in use: the shipped :class:`~cxsense.fusion.learned.LearnedFusion` unless :func:`set_fusion`
    was called. Loaded (and its SHA-256 checked) on first use."""
    global _current
    with _lock:
        if _current is None:
            from .learned import LearnedFusion

            _current = LearnedFusion.load()
        return _current


def set_fusion(fusion: Fusion | None = None) -> Fusion | None:
    """Use ``fusion`` everywhere (``None`` restores the shipped one). Process-wide; returns the previous one."""
    global _current
    if fusion is not None and not callable(getattr(fusion, "fuse", None)):
        raise InputError("fusion", "an object with a fuse(results) method, or None", type(fusion).__name__)
    with _lock:
        prev, _current = _current, fusion
    return prev


def no_signal_reasons(results: Mapping[str, ModalityResult]) -> str:
    """One line: each modality's reason for having no usable signal."""
    return "; ".join(f"{k}: {r.details.get('reason', 'no signal')}" for k, r in results.items())


def fuse(results: Mapping[str, ModalityResult], *, exclude: Mapping[str, str] | None = None,
         fusion: Fusion | None = None):
    """The one step from modality results to an :class:`~cxsense.Assessment` (see the module docstring).

    Parameters
    ----------
    results : mapping str -> ModalityResult
        Every modality given, with or without signal; all are reported in ``Assessment.modalities``.
    exclude : mapping str -> str, optional
        Modalities to report but keep out of the estimate, each with the reason (``fusion["excluded"]``).
    fusion : Fusion, optional
        Default: :func:`get_fusion`.

    Returns
    -------
    Assessment

    Raises
    ------
    NoSignalError
        No modality left for the estimate carries a usable signal.
    """
    from ..assessment import Assessment

    exclude = dict(exclude or {})
    usable = {k: r for k, r in results.items() if r.quality > 0 and k not in exclude}
    if not usable:
        raise NoSignalError(f"no modality given carries a usable signal ({no_signal_reasons(results)})"
                            + (f"; kept out: {exclude}" if exclude else ""))
    fused = (fusion or get_fusion()).fuse(usable)
    p = np.asarray(fused.probabilities, dtype=np.float64)
    p = p / p.sum()
    info = dict(fused.info)
    info["used"] = sorted(usable)
    info["ignored_no_signal"] = sorted(k for k, r in results.items() if r.quality <= 0)
    if exclude:
        info["excluded"] = {k: str(v) for k, v in exclude.items() if k in results}
    categorical = any(r.probabilities is not None for r in usable.values())
    info["categorical_evidence"] = categorical
    return Assessment(
        emotion=top_emotion(p),
        probabilities={e: float(v) for e, v in zip(EMOTIONS, p)},
        valence=fused.valence,
        arousal=fused.arousal,
        stress=fused.stress,
        confidence=fused.confidence,
        modalities=dict(results),
        fusion=info,
        incongruence=float(info.get("incongruence", {}).get("score", 0.0)),
        categorical_evidence=categorical,
    )
