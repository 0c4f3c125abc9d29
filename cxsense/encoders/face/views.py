"""What the expression network sees: a FER-framed 48x48 grey crop of a detected face, and the views the whole
model averages over (the crop, its mirror image, zoomed crops).

The framing reproduces FER-2013's crops relative to a BlazeFace box (medians over 286 dev crops the detector
found): the crop side is the box side / 0.892 and the crop centre sits at the box centre offset by
(+0.013, -0.016) crop sides (docs/face.md, "Alignment and framing").
"""

from __future__ import annotations

import math

import numpy as np

from .detect import FaceDetection

__all__ = ["CROP", "ROTATE_UPRIGHT", "face_align", "zoom_crops", "resize_crop", "pixel_std", "stack_views"]

#: Side of the network's input crop, pixels.
CROP = 48
_SIDE_PER_BOX = 1.0 / 0.892
_CENTRE_OFFSET = (0.5 - (0.041 + 0.892 / 2), 0.5 - (0.070 + 0.892 / 2))
#: Whether faces are rotated upright on their eye line before classification. No: the network was trained on
#: FER-2013 crops, which keep their heads' tilt, and levelling the eyes cost 0.7-1.0 point of dev accuracy.
ROTATE_UPRIGHT = False


def face_align(gray: np.ndarray, det: FaceDetection, size: int = CROP, rotate: bool = True) -> np.ndarray:
    """FER-framed square crop of one detected face, rotated upright on its eye line if ``rotate``.

    Parameters
    ----------
    gray : np.ndarray [shape=(H, W)], uint8
    det : FaceDetection
    size : int, side of the output crop in pixels
    rotate : bool, level the eyes (the encoder passes :data:`ROTATE_UPRIGHT`, False)

    Returns
    -------
    np.ndarray [shape=(size, size)], uint8. Parts outside the image are filled by edge replication.
    """
    import cv2

    x, y, w, h = det.box
    side = max(w, h) * _SIDE_PER_BOX
    eyes = det.keypoints[:2]
    left, right = (eyes[0], eyes[1]) if eyes[0][0] <= eyes[1][0] else (eyes[1], eyes[0])
    angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
    if abs(angle) > 60 or not rotate:  # not asked, or an implausible eye line (profile, bad keypoints)
        angle = 0.0
    cx, cy = x + w / 2, y + h / 2
    t = math.radians(angle)  # the framing offset, in the face's own (rotated) frame
    dx, dy = _CENTRE_OFFSET[0] * side, _CENTRE_OFFSET[1] * side
    cx += dx * math.cos(t) - dy * math.sin(t)
    cy += dx * math.sin(t) + dy * math.cos(t)
    scale = size / side
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += size / 2 - cx
    m[1, 2] += size / 2 - cy
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(gray, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def zoom_crops(crops: np.ndarray, scale: float) -> np.ndarray:
    """Crops ``(n, h, w)`` uint8 zoomed by ``scale`` about their centre (bilinear, edges replicated)."""
    import cv2

    h, w = crops.shape[1:]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0, float(scale))
    return np.stack([cv2.warpAffine(c, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for c in crops])


def resize_crop(gray: np.ndarray, size: int = CROP) -> np.ndarray:
    """A whole grey image ``(H, W)`` uint8 resized to one ``(size, size)`` crop (``detect_face=False``)."""
    import cv2

    interp = cv2.INTER_AREA if min(gray.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp)


def pixel_std(crop: np.ndarray) -> float:
    """Standard deviation of a uint8 crop's pixels (population, as ``crop.std()``; OpenCV's is 10 times faster)."""
    import cv2

    return float(cv2.meanStdDev(np.ascontiguousarray(crop))[1][0, 0])


def stack_views(x, crops: np.ndarray, flip: bool, scales: tuple[float, ...]):
    """The views the whole model reads, stacked along the batch: the standardised crops ``x`` ``(n, 1, 48, 48)``,
    their mirror images (if ``flip``) and the crops zoomed by each of ``scales``, in that order.

    Returns
    -------
    (views, n_views) : torch.Tensor [shape=(n * n_views, 1, 48, 48)], int
    """
    import torch

    from .net import standardize

    views = [x] + ([torch.flip(x, dims=[3])] if flip else [])
    for scale in scales:
        z = torch.from_numpy(zoom_crops(crops, scale).astype(np.float32) / 255.0).unsqueeze(1)
        views.append(standardize(z))
    return (torch.cat(views) if len(views) > 1 else x), len(views)
