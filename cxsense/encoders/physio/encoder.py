"""The physiology encoder: one window of wearable or lab signals -> stress, arousal, embedding, quality.

Pipeline: :func:`cxsense.encoders.physio.pipeline.extract` (per-channel quality checks and
NeuroKit2-based features) -> a gradient-boosted tree model on the features (levels; with a baseline, also
their differences from it) and a small 1-D CNN on the window's centred 4-Hz series (:func:`~cxsense.encoders.physio.pipeline.shape`:
movement within the window, free of a person's offsets), their scores combined and calibrated; both
trained on Stress-Predict (wrist PPG, EDA, temperature, motion; see ``models/physio/MODEL_CARD.md``).

Outputs
-------
* ``stress``: calibrated probability of a stress state (tasks such as Stroop, an interview or
  hyperventilation versus rest) under the training prevalence (33 % stress).
* ``arousal``: ``2 * stress - 1``. The training data has stress (high arousal) versus rest only,
  so arousal is read off the same model; it is not separately validated.
* ``valence``: always ``None`` -- the training data carries no valence labels.
* ``embedding``: the window's standardised features (model order, clipped to ±5, missing = 0),
  then breathing rate and variability (standardised), then the quality of the heart, EDA,
  temperature, motion and respiration groups: :attr:`PhysioEncoder.embedding_dim` floats.
* ``quality``: the sum over usable feature groups of the group's share of the model's feature
  importance times its channel quality, times the window-length factor of :mod:`.quality`
  (``sqrt(min(1, d / 60 s)) * sqrt(min(1, 600 s / d))``). Channels that fail
  their checks are left out with the reason in ``details["channels"]``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base import Encoder, ModalityResult
from .pipeline import GROUPS, extract, shape
from .quality import window_quality

__all__ = ["PhysioEncoder", "PhysioBaseline"]

MODEL_NAME = "physio-stress"
SHAPE_MODEL_NAME = "physio-shape"
_EXTRA = ("rsp_rate", "rsp_cv")
_EXTRA_NORM = {"rsp_rate": (15.0, 5.0), "rsp_cv": (0.25, 0.15)}
_QUALITY_GROUPS = ("heart", "eda", "temp", "acc", "rsp")


def _round(d: dict, nd: int = 4) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = round(v, nd) if math.isfinite(v) else None
        elif isinstance(v, dict):
            out[k] = _round(v, nd)
        elif isinstance(v, list):
            out[k] = [round(x, nd) if isinstance(x, float) else x for x in v]
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class PhysioBaseline:
    """A person's resting features (:meth:`PhysioEncoder.prepare_baseline`), used and dropped with the call or
    session that made them.

    Attributes
    ----------
    features : dict str -> float, mean features over the baseline's 60-s windows
    info : dict, how much of the baseline was usable (windows, duration)
    """

    features: dict
    info: dict


class PhysioEncoder(Encoder):
    """Stress and arousal from ECG/PPG, EDA, respiration, temperature and motion.

    The weights load (and their SHA-256 is checked) once, in ``__init__``; :meth:`encode` keeps no
    state, so one instance may serve many threads.

    Examples
    --------
    >>> import numpy as np, neurokit2 as nk
    >>> from cxsense.inputs.physio import load_physio
    >>> ppg = nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=70, random_state=0)
    >>> r = PhysioEncoder().encode(load_physio({"ppg": (ppg, 64)}))
    >>> 0 <= r.stress <= 1 and r.quality > 0
    True
    """

    modality = "physio"
    embedding_dim = sum(len(v) for v in GROUPS.values()) + len(_EXTRA) + len(_QUALITY_GROUPS)

    def __init__(self):
        from ...errors import ModelError
        from ...registry import model_file
        from .model import StressModel

        stress_file = model_file(MODEL_NAME)
        path = stress_file.path
        self._model = StressModel(path, stress_file.meta)
        expected = [f for g in GROUPS.values() for f in g]
        if self._model.feature_names != expected:
            raise ModelError(f"physio model {path} was trained on features {self._model.feature_names}; "
                             f"this cxsense computes {expected}")
        entry = stress_file.entry
        self._info = {"name": MODEL_NAME, "version": self._model.version, "sha256": entry["sha256"],
                      "file": entry["file"], "licence": entry["licence"]}
        from .shape_model import ShapeModel

        shape_file = model_file(SHAPE_MODEL_NAME)
        self._shape = ShapeModel(shape_file.path, shape_file.meta)
        self._info["shape_model"] = {"name": SHAPE_MODEL_NAME, "version": self._shape.version,
                                     "sha256": shape_file.entry["sha256"], "file": shape_file.entry["file"]}
        self._lock = threading.Lock()

    def info(self) -> dict:
        """Provenance: the tree model's and the shape network's name, version, SHA-256 and file; the licence."""
        return dict(self._info)

    # ------------------------------------------------------------------ helpers

    def _embedding(self, feats: dict, gq: dict) -> np.ndarray:
        names = self._model.feature_names
        x = np.array([feats.get(n, np.nan) for n in names], dtype=np.float64)
        z = (x - self._model.mean) / self._model.sd
        z = np.where(np.isfinite(z), np.clip(z, -5, 5), 0.0)
        ex = []
        for n in _EXTRA:
            v = feats.get(n)
            mu, sd = _EXTRA_NORM[n]
            ex.append(float(np.clip((v - mu) / sd, -5, 5)) if v is not None else 0.0)
        q = [float(gq.get(g, 0.0)) for g in _QUALITY_GROUPS]
        return np.concatenate([z, ex, q]).astype(np.float32)

    def prepare_baseline(self, baseline, options=None) -> "PhysioBaseline":
        """Mean features over 60-s windows (30-s hop) of a person's resting recording, computed once.

        Parameters
        ----------
        baseline : PhysioInput (from :func:`cxsense.inputs.physio.load_physio`)
        options : PhysioOptions, optional

        Returns
        -------
        PhysioBaseline
        """
        from ...inputs.physio import Channel, PhysioInput

        dur = baseline.duration
        starts = [0.0] if dur < 90 else list(np.arange(0.0, dur - 60 + 1e-9, 30.0))
        length = min(dur, 60.0)
        acc: dict[str, list[float]] = {}
        n_ok = 0
        for s in starts:
            chans = {}
            for name, c in baseline.channels.items():
                i0 = int(round(s * c.sampling_rate))
                n = int(round(length * c.sampling_rate))
                seg = c.samples[i0:i0 + n]
                if seg.shape[0] >= 10 * c.sampling_rate:
                    chans[name] = Channel(samples=seg, sampling_rate=c.sampling_rate)
            if not chans:
                continue
            ex = extract(PhysioInput(channels=chans))
            if ex.features:
                n_ok += 1
            for k, v in ex.features.items():
                acc.setdefault(k, []).append(v)
        feats = {k: float(np.mean(v)) for k, v in acc.items()}
        return PhysioBaseline(feats, {"baseline_windows": len(starts), "baseline_windows_with_features": n_ok,
                                      "baseline_duration_s": round(float(dur), 2)})

    # ------------------------------------------------------------------ encode

    def encode(self, x: Any, options=None, *, baseline: "PhysioBaseline | None" = None) -> ModalityResult:
        """Assess one window.

        Parameters
        ----------
        x : PhysioInput (from :func:`cxsense.inputs.physio.load_physio`)
            One window, typically 30-120 s; the model was trained on 60-s windows.
        options : PhysioOptions, optional
            Read by the input stage (rate, NaN policy); nothing here.
        baseline : PhysioBaseline, optional
            From :meth:`prepare_baseline` on the same person's resting recording (e.g. 1-5 min before the
            session). With it, the ``baseline`` model also sees each feature's change from the resting mean.

        Returns
        -------
        ModalityResult
            ``probabilities=None``; ``stress``, ``arousal``; ``valence=None``; see the module doc.
        """
        from ...inputs.physio import PhysioInput

        if not isinstance(x, PhysioInput):
            from ...errors import InputError

            raise InputError("x", "a PhysioInput from cxsense.inputs.physio.load_physio", type(x).__name__)
        if baseline is not None and not isinstance(baseline, PhysioBaseline):
            from ...errors import InputError

            raise InputError("baseline", "a PhysioBaseline from PhysioEncoder.prepare_baseline", type(baseline).__name__)
        ex = extract(x)
        m = self._model
        details: dict[str, Any] = {
            "duration_s": round(ex.duration, 3),
            "channels": _round(ex.channels),
            "measures": _round(ex.extra),
            "features": _round(ex.features),
        }
        usable = {g: q for g, q in ex.group_quality.items() if g in m.groups and q > 0}
        if not usable:
            reasons = [f"{c}: " + "; ".join(r["reasons"] or ["no features"]) for c, r in ex.channels.items()
                       if r["quality"] == 0 or c in ("rsp",)]
            why = ("no channel that the stress model uses (ecg or ppg, eda, temp, acc) carries a usable signal"
                   + (": " + " | ".join(reasons) if reasons else ""))
            return ModalityResult.no_signal(self.modality, self.embedding_dim, why, details=details,
                                            model=self.info())

        use_base = False
        if baseline is not None:
            bfeats = baseline.features
            details["baseline"] = dict(baseline.info)
            shared = [f for f in m.feature_names if f in bfeats and f in ex.features]
            if shared:
                use_base = True
                feats = dict(ex.features)
                for f in m.feature_names:
                    if f in bfeats and f in ex.features:
                        feats[f"delta_{f}"] = ex.features[f] - bfeats[f]
                _, zt = m.baseline.predict(feats)
                zs = self._shape.raw(shape(x, ex))
                stress, z = self._shape.combine(zt, zs, "baseline")
                details["scores"] = {"trees": round(float(zt), 5), "shape": round(float(zs), 5)}
                details["baseline"]["features_compared"] = len(shared)
            else:
                details["baseline"]["note"] = "the baseline has no usable features in common; window model used"
        if not use_base:
            # no baseline: the trees (levels) and the shape network (within-window movement), combined
            _, zt = m.window.predict(ex.features)
            zs = self._shape.raw(shape(x, ex))
            stress, z = self._shape.combine(zt, zs)
            details["scores"] = {"trees": round(float(zt), 5), "shape": round(float(zs), 5)}

        quality = sum(m.group_weights.get(g, 0.0) * q for g, q in usable.items())
        quality *= window_quality(ex.duration, m.window_s)
        quality = float(min(max(quality, 0.0), 1.0))
        details.update({
            "model_used": "baseline" if use_base else "window",
            "score": round(float(z), 5),
            "decision_threshold": round(m.decision_threshold, 5),
            "above_decision_threshold": bool(stress >= m.decision_threshold),
            "decision_rule": ("above_decision_threshold is stress >= the training prevalence (about 0.33), the "
                              "balanced-accuracy decision of the model card; stress itself is a probability "
                              "calibrated at that prevalence, so a window can be above the threshold with "
                              "stress under 0.5"),
            "groups_used": sorted(usable),
            "group_quality": _round({g: float(q) for g, q in usable.items()}),
            "arousal_method": "2 * stress - 1 (stress model; training data has stress vs rest only)",
            "valence": "not estimated: no valence labels in the physiological training data",
            "methods": {c: r.get("method", "") for c, r in ex.channels.items()},
        })
        return ModalityResult(
            modality=self.modality,
            probabilities=None,
            embedding=self._embedding(ex.features, ex.group_quality),
            quality=quality,
            valence=None,
            arousal=float(np.clip(2.0 * stress - 1.0, -1.0, 1.0)),
            stress=stress,
            details=details,
            model=self.info(),
        )
