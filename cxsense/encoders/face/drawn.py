"""Drawn faces: the second check of face confirmation, against cartoons, emoji and logos that the mesh accepts.

The face mesh's presence output (:mod:`~cxsense.encoders.face.cue_hook`) rejects text, shapes and textures, but
it reads a drawn cartoon face (a disc with two eyes and a mouth) as a face with presence 1.0: its layout is a
face's. What a drawing lacks is a photograph's shading and texture. In the 48x48 crop the expression network
reads, a photographed face has almost no two neighbouring pixels of exactly the same grey (skin shading and
texture, sensor noise), while a drawing is made of flat fills: most of its neighbours are equal.

:func:`flat_share` is the share of the crop's central 36x36 pixels whose right and lower neighbours both have
exactly its grey level, not counting clipped pixels (<= 4 or >= 251, so that a blown-out or underexposed face
does not read as flat), read in the upper and the lower half and the smaller taken: a drawing is flat everywhere,
while a photographed face behind one plain occluder (a mask, dark glasses) is flat in one half only. A detection
whose crop is flatter than :data:`DRAWN_FLAT_SHARE` is not a photographed face. The threshold was chosen on
FER-2013 **train** faces against generated cartoon faces (``python -m training.face.fit_drawn_face``, 2026-12-05):
the smallest on a 0.01 grid that rejects at most 0.1 % of 5,049 train faces (in scenes, through H.264 or JPEG at
quality 20); it rejects 0.06 % of them and 94.3 % of 368 cartoon faces the mesh had confirmed. Heavy JPEG blocking
is what flattens photographs most (their 99.9th percentile: 0.165, against 0.096 through H.264).
"""

from __future__ import annotations

import numpy as np

__all__ = ["flat_share", "looks_drawn", "DRAWN_FLAT_SHARE", "NOT_PHOTOGRAPHED"]

#: Crops with a larger :func:`flat_share` are taken as drawn (training/face/fit_drawn_face.py).
DRAWN_FLAT_SHARE = 0.15
#: The reason a detection that looks drawn gets quality 0.
NOT_PHOTOGRAPHED = ("the detection looks drawn, not photographed (flat areas of one grey: a cartoon, an emoji, "
                    "a logo)")


def flat_share(crop: np.ndarray) -> float:
    """Share of flat, unclipped pixels in the middle of a face crop.

    Parameters
    ----------
    crop : np.ndarray [shape=(48, 48)], uint8
        The FER-framed grey crop of one face (:func:`~cxsense.encoders.face.views.face_align`); other sizes
        work, the middle three quarters are read.

    Returns
    -------
    float in [0, 1]: the share of pixels equal to their right and lower neighbours and not clipped, in the upper
    and in the lower half of the pixels read; the **smaller** of the two. A
    drawing is flat in both halves; a photographed face with one flat occluder (a plain mask over the mouth, dark
    glasses, a hand in a glove) is flat in one half only and is not taken as drawn.
    """
    c = np.asarray(crop)
    h, w = c.shape[:2]
    c = c[h // 8:h - h // 8, w // 8:w - w // 8].astype(np.int16)
    if c.shape[0] < 4 or c.shape[1] < 2:
        return 0.0
    here = c[:-1, :-1]
    flat = (here == c[:-1, 1:]) & (here == c[1:, :-1]) & (here > 4) & (here < 251)
    m = flat.shape[0] // 2
    return float(min(flat[:m].mean(), flat[m:].mean()))


def looks_drawn(crop: np.ndarray, threshold: float = DRAWN_FLAT_SHARE) -> bool:
    """True when the crop is flatter than a photograph (see the module docstring)."""
    return flat_share(crop) > threshold
