"""Inline SVG charts for the self-contained reports (sessions and studies): time axes with tidy ticks, segment
strips, stacked emotion areas, lines with optional bands, and event markers. No script, no font, no network."""

from __future__ import annotations

import html
import math

import numpy as np

from ..emotions import EMOTIONS

__all__ = ["COLORS", "LINE_COLORS", "Chart", "nice_ticks", "clock", "legend_html"]

#: Emotion colours (colour-blind-safe order); neutral is a light warm grey, never used for anything else.
COLORS = {"anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happiness": "#f2b701",
          "sadness": "#1f77b4", "surprise": "#17becf", "neutral": "#d9d4cc"}
LINE_COLORS = {"valence": "#2ca02c", "arousal": "#ff7f0e", "stress": "#c0392b", "attention": "#34495e"}
_SEGMENT = "#e8eef8"  # the segment strip above a chart: pale blue, unlike any emotion colour


def clock(t: float) -> str:
    """Seconds as ``m:ss`` (or ``h:mm:ss``), or ``12.5 s`` under a minute when not whole."""
    if t < 60 and abs(t - round(t)) > 1e-6:
        return f"{t:.1f} s"
    t = int(round(t))
    h, m, s = t // 3600, (t % 3600) // 60, t % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def nice_ticks(t0: float, t1: float, target: int = 7) -> list[float]:
    """Tick positions at a 1-2-5 step that gives about ``target`` ticks between ``t0`` and ``t1``."""
    span = max(t1 - t0, 1e-9)
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if span >= 120:  # minutes: 15 s, 30 s, 1 min, 2, 5, 10, 15, 30 ...
        step = next((s for s in (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200) if s >= raw), step)
    first = math.ceil(t0 / step - 1e-9) * step
    return [round(first + k * step, 9) for k in range(int((t1 - first) / step + 1e-9) + 1)]


def legend_html(names, colors) -> str:
    """A line of colour swatches and names."""
    return " ".join(f'<span class="sw" style="background:{colors[n]}"></span>{html.escape(n)}' for n in names)


class Chart:
    """One SVG chart over time ``[t0, t1]`` and values ``[lo, hi]`` with a title and an optional segment strip.

    Parameters
    ----------
    t0, t1 : float, seconds
    lo, hi : float, the value axis
    title : str
    segments : list of (name, start, end), optional
    height : int, pixels of the plot area
    """

    W, L, R, TOP, BOTTOM, STRIP = 900, 52, 14, 22, 24, 16

    def __init__(self, t0, t1, lo, hi, title, segments=None, height: int = 120, yticks=None):
        self.t0, self.t1, self.lo, self.hi = float(t0), float(max(t1, t0 + 1e-6)), float(lo), float(hi)
        self.strip = self.STRIP if segments else 0
        self.y0 = self.TOP + self.strip
        self.h = height
        self.H = self.y0 + height + self.BOTTOM
        self.parts: list[str] = []
        self._frame(title, segments or [], yticks if yticks is not None else (lo, (lo + hi) / 2, hi))

    def x(self, t):
        return self.L + (self.W - self.L - self.R) * (np.asarray(t, float) - self.t0) / (self.t1 - self.t0)

    def y(self, v):
        return self.y0 + self.h * (1 - (np.asarray(v, float) - self.lo) / (self.hi - self.lo))

    def _frame(self, title, segments, yticks):
        p, right = self.parts, self.W - self.R
        p.append(f'<text x="{self.L}" y="14" font-size="12" font-weight="600" fill="#333">{html.escape(title)}</text>')
        p.append(f'<rect x="{self.L}" y="{self.y0}" width="{right - self.L}" height="{self.h}" fill="#fcfcfc" stroke="#ccc"/>')
        for v in yticks:
            y = float(self.y(v))
            p.append(f'<line x1="{self.L}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ececec"/>')
            p.append(f'<text x="{self.L - 5}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" fill="#555">{v:g}</text>')
        for t in nice_ticks(self.t0, self.t1):
            x = float(self.x(t))
            p.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.y0 + self.h}" y2="{self.y0 + self.h + 4}" stroke="#999"/>')
            p.append(f'<text x="{x:.1f}" y="{self.H - 8}" font-size="10" text-anchor="middle" fill="#555">{clock(t)}</text>')
        for k, (name, a, b) in enumerate(segments):
            xa, xb = float(self.x(max(a, self.t0))), float(self.x(min(b, self.t1)))
            if xb <= xa:
                continue
            fill = _SEGMENT if k % 2 == 0 else "#f4f7fc"
            p.append(f'<rect x="{xa:.1f}" y="{self.TOP}" width="{xb - xa:.1f}" height="{self.STRIP - 2}" fill="{fill}" '
                     f'stroke="#b8c6de"/><text x="{xa + 3:.1f}" y="{self.TOP + 11}" font-size="10" fill="#2c3e60">'
                     f'{html.escape(_fit(name, xb - xa))}</text>')
            p.append(f'<line x1="{xa:.1f}" x2="{xa:.1f}" y1="{self.y0}" y2="{self.y0 + self.h}" stroke="#b8c6de" '
                     f'stroke-dasharray="2,2"/>')

    def stacked(self, t, P, step: float) -> "Chart":
        """Stacked areas of probabilities ``P`` ``(n, 7)`` in EMOTIONS order, each row held for ``step`` seconds.
        Time without rows (a gap over half a step) stays empty: areas are never drawn across it."""
        t, P = np.asarray(t, float), np.asarray(P, float)
        for a, b in runs(t, 1.5 * step):
            tt = np.repeat(t[a:b], 2) + np.tile([0.0, step], b - a)
            PP = np.repeat(P[a:b], 2, axis=0)
            xs, base = self.x(tt), np.zeros(len(tt))
            for k, e in enumerate(EMOTIONS):
                top = base + PP[:, k]
                pts = _pts(xs, self.y(top)) + " " + _pts(xs[::-1], self.y(base[::-1]))
                self.parts.append(f'<polygon points="{pts}" fill="{COLORS[e]}" stroke="none"><title>{e}</title>'
                                  '</polygon>')
                base = top
        return self

    def line(self, t, v, color, name, band=None, width: float = 1.8, gap: float | None = None) -> "Chart":
        """A line through ``(t, v)``, broken where samples are more than ``gap`` seconds apart (never with None);
        ``band=(lo, hi)`` arrays shade an interval around it."""
        t, v = np.asarray(t, float), np.asarray(v, float)
        for a, b in runs(t, gap):
            if band is not None:
                lo, hi = np.asarray(band[0], float)[a:b], np.asarray(band[1], float)[a:b]
                pts = _pts(self.x(t[a:b]), self.y(hi)) + " " + _pts(self.x(t[a:b][::-1]), self.y(lo[::-1]))
                self.parts.append(f'<polygon points="{pts}" fill="{color}" fill-opacity="0.18" stroke="none"/>')
            self.parts.append(f'<polyline points="{_pts(self.x(t[a:b]), self.y(v[a:b]))}" fill="none" '
                              f'stroke="{color}" stroke-width="{width}"><title>{html.escape(name)}</title></polyline>')
        return self

    def markers(self, items) -> "Chart":
        """Numbered markers ``(time, label, tooltip)`` on a chart's top edge, with a faint line down."""
        for t, label, tip in items:
            x = float(self.x(t))
            y = self.y0
            self.parts.append(f'<g><title>{html.escape(tip)}</title><line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" '
                              f'y2="{y + self.h}" stroke="#333" stroke-opacity="0.35" stroke-dasharray="3,3"/>'
                              f'<circle cx="{x:.1f}" cy="{y + 7}" r="7" fill="#333"/><text x="{x:.1f}" y="{y + 10.5}" '
                              f'font-size="9" text-anchor="middle" fill="#fff">{html.escape(str(label))}</text></g>')
        return self

    def legend(self, items: dict) -> "Chart":
        """Name -> colour, written at the chart's top right."""
        x = self.W - self.R - 84 * len(items)
        for k, (name, color) in enumerate(items.items()):
            self.parts.append(f'<text x="{x + 84 * k}" y="14" font-size="11" fill="{color}">{html.escape(name)}</text>')
        return self

    def svg(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.W} {self.H}" width="100%" '
                f'role="img">' + "".join(self.parts) + "</svg>")


def runs(t, gap: float | None) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` of sorted times ``t`` with no step over ``gap`` (one range when ``gap`` is None)."""
    if len(t) == 0:
        return []
    cuts = [] if gap is None else list(np.flatnonzero(np.diff(t) > gap) + 1)
    bounds = [0, *cuts, len(t)]
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _pts(xs, ys) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))


def _fit(name: str, width: float) -> str:
    n = max(1, int(width / 6))
    return name if len(name) <= n else name[:max(1, n - 1)] + "…"
