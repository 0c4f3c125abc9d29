"""The thin orchestrator: a :class:`~cxsense.inputs.physio.PhysioInput` window to features and qualities.

Used identically by the encoder at run time and by ``training/common/stress_predict.py`` to build the
training set, so that what the model saw and what it is given are computed by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import features as F

__all__ = ["GROUPS", "Extraction", "extract", "shape"]

#: The model's feature groups and the features in each, in model order.
GROUPS: dict[str, tuple[str, ...]] = {
    "heart": ("hr_mean", "hr_std", "hr_slope", "hr_range", "ln_rmssd", "ln_sdnn", "pnn50"),
    "eda": ("eda_ln_level", "eda_slope", "eda_rel_slope", "scr_rate", "scr_amp", "eda_ln_phasic_sd"),
    "temp": ("temp_level", "temp_slope", "temp_sd"),
    "acc": ("acc_ln_activity", "acc_moving", "acc_tilt_sd"),
}


@dataclass
class Extraction:
    """Features (finite floats), per-channel reports and extras of one window."""

    features: dict[str, float] = field(default_factory=dict)
    channels: dict[str, dict] = field(default_factory=dict)
    extra: dict[str, dict] = field(default_factory=dict)
    group_quality: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0
    #: beat times (s) of the channel that fed the heart features; kept for :func:`shape`, never reported
    beats: np.ndarray | None = field(default=None, repr=False)


def _finite(d: dict) -> dict:
    return {k: float(v) for k, v in d.items() if v is not None and np.isfinite(v)}


#: What NeuroKit2, SciPy and NumPy raise on signals they cannot process (e.g. NeuroKit2's IndexError on a PPG
#: whose squares overflow): the channel is left out with the reason, never a crash.
PROCESSING_ERRORS = (ValueError, IndexError, ZeroDivisionError, FloatingPointError, OverflowError,
                     np.linalg.LinAlgError)


def _failed(name: str, e: Exception) -> dict:
    return dict(F._report(0.0, [f"{name}: signal processing failed ({type(e).__name__}: {str(e)[:120]})"], ""))


def _guarded(name: str, fn, *args):
    """``fn(*args)`` -> ``(features, extra, report)``; on a processing error: no features and quality 0."""
    try:
        return fn(*args)
    except PROCESSING_ERRORS as e:
        return {}, {}, _failed(name, e)


def extract(x) -> Extraction:
    """Quality checks and features of every channel in one window.

    Parameters
    ----------
    x : PhysioInput
        A normalised window (see :func:`cxsense.inputs.physio.load_physio`).

    Returns
    -------
    Extraction
        ``features``: name -> finite float for the usable channels only (see :data:`GROUPS`, plus
        ``rsp_rate``, ``rsp_cv`` from a respiration belt); ``channels``: per input channel
        ``{"quality", "reasons", "method"}``; ``group_quality``: per model group in [0, 1].
    """
    out = Extraction(duration=float(x.duration))
    ch = x.channels

    # motion first: it gates the others
    activity = None
    if "acc" in ch:
        c = ch["acc"]
        f, e, r = _guarded("acc", F.acc_features, c.samples, c.sampling_rate)
        out.channels["acc"], out.extra["acc"] = dict(r), e
        if r["quality"] > 0:
            out.features.update(_finite(f))
            out.group_quality["acc"] = r["quality"]
            activity = e.get("activity_g")

    # heart: ECG preferred, PPG otherwise; the same features from either
    for src in ("ecg", "ppg"):
        if src not in ch:
            continue
        c = ch[src]
        why = F.signal_check_heart(c.samples, src)
        if why is not None:
            out.channels[src] = dict(F._report(0.0, [why], ""))
            continue
        try:
            beats, method = F.heart_beats(c.samples, c.sampling_rate, src)
        except PROCESSING_ERRORS as e:
            out.channels[src] = _failed(src, e)
            continue
        f, e, r = F.heart_features(beats, c.duration)
        r = dict(r, method=method)
        if r["quality"] > 0 and activity is not None and activity > F.ACTIVITY_GATE_G and src == "ppg":
            r["quality"] *= 0.5
            r["reasons"] = r["reasons"] + [f"movement (activity {activity:.2f} g) may distort PPG beats and raise HR"]
        out.channels[src], out.extra[src] = r, e
        if r["quality"] > 0 and "heart" not in out.group_quality:
            out.features.update(_finite(f))
            out.group_quality["heart"] = r["quality"]
            out.extra["heart_source"] = {"channel": src}
            out.beats = beats

    if "eda" in ch:
        c = ch["eda"]
        f, e, r = _guarded("eda", F.eda_features, c.samples, c.sampling_rate)
        r = dict(r)
        if r["quality"] > 0 and activity is not None and activity > F.ACTIVITY_GATE_G:
            r["quality"] *= 0.7
            r["reasons"] = r["reasons"] + [f"movement (activity {activity:.2f} g) may raise EDA"]
        out.channels["eda"], out.extra["eda"] = r, e
        if r["quality"] > 0:
            out.features.update(_finite(f))
            out.group_quality["eda"] = r["quality"]

    for name, features_of in (("temp", F.temp_features), ("rsp", F.rsp_features)):
        if name in ch:
            c = ch[name]
            f, e, r = _guarded(name, features_of, c.samples, c.sampling_rate)
            out.channels[name], out.extra[name] = dict(r), e
            if r["quality"] > 0:
                out.features.update(_finite(f))
                out.group_quality[name] = r["quality"]

    for name, c in ch.items():
        if c.n_filled and name in out.channels:
            out.channels[name]["reasons"] = out.channels[name]["reasons"] + [
                f"{c.n_filled} NaN samples filled by interpolation"]
    return out


def shape(x, ex: Extraction) -> np.ndarray:
    """The window's centred 4-Hz series (:func:`.sequences.shape_sequences`) from the channels that
    passed their checks in ``ex``."""
    from .sequences import shape_sequences

    usable = {name: r.get("quality", 0.0) > 0 for name, r in ex.channels.items()}
    return shape_sequences(x, usable, ex.beats)
