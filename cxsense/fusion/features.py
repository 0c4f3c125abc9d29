"""The fusion's input: one feature row per set of modality results, with an explicit mask.

Layout (:data:`CATEGORICAL_BLOCKS`): for each categorical modality, in order ``face``, ``voice``, one
**quality column** followed by its 7 centred log-probabilities (ordered as :data:`cxsense.EMOTIONS`)::

    [q_face, l_face(7), q_voice, l_voice(7)]            # 16 columns

``l = log(clip(p, 1e-4, 1)) - mean(log(clip(p, 1e-4, 1)))``. A modality that is absent, has quality 0
or makes no categorical estimate gets ``q = 0`` and zero features; the classifier multiplies every
block by its ``q`` (see :class:`~cxsense.fusion.estimator.LateFusionClassifier`), so such a block
contributes exactly nothing: masked, not imputed. The same function builds rows for training
(:func:`feature_rows`) and at run time, so a user's ``fit`` on their own paired recordings sees exactly
what :func:`cxsense.assess` will feed it.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from ..emotions import EMOTIONS
from ..encoders.base import ModalityResult

__all__ = ["CATEGORICAL_BLOCKS", "N_FEATURES", "QUALITY_COLUMNS", "block_row", "feature_row", "feature_rows",
           "gated_design"]

#: Column blocks of a fusion row: (modality, number of features after its quality column).
CATEGORICAL_BLOCKS: tuple[tuple[str, int], ...] = (("face", len(EMOTIONS)), ("voice", len(EMOTIONS)))
N_FEATURES = sum(1 + n for _, n in CATEGORICAL_BLOCKS)
#: Index of each block's quality column in a row of the default layout.
QUALITY_COLUMNS = tuple(int(j) for j in np.cumsum([0] + [1 + n for _, n in CATEGORICAL_BLOCKS[:-1]]))
_FLOOR = 1e-4


def gated_design(X: np.ndarray, blocks) -> np.ndarray:
    """``[q_m * x_m, q_m]`` for each block; ``X`` itself when ``blocks`` is None.

    The design on which the late fusion is linear: a block whose quality ``q_m`` is 0 becomes all zeros,
    whatever its features say (masked, not imputed).

    Parameters
    ----------
    X : np.ndarray [shape=(n, sum(1 + width))]
    blocks : sequence of (name, width) or None
    """
    if blocks is None:
        return X
    parts, j = [], 0
    for _, width in blocks:
        q = np.clip(X[:, j:j + 1], 0.0, 1.0)
        parts.append(q * X[:, j + 1:j + 1 + width])
        parts.append(q)
        j += 1 + width
    return np.hstack(parts)


def block_row(probabilities: np.ndarray | None, quality: float) -> np.ndarray:
    """One modality's block: ``[q, centred log-probabilities]``; zeros when masked.

    Parameters
    ----------
    probabilities : np.ndarray [shape=(7,)] or None
    quality : float in [0, 1]
    """
    out = np.zeros(1 + len(EMOTIONS), dtype=np.float64)
    if probabilities is None or not quality > 0:
        return out
    lp = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _FLOOR, 1.0))
    out[0] = float(quality)
    out[1:] = lp - lp.mean()
    return out


def feature_row(results: Mapping[str, ModalityResult]) -> np.ndarray:
    """The fusion row for one set of modality results (any subset; see the module docstring).

    Parameters
    ----------
    results : mapping modality -> ModalityResult
        For instance ``assessment.modalities``.

    Returns
    -------
    np.ndarray [shape=(N_FEATURES,)]
    """
    parts = []
    for name, _ in CATEGORICAL_BLOCKS:
        r = results.get(name)
        if r is None:
            parts.append(block_row(None, 0.0))
        else:
            parts.append(block_row(r.probability_vector(), r.quality))
    return np.concatenate(parts)


def feature_rows(items: Iterable) -> np.ndarray:
    """Rows for many samples: each item an :class:`~cxsense.Assessment` or a mapping of ModalityResults.

    Returns
    -------
    np.ndarray [shape=(n, N_FEATURES)]
    """
    rows = []
    for it in items:
        mods = getattr(it, "modalities", it)
        rows.append(feature_row(mods))
    return np.array(rows, dtype=np.float64).reshape(-1, N_FEATURES)
