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

from ..session.charts import Chart, legend_html
from ..session.report import _CSS, LIMITS, _table, model_figures
from .aggregate import CUE_MEASURES, RANGES

__all__ = ["write_study_report", "render_study_report"]

FIRST = ("valence", "arousal", "stress", "happiness", "surprise", "sadness", "anger", "fear", "disgust", "neutral")
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
STYLE = _CSS + ".bad { color: #a00; } .note { font-size: 12px; color: #444; }"


def _colors(variants) -> dict:
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(variants)}


def _y_range(measure: str, agg) -> tuple[float, float]:
    lo, hi = RANGES.get(measure, (None, None))
    if lo is None:
        x = agg[[f"{measure}_lo", f"{measure}_hi"]].to_numpy(float) if len(agg) else np.zeros((1, 2))
        return float(np.nanmin(x)), float(max(np.nanmax(x), np.nanmin(x) + 1e-6))
    if (lo, hi) == (0.0, 1.0) and measure not in CUE_MEASURES and len(agg):  # an emotion: zoom to the means
        top = float(agg[f"{measure}_mean"].max())
        return 0.0, float(min(1.0, max(0.2, math.ceil(top * 12) / 10)))
    return lo, hi


def _panel(agg, moments, measure, colors, t1, step, segs) -> str:
    lo, hi = _y_range(measure, agg)
    ch = Chart(0.0, t1, lo, hi, f"{measure}: mean and 95% interval over viewers", segments=segs, height=110)
    for v, c in colors.items():
        g = agg[agg["variant"] == v].sort_values("stimulus_time")
        if len(g):
            band = (np.clip(g[f"{measure}_lo"].to_numpy(float), lo, hi), np.clip(g[f"{measure}_hi"].to_numpy(float), lo, hi))
            ch.line(g["stimulus_time"].to_numpy(float) + step / 2, np.clip(g[f"{measure}_mean"].to_numpy(float), lo, hi),
                    c, f"{v}: mean {measure}", band=band)
    mm = moments[moments["measure"] == measure] if len(moments) else moments
    ch.markers([(m["stimulus_time"] + step / 2, m["#"], f"{m['variant']}: {m['kind']} of {measure} at "
                 f"{m['stimulus_time']:g} s, {100 * m['share_of_viewers']:.0f}% of viewers") for _, m in mm.iterrows()])
    return ch.legend(colors).svg()


def _viewers_panel(agg, colors, t1, step, segs) -> str:
    top = float(max(1, agg["n"].max())) * 1.15 if len(agg) else 1.0
    ch = Chart(0.0, t1, 0.0, top, "viewers with signal per step", segments=segs, height=70,
               yticks=(0, round(top / 1.15)))
    for v, c in colors.items():
        g = agg[agg["variant"] == v].sort_values("stimulus_time")
        if len(g):
            ch.line(g["stimulus_time"].to_numpy(float) + step / 2, g["n"].to_numpy(float), c, v, width=1.5)
    return ch.legend(colors).svg()


def render_study_report(study, title: str | None = None) -> str:
    """The report of a :class:`~cxsense.study.Study` as one HTML string (see the module docstring)."""
    import pandas as pd

    from .._version import __version__

    agg, mom, rec, info = study.aggregate, study.moments, study.recordings, study.info
    title = title or f"cxsense study report: {info.get('manifest', '')}"
    step = float(info.get("options", {}).get("step", 1.0))
    variants = sorted(agg["variant"].unique()) if len(agg) else sorted(rec["variant"].unique())
    colors = _colors(variants)
    t1 = float(agg["stimulus_time"].max() + step) if len(agg) else step
    segs = [tuple(x) for x in info.get("segments", [])] if info.get("segments_given") else None
    legend = legend_html(list(colors), colors)
    mom = mom.reset_index(drop=True)
    mom.insert(0, "#", range(1, len(mom) + 1))
    present = [c[:-5] for c in agg.columns if c.endswith("_mean")]
    measures = [m for m in FIRST if m in present] + [m for m in present if m not in FIRST]
    panels = [_viewers_panel(agg, colors, t1, step, segs)]
    panels += [_panel(agg, mom, m, colors, t1, step, segs) for m in measures]
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
        top = cmp.sort_values(["p_value", "segment", "measure"], kind="stable").head(60).copy()
        for c in ("p_value", "p_holm"):  # small p-values need more than two decimals
            top[c] = [f"{p:.2g}" for p in top[c]]
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
{html.escape(info.get('interval', ''))}. Numbered marks are the key moments listed below.</p>
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
{_table(pd.DataFrame(model_figures()))}
<h2>Limits</h2>
<p class="limits">{html.escape(LIMITS)} Viewer ids are the manifest's pseudonyms; a study's curves describe
what the group of viewers showed, not any one person.</p>
</body></html>
"""


def write_study_report(study, path, title: str | None = None) -> None:
    """Write :func:`render_study_report` to ``path`` (UTF-8)."""
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(render_study_report(study, title=title))
