"""Fusion: the slot where the modalities' results become one estimate.

:func:`get_fusion` returns the fusion in use. Until the learned late-fusion classifier lands
(issue 5), :class:`~cxsense.fusion.rule.QualityWeightedFusion` combines the modalities with a
documented rule; with one usable modality it returns that modality's calibrated estimate unchanged.
"""

from __future__ import annotations

from .rule import FusedEstimate, QualityWeightedFusion

__all__ = ["FusedEstimate", "QualityWeightedFusion", "get_fusion"]

_default = QualityWeightedFusion()


def get_fusion():
    """The fusion used by :func:`cxsense.assess`."""
    return _default
