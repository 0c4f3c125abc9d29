"""The face encoder: detect, frame, classify the expression.

Stages, each in its own module:

1. :class:`~cxsense.encoders.face.detect.FaceDetector` finds faces (BlazeFace full range on LiteRT or OpenCV DNN).
2. :func:`~cxsense.encoders.face.views.face_align` crops a 48x48 grey square framed like FER-2013's crops.
3. :class:`~cxsense.encoders.face.early_exit.ExpressionRunner` reads the crop with the networks of the model
   file (:func:`~cxsense.encoders.face.weights.load_expression`): the stage-1 network first, the whole model
   (two networks over the crop, its mirror image and zoomed views) when stage 1 is unsure.
4. Valence and arousal come from the probabilities through the circumplex
   (:func:`cxsense.emotions.circumplex_va`); stress through :func:`cxsense.emotions.stress_from_va`.

Quality is 0 (no usable signal) when no face is found, a detection looks drawn rather than photographed
(:mod:`~cxsense.encoders.face.drawn`) or the face mesh does not confirm it (both only with cues on), or the crop is
blank; otherwise the detector's score (for ``detect_face=False``, its score on the crop: a face-likeness,
:func:`~cxsense.encoders.face.quality.crop_quality`), reduced for faces smaller than 40 pixels and for low-contrast
crops.
"""

from __future__ import annotations

import numpy as np

from ...emotions import EMOTIONS, circumplex_va, stress_from_va
from ...inputs.image import Image
from ...options import FACE_MODELS, FaceOptions
from ...registry import model_file
from ..base import Encoder, ModalityResult
from .detect import FaceDetection, FaceDetector
from .early_exit import ExpressionRunner
from .quality import crop_quality
from .views import CROP, ROTATE_UPRIGHT, face_align, pixel_std, resize_crop
from .weights import load_expression

__all__ = ["FaceEncoder", "face_align", "CROP", "FACE_MODELS"]


class FaceEncoder(Encoder):
    """Face expression encoder (see the module docstring).

    ``encode(image, options)`` assesses the largest face (or the whole image with ``options.detect=False``);
    ``encode_all(image)`` every face, largest first.

    Parameters
    ----------
    model : {"base", "small"}, default "base"
        ``"base"``: two 3.5 M-parameter networks averaged over four views, with a 1.8 M-parameter stage-1
        network that answers the easy faces alone (the most accurate); ``"small"``: one of them, one pass.
    early_exit : "auto", float in (0, 1], or None, default "auto"
        Base only (docs/face.md, "Early exit"): the stage-1 network answers alone when its top probability reaches
        the threshold; ``"auto"`` is the file's threshold (0.65 for base v1.4.0), ``None`` sends every face through
        the whole model. ``details["passes"]`` counts the network passes a face took (stage 1's counted as one).
        The embedding is always stage 1's (256-d), whatever the path, so one model has one embedding space.
    precision : {"auto", "int8", "bf16", "fp32"}, default "auto"
        int8 where PyTorch's x86 quantized engine exists (the file ships its activation scales; 1.7 times faster
        than bf16 with the same dev accuracy), else bf16 where the CPU has it natively, else fp32.
    """

    modality = "face"

    def __init__(self, model: str = "base", early_exit="auto", precision: str = "auto"):
        FaceOptions(model=model, early_exit=early_exit, precision=precision)  # checked as assess checks them
        self.model = model
        self._runner = ExpressionRunner(load_expression(FACE_MODELS[model], precision), early_exit)
        self.embedding_dim = self._runner.embedding_dim
        detector = model_file("face-detector")
        self._detector = FaceDetector(detector.path)
        self._det_info = {"name": "face-detector", "version": detector.meta.version, "sha256": detector.entry["sha256"],
                          "runtime": self._detector.runtime}  # LiteRT or OpenCV DNN (encoders/face/tflite.py)

    def info(self) -> dict:
        """Provenance: the expression model (name, version, SHA-256, precision, early exit) and the detector (name,
        version, SHA-256, and the runtime of the MediaPipe networks: ``"litert"`` or ``"opencv"``)."""
        info = {"expression": dict(self._runner.model.info), "detector": dict(self._det_info)}
        if self._runner.exit is not None:
            info["expression"]["early_exit"] = self._runner.describe()
        return info

    def warm_up(self) -> None:
        """One blank pass and one detector pass, so that first-call allocations are paid now."""
        self.crops_embed(np.full((1, CROP, CROP), 128, np.uint8))
        self._detector.detect(np.zeros((192, 192, 3), np.uint8), tiled=False)

    # -- stages ------------------------------------------------------------------------------
    def detect(self, image: Image, tiled: bool | str = "auto") -> list[FaceDetection]:
        """All faces, largest first (see :meth:`FaceDetector.detect` for ``tiled``)."""
        return self._detector.detect(np.asarray(image.rgb), tiled=tiled)

    def crops_embed(self, crops: np.ndarray, return_passes: bool = False):
        """Embeddings ``(n, embedding_dim)`` float32 and calibrated probabilities ``(n, 7)`` of 48x48 uint8 crops
        ``(n, 48, 48)``; with ``return_passes=True`` also the passes each crop took."""
        z, p, passes = self._runner.run(crops)
        return (z, p, passes) if return_passes else (z, p)

    def _result(self, crop: np.ndarray, det: FaceDetection | None, image_shape, baseline=None,
                likeness: float | None = None) -> ModalityResult:
        model = self.info()
        std = pixel_std(crop)
        details = _details(det, image_shape)
        if std < 2.0:
            return ModalityResult.no_signal("face", self.embedding_dim, "blank or uniform face crop",
                                            details=details, model=model)
        z, p, passes = self._runner.run(crop[None])
        p = p[0] / p[0].sum()
        if baseline is not None:  # the person's resting offset removed (cxsense.encoders.face.baseline)
            p, details["baseline"] = self._with_baseline(p, baseline)
        v, a = circumplex_va(p)
        q = crop_quality(crop, det, probabilities=p, detector=self._detector, std=std, likeness=likeness)
        return ModalityResult(modality="face", probabilities=dict(zip(EMOTIONS, map(float, p))), embedding=z[0],
                              quality=q, valence=v, arousal=a, stress=stress_from_va(v, a),
                              details=dict(details, passes=int(passes[0])), model=model)

    def read_face(self, image: Image, det: FaceDetection, options: FaceOptions | None = None,
                  baseline=None) -> ModalityResult:
        """One detected face (from :meth:`detect`): confirmed by the face mesh unless ``options.cues == "off"``,
        read by the expression network, with its cues. What :meth:`encode_all` does for each face; sessions call
        it to reuse a face's recent confirmation and cues between frames."""
        _check_clean(image)
        return self._face(image, det, face_align(image.gray, det, rotate=ROTATE_UPRIGHT), options or FaceOptions(),
                          baseline)

    def _face(self, image: Image, det: FaceDetection | None, crop: np.ndarray, options: FaceOptions,
              baseline=None) -> ModalityResult:
        """One face: confirmed (when cues are on: not drawn, :mod:`.drawn`, and seen as a face by the face mesh), read
        by the expression network, with its cues."""
        import dataclasses

        from .cue_hook import NOT_CONFIRMED, cues_of, read_mesh
        from .drawn import NOT_PHOTOGRAPHED, looks_drawn

        shape = image.rgb.shape
        if det is not None and options.cues != "off" and looks_drawn(crop):  # a cartoon the mesh would accept
            return ModalityResult.no_signal("face", self.embedding_dim, NOT_PHOTOGRAPHED, details=_details(det, shape),
                                            model=self.info())
        mesh = None if options.cues == "off" else read_mesh(image.rgb, det, options.cues)
        if mesh is None and det is not None and options.cues != "off":
            return ModalityResult.no_signal("face", self.embedding_dim, NOT_CONFIRMED, details=_details(det, shape),
                                            model=self.info())
        # a crop given as a face: full face-likeness when the mesh sees a face in it, else the detector's score
        likeness = 1.0 if det is None and mesh is not None else None
        r = self._result(crop, det, shape, baseline, likeness)
        return r if mesh is None or not r.has_signal else dataclasses.replace(r, cues=cues_of(mesh, image.rgb, options.cues))

    # -- the interface -------------------------------------------------------------------------
    def encode(self, image: Image, options: FaceOptions | None = None, *, baseline=None) -> ModalityResult:
        """Assess the largest face (``options.detect``, the default) or the whole image as one crop.

        Parameters
        ----------
        image : Image (from :func:`cxsense.inputs.image.load_image`)
        options : FaceOptions, optional
        baseline : FaceBaseline, optional
            The same person's neutral face, read once by :meth:`prepare_baseline`; the person's resting offset is
            then removed from the probabilities and ``details["baseline"]`` says so. None changes nothing.
        """
        if baseline is not None:
            from .baseline import check_baseline

            check_baseline(baseline)
        _check_clean(image)
        options = options or FaceOptions()
        gray = image.gray
        if not options.detect:
            return self._face(image, None, resize_crop(gray), options, baseline)
        dets = self.detect(image)
        if not dets:
            return ModalityResult.no_signal("face", self.embedding_dim, "no face detected",
                                            details={"image_size": [int(gray.shape[1]), int(gray.shape[0])],
                                                     "faces": 0}, model=self.info())
        return self._face(image, dets[0], face_align(gray, dets[0], rotate=ROTATE_UPRIGHT), options, baseline)

    def prepare_baseline(self, baseline, options: FaceOptions | None = None):
        """Read a person's neutral images once, for :meth:`encode`'s ``baseline=``.

        Parameters
        ----------
        baseline : Image, or a list or tuple of Image (the same person, neutral expression)
        options : FaceOptions, optional (as for the tested image: ``detect``, and ``cues``, which also decides
            whether the face mesh must confirm the face)

        Returns
        -------
        FaceBaseline (:mod:`cxsense.encoders.face.baseline`): 7 mean probabilities and counts, one encoder call
        per image

        Raises
        ------
        InputError
            Naming ``face_baseline``: empty, or no face found in any image.
        """
        from .baseline import face_stats

        return face_stats(baseline, encoder=self, options=options)

    def _with_baseline(self, p: np.ndarray, baseline) -> tuple[np.ndarray, dict]:
        """Probabilities ``(7,)`` with the person's neutral offset removed, and the details entry."""
        from .baseline import NeutralCorrection

        if getattr(self, "_correction", None) is None:
            self._correction = NeutralCorrection.load()
        corr = self._correction
        return corr.apply(p, baseline), dict(baseline.summary(), used=True, method="neutral offset",
                                             alpha=corr.alpha, constants=corr.version)

    def encode_all(self, image: Image, tiled: bool | str = True, options: FaceOptions | None = None) -> list[ModalityResult]:
        """One result per detected face, largest first (empty list when there is none).

        ``tiled``: ``True`` (default) also looks for small faces in tiles (group scenes), ``"auto"`` only when the
        whole-image pass finds none (what video sessions use). Detections the face mesh does not confirm come back
        with quality 0 (unless ``options.cues == "off"``).
        """
        _check_clean(image)
        options = options or FaceOptions()
        gray = image.gray
        return [self._face(image, d, face_align(gray, d, rotate=ROTATE_UPRIGHT), options)
                for d in self.detect(image, tiled=tiled)]


def _check_clean(image) -> None:
    if not isinstance(image, Image):
        from ...errors import InputError

        raise InputError("image", "an Image from cxsense.inputs.image.load_image", type(image).__name__)


def _details(det: FaceDetection | None, image_shape) -> dict:
    d = {"image_size": [int(image_shape[1]), int(image_shape[0])],
         "method": "blazeface-full-range + FER framing + facenet" if det is not None else "whole image as crop + facenet"}
    if det is not None:
        d.update(det.to_dict())
    return d
