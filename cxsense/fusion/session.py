"""The step calibration: how the shipped fusion weighs a face pooled over a session step against its voice.

A session step (:mod:`cxsense.session`) pools the frames of one face over the step
(:func:`~cxsense.session.tracking.pool_face`, which marks the result with ``details["frames"]``) and reads the voice
of a window around it. :class:`~cxsense.fusion.learned.LearnedFusion` was fitted on single face-voice pairs; for a
step with a pooled face **and** a usable voice it keeps its learned per-modality terms but recombines them::

    z = (face_weight * s ** frames_exponent * F + voice_weight * V + class_bias) / temperature

where ``F`` and ``V`` are the pair fusion's quality-gated face and voice terms (its ``W_m l_m + c_m`` times
``q_m``) and ``class_bias`` (log-odds over :data:`cxsense.EMOTIONS`) replaces the pair fusion's intercept, which
holds the class mix of its pseudo-pairs (FER-2013's, where disgust is rare: it cost the voice's "disgust" in
session steps), and ``s`` is the share of the step's sampled frames in which the face was found
(``details["frames"] / details["sampled_frames"]``; the pooled quality already holds its square root). With
``face_weight = voice_weight = 1``, ``frames_exponent = 0``, the intercept as ``class_bias`` and the pair
temperature this is the pair fusion exactly. Every other case (a single image, a face without voice, a voice alone, a user's
fusion file) is untouched. Parameters: ``models/fusion/step_calibration_v1.json`` (card
``models/fusion/MODEL_CARD.md``, section "Session steps"), fitted by ``training/fusion/step_calibration.py``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..emotions import EMOTIONS
from ..encoders.base import ModalityResult
from ..errors import InputError, ModelError

__all__ = ["FAMILY", "StepCalibration", "frame_share", "is_pooled_step"]

#: ``architecture.family`` of step calibration files.
FAMILY = "cxsense-step-calibration"


def is_pooled_step(results: Mapping[str, ModalityResult]) -> bool:
    """True when ``results`` hold a face pooled over a session step (``details["frames"]``) and a usable voice."""
    face, voice = results.get("face"), results.get("voice")
    return (face is not None and voice is not None and face.quality > 0 and voice.quality > 0
            and face.probabilities is not None and voice.probabilities is not None
            and "frames" in face.details)


@dataclass(frozen=True)
class StepCalibration:
    """Parameters of the session step fusion (see the module docstring).

    Attributes
    ----------
    face_weight, voice_weight : float > 0
    class_bias : np.ndarray [shape=(7,)]
        Log-odds over :data:`cxsense.EMOTIONS` (zeros: equal priors).
    temperature : float > 0
    frames_exponent : float
        Power of the share of frames with the face on the face's weight (0: none beyond the pooled quality).
    meta : dict
        Provenance shown in ``Assessment.fusion["step_calibration"]``.
    """

    face_weight: float
    voice_weight: float
    class_bias: np.ndarray
    temperature: float
    frames_exponent: float = 0.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("face_weight", "voice_weight", "temperature"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise InputError(name, "a positive finite number", repr(v))
        g = self.frames_exponent
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not np.isfinite(g) or abs(g) > 4:
            raise InputError("frames_exponent", "a finite number in [-4, 4]", repr(g))
        b = np.asarray(self.class_bias, dtype=np.float64).reshape(-1)
        if b.shape != (len(EMOTIONS),) or not np.all(np.isfinite(b)):
            raise InputError("class_bias", f"{len(EMOTIONS)} finite log-odds in cxsense.EMOTIONS order",
                             repr(self.class_bias))
        b.setflags(write=False)
        object.__setattr__(self, "class_bias", b)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "StepCalibration":
        """The shipped calibration (SHA-256 and metadata checked through the registry), or a file written by
        :meth:`to_json`.

        Raises
        ------
        ModelError
            Unreadable file, another metadata format version, another family or labels, a missing field.
        """
        from ..modelmeta import read_meta

        if path is None:
            from ..registry import model_file

            f = model_file("step-calibration")
            path, meta, sha = f.path, f.meta, str(f.entry.get("sha256", ""))[:12]
        else:
            meta, sha = read_meta(path), None
        if meta.family != FAMILY or tuple(meta.labels) != tuple(EMOTIONS):
            raise ModelError(f"{path} is not a {FAMILY} file over {list(EMOTIONS)}")
        try:
            with open(path, encoding="utf-8") as fh:
                bias = json.load(fh)["class_bias"]
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"cannot read the step calibration file {path}: {e}") from e
        fw, vw, g = meta.require("architecture", "face_weight", "voice_weight", "frames_exponent", where=str(path))
        t = meta.require("calibration", "temperature", where=str(path))
        info = {"name": meta.name, "version": meta.version, "file": os.path.basename(str(path)),
                **({"sha256": sha} if sha else {})}
        try:
            return cls(float(fw), float(vw), np.array(bias, dtype=np.float64), float(t), float(g), info)
        except (InputError, TypeError, ValueError) as e:
            raise ModelError(f"{path}: {e}") from e

    def metadata(self, name: str = "user step calibration", version: str = "user",
                 provenance: dict | None = None):
        """The metadata block (:mod:`cxsense.modelmeta`) of this calibration, for :meth:`to_json`; provenance fields
        not given read "not recorded"."""
        from ..modelmeta import ModelMeta

        prov = {"training_data": "not recorded", "licence": "not recorded", "command": "not recorded", "runs": [],
                "date": "not recorded", **dict(provenance or {})}
        return ModelMeta(
            name=name, version=version, labels=tuple(EMOTIONS),
            architecture={"family": FAMILY, "formula": "z = (face_weight * share**frames_exponent * F + voice_weight"
                          " * V + class_bias) / temperature", "face_weight": float(self.face_weight),
                          "voice_weight": float(self.voice_weight), "frames_exponent": float(self.frames_exponent),
                          "applies_to": "a face pooled over a session step (details['frames']) with a usable voice"},
            input={"terms": "the late fusion's quality-gated face and voice terms (LearnedFusion.block_terms)",
                   "share": "details['frames'] / details['sampled_frames'] of the pooled face"},
            normalisation={"none": "the terms enter as the late fusion computes them"},
            calibration={"temperature": float(self.temperature)}, provenance=prov)

    def to_json(self, name: str = "user step calibration", version: str = "user", provenance: dict | None = None) -> dict:
        """The JSON document :meth:`load` reads: the metadata block and ``class_bias`` (EMOTIONS order)."""
        return self.metadata(name, version, provenance).json_document(
            {"class_bias": [float(v) for v in self.class_bias]})

    def logits(self, face_term: np.ndarray, voice_term: np.ndarray, share=1.0) -> np.ndarray:
        """Step log-odds ``(n, 7)`` over EMOTIONS from the pair fusion's gated face and voice terms ``(n, 7)`` (same
        order) and the share of frames with the face, ``(n,)`` or a number in (0, 1]."""
        w = self.face_weight * np.clip(np.asarray(share, dtype=np.float64), 1e-3, 1.0) ** self.frames_exponent
        return (np.reshape(w, (-1, 1)) * np.asarray(face_term) + self.voice_weight * np.asarray(voice_term)
                + self.class_bias) / self.temperature


def frame_share(face: ModalityResult) -> float:
    """The share of a step's sampled frames in which a pooled face was found (1 when not recorded)."""
    n, m = face.details.get("frames", 1), face.details.get("sampled_frames", 0)
    return float(min(1.0, n / m)) if m else 1.0
