"""A self-contained HTML report of a session: inline SVG charts and tables, no script, no font, no network.

Order, for an analyst who presents it: the overview first (the whole recording's reaction curve across persons,
valence, arousal and stress, with the key moments - emotion peaks, stress rises and facial cue events - numbered
on the curve and listed by time and measure), the
per-segment table (one row per segment across persons, with its dominant emotion), then each person present long
enough, in order of first appearance, then what happened (notes), the models with their measured figures (from the
model cards) and the limits. No face image and no raw signal is kept in a report.
"""

from __future__ import annotations

import html
import os
import re

import numpy as np

from ..emotions import EMOTIONS
from .charts import COLORS, LINE_COLORS, Chart, clock, legend_html

__all__ = ["write_report", "render_report", "model_figures", "PRESENT_SHARE"]

#: A person gets a section when seen in at least this share of the steps with signal (and in 3 steps).
PRESENT_SHARE = 0.05

LIMITS = ("These are estimates of expressed emotion (what a face, a voice or a body shows), not of inner feelings, "
          "and never of identity. The face model was trained on FER-2013 (web images, research use only), the voice "
          "model on RAVDESS (acted North-American English, CC BY-NC-SA 4.0: non-commercial use), the physiology model "
          "on Stress-Predict (28 wrist-band wearers); the fusion on pseudo-pairs of these. Accuracy on other people, "
          "cameras, languages and situations is lower than on these datasets. Person ids are face tracks, not "
          "identities. Emotion recognition is prohibited at work and in education in the EU (AI Act Art. 5(1)(f)); "
          "tell people when it is used.")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; color: #222;
       max-width: 960px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 30px; border-bottom: 1px solid #ddd; }
.meta { color: #555; font-size: 13px; } .notes { background: #fff8e6; border-left: 4px solid #f0b429; padding: 6px 12px;
font-size: 13px; } table { border-collapse: collapse; font-size: 12px; margin: 8px 0; width: 100%; }
td, th { border-bottom: 1px solid #e5e5e5; padding: 3px 6px; text-align: right; } th { background: #f3f4f6; }
td.t, th.t { text-align: left; } .sw { display: inline-block; width: 11px; height: 11px;
margin: 0 3px 0 10px; vertical-align: middle; border-radius: 2px; } .legend { font-size: 12px; margin: 2px 0; }
.limits { font-size: 12px; color: #444; background: #f7f7f2; padding: 8px; } svg { display: block; margin: 6px 0 10px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; vertical-align: -1px; }
"""


def _signal(tl):
    return tl[tl["emotion"] != "no_signal"] if len(tl) else tl


def _step(tl, info) -> float:
    return float(info.get("step_s") or (np.median(np.diff(np.unique(tl["time"]))) if tl["time"].nunique() > 1 else 1.0))


def _mean_curve(rows):
    """Per time: the mean over rows of the emotion probabilities (rows with categorical evidence) and of valence,
    arousal and stress (all rows with signal)."""
    ok = _signal(rows)
    if "categorical_evidence" in ok:
        cat = ok[ok["categorical_evidence"].astype(bool)]
    else:
        cat = ok
    probs = cat.groupby("time")[list(EMOTIONS)].mean()
    dims = ok.groupby("time")[["valence", "arousal", "stress"]].mean()
    return probs, dims


def _charts(rows, t0, t1, step, segs, title, markers=(), stress_events=()):
    probs, dims = _mean_curve(rows)
    out = []
    if len(probs):
        c = Chart(t0, t1, 0, 1, f"{title}: emotion probabilities (stacked)", segs, yticks=(0, 0.5, 1))
        out.append(c.stacked(probs.index.to_numpy(float), probs.to_numpy(float), step).markers(markers).svg())
    if len(dims):
        tt = dims.index.to_numpy(float) + step / 2
        va = Chart(t0, t1, -1, 1, f"{title}: valence and arousal", segs, height=90)
        for k in ("valence", "arousal"):
            va.line(tt, dims[k].to_numpy(float), LINE_COLORS[k], k, gap=1.5 * step)
        out.append(va.legend({k: LINE_COLORS[k] for k in ("valence", "arousal")}).svg())
        st = Chart(t0, t1, 0, 1, f"{title}: stress", segs, height=70, yticks=(0, 0.5, 1))
        st.line(tt, dims["stress"].to_numpy(float), LINE_COLORS["stress"], "stress", gap=1.5 * step)
        out.append(st.markers(stress_events).svg())
    return "".join(out) or "<p><em>No usable signal.</em></p>"


def _clock_tenths(t: float) -> str:
    """Seconds as ``m:ss.s`` (or ``h:mm:ss.s``)."""
    h, rest = divmod(round(float(t), 1), 3600)
    m, sec = divmod(rest, 60)
    return (f"{int(h)}:{int(m):02d}:" if h else f"{int(m)}:") + f"{sec:04.1f}"


#: Facial cue events (docs/cues.md, "Session events") listed among the key moments and marked on the emotion chart.
CUE_MOMENTS = {"jaw_drop": "jaw drop", "smile_onset": "smile onset", "looked_away": "looked away"}


def _moments(ev, n: int = 8):
    """The strongest peaks and stress rises, and the strongest facial cue events (each up to ``n``), numbered in time
    order: a DataFrame, and the markers for the emotion chart (peaks and cue events) and for the stress chart (stress
    rises). A cue event is placed at its onset; a looked-away event's strength is its duration in seconds."""
    import pandas as pd

    if ev is None or not len(ev):
        return pd.DataFrame(), [], []
    top = ev[ev["kind"].isin(["peak", "stress_rise"])].sort_values("strength", ascending=False).head(n)
    cues = ev[ev["kind"].isin(list(CUE_MOMENTS))].sort_values("strength", ascending=False).head(n)
    top = pd.concat([top.assign(at=top["peak_time"]), cues.assign(at=cues["time"])])
    top = top.sort_values(["at", "person"], kind="stable").reset_index(drop=True)
    rows, peaks, rises = [], [], []
    fine = bool((abs(top["at"] - top["at"].round()) > 1e-6).any())  # one time format for the whole table
    for k, e in top.iterrows():
        what = CUE_MOMENTS.get(e["kind"]) or (f"{e['signal']} peak" if e["kind"] == "peak" else "stress rise")
        at = float(e["at"])
        when = _clock_tenths(at) if fine else clock(at)
        rows.append({"#": k + 1, "time": when, "person": e["person"], "moment": what,
                     "level": round(float(e["peak_value"]), 2), "strength": round(float(e["strength"]), 2)})
        (rises if e["kind"] == "stress_rise" else peaks).append((at, k + 1, f"{what}, {e['person']}, {clock(at)}"))
    return pd.DataFrame(rows), peaks, rises


def _segment_table(tl, segs):
    """One row per segment across persons: steps, persons, dominant emotion, top reaction, means."""
    import pandas as pd

    ok = _signal(tl)
    rows = []
    for name, a, b in segs:
        g = ok[(ok["time"] >= a) & (ok["time"] < b)]
        cat = g[g["categorical_evidence"].astype(bool)] if "categorical_evidence" in g else g
        r = {"segment": name, "time": f"{clock(a)}-{clock(b)}", "steps": int(g["time"].nunique()),
             "persons": int(g.loc[g["person"] != "-", "person"].nunique())}
        if len(cat):
            share = cat["emotion"].value_counts(normalize=True)
            means = cat[list(EMOTIONS)].mean()
            r["dominant"] = f"{share.index[0]} ({share.iloc[0]:.0%})"
            top = means.drop("neutral").idxmax()
            r["top reaction"] = f"{top} ({means[top]:.2f})"
        else:
            r["dominant"] = r["top reaction"] = "-"
        for c in ("valence", "arousal", "stress"):
            r[c] = round(float(g[c].mean()), 2) if len(g) else float("nan")
        rows.append(r)
    return pd.DataFrame(rows)


def _table(df) -> str:
    if df is None or not len(df):
        return "<p><em>none</em></p>"
    import pandas as pd

    text = [not pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    head = "".join(f"<th{' class=t' if t else ''}>{html.escape(str(c))}</th>" for c, t in zip(df.columns, text))
    body = "".join("<tr>" + "".join(f"<td{' class=t' if t else ''}>{html.escape(_cell(v))}</td>"
                                    for v, t in zip(r, text)) + "</tr>" for r in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "-" if not np.isfinite(v) else f"{v:.2f}"
    return str(v)


def model_figures() -> list[dict]:
    """Each registered model with the measured figure its card states on a ``<!-- report: NAME: ... -->`` line."""
    from ..registry import list_models, models_dir

    out = []
    for name, e in list_models().items():
        fig = "see the model card"
        try:
            text = (models_dir() / e.get("card", "")).read_text(encoding="utf-8")
            m = re.search(r"<!-- report: " + re.escape(name) + r": (.*?) -->", text)
            fig = m.group(1).strip() if m else fig
        except OSError:
            pass
        out.append({"model": name, "version": e.get("version", ""), "measured": fig, "card": e.get("card", "")})
    return out


def _persons(tl):
    """Persons present long enough, in order of first appearance; and the others."""
    ok = _signal(tl)
    faces = ok[ok["person"] != "-"]
    n_steps = max(int(ok["time"].nunique()), 1)
    seen = faces.groupby("person")["time"].nunique()
    first = faces.groupby("person")["time"].min()
    order = sorted(seen.index, key=lambda p: (first[p], int(p[1:])))
    keep = [p for p in order if seen[p] >= max(3, PRESENT_SHARE * n_steps) or len(order) == 1]
    return keep, [p for p in order if p not in keep]


def render_report(session, segments=None, title: str | None = None) -> str:
    """The report as one HTML string (see the module docstring)."""
    import pandas as pd

    from .._version import __version__
    from .events import parse_segments

    tl, ev, info = session.timeline, session.events, session.info
    title = title or f"Session report: {info.get('video', '')}"
    step = _step(tl, info) if len(tl) else 1.0
    t0, t1 = 0.0, max(float(info.get("duration_s") or 0.0), float(tl["time"].max() + step) if len(tl) else 1.0)
    segs = parse_segments(segments) if segments is not None else []
    moments, peaks, rises = _moments(ev)
    keep, brief = _persons(tl)
    no_face = _signal(tl)[_signal(tl)["person"] == "-"] if len(tl) else tl
    with_no_face = no_face["time"].nunique() >= 3 if len(no_face) else False
    who = "all persons" if len(keep) + len(brief) != 1 or with_no_face else f"person {keep[0] if keep else brief[0]}"
    parts = [f"<h2>Overview: {who}</h2><p class='legend'>{legend_html(EMOTIONS, COLORS)}</p>",
             _charts(tl, t0, t1, step, segs, "Everyone" if who == "all persons" else who, peaks, rises),
             "<h3>Key moments</h3>", _table(moments)]
    if segs:
        parts += ["<h2>Segments</h2>", _table(_segment_table(tl, segs))]
    for p in keep if who == "all persons" else []:  # one person: the overview is theirs
        _, pp, pr = _moments(ev[ev["person"] == p] if len(ev) else ev)
        parts += [f"<h2>Person {html.escape(p)}</h2>", _charts(tl[tl["person"] == p], t0, t1, step, segs, p, pp, pr)]
    if with_no_face and who == "all persons":
        parts += ["<h2>No face in view (voice and body only)</h2>", _charts(no_face, t0, t1, step, segs, "No face")]
    if brief:
        parts.append(f"<p class='meta'>Seen too briefly for a section of their own: {html.escape(', '.join(brief))}.</p>")
    persons = len(keep) + len(brief)
    meta = (f"{clock(t1)} of video, {persons} person{'s' if persons != 1 else ''} seen, voice "
            f"{'read' if info.get('has_audio') else 'absent'}, physiology {'given' if info.get('physio') else 'not given'}; "
            f"{info.get('fps_analysed', 5):g} frames analysed per second, one row per {step:g} s.")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in info.get("notes", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(meta)} Made by cxsense {__version__}, entirely on this machine.</p>
{f'<div class="notes"><strong>What happened</strong><ul>{notes}</ul></div>' if notes else ''}
{''.join(parts)}
<h2>Models and their measured accuracy</h2>
{_table(pd.DataFrame(model_figures()))}
<h2>Limits</h2>
<p class="limits">{html.escape(LIMITS)}</p>
</body></html>
"""


def write_report(session, path, segments=None, title: str | None = None) -> None:
    """Write :func:`render_report` to ``path`` (UTF-8; only when asked)."""
    text = render_report(session, segments=segments, title=title)
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(text)
