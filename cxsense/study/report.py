"""A self-contained HTML study report: inline SVG and tables, no script, no network, no CDN.

Sections: the study at a glance (recordings analysed, reused, failed; viewers per variant; settings and the
interval used); the overview curves (per measure, one line per variant with its 95 % band and its key moments
marked; viewers contributing per step); the key moments; the comparison between variants; the recordings that
failed and why; the models and their measured accuracy; the limits. The style follows
:mod:`cxsense.session.report`.
"""

from __future__ import annotations

import html
import math
import os

import numpy as np

from ..session.report import LIMITS, _axes, _models_table, _poly, _segment_marks, _svg, _table, _x, _y
from .aggregate import CUE_MEASURES, RANGES

__all__ = ["write_study_report", "render_study_report"]

FIRST = ("valence", "arousal", "stress", "happiness", "surprise", "sadness", "anger", "fear", "disgust", "neutral")
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 960px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; } h3 { font-size: 14px; margin: 14px 0 2px; }
table { border-collapse: collapse; font-size: 11px; margin: 8px 0; }
td, th { border: 1px solid #ddd; padding: 2px 5px; text-align: right; } th { background: #f0f0f0; }
.sw { display: inline-block; width: 11px; height: 11px; margin: 0 3px 0 10px; vertical-align: middle; }
.legend { font-size: 12px; } .limits { font-size: 12px; color: #444; background: #f7f7f2; padding: 8px; }
.note { font-size: 12px; color: #444; } svg { display: block; margin: 4px 0; } .wide { overflow-x: auto; }
.bad { color: #a00; }
"""


def _colors(variants) -> dict:
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(variants)}


def _y_range(measure: str, agg) -> tuple[float, float]:
    lo, hi = RANGES.get(measure, (None, None))
    if lo is None or not len(agg):
        x = agg[[f"{measure}_lo", f"{measure}_hi"]].to_numpy(float) if len(agg) else np.zeros((1, 2))
        return float(x.min()), float(max(x.max(), x.min() + 1e-6))
    if (lo, hi) == (0.0, 1.0) and measure not in CUE_MEASURES:  # an emotion: zoom to where the means are
        top = float(agg[f"{measure}_mean"].max())
        return 0.0, float(min(1.0, max(0.2, math.ceil(top * 12) / 10)))
    return lo, hi


def _panel(agg, moments, measure, colors, t1, step, marks) -> str:
    lo, hi = _y_range(measure, agg)
    out = _axes(0.0, t1, lo, hi, measure + " (mean, 95% band per variant)")
    for v, c in colors.items():
        g = agg[agg["variant"] == v].sort_values("stimulus_time")
        if not len(g):
            continue
        xs = _x(g["stimulus_time"].to_numpy(float) + step / 2, 0.0, t1)
        bl = _y(np.clip(g[f"{measure}_lo"].to_numpy(float), lo, hi), lo, hi)
        bh = _y(np.clip(g[f"{measure}_hi"].to_numpy(float), lo, hi), lo, hi)
        out.append(f'<polygon points="{_poly(xs, bh)} {_poly(xs[::-1], bl[::-1])}" fill="{c}" fill-opacity="0.15" '
                   f'stroke="none"><title>{html.escape(v)}: 95% interval</title></polygon>')
        ym = _y(np.clip(g[f"{measure}_mean"].to_numpy(float), lo, hi), lo, hi)
        out.append(f'<polyline points="{_poly(xs, ym)}" fill="none" stroke="{c}" stroke-width="1.8">'
                   f'<title>{html.escape(v)}: mean {html.escape(measure)}</title></polyline>')
        mm = moments[(moments["variant"] == v) & (moments["measure"] == measure)] if len(moments) else moments
        for _, m in mm.iterrows():
            x = float(_x(m["stimulus_time"] + step / 2, 0.0, t1))
            y = float(_y(min(max(m["value"], lo), hi), lo, hi))
            shape = "M{0:.1f},{1:.1f} l5,-9 l-10,0 z" if m["kind"] != "onset" else "M{0:.1f},{1:.1f} l5,9 l-10,0 z"
            out.append(f'<path d="{shape.format(x, y - 2 if m["kind"] != "onset" else y + 2)}" fill="{c}" stroke="#222" '
                       f'stroke-width="0.6"><title>{html.escape(str(v))}: {html.escape(str(m["kind"]))} of '
                       f'{html.escape(measure)} at {m["stimulus_time"]:.1f} s, {100 * m["share_of_viewers"]:.0f}% of '
                       f'viewers</title></path>')
    return _svg(out + marks)


def _viewers_panel(agg, colors, t1, step, marks) -> str:
    top = float(max(1, agg["n"].max())) * 1.15 if len(agg) else 1.0
    out = _axes(0.0, t1, 0.0, top, "viewers with signal per step")
    for v, c in colors.items():
        g = agg[agg["variant"] == v].sort_values("stimulus_time")
        if len(g):
            xs = _x(g["stimulus_time"].to_numpy(float) + step / 2, 0.0, t1)
            out.append(f'<polyline points="{_poly(xs, _y(g["n"].to_numpy(float), 0.0, top))}" fill="none" '
                       f'stroke="{c}" stroke-width="1.5"><title>{html.escape(v)}</title></polyline>')
    return _svg(out + marks)


def render_study_report(study, title: str | None = None) -> str:
    """The report of a :class:`~cxsense.study.Study` as one HTML string (see the module docstring)."""
    from .._version import __version__

    agg, mom, rec, info = study.aggregate, study.moments, study.recordings, study.info
    title = title or f"cxsense study report: {info.get('manifest', '')}"
    step = float(info.get("options", {}).get("step", 1.0))
    variants = sorted(agg["variant"].unique()) if len(agg) else sorted(rec["variant"].unique())
    colors = _colors(variants)
    t1 = float(agg["stimulus_time"].max() + step) if len(agg) else step
    t1 = float(math.ceil(t1 / 6.0) * 6.0)  # the shared axes put 7 ticks: whole seconds
    segs = info.get("segments") if info.get("segments_given") else None
    marks = _segment_marks(segs, 0.0, t1) if segs else []
    legend = " ".join(f'<span class="sw" style="background:{c}"></span>{html.escape(v)}' for v, c in colors.items())
    present = [c[:-5] for c in agg.columns if c.endswith("_mean")]
    measures = [m for m in FIRST if m in present] + [m for m in present if m not in FIRST]
    panels = [_viewers_panel(agg, colors, t1, step, marks)]
    panels += [_panel(agg, mom, m, colors, t1, step, marks) for m in measures]
    counts = rec["status"].value_counts().to_dict()
    per_variant = rec[rec["status"] != "failed"].groupby("variant").size().to_dict()
    failed = rec[rec["status"] == "failed"][["recording", "viewer", "variant", "reason"]]
    glance = (f"{len(rec)} recordings: {counts.get('ok', 0)} analysed, {counts.get('reused', 0)} reused from an "
              f"earlier run, <span class='{'bad' if counts.get('failed') else ''}'>{counts.get('failed', 0)} failed"
              f"</span>. Viewers per variant: " + ", ".join(f"{html.escape(str(k))} {v}" for k, v in per_variant.items())
              + ".")
    o = info.get("options", {})
    settings = ", ".join(f"{k} = {v}" for k, v in o.items())
    cmp = study.compare
    if cmp is None:
        cmp_html = "<p><em>One variant only: nothing to compare.</em></p>"
    else:
        top = cmp.sort_values(["p_value", "segment", "measure"], kind="stable").head(60)
        cmp_html = (f"<p class='note'>{html.escape(info.get('compare_method', ''))} The 60 rows with the smallest "
                    f"p-values; all {len(cmp)} are in compare.csv.</p>" + _table(top))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{glance}</p>
<p class="note">Engine: {html.escape(str(info.get('engine', {}).get('engine', '')))}; settings: {html.escape(settings)}.
Timelines kept in: {html.escape(str(info.get('timelines', '')))}. Made by cxsense {__version__}.</p>
<h2>Reaction over the stimulus</h2>
<p class="note">Each line is a variant's mean over its viewers at each step of stimulus time; the band is the
{html.escape(info.get('interval', ''))}. Triangles mark key moments (pointing down: peaks and other reactions;
up: onsets).</p>
<p class="legend">{legend}</p>
{''.join(panels)}
<h2>Key moments</h2>
<p class="note">{html.escape(info.get('moments_method', ''))}</p>
{_table(mom)}
<h2>Comparison between variants</h2>
{cmp_html}
<h2>Recordings that failed</h2>
{_table(failed)}
<h2>Models and their measured accuracy</h2>
{_table(_models_table())}
<h2>Limits</h2>
<p class="limits">{html.escape(LIMITS)} Viewer ids are the manifest's pseudonyms; a study's curves describe
what the group of viewers showed, not any one person.</p>
</body></html>
"""


def write_study_report(study, path, title: str | None = None) -> None:
    """Write :func:`render_study_report` to ``path`` (UTF-8)."""
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(render_study_report(study, title=title))
