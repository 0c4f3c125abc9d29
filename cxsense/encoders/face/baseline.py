"""A person's own neutral face as a baseline for the expression estimate.

Some faces look sad, angry or surprised at rest. Given one or more images of the same person with a neutral
expression, :func:`face_stats` summarises them once (one encoder pass per image), and
:meth:`FaceEncoder.encode(image, baseline=...) <cxsense.encoders.face.encoder.FaceEncoder.encode>` removes that
person's resting offset from the estimate:

    delta = log(mean p(baseline) + eps) - log(ref + eps)
    log p' = log p - alpha * delta        (then renormalised)

``ref`` is what the model says on average for a neutral face of the population, ``eps`` keeps very unlikely
classes from dominating, and ``alpha`` shrinks the correction toward none because one image is a noisy
estimate of a person's offset. These three numbers are in the registered file ``face-baseline``
(``models/face/face_baseline_v1.json``, made by ``training/face/fit_baseline.py``).

How far to trust it: FER-2013, the face model's data, has no person ids, and no registry package we could use
ships labelled expression images with person ids, so **the gain of this correction on real people has not been
measured**. ``benchmarks/face_baseline.py`` measures only proxies (a stranger's neutral face as baseline, the
same neutral crop under augmentation, an expressive image given as baseline by mistake); docs/face.md,
"Neutral baseline". Nothing of the baseline images is kept: only the 7 mean probabilities and counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FaceBaseline", "face_stats", "check_baseline", "NeutralCorrection", "CORRECTION_NAME"]

#: Registry name of the correction's constants.
CORRECTION_NAME = "face-baseline"
#: ``architecture.family`` of its file (the constants are in its metadata block's ``calibration``).
FAMILY = "cxsense-face-baseline"


@dataclass(frozen=True)
class FaceBaseline:
    """What :func:`face_stats` keeps of a person's neutral images.

    Attributes
    ----------
    probabilities : np.ndarray [shape=(7,)], mean calibrated probabilities over the usable images
        (:data:`cxsense.emotions.EMOTIONS` order)
    n_items : int, images given
    n_usable : int, images in which a face was found (quality > 0)
    """

    probabilities: np.ndarray
    n_items: int
    n_usable: int

    def summary(self) -> dict:
        """JSON-able counts for a result's details."""
        return {"items": self.n_items, "usable_items": self.n_usable}


def check_baseline(baseline) -> None:
    """An :class:`InputError` naming ``face_baseline`` unless ``baseline`` is a :class:`FaceBaseline`."""
    from ...errors import InputError

    if not isinstance(baseline, FaceBaseline):
        raise InputError("face_baseline", "a FaceBaseline from face_stats()", type(baseline).__name__)


def face_stats(items, encoder=None, options=None, parameter: str = "face_baseline") -> FaceBaseline:
    """Summarise one person's neutral images: one encoder pass per image, computed once.

    Parameters
    ----------
    items : Image, any form ``face`` accepts, or a list or tuple of them
        Images of the same person with a neutral expression, never the image to be assessed.
    encoder : FaceEncoder, optional
        Default: the shared base encoder (``get_encoder("face")``).
    options : FaceOptions, optional
        As for the tested image (``detect``: the largest detected face, or the whole image as one crop).
    parameter : str
        Name used in errors.

    Returns
    -------
    FaceBaseline

    Raises
    ------
    InputError
        ``items`` is empty, an item is not a readable image (naming ``parameter[i]``), or no face is found in
        any of them.
    """
    from ...errors import InputError
    from ...inputs.image import Image, load_image

    if encoder is None:
        from .. import get_encoder

        encoder = get_encoder("face")
    if isinstance(items, (list, tuple)):
        seq, names = list(items), [f"{parameter}[{i}]" for i in range(len(items))]
    else:
        seq, names = [items], [parameter]
    if not seq:
        raise InputError(parameter, "one or more neutral images of the same person", "an empty list")
    probs = []
    for x, name in zip(seq, names):
        image = x if isinstance(x, Image) else load_image(x, parameter=name)
        r = encoder.encode(image, options)
        if r.quality > 0:
            probs.append(r.probability_vector())
    if not probs:
        raise InputError(parameter, "images with a detectable face", f"{len(seq)} image(s) without a face")
    return FaceBaseline(probabilities=np.mean(probs, 0), n_items=len(seq), n_usable=len(probs))


class NeutralCorrection:
    """The person's resting offset removed from the log-probabilities (see the module docstring).

    Parameters
    ----------
    constants : dict with ``ref`` (7 probabilities), ``eps``, ``alpha`` and ``version``
    """

    def __init__(self, constants: dict):
        self.ref = np.asarray(constants["ref"], np.float64)
        self.eps = float(constants["eps"])
        self.alpha = float(constants["alpha"])
        self.version = str(constants.get("version", "?"))
        if self.ref.shape != (7,) or not np.all(self.ref > 0) or not (0 < self.eps < 1) or not (0 <= self.alpha <= 1):
            raise ValueError("face baseline constants out of range")

    @classmethod
    def from_document(cls, document: dict) -> "NeutralCorrection":
        """From a model file's JSON document: its metadata block's ``calibration`` (``ref``, ``eps``, ``alpha``).

        Raises
        ------
        ModelError
            Another metadata format version, family or labels, or a missing field.
        """
        from ...emotions import EMOTIONS
        from ...modelmeta import ModelMeta

        meta = ModelMeta.from_json_document(document, CORRECTION_NAME).expect(FAMILY, EMOTIONS)
        ref, eps, alpha = meta.require("calibration", "ref", "eps", "alpha")
        return cls({"ref": ref, "eps": eps, "alpha": alpha, "version": meta.version})

    @classmethod
    def load(cls) -> "NeutralCorrection":
        """The registered constants (``face-baseline``, SHA-256 and metadata checked)."""
        from ...registry import load_json_model

        return load_json_model(CORRECTION_NAME, cls.from_document)

    def offset(self, base: FaceBaseline) -> np.ndarray:
        """The person's estimated resting offset ``(7,)`` in log-probability (already multiplied by alpha)."""
        return self.alpha * (np.log(base.probabilities + self.eps) - np.log(self.ref + self.eps))

    def apply(self, probabilities: np.ndarray, base: FaceBaseline) -> np.ndarray:
        """Corrected probabilities, shape of ``probabilities`` (``(7,)`` or ``(n, 7)``)."""
        z = np.log(np.clip(probabilities, 1e-12, 1.0)) - self.offset(base)
        z = z - z.max(-1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(-1, keepdims=True)
