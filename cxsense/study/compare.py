"""A/B comparison: per segment and measure, the difference between variants with viewers as the unit.

Each viewer gives one number per segment and measure: the mean of its per-step values (as in the aggregate)
over the segment's steps (a step belongs to a segment when it starts inside it, in stimulus time). Viewers
without signal in a segment are left out of it. For every pair of variants ``a < b`` (sorted names):

- ``difference = mean_b - mean_a`` with a 95 % interval;
- when the two variants hold the same viewers (a within-viewer design: every viewer saw both), a **paired
  t-test** on the per-viewer differences (``test = "paired_t"``);
- otherwise **Welch's t-test** (unequal variances; ``test = "welch_t"``), the viewers of each variant taken as
  independent samples (viewers who saw both in a partly paired design count once per variant);
- ``p_holm``: the p-value adjusted by Holm's method over every row of the table (all segments, measures and
  pairs), since a study tests many of them at once.

A pair with fewer than two viewers on a side (paired: fewer than two pairs) has no test and is left out.
With no spread at all (identical viewers), the interval has zero width and ``p`` is 1 when the means are equal
and 0 otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SegmentMeans", "compare_variants", "COMPARE_COLUMNS"]

COMPARE_COLUMNS = ["segment", "start", "end", "measure", "variant_a", "variant_b", "n_a", "n_b", "mean_a", "mean_b",
                   "difference", "lo", "hi", "test", "df", "p_value", "p_holm"]


class SegmentMeans:
    """Per viewer, segment and measure: the viewer's mean over the segment's steps (one viewer at a time).

    Memory grows with viewers x segments x measures (numbers only), which stays small (10,000 viewers, 10
    segments and 18 measures are 1.8 million floats).
    """

    def __init__(self, segments, measures: list[str], step: float):
        self.segments = list(segments)
        self.measures = list(measures)
        self.step = float(step)
        self.keys: list[tuple[str, str, int]] = []  # (variant, viewer, segment index)
        self.values: list[np.ndarray] = []

    def add(self, variant: str, viewer: str, vs: dict) -> None:
        t = vs["steps"] * self.step
        for i, (_, a, b) in enumerate(self.segments):
            inside = (t >= a - 1e-9) & (t < b - 1e-9)
            if not inside.any():
                continue
            with np.errstate(invalid="ignore"):
                x = vs["values"][inside]
                cnt = np.isfinite(x).sum(0)
                m = np.where(cnt > 0, np.nansum(x, 0) / np.maximum(cnt, 1), np.nan)
            self.keys.append((variant, viewer, i))
            self.values.append(m)

    def frame(self):
        import pandas as pd

        if not self.keys:
            return pd.DataFrame(columns=["variant", "viewer", "segment", *self.measures])
        df = pd.DataFrame(np.vstack(self.values), columns=self.measures)
        df.insert(0, "segment", [k[2] for k in self.keys])
        df.insert(0, "viewer", [k[1] for k in self.keys])
        df.insert(0, "variant", [k[0] for k in self.keys])
        return df


def _test(xa: np.ndarray, xb: np.ndarray, paired: bool) -> dict | None:
    from scipy.stats import t as student_t

    if paired:
        d = xb - xa
        n = len(d)
        if n < 2:
            return None
        diff, df = float(d.mean()), float(n - 1)
        se = float(d.std(ddof=1) / np.sqrt(n))
    else:
        na, nb = len(xa), len(xb)
        if na < 2 or nb < 2:
            return None
        diff = float(xb.mean() - xa.mean())
        va, vb = xa.var(ddof=1) / na, xb.var(ddof=1) / nb
        se = float(np.sqrt(va + vb))
        df = float((va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))) if se > 0 else float(na + nb - 2)
    if se == 0:
        return {"difference": diff, "lo": diff, "hi": diff, "df": df, "p_value": 1.0 if diff == 0 else 0.0}
    q = float(student_t.ppf(0.975, df))
    p = float(2 * student_t.sf(abs(diff / se), df))
    return {"difference": diff, "lo": diff - q * se, "hi": diff + q * se, "df": df, "p_value": p}


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def compare_variants(means, segments, measures: list[str] | None = None):
    """The comparison table (columns :data:`COMPARE_COLUMNS`) from :meth:`SegmentMeans.frame`.

    Parameters
    ----------
    means : pandas.DataFrame with ``variant, viewer, segment`` and one column per measure
    segments : list of ``(name, start_s, end_s)``
    measures : list of str, optional
        Default: every measure column of ``means``.
    """
    import pandas as pd

    if measures is None:
        measures = [c for c in means.columns if c not in ("variant", "viewer", "segment")]
    variants = sorted(means["variant"].unique()) if len(means) else []
    rows = []
    for si, (name, a, b) in enumerate(segments):
        seg = means[means["segment"] == si]
        for ia, va in enumerate(variants):
            for vb in variants[ia + 1:]:
                A = seg[seg["variant"] == va].set_index("viewer")
                B = seg[seg["variant"] == vb].set_index("viewer")
                paired = len(A) > 0 and set(A.index) == set(B.index)
                for m in measures:
                    xa, xb = A[m].dropna(), B[m].dropna()
                    if paired:
                        common = xa.index.intersection(xb.index)
                        xa, xb = xa.loc[common], xb.loc[common]
                    r = _test(xa.to_numpy(float), xb.to_numpy(float), paired)
                    if r is None:
                        continue
                    rows.append({"segment": name, "start": a, "end": b, "measure": m, "variant_a": va,
                                 "variant_b": vb, "n_a": int(len(xa)), "n_b": int(len(xb)),
                                 "mean_a": float(xa.mean()), "mean_b": float(xb.mean()),
                                 "test": "paired_t" if paired else "welch_t", **r})
    df = pd.DataFrame(rows, columns=[c for c in COMPARE_COLUMNS if c != "p_holm"])
    df["p_holm"] = _holm(df["p_value"].to_numpy(float)) if len(df) else []
    return df[COMPARE_COLUMNS]
