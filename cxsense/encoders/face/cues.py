"""Facial action cues from the face mesh: head pose, mouth opening, smile, raised brows, open eyes and gaze.

:func:`face_cues` turns one :class:`~cxsense.encoders.face.mesh.MeshResult` into eight numbers a researcher can
read without a FACS manual (definitions, scales and the data that set them: docs/cues.md):

- ``head_yaw``, ``head_pitch``, ``head_roll`` in degrees, 0 facing the camera. The head's rotation comes from
  ``cv2.solvePnP`` of rigid mesh points (forehead, temples, nose, eye corners, cheekbones) against MediaPipe's
  canonical face geometry, relative to the line of sight from the camera to the face, decomposed as roll
  (in the image plane, outermost), yaw, then pitch. Yaw is positive when the face turns towards the image's
  right-hand side, pitch when the head tilts up, roll when the head tilts counter-clockwise in the image.
  A mirror image flips the signs of yaw and roll; rotating the image by d degrees counter-clockwise adds d to
  roll.
- ``mouth_open``, ``smile``, ``brow_raise``, ``eyes_open``, ``gaze_on_camera`` in [0, 1]: geometry measured on
  the mesh rotated to frontal (a similarity fit of its rigid points to the canonical face), divided by the
  face's inter-ocular distance, and mapped to [0, 1] by a logistic whose two anchors were set on FER-2013
  train faces (:data:`ANCHORS`). ``mouth_open`` reads the outer-lip height relative to the mouth's width;
  ``brow_raise`` reads the brows' height plus, where the iris network ran, the upper eyelids' (FACS AU1+2 with
  AU5, which go together in raised brows), and the brows alone without it.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np

from ...errors import InputError
from .mesh import MeshResult

__all__ = ["CUE_NAMES", "ANCHORS", "face_cues", "raw_geometry", "head_pose", "canonical_geometry"]

#: The keys of :func:`face_cues`, in order.
CUE_NAMES = ("head_yaw", "head_pitch", "head_roll", "mouth_open", "smile", "brow_raise", "eyes_open",
             "gaze_on_camera")

#: Rigid mesh points for the pose and the frontal fit: forehead, temples, nose bridge and tip, eye corners,
#: cheekbones (no lips, jaw, brows or eyelids).
RIGID = (10, 151, 9, 8, 108, 337, 67, 297, 109, 338, 69, 299, 127, 356, 162, 389, 234, 454, 21, 251, 54, 284,
         168, 6, 197, 195, 5, 4, 1, 45, 275, 98, 327, 33, 133, 362, 263, 130, 359, 243, 463, 116, 345, 123, 352)
_INNER_LIPS = ((82, 87), (13, 14), (312, 317))  # upper, lower inner-lip points
_MOUTH_CORNERS = (61, 291)
_BROWS = ((70, 63), (300, 293))  # the outer half of each brow (image-left, image-right); docs/cues.md
_EYES = ((33, 133), (362, 263))
_LID_PAIRS = (((160, 144), (159, 145), (158, 153)), ((387, 373), (386, 374), (385, 380)))  # (upper, lower) lids
_NET_LID_PAIRS = ((11, 3), (12, 4), (13, 5))  # (upper, lower) in MeshResult.eyelids: landmarks 160-144, 159-145, 158-153
#: The upper lids' height (``upper_lid``) of a resting face: the median of FER-2013 train neutral faces
#: (``benchmarks/face_cues.py --fit``). ``brow_raise`` reads only a raise above it, so that blinks and squints do not
#: lower it.
UPPER_LID_REST = 0.1942
_EYEBALL_RADIUS = 1.2  # cm, an adult eyeball's radius (canonical units are cm)
_EYEBALL_DEPTH = 0.6  # cm behind the middle of the eye corners: the eyeball's centre, fitted on FER train (docs)

#: For each [0, 1] cue: the raw geometry (:func:`raw_geometry`) it reads and two anchors (value -> 0.05,
#: value -> 0.95) of the logistic that maps it to [0, 1]. Set by ``benchmarks/face_cues.py --fit`` on FER-2013
#: train (docs/cues.md); ``smile`` and ``brow_raise`` read weighted sums of two measures. A ``fallback`` is what the
#: cue reads when a measure of the first is missing (NaN: the iris network did not run or the eyes were too small).
ANCHORS = {
    "mouth_open": {"measure": {"mouth_aperture": 1.0}, "at_0.05": 0.3317, "at_0.95": 0.5620},
    "smile": {"measure": {"corner_lift": 1.0, "mouth_width": 1.7413}, "at_0.05": 1.2525, "at_0.95": 1.8108},
    "brow_raise": {"measure": {"brow_height": 1.0, "upper_lid_raise": 2.6268}, "at_0.05": 0.2970, "at_0.95": 0.5218,
                   "fallback": {"measure": {"brow_height": 1.0}, "at_0.05": 0.2850, "at_0.95": 0.3648}},
    "eyes_open": {"measure": {"eye_opening": 1.0}, "at_0.05": 0.1004, "at_0.95": 0.2752,
                  "fallback": {"measure": {"eye_opening_mesh": 1.0}, "at_0.05": 0.2138, "at_0.95": 0.2671}},
    "gaze_on_camera": {"measure": {"gaze_angle": -1.0}, "at_0.05": -26.33, "at_0.95": -7.10},
}


@lru_cache(maxsize=1)
def canonical_geometry() -> np.ndarray:
    """MediaPipe's canonical face (468, 3) in cm, in camera axes: x to the image's right, y down, z away from the
    camera (the file's y and z negated). Loaded once through the registry (``face-canonical-geometry``: SHA-256 and
    metadata block checked; the vertices are the file's body)."""
    from ...registry import model_file

    f = model_file("face-canonical-geometry")
    if f.meta.family != "mediapipe-canonical-face-geometry" or f.meta.require("input", "units") != "cm":
        from ...errors import ModelError

        raise ModelError(f"{f.path}: not MediaPipe's canonical face in cm ({f.meta.family}, {f.meta.input})")
    v = np.asarray(json.loads(f.path.read_text())["vertices"], dtype=np.float64)
    if v.shape != (468, 3):  # pragma: no cover - a corrupt file fails its SHA-256 first
        from ...errors import ModelError

        raise ModelError(f"canonical face geometry has shape {v.shape}, expected (468, 3)")
    v = v * np.array([1.0, -1.0, -1.0])
    v.setflags(write=False)
    return v


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R (3x3, det +1) and shift t minimising ||s R src + t - dst|| (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    e = np.diag([1.0, 1.0, d])
    r = u @ e @ vt
    s = float((sig * np.diag(e)).sum() / max((a * a).sum(), 1e-12))
    return s, r, md - s * r @ ms


def _angles(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a head rotation R = Rz(g) Ry(b) Rx(a) in camera axes (y down): yaw = -b
    (face towards the image's right positive), pitch = -a (head up positive), roll = -g (counter-clockwise in
    the image positive)."""
    b = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    a = math.atan2(r[2, 1], r[2, 2])
    g = math.atan2(r[1, 0], r[0, 0])
    return -math.degrees(b), -math.degrees(a), -math.degrees(g)


def _ray_rotation(t: np.ndarray) -> np.ndarray:
    """The rotation that takes the line of sight ``t`` (camera -> face) onto the optical axis (0, 0, 1)."""
    z = np.array([0.0, 0.0, 1.0])
    v = t / max(np.linalg.norm(t), 1e-12)
    axis = np.cross(v, z)
    s, c = np.linalg.norm(axis), float(v @ z)
    if s < 1e-9:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def head_pose(landmarks: np.ndarray, image_shape) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the mesh by ``cv2.solvePnP`` (see module docstring).

    Parameters
    ----------
    landmarks : np.ndarray [shape=(468, 2 or 3)], image pixels.
    image_shape : (H, W[, C]) of the image the landmarks are in; the camera is taken as a pinhole with its
        principal point at the image's centre and a focal length of max(H, W) pixels (about 53 degrees of field).
    """
    import cv2

    h, w = float(image_shape[0]), float(image_shape[1])
    f = max(h, w)
    cam = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=np.float64)
    obj = canonical_geometry()[list(RIGID)]
    img = np.asarray(landmarks, dtype=np.float64)[list(RIGID), :2]
    # start from the similarity fit (orthographic), then refine with perspective
    s, r, _ = _similarity(obj, np.column_stack([img, np.asarray(landmarks, np.float64)[list(RIGID), 2]
                                                if np.shape(landmarks)[1] > 2 else np.zeros(len(RIGID))]))
    rvec0, _ = cv2.Rodrigues(r)
    centre = img.mean(0)
    z0 = f / max(s, 1e-6)
    tvec0 = np.array([(centre[0] - w / 2) * z0 / f, (centre[1] - h / 2) * z0 / f, z0]) - r @ obj.mean(0)
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam, None, rvec0.copy(), tvec0.reshape(3, 1).copy(),
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))) or float(tvec.reshape(-1)[2]) <= 0:
        rvec, tvec = rvec0, tvec0.reshape(3, 1)
    rot, _ = cv2.Rodrigues(rvec)
    return _angles(_ray_rotation(tvec.reshape(3) + rot @ obj.mean(0)) @ rot)


def raw_geometry(mesh: MeshResult) -> dict[str, float]:
    """The raw measures the [0, 1] cues read, on the mesh rotated to frontal and in units of the face's
    inter-ocular distance (IOD, between the middles of the two eyes' corners) unless said otherwise.

    Returns
    -------
    dict with ``lip_gap`` (inner lips, mean of three vertical gaps / IOD), ``lip_height`` (outer lips, the upper
    lip's top to the lower lip's bottom on the midline / IOD), ``mouth_width`` (corner to corner / IOD),
    ``mouth_aperture`` (``lip_height`` / ``mouth_width``: what ``mouth_open`` reads), ``corner_lift`` (height of the
    mouth corners above the inner lips' middle / IOD; positive when the corners are raised), ``brow_height`` (the
    outer half of the brows above the eye-corner line / IOD), ``upper_lid`` (the iris network's upper eyelids above
    the eye-corner line / eye width; NaN without it), ``upper_lid_raise`` (``upper_lid`` above its resting value
    :data:`UPPER_LID_REST`, else 0: FACS AU5, what ``brow_raise`` adds to the brows), ``eye_opening`` (the iris network's eyelid gap / eye
    width, mean of both eyes; NaN without it), ``eye_opening_mesh`` (the same on the mesh's own eyelids, which
    barely follow a closing eye) and ``gaze_angle`` (degrees between the eyes' direction and the line to the
    camera, from ``mesh.iris_centres``; NaN without them).
    """
    lm = np.asarray(mesh.landmarks, dtype=np.float64)
    can = canonical_geometry()
    idx = list(RIGID)
    s, r, t = _similarity(can[idx], lm[idx])
    front = ((lm - t) @ r) / s  # mesh in canonical frame (cm, x right, y down, z away)
    eyes = np.array([(front[a] + front[b]) / 2 for a, b in _EYES])
    iod = float(np.linalg.norm(eyes[1] - eyes[0]))
    out = {}
    out["lip_gap"] = float(np.mean([front[lo, 1] - front[up, 1] for up, lo in _INNER_LIPS])) / iod
    out["lip_height"] = float(front[17, 1] - front[0, 1]) / iod  # outer lips: upper lip's top to lower lip's bottom
    c0, c1 = front[_MOUTH_CORNERS[0]], front[_MOUTH_CORNERS[1]]
    out["mouth_width"] = float(np.linalg.norm((c1 - c0)[:2])) / iod
    out["mouth_aperture"] = out["lip_height"] / max(out["mouth_width"], 1e-9)  # outer-lip height / mouth width
    mid = np.mean([front[i] for pair in _INNER_LIPS[1:2] for i in pair], axis=0)
    out["corner_lift"] = float(mid[1] - (c0[1] + c1[1]) / 2) / iod
    brow = [float(np.mean(eyes[k, 1] - front[list(b), 1])) for k, b in enumerate(_BROWS)]
    out["brow_height"] = float(np.mean(brow)) / iod
    out["eye_opening"] = _lid_opening(mesh.eyelids) if mesh.eyelids is not None else float("nan")
    out["upper_lid"] = _upper_lid(mesh.eyelids) if mesh.eyelids is not None else float("nan")
    out["upper_lid_raise"] = max(out["upper_lid"] - UPPER_LID_REST, 0.0) if mesh.eyelids is not None else float("nan")
    out["eye_opening_mesh"] = _eye_opening(lm, front)
    out["gaze_angle"] = _gaze_angle(mesh, s, r, t)
    return out


def _lid_opening(eyelids: np.ndarray) -> float:
    """Mean over both eyes of the iris network's eyelid gap (three upper-lower pairs, perpendicular to the corner
    line) / the corner distance, in image pixels (a ratio, so the scale cancels)."""
    vals = []
    for lids in np.asarray(eyelids, dtype=np.float64):
        w = float(np.linalg.norm(lids[8] - lids[0]))
        axis = (lids[8] - lids[0]) / max(w, 1e-9)
        normal = np.array([-axis[1], axis[0]])
        vals.append(float(np.mean([abs((lids[lo] - lids[up]) @ normal) for up, lo in _NET_LID_PAIRS])) / max(w, 1e-9))
    return float(np.mean(vals))


def _upper_lid(eyelids: np.ndarray) -> float:
    """Mean over both eyes of the iris network's upper eyelid (its three middle points) above the line between the
    eye's corners, / the corner distance (positive above the line; larger when the upper lid is raised, FACS AU5)."""
    vals = []
    for lids in np.asarray(eyelids, dtype=np.float64):
        w = float(np.linalg.norm(lids[8] - lids[0]))
        axis = (lids[8] - lids[0]) / max(w, 1e-9)
        down = np.array([-axis[1], axis[0]])
        down = down if down[1] >= 0 else -down  # image y grows downwards
        mid = (lids[0] + lids[8]) / 2
        vals.append(float(np.mean([-(lids[up] - mid) @ down for up, _ in _NET_LID_PAIRS])) / max(w, 1e-9))
    return float(np.mean(vals))


def _eye_opening(lm: np.ndarray, front: np.ndarray) -> float:
    """Mean over both eyes of the eyelid gap (three upper-lower pairs) / the eye's width, on the frontal mesh."""
    vals = []
    for (a, b), pairs in zip(_EYES, _LID_PAIRS):
        gaps = [front[lo, 1] - front[up, 1] for up, lo in pairs]
        vals.append(float(np.mean(gaps)) / max(float(np.linalg.norm(front[b, :2] - front[a, :2])), 1e-9))
    return float(np.mean(vals))


def _gaze_angle(mesh: MeshResult, s: float, r: np.ndarray, t: np.ndarray) -> float:
    """Degrees between the mean gaze direction of both eyes and the line to the camera (orthographic model:
    the iris centre sits one eyeball radius from the eyeball's centre along the gaze)."""
    if mesh.iris is None:
        return float("nan")
    can = canonical_geometry()
    dirs = []
    for k, (a, b) in enumerate(_EYES):
        centre = (can[a] + can[b]) / 2 + np.array([0.0, 0.0, _EYEBALL_DEPTH])
        c_img = s * r @ centre + t
        d = (np.asarray(mesh.iris_centres[k], np.float64) - c_img[:2]) / (s * _EYEBALL_RADIUS)
        n = float(np.linalg.norm(d))
        if n > 1:
            d = d / n
        dirs.append(np.array([d[0], d[1], -math.sqrt(max(0.0, 1 - float(d @ d)))]))
    g = np.mean(dirs, axis=0)
    g /= max(np.linalg.norm(g), 1e-9)
    return math.degrees(math.acos(max(-1.0, min(1.0, -g[2]))))


def _logistic(x: float, lo: float, hi: float) -> float:
    """The logistic through (lo, 0.05) and (hi, 0.95)."""
    k = 2 * math.log(19.0) / (hi - lo)
    z = max(-60.0, min(60.0, k * (x - (lo + hi) / 2)))
    return 1.0 / (1.0 + math.exp(-z))


def _check_mesh(mesh) -> np.ndarray:
    if not isinstance(mesh, MeshResult):
        raise InputError("mesh", "a MeshResult (from FaceMesh.run)", type(mesh).__name__)
    lm = np.asarray(mesh.landmarks)
    if lm.shape != (468, 3) or not np.all(np.isfinite(lm)):
        raise InputError("mesh", "468 finite landmarks of shape (468, 3)", f"landmarks of shape {lm.shape}")
    return lm


def face_cues(mesh: MeshResult, image_shape) -> dict[str, float]:
    """The eight facial cues of one face (module docstring; docs/cues.md).

    Parameters
    ----------
    mesh : MeshResult, from :meth:`FaceMesh.run`.
    image_shape : tuple (H, W) or (H, W, C), pixels of the image the mesh ran on (for the camera model).

    Returns
    -------
    dict with exactly :data:`CUE_NAMES`: ``head_yaw``, ``head_pitch``, ``head_roll`` in degrees, and
    ``mouth_open``, ``smile``, ``brow_raise``, ``eyes_open``, ``gaze_on_camera`` in [0, 1]; all finite floats.
    ``gaze_on_camera`` needs the iris points: without them it is 0.5 (unknown).
    """
    lm = _check_mesh(mesh)
    try:
        h, w = int(image_shape[0]), int(image_shape[1])
    except (TypeError, ValueError, IndexError):
        raise InputError("image_shape", "(H, W) or (H, W, C) in pixels", repr(image_shape)) from None
    if h < 1 or w < 1:
        raise InputError("image_shape", "positive sizes", repr(image_shape))
    yaw, pitch, roll = head_pose(lm, (h, w))
    geo = raw_geometry(mesh)
    out = {"head_yaw": yaw, "head_pitch": pitch, "head_roll": roll}
    for name, spec in ANCHORS.items():
        x = sum(wt * geo[m] for m, wt in spec["measure"].items())
        if not math.isfinite(x) and "fallback" in spec:  # eyes_open without the iris network: the mesh's eyelids
            spec = spec["fallback"]
            x = sum(wt * geo[m] for m, wt in spec["measure"].items())
        out[name] = 0.5 if not math.isfinite(x) else _logistic(x, spec["at_0.05"], spec["at_0.95"])
    return {k: float(out[k]) for k in CUE_NAMES}
