"""Synthetic expression changes for tests and benchmarks: a face's mouth warped open, its brows up, its eyes shut.

These are geometric warps of a real face image guided by its mesh landmarks (image pixels, ``(468, 2 or 3)``),
not real expressions: they move the lower face down below the inner-lip line (filling the opened band dark like a
mouth's inside), the brows and forehead up, or paint the eyes shut. They give known-answer inputs for the cues (``tests/test_cues.py``)
and the frames of the jaw-drop benchmark video (``benchmarks/cue_video.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["open_mouth", "raise_brows", "close_eyes"]


def _grid(rgb):
    h, w = rgb.shape[:2]
    return np.mgrid[0:h, 0:w].astype(np.float32)


def _remap(rgb, xx, src_y):
    import cv2

    return cv2.remap(np.ascontiguousarray(rgb), xx, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def open_mouth(rgb: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """``rgb`` (uint8 (H, W, 3)) with everything below the inner-lip line moved down by ``amount`` pixels under the
    mouth, fading out beyond its corners and below the chin; the opened band is filled dark."""
    lm = np.asarray(landmarks, dtype=np.float32)
    yy, xx = _grid(rgb)
    top = (lm[13, 1] + lm[14, 1]) / 2
    cx, half = (lm[61, 0] + lm[291, 0]) / 2, max((lm[291, 0] - lm[61, 0]) / 2, 1.0)
    chin = lm[152, 1] + 0.3 * (lm[152, 1] - top)
    wx = np.clip(1.5 - np.abs(xx - cx) / half, 0, 1)
    wy = np.clip((yy - top) / 3.0, 0, 1) * np.clip((chin + amount - yy) / max(0.3 * (chin - top), 1.0), 0, 1)
    shift = amount * wx * wy
    out = _remap(rgb, xx, yy - shift)
    cavity = (yy >= top) & (yy < top + shift * 0.9) & (((xx - cx) / (0.8 * half)) ** 2 < 1)
    out[cavity] = (out[cavity] * 0.15).astype(np.uint8)
    return out


def raise_brows(rgb: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """``rgb`` with the brows and the forehead above them moved up by ``amount`` pixels, fading to nothing at the
    upper eyelids and beyond the outer brow ends."""
    lm = np.asarray(landmarks, dtype=np.float32)
    yy, xx = _grid(rgb)
    lids = min(lm[159, 1], lm[386, 1])
    brows = float(np.mean(lm[[70, 63, 105, 66, 107, 300, 293, 334, 296, 336], 1]))
    cx, half = (lm[70, 0] + lm[300, 0]) / 2, max((lm[300, 0] - lm[70, 0]) / 2, 1.0)
    wx = np.clip(1.6 - np.abs(xx - cx) / half, 0, 1)
    wy = np.clip((lids - yy) / max(lids - brows, 1.0), 0, 1)
    return _remap(rgb, xx, yy + amount * wx * wy)


def close_eyes(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``rgb`` with both eyes painted shut: each eyelid polygon (slightly enlarged) filled with the skin just above
    it, and a dark lash line along the lower lid."""
    import cv2

    from .mesh import EYE_CONTOURS

    lm = np.asarray(landmarks, dtype=np.float32)
    out = np.array(rgb, copy=True)
    for contour in EYE_CONTOURS:
        poly = lm[list(contour), :2]
        mask = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0
        ys = np.nonzero(mask)[0]
        above = np.roll(rgb, int(ys.max() - ys.min() + 1), axis=0)  # the skin one eye-height higher
        out[mask] = above[mask]
        cv2.polylines(out, [np.round(poly[:9]).astype(np.int32)], False, (40, 30, 30), 2, cv2.LINE_AA)
    return out
