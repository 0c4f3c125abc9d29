"""Fusion: the slot where the modalities' results become one estimate.

:func:`fuse` is the one step from modality results to an :class:`~cxsense.Assessment`, shared by every entry
point (:mod:`cxsense.fusion.base`). The fusion it uses is :func:`get_fusion`: by default the shipped
:class:`~cxsense.fusion.learned.LearnedFusion` (a quality-gated logistic late fusion fitted on pseudo-pairs,
``models/fusion/MODEL_CARD.md``). :func:`set_fusion` replaces it process-wide, for instance with one fitted on
your own paired recordings through :class:`~cxsense.fusion.estimator.LateFusionClassifier` (needs
scikit-learn) and :meth:`LearnedFusion.from_estimator`. :class:`~cxsense.fusion.rule.QualityWeightedFusion`
is the documented rule it replaced, kept for comparison.
"""

from __future__ import annotations

from .base import Fusion, FusedEstimate, fuse, get_fusion, set_fusion
from .features import CATEGORICAL_BLOCKS, N_FEATURES, feature_row, feature_rows
from .incongruence import incongruence
from .learned import LearnedFusion
from .rule import QualityWeightedFusion

__all__ = ["CATEGORICAL_BLOCKS", "N_FEATURES", "Fusion", "FusedEstimate", "LateFusionClassifier", "LearnedFusion",
           "QualityWeightedFusion", "feature_row", "feature_rows", "fuse", "get_fusion", "incongruence",
           "set_fusion"]


def __getattr__(name):
    if name == "LateFusionClassifier":  # scikit-learn is imported only when the estimator is wanted
        from .estimator import LateFusionClassifier

        return LateFusionClassifier
    raise AttributeError(name)
