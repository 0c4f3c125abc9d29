"""The face encoder's entry to the facial cues: one shared :class:`FaceMesh`, and a face result with its cues.

:func:`with_cues` is what :class:`~cxsense.encoders.face.encoder.FaceEncoder` calls after it has read a face:
it runs the mesh on the face's detection (or, for ``detect_face=False``, on the whole image taken as one face
crop), computes :func:`~cxsense.encoders.face.cues.face_cues`, and returns the result with ``cues`` set (None
when the mesh does not see a face there). Landmarks are dropped at once: only the eight cues leave this module.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from ..base import ModalityResult
from .cues import face_cues
from .detect import FaceDetection
from .mesh import FaceMesh, fast_iris_centres

__all__ = ["shared_mesh", "read_mesh", "cues_of", "cues_for", "with_cues", "IRIS_MODE", "NOT_CONFIRMED"]

#: How the encoder reads the eyes: ``"network"`` (MediaPipe's iris network on both eyes: iris centres for
#: ``gaze_on_camera`` and refined eyelids for ``eyes_open``; about twice the mesh's time) or ``"fast"`` (iris centres
#: from the darkest pixels inside the mesh's eyelids and ``eyes_open`` from the mesh's eyelids, which barely follow a
#: closing eye; about 0.2 ms). See docs/cues.md, "Eyes" and "Speed".
IRIS_MODE = "network"

#: The reason a detection the face mesh does not confirm gets quality 0.
NOT_CONFIRMED = "the detection was not confirmed as a face by the face mesh (presence below 0.5)"

_mesh: FaceMesh | None = None
_lock = threading.Lock()


def shared_mesh() -> FaceMesh:
    """The process's one :class:`FaceMesh` (thread-safe), loaded on first use."""
    global _mesh
    with _lock:
        if _mesh is None:
            _mesh = FaceMesh()
        return _mesh


def read_mesh(rgb: np.ndarray, det: FaceDetection | None, mode: str = "full"):
    """The face mesh of one face, or None when the mesh network does not see a face there (presence < 0.5).

    Parameters
    ----------
    rgb : np.ndarray [shape=(H, W, 3)], uint8, RGB order.
    det : FaceDetection in pixels of ``rgb``, or None to take the whole image as one face crop.
    mode : {"full", "refined", "fast"}: with the iris network, with it after a second mesh pass on the crop the
        first pass's points give, or without it (:class:`~cxsense.options.FaceOptions`).
    """
    fm = shared_mesh()
    kw = {"iris": mode != "fast", "refine": mode == "refined"}
    return fm.run(rgb, det, **kw) if det is not None else fm.run_whole(rgb, **kw)


def cues_of(mesh, rgb: np.ndarray, mode: str = "full") -> dict[str, float]:
    """The eight cues of a mesh from :func:`read_mesh` (``"fast"``: iris centres from the darkest eye pixels)."""
    if mode == "fast":
        centres = fast_iris_centres(rgb, mesh.landmarks)
        mesh = dataclasses.replace(mesh, iris=None if centres is None else centres[:, None, :])
    return face_cues(mesh, rgb.shape)


def cues_for(rgb: np.ndarray, det: FaceDetection | None, iris: str | None = None,
             refine: bool = False) -> dict[str, float] | None:
    """Facial cues of one face, or None when the mesh does not see a face there.

    Parameters
    ----------
    rgb : np.ndarray [shape=(H, W, 3)], uint8, RGB order.
    det : FaceDetection in pixels of ``rgb``, or None to take the whole image as one face crop.
    iris : {"fast", "network"} or None, how the eyes are read (None: :data:`IRIS_MODE`).
    refine : bool, with the iris network: the ``"refined"`` mode (a second mesh pass).
    """
    mode = "full" if (IRIS_MODE if iris is None else iris) == "network" else "fast"
    mode = "refined" if refine and mode == "full" else mode
    mesh = read_mesh(np.asarray(rgb), det, mode)
    return None if mesh is None else cues_of(mesh, np.asarray(rgb), mode)


def with_cues(result: ModalityResult, rgb: np.ndarray, det: FaceDetection | None) -> ModalityResult:
    """``result`` with its ``cues`` filled in (unchanged when it has no signal)."""
    if not result.has_signal:
        return result
    return dataclasses.replace(result, cues=cues_for(np.asarray(rgb), det))
