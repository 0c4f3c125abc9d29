"""Incongruence: how much the modalities disagree (a smiling face over a stressed body, a calm face with an
angry voice).

For every pair of usable modalities (quality > 0) the gaps that both can be compared on are measured:

- ``categorical``: Jensen-Shannon divergence (base 2, in [0, 1]) between their own probabilities
  (face and voice);
- ``valence`` and ``arousal``: half the absolute difference of their own estimates (in [0, 1]); arousal is
  not compared with the physiology's, which is its stress probability on another scale;
- ``stress``: the absolute difference of their own stress probabilities (in [0, 1]).

The pair's score is the largest of its gaps times the lower of the two qualities (a disagreement with a
poor signal counts for less). The Assessment's ``incongruence`` is the largest pair score, in [0, 1];
0 with fewer than two usable modalities. It is a descriptive measure, not a probability: what counts as
"conflicting" for a study is the researcher's threshold (``benchmarks/fusion_accuracy.py`` prints how well
it separates pseudo-pairs with the same and with different labels).
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping

import numpy as np

from ..encoders.base import ModalityResult

__all__ = ["incongruence", "js_divergence"]


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (base 2), in [0, 1]."""
    p = np.clip(np.asarray(p, np.float64), 0, None)
    q = np.clip(np.asarray(q, np.float64), 0, None)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / b[nz])))

    return float(np.clip(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0, 1.0))


def incongruence(results: Mapping[str, ModalityResult]) -> dict:
    """The incongruence score and its parts (see the module docstring).

    Returns
    -------
    dict
        ``score`` (float in [0, 1]), ``pairs`` (``"face~voice"`` -> gaps and score) and ``estimates``
        (each usable modality's own emotion, valence, arousal, stress and quality).
    """
    usable = {k: r for k, r in results.items() if r.quality > 0}
    pairs = {}
    for a, b in combinations(sorted(usable), 2):
        ra, rb = usable[a], usable[b]
        gaps = {}
        if ra.probabilities is not None and rb.probabilities is not None:
            gaps["categorical"] = js_divergence(ra.probability_vector(), rb.probability_vector())
        for name in ("valence", "arousal"):
            if name == "arousal" and "physio" in (a, b):
                continue  # the physiology's arousal is its stress on another scale: compared once, as stress
            va, vb = getattr(ra, name), getattr(rb, name)
            if va is not None and vb is not None:
                gaps[name] = abs(va - vb) / 2.0
        if ra.stress is not None and rb.stress is not None:
            gaps["stress"] = abs(ra.stress - rb.stress)
        if not gaps:
            continue
        score = max(gaps.values()) * min(ra.quality, rb.quality)
        pairs[f"{a}~{b}"] = {**{k: round(v, 6) for k, v in gaps.items()}, "score": float(np.clip(score, 0, 1))}
    estimates = {k: {"emotion": r.emotion, "valence": r.valence, "arousal": r.arousal, "stress": r.stress,
                     "quality": r.quality} for k, r in usable.items()}
    score = max((p["score"] for p in pairs.values()), default=0.0)
    return {"score": float(score), "pairs": pairs, "estimates": estimates}
