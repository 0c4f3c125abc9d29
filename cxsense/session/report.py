"""A self-contained HTML report of a session: inline SVG plots and tables, no script, no network, no CDN.

Per person: stacked emotion probabilities, valence and arousal, stress (with the events marked); then
the events, the per-segment summary, and the models used with their measured accuracy and limits (from
``models/registry.json`` and the model cards' figures).
"""

from __future__ import annotations

import html
import os

import numpy as np

from ..emotions import EMOTIONS

__all__ = ["write_report", "render_report"]

COLORS = {"anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happiness": "#f2b701",
          "sadness": "#1f77b4", "surprise": "#17becf", "neutral": "#b0b0b0"}
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 900, 170, 46, 12, 10, 26

LIMITS = ("These are estimates of expressed emotion (what a face, a voice or a body shows), not of inner feelings, "
          "and never of identity. The face model was trained on FER-2013 (web images, research use only), the voice "
          "model on RAVDESS (acted North-American English, CC BY-NC-SA 4.0: non-commercial use), the physiology model "
          "on Stress-Predict (28 wrist-band wearers); the fusion on pseudo-pairs of these. Accuracy on other people, "
          "cameras, languages and situations is lower than on these datasets. Person ids are face tracks, not "
          "identities. Emotion recognition is prohibited at work and in education in the EU (AI Act Art. 5(1)(f)); "
          "tell people when it is used.")


def _x(t, t0, t1):
    return PAD_L + (W - PAD_L - PAD_R) * (np.asarray(t, float) - t0) / max(t1 - t0, 1e-9)


def _y(v, lo, hi):
    return PAD_T + (H - PAD_T - PAD_B) * (1 - (np.asarray(v, float) - lo) / (hi - lo))


def _axes(t0, t1, lo, hi, label):
    out = [f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" fill="#fafafa" stroke="#ccc"/>']
    for v in (lo, (lo + hi) / 2, hi):
        y = _y(v, lo, hi)
        out.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{v:g}</text>')
        out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
    n = 6
    for k in range(n + 1):
        t = t0 + (t1 - t0) * k / n
        x = _x(t, t0, t1)
        out.append(f'<text x="{x:.1f}" y="{H - 8}" font-size="10" text-anchor="middle">{t:.0f} s</text>')
    out.append(f'<text x="{PAD_L + 4}" y="{PAD_T + 12}" font-size="11" fill="#444">{html.escape(label)}</text>')
    return out


def _poly(xs, ys):
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))


def _stacked(g, t0, t1):
    t = g["time"].to_numpy(float)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    tt = np.repeat(t, 2) + np.tile([0.0, step], len(t))
    P = g[list(EMOTIONS)].to_numpy(float)
    P = np.repeat(P, 2, axis=0)
    out = _axes(t0, t1, 0, 1, "emotion probabilities (stacked)")
    base = np.zeros(len(tt))
    xs = _x(tt, t0, t1)
    for k, e in enumerate(EMOTIONS):
        top = base + P[:, k]
        pts = _poly(xs, _y(top, 0, 1)) + " " + _poly(xs[::-1], _y(base[::-1], 0, 1))
        out.append(f'<polygon points="{pts}" fill="{COLORS[e]}" fill-opacity="0.85" stroke="none"><title>{e}</title></polygon>')
        base = top
    return out


def _lines(g, t0, t1, cols, lo, hi, label, events=None):
    out = _axes(t0, t1, lo, hi, label)
    t = g["time"].to_numpy(float)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    palette = {"valence": "#2ca02c", "arousal": "#ff7f0e", "stress": "#d62728"}
    for c in cols:
        out.append(f'<polyline points="{_poly(_x(t + step / 2, t0, t1), _y(g[c].to_numpy(float), lo, hi))}" '
                   f'fill="none" stroke="{palette.get(c, "#333")}" stroke-width="1.8"><title>{c}</title></polyline>')
    if events is not None:
        for _, ev in events.iterrows():
            x = float(_x(ev["time"] + step / 2, t0, t1))
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" stroke="#555" stroke-dasharray="3,3">'
                       f'<title>{html.escape(str(ev["kind"]))} {html.escape(str(ev["signal"]))} at {ev["time"]:.1f} s</title></line>')
    legend_x = W - PAD_R - 90 * len(cols)
    for k, c in enumerate(cols):
        out.append(f'<text x="{legend_x + 90 * k}" y="{PAD_T + 12}" font-size="11" fill="{palette.get(c, "#333")}">{c}</text>')
    return out


def _segment_marks(segs, t0, t1):
    """Alternate light bands for user segments, with their names along the top."""
    out = []
    for k, (name, a, b) in enumerate(segs):
        xa, xb = float(_x(max(a, t0), t0, t1)), float(_x(min(b, t1), t0, t1))
        if xb <= xa:
            continue
        if k % 2 == 0:
            out.append(f'<rect x="{xa:.1f}" y="{PAD_T}" width="{xb - xa:.1f}" height="{H - PAD_T - PAD_B}" '
                       f'fill="#000" fill-opacity="0.05"/>')
        out.append(f'<text x="{xa + 3:.1f}" y="{H - PAD_B - 4}" font-size="10" fill="#555">{html.escape(name)}</text>')
    return out


def _svg(parts):
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">' + "".join(parts) + "</svg>"


def _table(df, floatfmt="{:.3f}", max_rows=200):
    if df is None or len(df) == 0:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.head(max_rows).iterrows():
        cells = []
        for v in r.values:
            s = floatfmt.format(v) if isinstance(v, (float, np.floating)) else str(v)
            cells.append(f"<td>{html.escape(s)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>{len(df) - max_rows} more rows in the CSV.</p>" if len(df) > max_rows else ""
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{more}"


def _models_table():
    import pandas as pd

    from ..registry import list_models

    rows = []
    for name, e in list_models().items():
        rows.append({"model": name, "version": e.get("version", ""), "measured (see card)": e.get("figures", "see model card"),
                     "licence": e.get("licence", ""), "card": e.get("card", "")})
    return pd.DataFrame(rows)


def render_report(session, segments=None, title: str | None = None) -> str:
    """The report as one HTML string (see the module docstring)."""
    from .._version import __version__

    tl, ev, info = session.timeline, session.events, session.info
    title = title or f"cxsense session report: {info.get('video', '')}"
    t0 = 0.0
    t1 = max(float(info.get("duration_s") or 0.0), float(tl["time"].max() + info.get("step_s", 1.0)) if len(tl) else 1.0)
    legend = " ".join(f'<span class="sw" style="background:{COLORS[e]}"></span>{e}' for e in EMOTIONS)
    people = []
    from .events import parse_segments

    marks = _segment_marks(parse_segments(segments), t0, t1) if segments is not None else []
    ok = tl[tl["emotion"] != "no_signal"] if len(tl) else tl
    groups = sorted(ok.groupby("person", sort=True), key=lambda kv: (kv[0] == "-", kv[0]))  # "no face" last
    for person, g in groups:
        g = g.sort_values("time")
        pe = ev[(ev["person"] == person) & (ev["kind"] != "onset")] if len(ev) else ev
        people.append(
            (f"<h2>Person {html.escape(str(person))}</h2>" if person != "-" else
             "<h2>No face in view (voice and body only)</h2>") + f"<p class='legend'>{legend}</p>"
            + _svg(_stacked(g, t0, t1) + marks)
            + _svg(_lines(g, t0, t1, ["valence", "arousal"], -1, 1, "valence and arousal") + marks)
            + _svg(_lines(g, t0, t1, ["stress"], 0, 1, "stress (dashed: events)", pe) + marks))
    if not people:
        people.append("<p><em>No usable signal in any step.</em></p>")
    summary = session.summary(segments)
    keep = ["segment", "start", "end", "person", "steps"] + [f"{e}_mean" for e in EMOTIONS] + \
           [f"{e}_share" for e in EMOTIONS] + ["valence_mean", "arousal_mean", "stress_mean"]
    summary = summary[[c for c in keep if c in summary.columns]] if len(summary) else summary
    peaks = summary.copy()
    settings = ", ".join(f"{k} = {info[k]}" for k in ("duration_s", "step_s", "fps_analysed", "frames_decoded",
                                                         "frames_analysed", "has_audio", "physio", "persons")
                         if k in info)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in info.get("notes", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 960px; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
table {{ border-collapse: collapse; font-size: 11px; margin: 8px 0; }}
td, th {{ border: 1px solid #ddd; padding: 2px 5px; text-align: right; }} th {{ background: #f0f0f0; }}
.sw {{ display: inline-block; width: 11px; height: 11px; margin: 0 3px 0 10px; vertical-align: middle; }}
.legend {{ font-size: 12px; }} .limits {{ font-size: 12px; color: #444; background: #f7f7f2; padding: 8px; }}
svg {{ display: block; margin: 4px 0; }} .wide {{ overflow-x: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(settings)}. Made by cxsense {__version__}, entirely on this machine.</p>
{"<ul>" + notes + "</ul>" if notes else ""}
{''.join(people)}
<h2>Reaction events</h2>
{_table(ev)}
<h2>Summary per segment</h2>
{_table(peaks)}
<h2>Models and their measured accuracy</h2>
{_table(_models_table())}
<h2>Limits</h2>
<p class="limits">{html.escape(LIMITS)}</p>
</body></html>
"""


def write_report(session, path, segments=None, title: str | None = None) -> None:
    """Write :func:`render_report` to ``path`` (UTF-8)."""
    text = render_report(session, segments=segments, title=title)
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(text)
