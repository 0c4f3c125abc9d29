"""Rule-based late fusion: a quality-weighted log-linear pool (the interim fusion).

- Categories: a weighted geometric mean of the categorical modalities' calibrated probabilities
  (log-linear pooling), each weighted by its quality normalised to sum to 1, then renormalised.
  With one categorical modality this is exactly its estimate.
- Valence, arousal, stress: quality-weighted means over the modalities that estimate them.
- Confidence: the fused probability of the chosen emotion.
- Modalities with quality 0 take no part (masked, not imputed).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..emotions import EMOTIONS
from ..encoders.base import ModalityResult
from ..errors import NoSignalError
from .base import FusedEstimate, no_signal_reasons

__all__ = ["QualityWeightedFusion"]


def _wmean(pairs):
    pairs = [(v, w) for v, w in pairs if v is not None and w > 0]
    if not pairs:
        return None
    w = np.array([p[1] for p in pairs])
    v = np.array([p[0] for p in pairs])
    return float((v * w).sum() / w.sum())


class QualityWeightedFusion:
    """See the module docstring."""

    method = "quality-weighted log-linear pool (rule)"

    def fuse(self, results: Mapping[str, ModalityResult]) -> FusedEstimate:
        """The rule's estimate of ``results`` (see the module docstring)."""
        usable = {k: r for k, r in results.items() if r.quality > 0}
        if not usable:
            raise NoSignalError(f"no modality given carries a usable signal ({no_signal_reasons(results)})")
        cat = {k: r for k, r in usable.items() if r.probabilities is not None}
        if cat:
            q = np.array([r.quality for r in cat.values()])
            w = q / q.sum()
            logp = sum(wi * np.log(np.clip(r.probability_vector(), 1e-12, 1.0)) for wi, r in zip(w, cat.values()))
            p = np.exp(logp - logp.max())
            p = p / p.sum()
            weights = {k: float(wi) for k, wi in zip(cat, w)}
        else:
            # No categorical evidence (e.g. physiology alone): the categories carry no information,
            # so the estimate is uniform and the confidence says so.
            p = np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
            weights = {}
        valence = _wmean((r.valence, r.quality) for r in usable.values())
        arousal = _wmean((r.arousal, r.quality) for r in usable.values())
        stress = _wmean((r.stress, r.quality) for r in usable.values())
        return FusedEstimate(
            probabilities=p,
            valence=0.0 if valence is None else valence,
            arousal=0.0 if arousal is None else arousal,
            stress=0.0 if stress is None else stress,
            confidence=float(p.max()),
            info={"method": self.method, "categorical_weights": weights,
                  "used": sorted(usable), "ignored_no_signal": sorted(set(results) - set(usable))},
        )
