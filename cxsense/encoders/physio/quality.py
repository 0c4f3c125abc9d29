"""How much a physiology window's estimate can be trusted, as a function of its length.

The stress models were trained on 60-s windows. ``benchmarks/physio_window_length.py`` ran the shipped models on
the Stress-Predict dev subjects with windows of 30 to 600 s (no baseline, 30-s hop, majority label):

=======  =====  =====  =====
window   n      AUC    ECE
=======  =====  =====  =====
30 s     342    0.681  0.125
60 s     339    0.741  0.102
120 s    333    0.769  0.080
180 s    327    0.803  0.091
300 s    315    0.853  0.127
600 s    285    0.856  0.130
=======  =====  =====  =====

Shorter than 60 s the ranking falls, so the quality falls as ``sqrt(d / 60)`` (the rule since v1). From 60 to
600 s it does not fall (the calibration error grows a little), so the quality is full. Beyond 600 s nothing was
measured, and one number for a window of hours averages over states that change within minutes: the quality
falls as ``sqrt(600 / d)`` (0.41 for an hour, 0.13 for ten hours).
"""

from __future__ import annotations

import math

from ...limits import PHYSIO_FULL_QUALITY_WINDOW_S

__all__ = ["window_quality"]


def window_quality(duration_s: float, trained_s: float | None = None) -> float:
    """The factor in (0, 1] that a window of ``duration_s`` seconds puts on the physiology quality.

    Parameters
    ----------
    duration_s : float > 0
        The window's length, seconds.
    trained_s : float, optional
        The window length the model was trained on (default: the lower end of
        :data:`~cxsense.limits.PHYSIO_FULL_QUALITY_WINDOW_S`, 60 s).

    Returns
    -------
    float
        ``sqrt(min(1, d / trained_s)) * sqrt(min(1, longest / d))`` with ``longest`` the longest measured
        window (600 s).
    """
    lo, hi = PHYSIO_FULL_QUALITY_WINDOW_S
    lo = float(trained_s) if trained_s else lo
    d = max(float(duration_s), 1e-9)
    return math.sqrt(min(1.0, d / lo)) * math.sqrt(min(1.0, hi / d))
