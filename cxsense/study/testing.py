"""Synthetic recordings for tests and benchmarks of the study machinery (no video, no model).

A synthetic "recording" is a small JSON file: ``{"seconds": 30, "seed": 1, "reactions": [[12.0, "surprise", 0.8,
3.0], ...]}`` (start s, emotion, probability, length s). :func:`synthetic_analyzer`, given as ``analyzer=`` to
:func:`cxsense.analyze_study`, turns it into a timeline with every column of a session timeline: a neutral
face with small seeded noise, and each reaction as that emotion's probability for its length. It replaces the
video analysis only; storage, reuse, aggregation, moments, comparison and the report run as in a real study. The
facial cue columns, where the timeline has them, read a frontal face looking at the camera (``smile`` follows
happiness).
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..emotions import EMOTIONS

__all__ = ["write_synthetic", "synthetic_timeline", "synthetic_analyzer"]


def write_synthetic(path, seconds: float, reactions=(), seed: int = 0, fault: str | None = None) -> None:
    """Write a synthetic recording (see the module docstring).

    ``fault``: ``"error"`` makes the analysis raise, ``"crash"`` makes it end its worker process at once (as a
    crash in a native library would), to test that one bad recording never stops a study.
    """
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"seconds": float(seconds), "seed": int(seed), "reactions": [list(r) for r in reactions],
                   "fault": fault}, f)


def synthetic_timeline(seconds: float, reactions=(), seed: int = 0, step: float = 1.0):
    """A timeline DataFrame (columns of ``cxsense.session.TIMELINE_COLUMNS``) of one synthetic viewer.

    Parameters
    ----------
    seconds : float
        Length; one row per ``step``.
    reactions : sequence of (start_s, emotion, probability, length_s)
    seed : int
        Seeds the small noise (± 0.02) on the neutral baseline.
    """
    import pandas as pd

    from ..session import TIMELINE_COLUMNS

    n = max(1, int(np.ceil(seconds / step - 1e-9)))
    t = np.round(np.arange(n) * step, 6)
    rng = np.random.default_rng(seed)
    p = np.full((n, len(EMOTIONS)), 0.05)
    p[:, EMOTIONS.index("neutral")] = 0.7
    p += rng.uniform(-0.02, 0.02, p.shape)
    for start, emotion, prob, length in reactions:
        on = (t >= start - 1e-9) & (t < start + length - 1e-9)
        p[on] *= (1 - prob) / np.maximum(1e-9, 1 - p[on, EMOTIONS.index(emotion)])[:, None]
        p[on, EMOTIONS.index(emotion)] = prob
    p = np.clip(p, 1e-6, None)
    p /= p.sum(1, keepdims=True)
    valence = p[:, EMOTIONS.index("happiness")] - p[:, [EMOTIONS.index(e) for e in ("anger", "disgust", "fear", "sadness")]].sum(1)
    arousal = 1 - 2 * p[:, EMOTIONS.index("neutral")]
    row = {"time": t, "person": "p0", "emotion": [EMOTIONS[k] for k in p.argmax(1)],
           **{e: p[:, k] for k, e in enumerate(EMOTIONS)}, "valence": np.clip(valence, -1, 1),
           "arousal": np.clip(arousal, -1, 1), "stress": np.clip(0.3 + 0.3 * arousal - 0.2 * valence, 0, 1),
           "confidence": p.max(1), "incongruence": 0.0, "categorical_evidence": True, "face_quality": 0.9,
           "face_emotion": "",
           "face_valence": np.clip(valence, -1, 1), "face_arousal": np.clip(arousal, -1, 1), "voice_quality": 0.0,
           "voice_emotion": "", "voice_valence": 0.0, "voice_arousal": 0.0, "voice_fused": False,
           "physio_quality": 0.0, "physio_arousal": 0.0, "physio_stress": 0.0}
    cues = {"head_yaw": 0.0, "head_pitch": 0.0, "head_roll": 0.0, "mouth_open": 0.1,
            "smile": p[:, EMOTIONS.index("happiness")], "brow_raise": 0.2, "eyes_open": 0.8, "gaze_on_camera": 0.9}
    row.update({c: v for c, v in cues.items() if c in TIMELINE_COLUMNS})  # where the core has the cue columns
    df = pd.DataFrame({c: row.get(c, 0.0) for c in TIMELINE_COLUMNS}, index=range(n))
    df["face_emotion"] = df["emotion"]
    return df[list(TIMELINE_COLUMNS)]


def synthetic_analyzer(job: dict):
    """``analyzer=`` for :func:`cxsense.analyze_study`: a synthetic recording file to ``(timeline, info)``."""
    with open(job["path"], encoding="utf-8") as f:
        d = json.load(f)
    if d.get("fault") == "error":
        raise ValueError("a synthetic analysis error")
    if d.get("fault") == "crash":
        os._exit(70)  # the worker process dies without a word
    step = float(job["options"].get("step", 1.0))
    tl = synthetic_timeline(d["seconds"], d.get("reactions", ()), d.get("seed", 0), step)
    return tl, {"duration_s": float(d["seconds"])}
