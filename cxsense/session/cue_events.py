"""Events and summaries from the facial cue columns of a timeline (pure functions over a DataFrame).

A timeline here is a pandas DataFrame with a ``time`` column (seconds), optionally ``person`` (one series per
value; without it, one series), and the cue columns of :data:`cxsense.encoders.face.cues.CUE_NAMES` that each
detector reads (NaN where no face was seen). ``surprise`` (the fused or face probability) is read where present.
Any step works; the finer the step, the better the timing (a 0.2-s step is the default sampling of sessions at
5 frames per second, and blinks need 10 or more frames per second).

Events, in the layout of :data:`cxsense.session.events.EVENT_COLUMNS` (``time`` is the onset, ``signal`` the cue
read, ``strength`` the rise or the duration, ``peak_time``/``peak_value`` the peak):

- ``jaw_drop``: ``mouth_open`` reaches at least ``high`` (0.7), at least ``min_rise`` (0.4) above its lowest value
  of the ``max_rise`` (1.0 s) before, and that lowest value is at most ``max_before`` (0.65): a fast opening from
  the face's own resting aperture, which differs between people (some rest with parted lips). The mouth must have
  rested (median of the ``rest``, 2 s, before the rise at most ``max_before``, with at least 1 s of it seen) and
  must stay open (median of the ``hold``, 1 s, from the top at least ``min_open`` (0.5) and at least the re-arming
  level, the rest plus ``min_rise / 2``, and at most ``max_closed`` (1) sample of it back at or below that level):
  syllables, which close the mouth 3-5 times a second, and one-frame dips of a mouth held open are no jaw drops,
  and one mesh drop-out in the hold is tolerated. Around that rise (from 0.5 s before to ``max_rise`` after the
  crossing of ``high``) either ``surprise`` reaches ``min_surprise`` (0.3) or ``brow_raise`` reaches ``min_brow``
  (0.5), each only where the face's own median of it over the ``rest`` is below that level (crossed, not sat on), the
  median ``brow_raise`` of the ``max_rise`` after the crossing exceeds its median over the ``rest`` before by
  ``min_brow_rise`` (0.1) or by ``brow_rise_sigmas`` (4) times the brows' resting spread (1.4826 x MAD, and at
  least half of ``min_brow_rise``), or ``eyes_open`` rises the same way by ``min_eye_rise`` (0.2: the upper lids'
  raise of surprise, FACS AU5). The onset is the time ``mouth_open`` crosses half way (interpolated between
  samples). A new event needs the mouth to close again, to within ``min_rise / 2`` of where it rose from, for
  ``rearm`` (0.3 s). A second path (the seventh rule) takes mouths that rest open (resting median above
  ``max_before``), where the [0, 1] scale saturates: the same tests on the logit of ``mouth_open``, a rise of at
  least ``open_rest_rise`` (3) logits and at least ``open_rest_sigmas`` (4) times the rest's robust spread
  (1.4826 x MAD of the logit); ``open_rest_rise=None`` turns it off. On both paths (the eighth rule) the rise must
  also be at least ``rest_sigmas`` (4) times the rest's robust spread on ``mouth_open``'s [0, 1] scale
  (``rest_sigmas_scale="logit"``: on its logit): a mouth that wanders at rest does not jump out of its own wandering
  (``rest_sigmas=0`` turns it off; docs/cues.md, "Session events").
- ``smile_onset``: ``smile`` rises from at most 0.3 to at least 0.6 within 3 s; onset at the half-way crossing.
- ``looked_away``: after at least one attentive sample, the face stays inattentive (``gaze_on_camera`` < 0.5 or
  ``|head_yaw|`` >= 30 degrees) for at least ``min_duration`` (1.0 s); ``time`` is its start, ``peak_time`` its
  end, ``strength`` its duration in seconds.

Summaries: :func:`attention_share` (share of face time that is attentive, the issue's ``attention``) and
:func:`blink_rate` (blinks per minute from ``eyes_open``).

A gap of more than ``max_gap`` (1.0 s) between samples with a face breaks every run: nothing is inferred across
the time a face was not seen.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["jaw_drop_events", "smile_onset_events", "looked_away_events", "cue_events", "attention_share",
           "blink_rate", "count_blinks", "is_attentive"]

_COLUMNS = ["time", "person", "kind", "signal", "strength", "peak_time", "peak_value"]


def _check(timeline, needed: tuple[str, ...]):
    import pandas as pd

    if not isinstance(timeline, pd.DataFrame):
        raise InputError("timeline", "a pandas DataFrame", type(timeline).__name__)
    missing = [c for c in ("time", *needed) if c not in timeline.columns]
    if missing:
        raise InputError("timeline", "a DataFrame with the columns " + ", ".join(("time",) + needed),
                         "one without " + ", ".join(missing))
    t = pd.to_numeric(timeline["time"], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(t)):
        raise InputError("timeline", "a 'time' column of finite seconds", "non-numeric or missing times")


def _series(timeline, columns: tuple[str, ...]):
    """(person, time, {column: values}) per person, sorted by time, rows where the first column is NaN dropped."""
    import pandas as pd

    groups = timeline.groupby("person", sort=True) if "person" in timeline.columns else [("-", timeline)]
    for person, g in groups:
        g = g.sort_values("time", kind="stable")
        vals = {c: pd.to_numeric(g[c], errors="coerce").to_numpy(float) if c in g.columns else None for c in columns}
        ok = np.isfinite(vals[columns[0]])
        yield person, g["time"].to_numpy(float)[ok], {c: (v[ok] if v is not None else None) for c, v in vals.items()}


def _segments(t: np.ndarray, max_gap: float):
    """Index ranges of runs with no gap over ``max_gap`` seconds."""
    if len(t) == 0:
        return []
    cuts = np.flatnonzero(np.diff(t) > max_gap) + 1
    bounds = np.concatenate([[0], cuts, [len(t)]])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _crossing(t: np.ndarray, x: np.ndarray, i: int, level: float) -> float:
    """Time at which x crosses ``level`` between samples i-1 and i (linear interpolation)."""
    if i == 0 or x[i] == x[i - 1]:
        return float(t[i])
    f = (level - x[i - 1]) / (x[i] - x[i - 1])
    return float(t[i - 1] + min(max(f, 0.0), 1.0) * (t[i] - t[i - 1]))


def _rises(t, x, low, high, max_rise):
    """Fast rises of x: (index of the last sample <= low, index of the first sample >= high) with at most
    ``max_rise`` seconds between them; after a rise, x must fall to ``low`` again before the next."""
    out, last_low, armed = [], None, True
    for i in range(len(x)):
        if x[i] <= low:
            last_low, armed = i, True
        elif x[i] >= high and armed and last_low is not None:
            if t[i] - t[last_low] <= max_rise + 1e-9:
                out.append((last_low, i))
            armed = False
    return out


def _opening_rises(t, x, high, min_rise, max_before, max_rise, rearm_hold: float = 0.0):
    """Fast openings: (index of the lowest sample in the ``max_rise`` s before, index of the first sample >=
    ``high``) where the rise is at least ``min_rise`` from a value at most ``max_before``; re-armed once x falls back
    to within ``min_rise / 2`` of the value it rose from and stays there for ``rearm_hold`` seconds (0: one sample
    is enough)."""
    out, armed, base, low_since = [], True, 0.0, None
    for i in range(len(x)):
        if not armed:
            if x[i] <= base + min_rise / 2:
                low_since = t[i] if low_since is None else low_since
                armed = t[i] - low_since >= rearm_hold - 1e-9
            else:
                low_since = None
        if not armed or x[i] < high:
            continue
        a = int(np.searchsorted(t, t[i] - max_rise - 1e-9, side="left"))  # t is sorted: the window is [a, i)
        if a >= i:
            continue
        j = a + int(np.argmin(x[a:i]))
        if x[j] <= max_before and x[i] - x[j] >= min_rise:
            out.append((j, i))
            armed, base, low_since = False, float(x[j]), None
    return out


def _median_rise(tt, v, j, i, rest, after):
    """Median of ``v`` over the ``after`` seconds from sample i minus its median over the ``rest`` seconds up to
    sample j, and the robust spread (1.4826 x MAD) of that resting stretch; (nan, nan) without samples."""
    post, pre = v[(tt >= tt[i]) & (tt <= tt[i] + after)], v[(tt >= tt[j] - rest) & (tt <= tt[j])]
    post, pre = post[np.isfinite(post)], pre[np.isfinite(pre)]
    if not len(post) or not len(pre):
        return float("nan"), float("nan")
    return float(np.median(post)) - float(np.median(pre)), _spread(pre)


def _rise_events(timeline, signal, kind, low, high, max_rise, max_gap):
    out = []
    for person, t, v in _series(timeline, (signal,)):
        x = v[signal]
        for a, b in _segments(t, max_gap):
            tt, xx = t[a:b], x[a:b]
            for i0, i1 in _rises(tt, xx, low, high, max_rise):
                half = (low + high) / 2
                j = next(k for k in range(i0 + 1, i1 + 1) if xx[k] >= half)
                k = i1 + int(np.argmax(xx[i1:][tt[i1:] <= tt[i1] + max_rise]))
                out.append({"time": _crossing(tt, xx, j, half), "person": person, "kind": kind, "signal": signal,
                            "strength": float(xx[k] - xx[i0]), "peak_time": float(tt[k]), "peak_value": float(xx[k])})
    return out


def _frame(rows):
    import pandas as pd

    df = pd.DataFrame(rows, columns=_COLUMNS)
    return df.sort_values(["time", "person"], kind="stable").reset_index(drop=True)


def jaw_drop_events(timeline, high: float = 0.7, min_rise: float = 0.4, max_before: float = 0.65,
                    max_rise: float = 1.0, hold: float = 1.0, min_surprise: float = 0.3, min_brow: float = 0.5,
                    min_brow_rise: float = 0.1, brow_rise_sigmas: float = 4.0, min_eye_rise: float = 0.2,
                    rest: float = 2.0, rearm: float = 0.3, max_gap: float = 1.0, max_closed: int = 1,
                    min_open: float = 0.5, open_rest_rise: float | None = 3.0, open_rest_sigmas: float = 4.0,
                    rest_sigmas: float = 4.0, rest_sigmas_scale: str = "cue"):
    """``jaw_drop`` events (module docstring). Needs ``time`` and ``mouth_open``; reads ``surprise``,
    ``brow_raise`` and ``eyes_open`` where present (without any of them, no rise qualifies). The thresholds were set
    on the jaw-drop clips and controls of ``benchmarks/cue_video.py`` (docs/cues.md, "Session events").

    Returns
    -------
    pandas.DataFrame with columns ``time, person, kind, signal, strength, peak_time, peak_value``.
    """
    _check(timeline, ("mouth_open",))
    if rest_sigmas_scale not in ("cue", "logit"):
        raise InputError("rest_sigmas_scale", "'cue' or 'logit'", repr(rest_sigmas_scale))
    out = []
    for person, t, v in _series(timeline, ("mouth_open", "surprise", "brow_raise", "eyes_open")):
        x, sur, br, eye = v["mouth_open"], v["surprise"], v["brow_raise"], v["eyes_open"]
        for a, b in _segments(t, max_gap):
            tt, xx = t[a:b], x[a:b]
            ss, bb, ee = ((None if c is None else c[a:b]) for c in (sur, br, eye))

            def evidence(j, i):
                win = (tt >= tt[i] - 0.5) & (tt <= tt[i] + max_rise)
                pre = (tt >= tt[j] - rest) & (tt <= tt[j])
                ok = ss is not None and _crosses(ss, win, pre, min_surprise)
                if bb is not None and not ok:
                    rise, noise = _median_rise(tt, bb, j, i, rest, max_rise)
                    ok = _crosses(bb, win, pre, min_brow) or rise >= min(
                        min_brow_rise, max(min_brow_rise / 2, brow_rise_sigmas * noise))
                if ee is not None and not ok:
                    ok = _median_rise(tt, ee, j, i, rest, max_rise)[0] >= min_eye_rise
                return ok

            def event(scale, j, i):
                half = (scale[j] + scale[i]) / 2
                k = next(k for k in range(j + 1, i + 1) if scale[k] >= half)
                later = np.flatnonzero((tt >= tt[i]) & (tt <= tt[i] + max_rise))
                p = int(later[np.argmax(xx[later])])
                return {"time": _crossing(tt, scale, k, half), "person": person, "kind": "jaw_drop",
                        "signal": "mouth_open", "strength": float(xx[p] - xx[j]), "peak_time": float(tt[p]),
                        "peak_value": float(xx[p])}

            last, found = -1, []
            for j, i in _opening_rises(tt, xx, high, min_rise, max_before, max_rise, rearm):
                if j < last or not _rests_then_holds(tt, xx, j, i, max_before, rest, hold, max_closed, min_rise,
                                                     min_open):
                    continue  # the same opening seen again, a mouth that was open already, or one that shut again
                if rest_sigmas > 0 and not _clears_rest(tt, xx, j, i, rest, rest_sigmas, rest_sigmas_scale):
                    continue  # a rise within the rest's own wandering
                if evidence(j, i):
                    last = i
                    found.append(event(xx, j, i))
            if open_rest_rise is not None:
                found += _open_rest_drops(tt, xx, open_rest_rise, open_rest_sigmas, max_before, max_rise, rest, hold,
                                          max_closed, rearm, evidence, event, [e["time"] for e in found])
            out += found
    return _frame(out)


def _clears_rest(tt, xx, j, i, rest, sigmas, scale) -> bool:
    """The rise from sample j to i is at least ``sigmas`` times the robust spread (1.4826 x MAD) of the ``rest``
    seconds up to j, on the logit of ``mouth_open`` (``scale="logit"``) or on its [0, 1] scale."""
    v = _logit(xx) if scale == "logit" else xx
    return bool(v[i] - v[j] >= sigmas * _spread(v[(tt >= tt[j] - rest) & (tt <= tt[j])]))


def _spread(v) -> float:
    """Robust spread of finite values: 1.4826 x the median absolute deviation."""
    m = float(np.median(v))
    return 1.4826 * float(np.median(np.abs(v - m)))


def _logit(x):
    x = np.clip(np.asarray(x, float), 1e-6, 1 - 1e-6)
    return np.log(x / (1 - x))


def _open_rest_drops(tt, xx, rise, sigmas, max_before, max_rise, rest, hold, max_closed, rearm, evidence, event,
                     taken):
    """Jaw drops from a mouth that rests open (median of the ``rest`` before above ``max_before``, where the
    ``mouth_open`` scale leaves no room to rise): the same tests on the logit of ``mouth_open`` (the aperture on its
    own linear scale, :data:`cxsense.encoders.face.cues.ANCHORS`), a rise of at least ``rise`` logits and at least
    ``sigmas`` times the resting stretch's robust spread, from a low within ``rise / 2`` of the rest's median (not a
    one-sample dip of a mouth held open), held as in :func:`_rests_then_holds`."""
    zz, out, last = _logit(xx), [], -1
    for j, i in _opening_rises(tt, zz, float(_logit(0.7)), rise, np.inf, max_rise, rearm):
        before = (tt >= tt[j] - rest) & (tt <= tt[j])
        if j < last or tt[j] - tt[before][0] < rest / 2 - 1e-9 or np.median(xx[before]) <= max_before:
            continue
        if np.median(zz[before]) > zz[j] + rise / 2:  # a dip of a mouth held open, not a rest it rises from
            continue
        if not _clears_rest(tt, xx, j, i, rest, sigmas, "logit"):
            continue
        if hold > 0:
            after = (tt >= tt[i]) & (tt <= tt[i] + hold + 1e-9)
            shut = zz[j] + rise / 2
            if (tt[after][-1] - tt[i] < 0.8 * hold - 1e-9 or float(np.median(zz[after])) < shut
                    or int(np.sum(zz[after] <= shut)) > max_closed):
                continue
        if not evidence(j, i):
            continue
        e = event(zz, j, i)
        if any(abs(e["time"] - t0) <= max_rise for t0 in taken):
            continue
        last = i
        out.append(e)
    return out


def _crosses(v, win, pre, level) -> bool:
    """``v`` reaches ``level`` in the window ``win`` from a resting median (over ``pre``) below it."""
    rest = v[pre][np.isfinite(v[pre])]
    return bool(np.nanmax(v[win], initial=0.0) >= level and len(rest) and np.median(rest) < level)


def _rests_then_holds(tt, xx, j, i, max_before, rest, hold, max_closed, min_rise, min_open) -> bool:
    """The mouth rested at most ``max_before`` (median of the ``rest`` seconds up to sample j, seen for at least half
    of them) and stays open after reaching the top at sample i (median of the ``hold`` seconds from i at least
    ``min_open`` and ``xx[j] + min_rise / 2``, with samples spanning at least 80 % of it, and at most ``max_closed``
    of them back at or below ``xx[j] + min_rise / 2``): a jaw drop, not syllables or a one-frame dip of a mouth held
    open."""
    before = (tt >= tt[j] - rest) & (tt <= tt[j])
    if tt[j] - tt[before][0] < rest / 2 - 1e-9 or np.median(xx[before]) > max_before:
        return False
    if hold <= 0:
        return True
    after = (tt >= tt[i]) & (tt <= tt[i] + hold + 1e-9)
    shut = xx[j] + min_rise / 2
    return (tt[after][-1] - tt[i] >= 0.8 * hold - 1e-9 and float(np.median(xx[after])) >= max(min_open, shut)
            and int(np.sum(xx[after] <= shut)) <= max_closed)


def smile_onset_events(timeline, low: float = 0.3, high: float = 0.6, max_rise: float = 3.0, max_gap: float = 1.0):
    """``smile_onset`` events: ``smile`` rising from ``low`` to ``high`` within ``max_rise`` seconds."""
    _check(timeline, ("smile",))
    return _frame(_rise_events(timeline, "smile", "smile_onset", low, high, max_rise, max_gap))


def is_attentive(gaze_on_camera, head_yaw, min_gaze: float = 0.5, max_yaw: float = 30.0) -> np.ndarray:
    """Per sample: ``gaze_on_camera >= min_gaze`` and ``|head_yaw| < max_yaw`` (False where either is NaN)."""
    g, y = np.asarray(gaze_on_camera, float), np.asarray(head_yaw, float)
    with np.errstate(invalid="ignore"):
        return (g >= min_gaze) & (np.abs(y) < max_yaw)


def looked_away_events(timeline, min_duration: float = 1.0, min_gaze: float = 0.5, max_yaw: float = 30.0,
                       max_gap: float = 1.0):
    """``looked_away`` events: inattentive for at least ``min_duration`` seconds after an attentive sample.

    A run's duration is from its first inattentive sample to the next attentive one (or its last sample plus one
    median step at the end of the data).
    """
    _check(timeline, ("gaze_on_camera", "head_yaw"))
    out = []
    for person, t, v in _series(timeline, ("gaze_on_camera", "head_yaw")):
        att = is_attentive(v["gaze_on_camera"], v["head_yaw"], min_gaze, max_yaw)
        step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        for a, b in _segments(t, max_gap):
            seen, i = False, a
            while i < b:
                if att[i]:
                    seen, i = True, i + 1
                    continue
                j = i
                while j < b and not att[j]:
                    j += 1
                end = t[j] if j < b else t[b - 1] + step
                if seen and end - t[i] >= min_duration - 1e-9:
                    out.append({"time": float(t[i]), "person": person, "kind": "looked_away",
                                "signal": "gaze_on_camera", "strength": float(end - t[i]), "peak_time": float(end),
                                "peak_value": float(np.nanmin(v["gaze_on_camera"][i:j]))})
                i = j
    return _frame(out)


def cue_events(timeline):
    """All cue events the timeline's columns allow (``jaw_drop``, ``smile_onset``, ``looked_away``), by time."""
    import pandas as pd

    _check(timeline, ())
    parts = []
    if "mouth_open" in timeline.columns:
        parts.append(jaw_drop_events(timeline))
    if "smile" in timeline.columns:
        parts.append(smile_onset_events(timeline))
    if {"gaze_on_camera", "head_yaw"} <= set(timeline.columns):
        parts.append(looked_away_events(timeline))
    if not parts:
        return _frame([])
    return pd.concat(parts, ignore_index=True).sort_values(["time", "person"], kind="stable").reset_index(drop=True)


def attention_share(timeline, min_gaze: float = 0.5, max_yaw: float = 30.0) -> float | None:
    """Share of the samples with a face that are attentive (:func:`is_attentive`); None without any face."""
    _check(timeline, ("gaze_on_camera", "head_yaw"))
    g = np.asarray(timeline["gaze_on_camera"], float)
    y = np.asarray(timeline["head_yaw"], float)
    face = np.isfinite(g) & np.isfinite(y)
    return None if not face.any() else float(is_attentive(g[face], y[face], min_gaze, max_yaw).mean())


def count_blinks(t, eyes_open, closed: float = 0.3, opened: float = 0.6, max_blink: float = 0.5,
                 max_gap: float = 1.0) -> int:
    """Blinks in one series: ``eyes_open`` falls from at least ``opened`` to at most ``closed`` and is back to
    ``opened`` within ``max_blink`` seconds of leaving it (longer closures are not blinks)."""
    t, x = np.asarray(t, float), np.asarray(eyes_open, float)
    ok = np.isfinite(t) & np.isfinite(x)
    t, x = t[ok], x[ok]
    n = 0
    for a, b in _segments(t, max_gap):
        last_open, shut = None, False
        for i in range(a, b):
            if x[i] >= opened:
                if shut and last_open is not None and t[i] - t[last_open] <= max_blink + 1e-9:
                    n += 1
                last_open, shut = i, False
            elif x[i] <= closed and last_open is not None:
                shut = True
    return n


def blink_rate(timeline, min_fps: float = 10.0, **kw) -> float | None:
    """Blinks per minute of face time (:func:`count_blinks` per person, summed, over the summed face time);
    None without a face or when the samples are sparser than ``min_fps`` per second (a blink lasts 0.1-0.4 s)."""
    _check(timeline, ("eyes_open",))
    total_n, total_t = 0, 0.0
    for _, t, v in _series(timeline, ("eyes_open",)):
        if len(t) < 2:
            continue
        step = float(np.median(np.diff(t)))
        if step <= 0 or 1.0 / step < min_fps - 1e-9:
            return None
        total_n += count_blinks(t, v["eyes_open"], **kw)
        total_t += sum(t[b - 1] - t[a] + step for a, b in _segments(t, kw.get("max_gap", 1.0)))
    return None if total_t <= 0 else 60.0 * total_n / total_t
