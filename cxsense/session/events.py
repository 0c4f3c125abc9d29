"""Reaction events and per-segment summaries of a session timeline.

Events (:func:`detect_events`), per person, on rows with signal:

- ``peak``: a local maximum of an emotion's fused probability (smoothed over 3 steps) that reaches
  ``min_height`` (default 0.5) and stands ``min_prominence`` (default 0.2) above its surroundings; its
  ``strength`` is the prominence. Neutral is not an event. A level held from the start of the recording
  is not an event (no change was seen); a rise that lasts to the end is (its peak is the plateau's middle).
- ``onset``: for each peak, the first step of the run leading to it in which the (unsmoothed) probability
  is at least half way from the preceding minimum (within 10 s) to the peak.
- ``stress_rise``: a peak of the fused stress (prominence >= 0.15); ``strength`` is the prominence, the
  ``time`` is its onset and ``peak_time`` the peak.

Summary (:func:`summarize`), per segment and person: the number of steps with signal, and for each
emotion its mean probability, its peak and its share of time (share of steps whose ``emotion`` it is, as
:func:`cxsense.fusion.fuse` chose it: steps with physiology alone read ``"neutral"``); mean valence, arousal
and stress. ``categorical_steps`` counts the steps with face or voice evidence.
"""

from __future__ import annotations

import numpy as np

from ..emotions import EMOTIONS
from ..errors import InputError

__all__ = ["detect_events", "summarize", "parse_segments", "EVENT_COLUMNS"]

EVENT_COLUMNS = ["time", "person", "kind", "signal", "strength", "peak_time", "peak_value"]


def _smooth(x: np.ndarray) -> np.ndarray:
    if len(x) < 3:
        return x.copy()
    pad = np.concatenate([[x[0]], x, [x[-1]]])
    return (pad[:-2] + pad[1:-1] + pad[2:]) / 3.0


def _peaks(t, raw, min_height, min_prominence, person, signal, kind_peak, out, with_onset=True):
    from scipy.signal import find_peaks

    if len(raw) < 2:
        return
    x = _smooth(raw)
    # a level held from the start is no event (no change seen); a rise held to the end of the recording is
    xp = np.concatenate([[x[0]], x, [0.0]])
    idx, props = find_peaks(xp, height=min_height, prominence=min_prominence)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    for i, prom in zip(idx - 1, props["prominences"]):
        prom = float(min(prom, x[i]))
        lo = max(0, i - int(round(10.0 / step)))
        base = float(raw[lo:i + 1].min())
        half = base + 0.5 * (max(raw[i], x[i]) - base)
        j = i  # onset: the first step of the run, up to the peak, in which the raw series is at least half way up
        while j > lo and raw[j - 1] >= half:
            j -= 1
        if with_onset:
            out.append({"time": float(t[j]), "person": person, "kind": "onset", "signal": signal, "strength": prom,
                        "peak_time": float(t[i]), "peak_value": float(x[i])})
            out.append({"time": float(t[i]), "person": person, "kind": kind_peak, "signal": signal, "strength": prom,
                        "peak_time": float(t[i]), "peak_value": float(x[i])})
        else:
            out.append({"time": float(t[j]), "person": person, "kind": kind_peak, "signal": signal, "strength": prom,
                        "peak_time": float(t[i]), "peak_value": float(x[i])})


def detect_events(timeline, min_height: float = 0.5, min_prominence: float = 0.2, stress_prominence: float = 0.15,
                  cue_samples=None):
    """Reaction events of a timeline (see the module docstring).

    Parameters
    ----------
    timeline : pandas.DataFrame from a session
    min_height, min_prominence, stress_prominence : float, the peak rules
    cue_samples : pandas.DataFrame, optional
        Per-frame cues (``Session.cue_samples``): the cue events (``jaw_drop``, ``smile_onset``, ``looked_away``)
        are read from them (:func:`cxsense.session.cue_events.cue_events`); without them, from the timeline's cue
        columns when it has them.

    Returns
    -------
    pandas.DataFrame with columns :data:`EVENT_COLUMNS`, sorted by time.
    """
    import pandas as pd

    out: list[dict] = []
    if len(timeline):
        for person, g in timeline[timeline["emotion"] != "no_signal"].groupby("person", sort=True):
            g = g.sort_values("time")
            t = g["time"].to_numpy(float)
            for e in EMOTIONS:
                if e == "neutral":
                    continue
                _peaks(t, g[e].to_numpy(float), min_height, min_prominence, person, e, "peak", out)
            if (g["physio_quality"] > 0).any() or (g["face_quality"] > 0).any() or (g["voice_quality"] > 0).any():
                _peaks(t, g["stress"].to_numpy(float), 0.0, stress_prominence, person, "stress",
                       "stress_rise", out, with_onset=False)
    ev = pd.DataFrame(out, columns=EVENT_COLUMNS)
    cue_source = cue_samples if cue_samples is not None else timeline
    if len(cue_source) and "mouth_open" in cue_source and cue_source["mouth_open"].notna().any():
        from .cue_events import cue_events

        extra = cue_events(cue_source[cue_source["mouth_open"].notna()])
        if len(extra):
            ev = pd.concat([ev, extra], ignore_index=True) if len(ev) else extra
    return ev.reindex(columns=EVENT_COLUMNS).sort_values(["time", "person", "kind"], kind="stable").reset_index(drop=True)


def parse_segments(segments) -> list[tuple[str, float, float]]:
    """Segments as ``(name, start_s, end_s)`` triples from a list of triples, a DataFrame or a CSV path with
    columns ``name, start, end``; an :class:`~cxsense.InputError` naming ``segments`` otherwise."""
    import pandas as pd

    if isinstance(segments, (str, bytes)) or hasattr(segments, "__fspath__"):
        try:
            df = pd.read_csv(segments)
        except (OSError, ValueError) as e:
            raise InputError("segments", "a CSV with columns name, start, end (seconds)", f"{segments!r} ({type(e).__name__})") from None
        segments = df
    if hasattr(segments, "columns"):
        if not {"name", "start", "end"} <= set(segments.columns):
            raise InputError("segments", "columns name, start, end", f"columns {list(segments.columns)}")
        segments = list(segments[["name", "start", "end"]].itertuples(index=False, name=None))
    out = []
    for s in segments:
        try:
            name, a, b = s
            a, b = float(a), float(b)
        except (TypeError, ValueError):
            raise InputError("segments", "(name, start_s, end_s) triples", repr(s)) from None
        if not (np.isfinite(a) and np.isfinite(b) and b > a):
            raise InputError("segments", "finite start < end in seconds", repr(s))
        out.append((str(name), a, b))
    return out


def summarize(timeline, segments=None, cue_samples=None, fps: float | None = None):
    """Per segment and person: mean, peak and share of time of each emotion (see the module docstring).

    Parameters
    ----------
    timeline : pandas.DataFrame from a session
    segments : None, a list of ``(name, start_s, end_s)``, a DataFrame or a CSV path with columns
        ``name, start, end``. None: the whole session as one segment ``"all"``. A row belongs to a
        segment when its step starts inside it.
    cue_samples : pandas.DataFrame, optional
        Per-frame cues (``Session.cue_samples``): ``attention`` (share of face time with ``gaze_on_camera`` >= 0.5
        and ``|head_yaw|`` < 30 degrees) and ``blinks_per_min`` are read from them; without them, attention from
        the timeline's cue columns.
    fps : float, optional
        Frames analysed per second; blinks are counted only at 10 or more (NaN below: a blink lasts 0.1-0.4 s).

    Returns
    -------
    pandas.DataFrame, one row per (segment, person) with signal.
    """
    import pandas as pd

    t_end = float(timeline["time"].max() + 1e-9) + 1.0 if len(timeline) else 0.0
    rows = []
    ok = timeline[timeline["emotion"] != "no_signal"] if len(timeline) else timeline
    for name, a, b in [("all", 0.0, t_end)] if segments is None else parse_segments(segments):
        seg = ok[(ok["time"] >= a) & (ok["time"] < b)]
        for person, g in seg.groupby("person", sort=True):
            r = {"segment": name, "start": a, "end": b, "person": person, "steps": int(len(g))}
            if "categorical_evidence" in g:
                r["categorical_steps"] = int(g["categorical_evidence"].astype(bool).sum())
            top = g["emotion"].to_numpy()
            for e in EMOTIONS:
                r[f"{e}_mean"] = float(g[e].mean())
                r[f"{e}_peak"] = float(g[e].max())
                r[f"{e}_share"] = float(np.mean(top == e))
            for c in ("valence", "arousal", "stress"):
                r[f"{c}_mean"] = float(g[c].mean())
            r.update(_cue_summary(g, cue_samples, person, a, b, fps))
            rows.append(r)
    return pd.DataFrame(rows)


def _cue_summary(rows, cue_samples, person, a: float, b: float, fps) -> dict:
    """``attention`` and ``blinks_per_min`` of one person in one segment (NaN where there are no cues)."""
    from .cue_events import attention_share, count_blinks

    src = rows
    if cue_samples is not None and len(cue_samples):
        src = cue_samples[(cue_samples["person"] == person) & (cue_samples["time"] >= a) & (cue_samples["time"] < b)]
    if "gaze_on_camera" not in src or not src["gaze_on_camera"].notna().any():
        return {"attention": float("nan"), "blinks_per_min": float("nan")}
    src = src[src["gaze_on_camera"].notna()]
    att = attention_share(src)
    blinks = float("nan")
    if cue_samples is not None and fps is not None and fps >= 10 and len(src) > 1:
        minutes = len(src) / fps / 60.0
        blinks = count_blinks(src["time"].to_numpy(float), src["eyes_open"].to_numpy(float)) / minutes
    return {"attention": float("nan") if att is None else float(att), "blinks_per_min": blinks}
