"""The quality of one face crop: how much its expression estimate can be trusted.

With detection (``detect_face=True``) the crop comes from a face that the detector found: the quality is the
detector's score, lowered for faces under 40 pixels and for low-contrast crops (unchanged since v1).

Without detection (``detect_face=False``: the whole image is taken as the crop) nothing said that the image is
a face, and the old rule (contrast only) gave a crop of noise the quality 1.0. A crop in which the face
mesh sees a face (with ``face_cues`` on, the default) counts fully as a face: the mesh sees one in 95.6 % of the
FER-2013 dev crops and in 0-5.4 % of each kind of non-face crop (``benchmarks/face_crop_quality.py``). Otherwise
(the mesh sees none, or is off), the detector is run on the crop itself (its close-up search: the crop padded to 2 and 3 times its size, the way a FER-style crop is
framed) and its best score becomes the face-likeness (:func:`face_likeness`): :data:`NO_FACE_QUALITY` when it
finds no face, rising linearly from its threshold (0.5) to 1 at :data:`FACE_SCORE_FULL`, about the median
score of the FER-2013 dev faces it finds. The contrast factor applies as before. ``benchmarks/face_crop_quality.py`` measured this on the FER-2013 dev faces against
2,400 non-face crops (noise, blurred noise, gratings, checkerboards, block- and pixel-shuffled faces, patches of
a photo): see ``docs/limits.md`` ("Quality") for the figures and how the numbers below were chosen.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crop_quality", "crop_signals", "face_likeness", "NO_FACE_QUALITY", "FACE_SCORE_FULL", "SMALL_FACE_PX",
           "CONTRAST_SD"]

#: Quality of a ``detect_face=False`` crop in which the detector finds no face (or only a weak one).
NO_FACE_QUALITY = 0.1
#: The detector's lowest score (its threshold) and the score from which a crop counts fully as a face: 0.65 is
#: about the median score of the FER-2013 dev faces that it finds (benchmarks/face_crop_quality.py).
DETECTOR_MIN_SCORE = 0.5
FACE_SCORE_FULL = 0.65
#: Faces smaller than this (pixels, the box's longer side) get a lower quality: sqrt(side / 40).
SMALL_FACE_PX = 40.0
#: Crops whose pixel SD is below this get a lower quality: SD / 20.
CONTRAST_SD = 20.0


def crop_signals(crop: np.ndarray, detector) -> dict:
    """What the quality reads from a crop given without detection.

    Parameters
    ----------
    crop : np.ndarray [shape=(h, w)], uint8 grey
    detector : FaceDetector

    Returns
    -------
    dict
        ``detector_score``: the best score of a face found in the crop (whole-crop pass, then the close-up
        search), 0.0 when none is found.
    """
    rgb = np.repeat(np.ascontiguousarray(crop)[:, :, None], 3, axis=2)
    dets = detector.detect(rgb, tiled="auto")
    return {"detector_score": max((float(d.score) for d in dets), default=0.0)}


def face_likeness(detector_score: float) -> float:
    """:data:`NO_FACE_QUALITY` (no face found) rising linearly to 1 at :data:`FACE_SCORE_FULL`."""
    t = (detector_score - DETECTOR_MIN_SCORE) / (FACE_SCORE_FULL - DETECTOR_MIN_SCORE)
    return float(NO_FACE_QUALITY + (1.0 - NO_FACE_QUALITY) * min(1.0, max(0.0, t))) if detector_score > 0 else NO_FACE_QUALITY


def crop_quality(crop: np.ndarray, det, *, probabilities=None, detector=None, std: float | None = None,
                 likeness: float | None = None) -> float:
    """Quality in [1e-3, 1] of one crop whose expression was estimated.

    Parameters
    ----------
    crop : np.ndarray [shape=(h, w)], uint8 grey, the crop the network read
    det : FaceDetection or None
        The detection the crop was cut from; None for ``detect_face=False``.
    probabilities : np.ndarray [shape=(7,)], optional
        The network's calibrated probabilities (not used by the current rule; kept for the interface).
    detector : FaceDetector, optional
        Needed when ``det`` is None: it is run on the crop.
    std : float, optional
        The crop's pixel SD, if already computed.
    likeness : float, optional
        The face-likeness of a ``detect_face=False`` crop when another check has decided it (1.0 when the face
        mesh sees a face in the image); the detector is then not run.

    Returns
    -------
    float
    """
    if std is None:
        from .views import pixel_std

        std = pixel_std(crop)
    contrast = float(min(1.0, std / CONTRAST_SD))
    if det is not None:
        q = float(det.score) * float(min(1.0, max(det.box[2], det.box[3]) / SMALL_FACE_PX) ** 0.5)
    elif likeness is not None:
        q = float(likeness)
    elif detector is not None:
        q = face_likeness(crop_signals(crop, detector)["detector_score"])
    else:
        q = NO_FACE_QUALITY
    return max(q * contrast, 1e-3)
