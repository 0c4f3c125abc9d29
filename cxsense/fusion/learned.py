"""The learned late fusion that :func:`cxsense.assess` uses (numpy only at run time).

- **Categories** (face and voice carry categorical evidence): with both, the quality-gated logistic model
  of :class:`~cxsense.fusion.estimator.LateFusionClassifier`, fitted on pseudo-pairs and calibrated with a
  temperature (``models/fusion/late_fusion_v1.json``, card ``models/fusion/MODEL_CARD.md``); with one,
  that modality's own calibrated estimate, unchanged. A modality that is absent or has quality 0 is
  masked: its block contributes nothing. Physiology alone carries no categorical evidence: the
  probabilities are then uniform and ``confidence`` is 1/7.
- **Valence**: the circumplex valence of the fused probabilities (physiology gives no valence).
- **Arousal**: the circumplex arousal of the fused probabilities and the physiology's arousal, averaged
  with weights ``w_cat`` (the highest quality among face and voice) and ``w_physio * quality``.
- **Stress**: the same weights on the log-odds of the categorical stress (circumplex of the fused
  probabilities) and of the physiology's stress probability (log-linear pooling).
- **Confidence**: the fused probability of the chosen emotion (calibrated: see the card's reliability
  figures and selective-accuracy curve).
- **Session steps** (a face pooled over a step, ``details["frames"]``, with a usable voice): the same learned
  face and voice terms, recombined by the :class:`~cxsense.fusion.session.StepCalibration`
  (``models/fusion/step_calibration_v1.json``) with equal class priors; ``Assessment.fusion["step_calibration"]``
  says so. Single images and pairs are unchanged.
- **Incongruence**: :func:`cxsense.fusion.incongruence.incongruence` over the modalities' own estimates.
"""

from __future__ import annotations

import json
import os
from typing import Mapping

import numpy as np

from ..emotions import EMOTIONS, circumplex_va, clip_scalar, stress_from_va
from ..encoders.base import ModalityResult
from ..errors import InputError, ModelError, NoSignalError
from ..modelmeta import ModelMeta
from .base import FusedEstimate, no_signal_reasons
from .features import CATEGORICAL_BLOCKS, QUALITY_COLUMNS, feature_row, gated_design
from .incongruence import incongruence
from .session import StepCalibration, frame_share, is_pooled_step

__all__ = ["LearnedFusion", "FAMILY"]

#: ``architecture.family`` of fusion files (the shipped one and those :meth:`LearnedFusion.save` writes).
FAMILY = "cxsense-late-fusion"


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


class LearnedFusion:
    """Late fusion with learned categorical weights (see the module docstring).

    Parameters
    ----------
    coef : array [shape=(7, n_design)], intercept : array [shape=(7,)]
        Over the gated design of :data:`~cxsense.fusion.features.CATEGORICAL_BLOCKS`, rows in ``classes`` order.
    classes : sequence of str
        Names from :data:`cxsense.EMOTIONS` (a subset is allowed; missing ones get probability 0).
    temperature : float
    subset_temperatures : dict, optional
        A temperature per subset of categorical modalities present (keys ``"face"``, ``"voice"``,
        ``"face+voice"``), fitted on dev rows of that subset; ``temperature`` where a key is missing.
    physio_weight : float
        Weight of the physiology (times its quality) in the fused arousal and stress.
    single_passthrough : bool, default True
        With one usable categorical modality, return its own calibrated probabilities unchanged (each encoder
        is calibrated on its own dev data; the learned weights are for combining). False applies the model.
    meta : dict
        Provenance shown in ``Assessment.fusion["model"]`` (name, version, file).
    step_calibration : StepCalibration, optional
        How session steps (a pooled face with a voice) recombine the face and voice terms; None: as pairs.
    """

    method = "learned late fusion (quality-gated logistic on face and voice; physio in arousal and stress)"

    def __init__(self, coef, intercept, classes=EMOTIONS, temperature: float = 1.0, physio_weight: float = 1.0,
                 meta: dict | None = None, subset_temperatures: dict | None = None, single_passthrough: bool = True,
                 step_calibration: StepCalibration | None = None):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.classes = tuple(str(c) for c in classes)
        unknown = [c for c in self.classes if c not in EMOTIONS]
        if unknown:
            raise InputError("classes", "names from cxsense.EMOTIONS", repr(unknown))
        n_design = sum(w + 1 for _, w in CATEGORICAL_BLOCKS)
        if self.coef.shape != (len(self.classes), n_design) or self.intercept.shape != (len(self.classes),):
            raise InputError("coef", f"shape ({len(self.classes)}, {n_design}) with intercept ({len(self.classes)},)",
                             f"{self.coef.shape} and {self.intercept.shape}")
        if not (np.all(np.isfinite(self.coef)) and np.all(np.isfinite(self.intercept))):
            raise InputError("coef", "finite numbers", "NaN or infinite values")
        if not (np.isfinite(temperature) and temperature > 0):
            raise InputError("temperature", "a positive number", repr(temperature))
        self.temperature = float(temperature)
        self.subset_temperatures = {}
        for k, v in dict(subset_temperatures or {}).items():
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                raise InputError("subset_temperatures", "positive numbers keyed like 'face+voice'", f"{k!r}: {v!r}")
            self.subset_temperatures[str(k)] = float(v)
        self.physio_weight = float(physio_weight)
        self.meta = dict(meta or {})
        self.single_passthrough = bool(single_passthrough)
        if step_calibration is not None and not isinstance(step_calibration, StepCalibration):
            raise InputError("step_calibration", "a StepCalibration or None", type(step_calibration).__name__)
        self.step_calibration = step_calibration
        self._index = np.array([EMOTIONS.index(c) for c in self.classes])

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_estimator(cls, clf, physio_weight: float = 1.0, meta: dict | None = None) -> "LearnedFusion":
        """From a fitted :class:`~cxsense.fusion.estimator.LateFusionClassifier` with the default blocks."""
        blocks = clf._blocks()
        if blocks is None or [tuple(b) for b in blocks] != [tuple(b) for b in CATEGORICAL_BLOCKS]:
            raise InputError("clf", f"a LateFusionClassifier with blocks={CATEGORICAL_BLOCKS}", repr(clf.blocks))
        return cls(clf.coef_, clf.intercept_, [str(c) for c in clf.classes_], clf.temperature_, physio_weight,
                   meta=dict(meta or {}, source="user-fitted LateFusionClassifier"))


    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "LearnedFusion":
        """The shipped fusion with its step calibration (SHA-256 and metadata checked through the registry), or a
        file written by :meth:`save` (no step calibration: add one with :meth:`with_step_calibration`).

        Raises
        ------
        ModelError
            Unreadable file, another metadata format version (the message names both), another family or blocks.
        """
        from ..modelmeta import read_meta

        from_registry = path is None
        if path is None:
            from ..registry import model_file

            f = model_file("late-fusion")
            path, meta = f.path, f.meta
        else:
            meta = read_meta(path)
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the fusion file {path}: {e}") from e
        blocks = meta.require("architecture", "blocks", where=str(path))
        if meta.family != FAMILY or [tuple(b) for b in blocks] != [tuple(b) for b in CATEGORICAL_BLOCKS]:
            raise ModelError(f"{path} is not a {FAMILY} file for blocks {CATEGORICAL_BLOCKS}")
        try:
            arch = meta.require("architecture", "physio_weight", "single_passthrough", where=str(path))
            cal = meta.require("calibration", "temperature", "subset_temperatures", where=str(path))
            coef, intercept = d["coef"], d["intercept"]
        except KeyError as e:
            raise ModelError(f"{path}: the fusion file lacks {e}") from e
        info = {"name": meta.name, "version": meta.version, "file": os.path.basename(str(path))}
        step = StepCalibration.load() if from_registry else None
        return cls(coef, intercept, meta.labels, cal[0], arch[0], info, cal[1], arch[1], step)

    def with_step_calibration(self, step: StepCalibration | None) -> "LearnedFusion":
        """A copy with another step calibration (None: session steps fused as pairs)."""
        return LearnedFusion(self.coef, self.intercept, self.classes, self.temperature, self.physio_weight,
                             self.meta, self.subset_temperatures, self.single_passthrough, step)

    def metadata(self, name: str = "user fusion", version: str = "user", provenance: dict | None = None) -> ModelMeta:
        """The metadata block of this fusion (:mod:`cxsense.modelmeta`), for :meth:`to_json`.

        Parameters
        ----------
        name, version : str
        provenance : dict, optional
            ``training_data``, ``licence``, ``command``, ``runs``, ``date`` and any other facts; missing fields
            read "not recorded".
        """
        prov = {"training_data": "not recorded", "licence": "not recorded", "command": "not recorded", "runs": [],
                "date": "not recorded", **dict(provenance or {})}
        return ModelMeta(
            name=name, version=version, labels=tuple(self.classes),
            architecture={"family": FAMILY, "method": self.method, "blocks": [list(b) for b in CATEGORICAL_BLOCKS],
                          "physio_weight": self.physio_weight, "single_passthrough": self.single_passthrough},
            input={"rows": "per block: the modality's quality, then its 7 calibrated probabilities "
                           "(cxsense.fusion.features.feature_row)"},
            normalisation={"none": "probabilities enter as they are, multiplied by their modality's quality"},
            calibration={"temperature": self.temperature, "subset_temperatures": dict(self.subset_temperatures)},
            provenance=prov)

    def to_json(self, name: str = "user fusion", version: str = "user", provenance: dict | None = None) -> dict:
        """The JSON document :meth:`load` reads: the metadata block (see :meth:`metadata`), ``coef``, ``intercept``."""
        meta = self.metadata(name, version, provenance)
        return meta.json_document({"coef": self.coef.tolist(), "intercept": self.intercept.tolist()})

    def save(self, path: str | os.PathLike, name: str = "user fusion", version: str = "user",
             provenance: dict | None = None) -> None:
        """Write the fusion as JSON (only when asked; the library writes no file otherwise)."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(name, version, provenance), f, indent=1)

    # -- fusion -------------------------------------------------------------------------------
    def categorical(self, results: Mapping[str, ModalityResult]) -> np.ndarray | None:
        """Fused probabilities over EMOTIONS, or None when no categorical modality is usable."""
        x = feature_row(results)
        used = [name for (name, _), j in zip(CATEGORICAL_BLOCKS, QUALITY_COLUMNS) if x[j] > 0]
        if not used:
            return None
        if len(used) == 1 and self.single_passthrough:
            p = results[used[0]].probability_vector()  # one categorical modality: its own calibrated estimate
        elif self.step_calibration is not None and is_pooled_step(results):
            z = self.step_calibration.logits(*self.block_terms(x[None]), frame_share(results["face"]))[0]
            p = np.exp(z - z.max())
        else:
            p = self.predict_rows(x[None])[0]
        return p / p.sum()

    def block_terms(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The quality-gated face and voice terms ``(n, 7)`` each, over EMOTIONS, of fusion rows ``X``: the
        logits before the intercept and the temperature (0 for a masked block)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, sum(w + 1 for _, w in CATEGORICAL_BLOCKS))
        D = gated_design(X, CATEGORICAL_BLOCKS)
        out, j = [], 0
        for _, w in CATEGORICAL_BLOCKS:
            t = np.zeros((len(X), len(EMOTIONS)))
            t[:, self._index] = D[:, j:j + w + 1] @ self.coef[:, j:j + w + 1].T
            out.append(t)
            j += w + 1
        return out[0], out[1]

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """Fused probabilities ``(n, 7)`` over EMOTIONS for fusion rows ``X`` (see :mod:`~cxsense.fusion.features`).

        Rows without any usable categorical block get the uniform distribution.
        """
        X = np.asarray(X, dtype=np.float64).reshape(-1, sum(w + 1 for _, w in CATEGORICAL_BLOCKS))
        present = X[:, list(QUALITY_COLUMNS)] > 0
        keys = ["+".join(name for (name, _), on in zip(CATEGORICAL_BLOCKS, row) if on) for row in present]
        T = np.array([self.subset_temperatures.get(k, self.temperature) for k in keys])
        z = (gated_design(X, CATEGORICAL_BLOCKS) @ self.coef.T + self.intercept) / T[:, None]
        z = np.exp(z - z.max(1, keepdims=True))
        out = np.zeros((len(X), len(EMOTIONS)))
        out[:, self._index] = z / z.sum(1, keepdims=True)
        out[~present.any(1)] = 1.0 / len(EMOTIONS)
        return out

    def fuse(self, results: Mapping[str, ModalityResult]) -> FusedEstimate:
        """Fuse modality results (see the module docstring).

        Parameters
        ----------
        results : mapping str -> ModalityResult

        Returns
        -------
        FusedEstimate
            probabilities ``(7,)`` over EMOTIONS, valence and arousal in [-1, 1], stress in [0, 1], confidence.

        Raises
        ------
        NoSignalError
            No result has a usable signal.
        """
        usable = {k: r for k, r in results.items() if r.quality > 0}
        if not usable:
            raise NoSignalError(f"no modality given carries a usable signal ({no_signal_reasons(results)})")
        p = self.categorical(usable)
        cat_q = max((r.quality for r in usable.values() if r.probabilities is not None), default=0.0)
        ph = usable.get("physio")
        w_ph = self.physio_weight * ph.quality if ph is not None else 0.0
        if p is None:
            p = np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
            valence, a_cat, s_cat, cat_q = 0.0, 0.0, 0.5, 0.0
        else:
            valence, a_cat = circumplex_va(p)
            s_cat = stress_from_va(valence, a_cat)
        a_terms = [(a_cat, cat_q)] + ([(ph.arousal, w_ph)] if ph is not None and ph.arousal is not None else [])
        s_terms = [(_logit(s_cat), cat_q)] + ([(_logit(ph.stress), w_ph)] if ph is not None and ph.stress is not None else [])
        wa = sum(w for _, w in a_terms)
        ws = sum(w for _, w in s_terms)
        arousal = sum(v * w for v, w in a_terms) / wa if wa > 0 else 0.0
        stress = 1.0 / (1.0 + np.exp(-sum(v * w for v, w in s_terms) / ws)) if ws > 0 else 0.5
        inc = incongruence(usable)
        total = cat_q + w_ph
        return FusedEstimate(
            probabilities=p,
            valence=clip_scalar(float(valence), -1.0, 1.0),
            arousal=clip_scalar(float(arousal), -1.0, 1.0),
            stress=clip_scalar(float(stress), 0.0, 1.0),
            confidence=float(p.max()),
            info={"method": self.method, "model": self.meta,
                  "categorical_inputs": sorted(k for k, r in usable.items() if r.probabilities is not None),
                  "arousal_stress_weights": ({"categorical": cat_q / total, "physio": w_ph / total} if total > 0 else {}),
                  "used": sorted(usable), "ignored_no_signal": sorted(set(results) - set(usable)),
                  "incongruence": inc,
                  **({"step_calibration": dict(self.step_calibration.meta)}
                     if self.step_calibration is not None and is_pooled_step(usable) else {})},
        )
