"""Fusion: the slot where the modalities' results become one estimate.

:func:`get_fusion` returns the fusion :func:`cxsense.assess` uses: by default the shipped
:class:`~cxsense.fusion.learned.LearnedFusion` (a quality-gated logistic late fusion fitted on
pseudo-pairs, ``models/fusion/MODEL_CARD.md``). :func:`set_fusion` replaces it process-wide, for
instance with one fitted on your own paired recordings through
:class:`~cxsense.fusion.estimator.LateFusionClassifier` (needs scikit-learn) and
:meth:`LearnedFusion.from_estimator`. :class:`~cxsense.fusion.rule.QualityWeightedFusion` is the
documented rule it replaced, kept for comparison.
"""

from __future__ import annotations

import threading

from .features import CATEGORICAL_BLOCKS, N_FEATURES, feature_row, feature_rows
from .incongruence import incongruence
from .learned import LearnedFusion
from .rule import FusedEstimate, QualityWeightedFusion

__all__ = ["CATEGORICAL_BLOCKS", "N_FEATURES", "FusedEstimate", "LateFusionClassifier", "LearnedFusion",
           "QualityWeightedFusion", "feature_row", "feature_rows", "get_fusion", "incongruence", "set_fusion"]

_lock = threading.Lock()
_current = None


def get_fusion():
    """The fusion used by :func:`cxsense.assess` (the shipped learned fusion unless :func:`set_fusion` was called)."""
    global _current
    with _lock:
        if _current is None:
            _current = LearnedFusion.load()
        return _current


def set_fusion(fusion=None):
    """Use ``fusion`` (an object with ``fuse(results) -> FusedEstimate``) in :func:`cxsense.assess`.

    ``None`` restores the shipped fusion. Returns the previous one. Process-wide.
    """
    global _current
    if fusion is not None and not callable(getattr(fusion, "fuse", None)):
        from ..errors import InputError

        raise InputError("fusion", "an object with a fuse(results) method, or None", type(fusion).__name__)
    with _lock:
        prev, _current = _current, fusion
    return prev


def __getattr__(name):
    if name == "LateFusionClassifier":  # scikit-learn is imported only when the estimator is wanted
        from .estimator import LateFusionClassifier

        return LateFusionClassifier
    raise AttributeError(name)
