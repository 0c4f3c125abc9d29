"""Aggregate reaction curves: per variant and stimulus-time step, the mean over viewers with a 95 % interval.

Measures
--------
Every numeric measure of a session timeline that this module recognises: the seven emotions' fused
probabilities, ``valence``, ``arousal``, ``stress``, and any of the facial cues ``head_yaw, head_pitch,
head_roll, mouth_open, smile, brow_raise, eyes_open, gaze_on_camera`` that the timeline has (taken from its
columns, not from a fixed list). Cues count only in steps where a face was seen (``face_quality > 0``).

Per viewer
----------
A row belongs to the step ``k = floor(stimulus_time / step)`` (``stimulus_time = time - stimulus_offset``);
steps before the stimulus (``k < 0``) are left out. A viewer's value in a step is the mean over its rows with
signal (``emotion != "no_signal"``; several rows when several faces were tracked). A viewer without signal in
a step does not count in that step's ``n``.

Interval
--------
A **Student-t 95 % interval** over viewers: ``mean ± t(0.975, n-1) · sd / sqrt(n)`` (sd with ``n - 1``),
clipped to the measure's range. With ``n = 1`` there is no spread to estimate and the interval is the whole
range of the measure (a cue seen in no viewer's face in a step has mean 0, the whole range, and ``<cue>_n``
0: cues carry their own count, since they need a face). Identical viewers give a zero-width interval. Means and variances are accumulated one
viewer at a time (Welford's algorithm, in the manifest's order), so memory does not grow with the number of
viewers and the result does not depend on the engine or on the order in which recordings finished.
"""

from __future__ import annotations

import math

import numpy as np

from ..emotions import EMOTIONS

__all__ = ["BASE_MEASURES", "CUE_MEASURES", "RANGES", "INTERVAL", "measures_of", "viewer_steps", "Aggregator"]

BASE_MEASURES = (*EMOTIONS, "valence", "arousal", "stress")
CUE_MEASURES = ("head_yaw", "head_pitch", "head_roll", "mouth_open", "smile", "brow_raise", "eyes_open",
                "gaze_on_camera")
#: The range of each measure (the interval is clipped to it).
RANGES = {**{e: (0.0, 1.0) for e in EMOTIONS}, "valence": (-1.0, 1.0), "arousal": (-1.0, 1.0),
          "stress": (0.0, 1.0), "head_yaw": (-90.0, 90.0), "head_pitch": (-90.0, 90.0),
          "head_roll": (-180.0, 180.0), **{c: (0.0, 1.0) for c in CUE_MEASURES[3:]}}
INTERVAL = ("Student-t 95% interval over viewers (mean +- t(0.975, n-1) sd/sqrt(n)), clipped to the measure's "
            "range; the whole range when n = 1")


def measures_of(columns) -> list[str]:
    """The recognised measures among a timeline's ``columns``, in a fixed order."""
    cols = set(columns)
    return [m for m in BASE_MEASURES + CUE_MEASURES if m in cols]


def viewer_steps(timeline, stimulus_offset: float, step: float, measures: list[str]) -> dict:
    """One viewer's timeline on the stimulus's step grid (see the module docstring).

    Returns
    -------
    dict with ``steps`` (int array [shape=(k,)], steps with signal, ascending), ``values`` (float array
    [shape=(k, len(measures))], NaN where a measure is missing, e.g. a cue without a face), ``covered`` (int
    array, every step with a row, signal or not) and ``face`` (bool array aligned with ``covered``: a face was
    seen in the step).
    """
    t = timeline["time"].to_numpy(float) - float(stimulus_offset)
    k = np.floor(t / step + 1e-6).astype(np.int64)
    keep = k >= 0
    tl, k = timeline[keep], k[keep]
    covered = np.unique(k)
    fq = tl["face_quality"].to_numpy(float) if "face_quality" in tl.columns else np.zeros(len(tl))
    face = np.zeros(len(covered), bool)
    np.logical_or.at(face, np.searchsorted(covered, k), fq > 0)
    sig = (tl["emotion"] != "no_signal").to_numpy() if "emotion" in tl.columns else np.ones(len(tl), bool)
    ks = k[sig]
    steps = np.unique(ks)
    vals = np.full((len(steps), len(measures)), np.nan)
    if len(steps):
        pos = np.searchsorted(steps, ks)
        sub = tl[sig]
        face_ok = fq[sig] > 0
        for j, m in enumerate(measures):
            if m not in sub.columns:
                continue
            x = sub[m].to_numpy(float)
            ok = np.isfinite(x) & (face_ok if m in CUE_MEASURES else True)
            s = np.bincount(pos[ok], weights=x[ok], minlength=len(steps))
            c = np.bincount(pos[ok], minlength=len(steps))
            with np.errstate(invalid="ignore", divide="ignore"):
                vals[:, j] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
    return {"steps": steps, "values": vals, "covered": covered, "face": face}


class _Welford:
    """Running count, mean and sum of squared deviations per (step, measure); grows with the longest recording."""

    def __init__(self, n_measures: int):
        self.viewers = np.zeros(0, np.int64)  # viewers with signal per step
        self.n = np.zeros((0, n_measures), np.int64)
        self.mean = np.zeros((0, n_measures))
        self.m2 = np.zeros((0, n_measures))

    def _grow(self, size: int) -> None:
        if size <= len(self.viewers):
            return
        extra = size - len(self.viewers)
        self.viewers = np.concatenate([self.viewers, np.zeros(extra, np.int64)])
        pad = np.zeros((extra, self.n.shape[1]))
        self.n = np.concatenate([self.n, pad.astype(np.int64)])
        self.mean = np.concatenate([self.mean, pad])
        self.m2 = np.concatenate([self.m2, pad])

    def add(self, steps: np.ndarray, values: np.ndarray) -> None:
        if not len(steps):
            return
        self._grow(int(steps.max()) + 1)
        self.viewers[steps] += 1
        ok = np.isfinite(values)
        x = np.where(ok, values, 0.0)
        n = self.n[steps] + ok
        mean = self.mean[steps]
        delta = np.where(ok, x - mean, 0.0)
        mean = mean + np.where(ok, delta / np.maximum(n, 1), 0.0)
        self.m2[steps] += np.where(ok, delta * (x - mean), 0.0)
        self.mean[steps] = mean
        self.n[steps] = n


class Aggregator:
    """Accumulates viewers (one :func:`viewer_steps` at a time) and gives the aggregate table.

    Parameters
    ----------
    measures : list of str
    step : float
        Seconds per step.
    """

    def __init__(self, measures: list[str], step: float):
        self.measures = list(measures)
        self.step = float(step)
        self.acc: dict[str, _Welford] = {}

    def add(self, variant: str, vs: dict) -> None:
        """Add one viewer of ``variant``."""
        self.acc.setdefault(variant, _Welford(len(self.measures))).add(vs["steps"], vs["values"])

    def variants(self) -> list[str]:
        return sorted(self.acc)

    def table(self):
        """The aggregate: one row per variant and step with ``n > 0``; columns ``variant, stimulus_time, n`` and
        ``<measure>_mean, <measure>_lo, <measure>_hi`` for each measure (see the module docstring)."""
        import pandas as pd
        from scipy.stats import t as student_t

        cols = ["variant", "stimulus_time", "n"] + [f"{m}_{s}" for m in self.measures for s in ("mean", "lo", "hi")]
        cols += [f"{m}_n" for m in self.measures if m in CUE_MEASURES]
        frames = []
        for variant in self.variants():
            w = self.acc[variant]
            rows = np.flatnonzero(w.viewers > 0)
            if not len(rows):
                continue
            n, mean, m2 = w.n[rows], w.mean[rows], w.m2[rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                sd = np.sqrt(np.where(n > 1, m2 / np.maximum(n - 1, 1), 0.0))
                half = np.where(n > 1, student_t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1)), 0.0)
            data = {"variant": variant, "stimulus_time": np.round(rows * self.step, 6), "n": w.viewers[rows]}
            for j, m in enumerate(self.measures):
                lo_r, hi_r = RANGES.get(m, (-math.inf, math.inf))
                mu = np.where(n[:, j] > 0, mean[:, j], 0.0)
                lo = np.where(n[:, j] > 1, np.clip(mu - half[:, j], lo_r, hi_r), lo_r)
                hi = np.where(n[:, j] > 1, np.clip(mu + half[:, j], lo_r, hi_r), hi_r)
                data[f"{m}_mean"], data[f"{m}_lo"], data[f"{m}_hi"] = mu, lo, hi
                if m in CUE_MEASURES:  # a cue counts only where a face was seen: its own n
                    data[f"{m}_n"] = n[:, j]
            frames.append(pd.DataFrame(data))
        if not frames:
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True)[cols]
