"""Key moments: where many viewers of a variant react together.

Per viewer, the reactions are the events of its timeline (:func:`cxsense.session.events.detect_events`:
``onset`` and ``peak`` of each emotion but neutral, ``stress_rise``, and, where the timeline has cue columns,
``jaw_drop``, ``smile_onset``, ``looked_away`` read from them) and ``attention_loss`` (a step in which
the face is no longer seen, or, where the timeline has ``gaze_on_camera``, no longer looks at the camera
(< 0.5), after a step in which it was), each put on the stimulus's step grid.

Per variant, kind and measure, and per step ``k``:

- ``viewers``: the viewers with such an event within ``tolerance`` seconds of ``k`` (each viewer counts once);
- ``share_of_viewers``: ``viewers`` over the viewers whose recording covers step ``k``;
- ``expected_share``: the share expected if each viewer's events of this kind fell at random times, at the
  viewers' own average rate (events per covered step), within the same window;
- a score that weighs each viewer's event by its distance to ``k`` (1 at ``k``, falling linearly to 0 just past
  the tolerance), so that the moment's time is where the events concentrate.

A step is a **moment** when its score is the largest within ``tolerance`` (the earliest on a tie), at least
``min_viewers`` viewers (default 2) and a share of at least ``min_share`` (default 0.25) react there, and
that share is at least ``lift`` (default 2) times the expected share. One viewer's event, or a kind of event
that every viewer shows all the time, is therefore never a moment. ``value`` is the aggregate mean of the
measure at the moment (for ``attention_loss``, the share of covering viewers whose attention is on screen).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MomentCounter", "MOMENT_COLUMNS"]

MOMENT_COLUMNS = ["variant", "stimulus_time", "kind", "measure", "value", "share_of_viewers", "viewers",
                  "expected_share"]


def _grow(a: np.ndarray, size: int) -> np.ndarray:
    return a if len(a) >= size else np.concatenate([a, np.zeros(size - len(a), a.dtype)])


class _Variant:
    def __init__(self):
        self.covered = np.zeros(0, np.int64)
        self.attentive = np.zeros(0, np.int64)
        self.viewer_steps = 0
        self.hits: dict[tuple[str, str], np.ndarray] = {}
        self.score: dict[tuple[str, str], np.ndarray] = {}
        self.events: dict[tuple[str, str], int] = {}


class MomentCounter:
    """Accumulates viewers' reactions one viewer at a time (flat memory) and selects the moments.

    Parameters
    ----------
    step : float
        Seconds per step.
    tolerance : float, default 1.0
        Seconds within which viewers' reactions count as together.
    min_share, min_viewers, lift : see the module docstring.
    """

    def __init__(self, step: float, tolerance: float = 1.0, min_share: float = 0.25, min_viewers: int = 2,
                 lift: float = 2.0):
        self.step = float(step)
        self.tol = int(round(float(tolerance) / self.step))
        self.min_share, self.min_viewers, self.lift = float(min_share), int(min_viewers), float(lift)
        self.v: dict[str, _Variant] = {}

    def add(self, variant: str, vs: dict, events, stimulus_offset: float, gaze=None) -> None:
        """Add one viewer.

        Parameters
        ----------
        variant : str
        vs : dict from :func:`cxsense.study.aggregate.viewer_steps`
        events : pandas.DataFrame from ``detect_events`` (columns ``time``, ``kind``, ``signal``)
        stimulus_offset : float, seconds
        gaze : np.ndarray [shape=(len(vs["steps"]),)] or None
            ``gaze_on_camera`` per step with signal (NaN: unknown), where the timeline has it.
        """
        st = self.v.setdefault(variant, _Variant())
        cov, face = vs["covered"], vs["face"]
        if not len(cov):
            return
        size = int(cov.max()) + 1 + self.tol
        st.covered = _grow(st.covered, size)
        st.covered[cov] += 1
        st.viewer_steps += len(cov)
        attentive = face.copy()
        if gaze is not None and len(vs["steps"]):
            pos = np.searchsorted(cov, vs["steps"])
            g = np.asarray(gaze, float)
            attentive[pos] &= ~(np.isfinite(g) & (g < 0.5))
        st.attentive = _grow(st.attentive, size)
        st.attentive[cov[attentive]] += 1
        marks: dict[tuple[str, str], set] = {}
        if len(events):
            k = np.floor((events["time"].to_numpy(float) - float(stimulus_offset)) / self.step + 1e-6).astype(int)
            for kk, kind, sig in zip(k, events["kind"], events["signal"]):
                if kk >= 0:
                    marks.setdefault((str(kind), str(sig)), set()).add(int(kk))
        lost = [int(cov[i]) for i in range(1, len(cov)) if cov[i] == cov[i - 1] + 1 and attentive[i - 1] and not attentive[i]]
        if lost:
            marks[("attention_loss", "attention")] = set(lost)
        for key, ks in marks.items():
            ks = np.array(sorted(ks))
            top = int(ks.max()) + self.tol + 1
            hit = np.zeros(top, bool)
            w = np.zeros(top)
            for d in range(-self.tol, self.tol + 1):
                j = ks + d
                j = j[j >= 0]
                hit[j] = True
                w[j] = np.maximum(w[j], 1.0 - abs(d) / (self.tol + 1))
            for store, add in ((st.hits, hit.astype(np.int64)), (st.score, w)):
                a = _grow(store.get(key, np.zeros(0, add.dtype)), max(size, top))
                a[:top] += add
                store[key] = a
            st.events[key] = st.events.get(key, 0) + len(ks)

    def table(self, aggregate):
        """The moments (columns :data:`MOMENT_COLUMNS`), given the aggregate table for their values."""
        import pandas as pd

        rows = []
        for variant in sorted(self.v):
            st = self.v[variant]
            agg = aggregate[aggregate["variant"] == variant]
            k_of = np.round(agg["stimulus_time"].to_numpy(float) / self.step).astype(int)
            for (kind, measure), hits in sorted(st.hits.items()):
                score = st.score[(kind, measure)]
                size = min(len(hits), len(st.covered))
                cov = st.covered[:size].astype(float)
                share = np.where(cov > 0, hits[:size] / np.maximum(cov, 1), 0.0)
                rate = st.events[(kind, measure)] / max(st.viewer_steps, 1)
                expected = 1.0 - (1.0 - min(rate, 1.0)) ** (2 * self.tol + 1)
                for k in range(size):
                    if hits[k] < self.min_viewers or share[k] < self.min_share or share[k] < self.lift * expected:
                        continue
                    lo, hi = max(0, k - self.tol), min(size, k + self.tol + 1)
                    win = score[lo:hi]
                    if score[k] < win.max() or np.argmax(win) + lo != k:
                        continue
                    if kind == "attention_loss":
                        value = float(st.attentive[k] / max(cov[k], 1))
                    else:
                        col = f"{measure}_mean"
                        hit = np.flatnonzero(k_of == k)
                        value = float(agg[col].to_numpy(float)[hit[0]]) if len(hit) and col in agg.columns else 0.0
                    rows.append({"variant": variant, "stimulus_time": round(k * self.step, 6), "kind": kind,
                                 "measure": measure, "value": value, "share_of_viewers": float(share[k]),
                                 "viewers": int(hits[k]), "expected_share": float(expected)})
        df = pd.DataFrame(rows, columns=MOMENT_COLUMNS)
        return df.sort_values(["variant", "stimulus_time", "kind", "measure"], kind="stable").reset_index(drop=True)
