"""The emotion vocabulary and the circumplex that maps categories to valence and arousal."""

from __future__ import annotations

import numpy as np

__all__ = ["EMOTIONS", "CIRCUMPLEX", "circumplex_va", "clip_scalar", "stress_from_va", "top_emotion"]

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")

#: Valence and arousal of each category's prototype, in [-1, 1]. Rounded from Russell's circumplex
#: placements as rescaled in the affective-computing literature (Russell 1980; Mehrabian 1996 PAD
#: norms; the AffectNet category means of Mollahosseini et al. 2017 agree in sign and order).
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "anger": (-0.60, 0.65),
    "disgust": (-0.65, 0.35),
    "fear": (-0.65, 0.70),
    "happiness": (0.80, 0.45),
    "sadness": (-0.65, -0.40),
    "surprise": (0.15, 0.80),
    "neutral": (0.0, -0.10),
}

_NEUTRAL = EMOTIONS.index("neutral")


def top_emotion(p: np.ndarray) -> str:
    """The most probable category of ``p`` (shape ``(7,)``, ordered as :data:`EMOTIONS`). A tie at the top goes
    to ``"neutral"`` when neutral is among the tied, else to the first tied category: the one tie-break every
    estimate of cxsense uses."""
    p = np.asarray(p, dtype=np.float64)
    tied = np.flatnonzero(p.max() - p < 1e-12)
    return EMOTIONS[_NEUTRAL if _NEUTRAL in tied else int(tied[0])]


_VA = np.array([CIRCUMPLEX[e] for e in EMOTIONS], dtype=np.float64)


def circumplex_va(probabilities: np.ndarray) -> tuple[float, float]:
    """Expected valence and arousal under the category probabilities.

    Parameters
    ----------
    probabilities : np.ndarray [shape=(7,)], ordered as :data:`EMOTIONS`, summing to 1.

    Returns
    -------
    (valence, arousal) : floats in [-1, 1]
    """
    va = np.asarray(probabilities, dtype=np.float64) @ _VA
    return clip_scalar(float(va[0]), -1.0, 1.0), clip_scalar(float(va[1]), -1.0, 1.0)


def clip_scalar(v: float, lo: float, hi: float) -> float:
    """``float(np.clip(v, lo, hi))`` for one float, NaN kept, without NumPy's per-call cost (it runs on every
    assessment)."""
    return lo if v < lo else hi if v > hi else v


def stress_from_va(valence: float, arousal: float) -> float:
    """Probability-like stress score from the circumplex: high arousal with negative valence.

    A logistic of ``2.5 * arousal - 2.5 * valence - 1``: neutral (0, -0.1) gives 0.22, anger or fear
    about 0.9, happiness 0.07. Used only by modalities without a trained stress model (the face).
    """
    z = 2.5 * arousal - 2.5 * valence - 1.0
    return float(1.0 / (1.0 + np.exp(-z)))
