"""Per-channel quality checks and features of one physiological window.

Small named stages in NeuroKit2's ``<signal>_<verb>`` habit, each returning ``(features, quality)``:

* :func:`heart_beats` -- ECG (``nk.ecg_clean`` + ``nk.ecg_findpeaks``, the R-peak detector only: no wave
  delineation) or PPG (``nk.ppg_clean`` + ``nk.ppg_findpeaks``, Elgendi) to beat times;
  :func:`heart_features` -- the same heart-rate and time-domain HRV features from either source;
  frequency-domain HRV (LF, HF) only for windows of at least :data:`HRV_FREQ_MIN_S` seconds.
* :func:`eda_features` -- tonic level and slope, phasic responses (count, amplitude) at 4 Hz
  (``nk.eda_phasic(method="highpass")``, then SCR onsets/peaks picked with an absolute amplitude
  threshold, which works at 4 Hz where NeuroKit2's relative threshold over-counts noise).
* :func:`rsp_features` -- breathing rate and variability (``nk.rsp_clean`` + ``nk.rsp_findpeaks``).
* :func:`temp_features` -- level and slope.
* :func:`acc_features` -- activity level, which gates heart and EDA artefacts.

Everything here is deterministic and returns finite numbers or ``None`` (never NaN). Each
quality is a float in [0, 1] and a list of reasons; 0 means "left out".
"""

from __future__ import annotations

import math

import numpy as np

from ._neurokit import neurokit

__all__ = [
    "HR_RANGE", "EDA_RANGE", "TEMP_RANGE", "HRV_FREQ_MIN_S", "ChannelReport",
    "heart_beats", "heart_features", "eda_features", "rsp_features", "temp_features", "acc_features",
]

#: Plausible heart rate, bpm.
HR_RANGE = (35.0, 200.0)
#: Plausible skin conductance, µS (below: electrode off or dry skin; above: short circuit).
EDA_RANGE = (0.01, 100.0)
#: Plausible skin temperature, °C (outside: device off the body).
TEMP_RANGE = (20.0, 42.0)
#: Plausible breathing rate, breaths per minute.
RSP_RANGE = (4.0, 60.0)
#: Shortest window for frequency-domain HRV (LF needs several 0.04-0.15 Hz cycles).
HRV_FREQ_MIN_S = 110.0
#: Fewest beats for heart features.
MIN_BEATS = 8


class ChannelReport(dict):
    """``{"quality": float, "reasons": [str], "method": str}`` for one channel (a plain dict)."""


def _report(quality: float, reasons: list[str], method: str) -> ChannelReport:
    return ChannelReport(quality=float(min(max(quality, 0.0), 1.0)), reasons=list(reasons), method=method)


def _slope_per_min(y: np.ndarray, fs: float) -> float:
    """Least-squares slope of ``y`` per minute."""
    n = len(y)
    if n < 2:
        return 0.0
    t = np.arange(n, dtype=np.float64) / fs / 60.0
    t -= t.mean()
    d = float(t @ t)
    return float(t @ (y - y.mean()) / d) if d > 0 else 0.0


def _flat_or_clipped(x: np.ndarray, *, name: str, min_ptp: float = 0.0) -> str | None:
    """Reason string if the signal is flat, clipped or nearly constant, else None."""
    if x.size == 0:
        return f"{name}: empty"
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= min_ptp:
        return f"{name}: flat line (peak-to-peak {hi - lo:.3g})"
    d = np.diff(x)
    if np.mean(d == 0) > 0.8:
        return f"{name}: flat (more than 80 % of successive samples equal)"
    at_rail = max(np.mean(x == hi), np.mean(x == lo))
    if at_rail > 0.05:
        return f"{name}: clipped ({at_rail:.0%} of samples at the signal's limit)"
    return None


def _to_rate(x: np.ndarray, fs: float, target: float) -> tuple[np.ndarray, float]:
    """Average-pool ``x`` down to about ``target`` Hz when ``fs`` is at least twice that (cheap decimation)."""
    k = int(fs // target)
    if k < 2:
        return x, fs
    n = (len(x) // k) * k
    return x[:n].reshape(-1, k).mean(1), fs / k


# --------------------------------------------------------------------------- heart

def _narrowed_band(x: np.ndarray, fs: float, low: float) -> tuple[np.ndarray, str]:
    """NeuroKit2's order-2 Butterworth band-pass from ``low`` with its top at 0.45 x the rate: the cleaning
    for rates too low for a method's own band (whose top would lie above Nyquist)."""
    nk = neurokit()

    hi = round(0.45 * fs, 2)
    clean = nk.signal_filter(x, sampling_rate=fs, lowcut=low, highcut=hi, order=2, method="butterworth")
    return clean, f"nk.signal_filter(butterworth {low:g}-{hi:g} Hz)"


def heart_beats(x: np.ndarray, fs: float, source: str) -> tuple[np.ndarray, str]:
    """Beat times in seconds from an ECG or a PPG.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        ECG (any unit) or PPG (device units).
    fs : float
        Sampling rate in Hz (ECG >= 50, PPG >= 15).
    source : {"ecg", "ppg"}

    Returns
    -------
    (beat_times, method) : (np.ndarray [shape=(k,)] seconds, str)
    """
    nk = neurokit()

    if source == "ecg":
        if fs > 500:  # R-peak detection does not need more; decimate for speed
            k = int(fs // 250)
            x = x[: (len(x) // k) * k].reshape(-1, k).mean(1)
            fs = fs / k
        clean = nk.ecg_clean(x, sampling_rate=int(round(fs)), method="neurokit")
        peaks = nk.ecg_findpeaks(clean, sampling_rate=int(round(fs)), method="neurokit")["ECG_R_Peaks"]
        method = "nk.ecg_clean(neurokit)+nk.ecg_findpeaks(neurokit)"
        # a polarity-inverted lead gives peaks on the S wave; the detector works on |slope| so beats stay beats
    else:
        sr = int(round(fs))
        if sr > 16:
            clean = nk.ppg_clean(x, sampling_rate=sr, method="elgendi")
            method = "nk.ppg_clean(elgendi)+nk.ppg_findpeaks(elgendi)"
        else:  # Elgendi's 0.5-8 Hz band needs more than 16 Hz (nk.ppg_clean raises a scipy ValueError below)
            clean, band = _narrowed_band(x, sr, 0.5)
            method = f"{band}+nk.ppg_findpeaks(elgendi)"
        peaks = nk.ppg_findpeaks(clean, sampling_rate=sr, method="elgendi")["PPG_Peaks"]
    peaks = np.asarray(peaks, dtype=np.float64)
    return peaks / round(fs), method


def _clean_ibi(beats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inter-beat intervals (s), their times, and a mask of the accepted ones.

    An interval is accepted when it lies in 0.3-1.71 s (HR 35-200) and within 30 % of the
    median of its 5 neighbours (rejects missed and extra beats).
    """
    ibi = np.diff(beats)
    t = beats[1:]
    ok = (ibi >= 60.0 / HR_RANGE[1]) & (ibi <= 60.0 / HR_RANGE[0])
    if ok.sum() >= 3:
        med = np.median(ibi[ok])
        # running median over accepted intervals
        pad = np.pad(np.where(ok, ibi, med), 2, mode="edge")
        win = np.lib.stride_tricks.sliding_window_view(pad, 5)
        local = np.median(win, axis=1)
        ok &= np.abs(ibi - local) <= 0.3 * local
    return ibi, t, ok


def heart_features(beats: np.ndarray, duration: float) -> tuple[dict, dict, ChannelReport]:
    """Heart-rate and HRV features from beat times.

    Parameters
    ----------
    beats : np.ndarray [shape=(k,)]
        Beat times in seconds, increasing.
    duration : float
        Window length in seconds.

    Returns
    -------
    (model_features, extra, report)
        ``model_features``: hr_mean (bpm), hr_std (bpm), hr_slope (bpm/min), hr_range (p90-p10, bpm),
        ln_rmssd (ln ms), ln_sdnn (ln ms), pnn50 (fraction). ``extra``: n_beats and, for windows of
        at least :data:`HRV_FREQ_MIN_S`, lf, hf (ms²) and lf_hf. ``report``: quality and reasons.
    """
    reasons: list[str] = []
    n = len(beats)
    if n < MIN_BEATS:
        return {}, {"n_beats": int(n)}, _report(0.0, [f"too few beats ({n} < {MIN_BEATS})"], "")
    ibi, t, ok = _clean_ibi(beats)
    good = ibi[ok]
    coverage = float(good.sum() / max(duration, 1e-9))
    if len(good) < MIN_BEATS - 1 or coverage < 0.5:
        return {}, {"n_beats": int(n)}, _report(0.0, [f"too few clean beats ({len(good)} intervals, "
                                                       f"{coverage:.0%} of the window)"], "")
    hr_inst = 60.0 / good
    hr = float(60.0 / np.median(good))
    if not (HR_RANGE[0] <= hr <= HR_RANGE[1]):
        return {}, {"n_beats": int(n), "hr": hr}, _report(0.0, [f"implausible heart rate {hr:.0f} bpm "
                                                                 f"(allowed {HR_RANGE[0]:g}-{HR_RANGE[1]:g})"], "")
    # successive differences only between two accepted, adjacent intervals
    pair = ok[1:] & ok[:-1]
    sd = np.diff(ibi)[pair] * 1000.0
    rmssd = float(np.sqrt(np.mean(sd ** 2))) if sd.size >= 3 else float(np.std(good) * 1000 * math.sqrt(2))
    sdnn = float(np.std(good) * 1000.0)
    pnn50 = float(np.mean(np.abs(sd) > 50.0)) if sd.size else 0.0
    tt = t[ok]
    if len(tt) >= 3 and np.ptp(tt) > 0:
        ttc = (tt - tt.mean()) / 60.0
        slope = float(ttc @ (hr_inst - hr_inst.mean()) / (ttc @ ttc))
    else:
        slope = 0.0
    p10, p90 = np.percentile(hr_inst, [10, 90])
    feats = {
        "hr_mean": float(np.mean(hr_inst)),
        "hr_std": float(np.std(hr_inst)),
        "hr_slope": slope,
        "hr_range": float(p90 - p10),
        "ln_rmssd": math.log(max(rmssd, 1.0)),
        "ln_sdnn": math.log(max(sdnn, 1.0)),
        "pnn50": pnn50,
    }
    extra = {"n_beats": int(n), "hr": hr, "rmssd_ms": rmssd, "sdnn_ms": sdnn, "accepted_intervals": float(ok.mean())}
    if duration >= HRV_FREQ_MIN_S and len(good) >= 60:
        extra.update(_hrv_frequency(tt, good))
    q = min(1.0, coverage) * float(ok.mean())
    if ok.mean() < 0.8:
        reasons.append(f"{1 - ok.mean():.0%} of beat intervals rejected as artefacts")
    return feats, extra, _report(q, reasons, "")


def _hrv_frequency(t: np.ndarray, ibi: np.ndarray) -> dict:
    """LF (0.04-0.15 Hz) and HF (0.15-0.4 Hz) power of the 4-Hz resampled IBI series, ms²."""
    from scipy.signal import welch

    fs = 4.0
    grid = np.arange(t[0], t[-1], 1 / fs)
    if len(grid) < 64:
        return {}
    y = np.interp(grid, t, ibi * 1000.0)
    y = y - y.mean()
    f, p = welch(y, fs=fs, nperseg=min(len(y), 256), detrend="linear")
    df = f[1] - f[0]
    lf = float(p[(f >= 0.04) & (f < 0.15)].sum() * df)
    hf = float(p[(f >= 0.15) & (f < 0.4)].sum() * df)
    out = {"lf_ms2": lf, "hf_ms2": hf}
    if hf > 0:
        out["lf_hf"] = lf / hf
    return out


def signal_check_heart(x: np.ndarray, name: str) -> str | None:
    """Flat, clipped or disconnected ECG/PPG: a reason, else None."""
    return _flat_or_clipped(x, name=name, min_ptp=1e-9)


# --------------------------------------------------------------------------- EDA

#: Smallest SCR amplitude counted, µS (the common 0.01-0.05 µS convention; 0.02 suits the E4's noise).
SCR_MIN_AMPLITUDE = 0.02
#: ... and at least this fraction of the window's largest response.
SCR_RELATIVE_MIN = 0.1


def eda_features(x: np.ndarray, fs: float) -> tuple[dict, dict, ChannelReport]:
    """Tonic and phasic skin-conductance features.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        Skin conductance in µS.
    fs : float
        Sampling rate in Hz (>= 1; reduced to about 4 Hz first).

    Returns
    -------
    (model_features, extra, report)
        ``eda_ln_level`` (ln µS of the median tonic level), ``eda_slope`` (µS/min of the tonic),
        ``eda_rel_slope`` (slope / level), ``scr_rate`` (responses per minute), ``scr_amp`` (mean
        amplitude of responses, µS, 0 if none), ``eda_ln_phasic_sd`` (ln of the phasic SD, µS).
    """
    nk = neurokit()
    from scipy.signal import find_peaks

    x, fs = _to_rate(x, fs, 4.0)
    why = _flat_or_clipped(x, name="eda", min_ptp=0.0)
    if why is not None and "clipped" not in why and np.ptp(x) == 0:
        return {}, {}, _report(0.0, [why], "")
    level = float(np.median(x))
    if not (EDA_RANGE[0] <= level <= EDA_RANGE[1]):
        return {}, {"level_uS": level}, _report(0.0, [f"eda out of range: median {level:.3g} µS "
                                                       f"(allowed {EDA_RANGE[0]:g}-{EDA_RANGE[1]:g}; electrode off?)"], "")
    if why is not None and "clipped" in why:
        return {}, {"level_uS": level}, _report(0.0, [why], "")
    comp = nk.eda_phasic(x, sampling_rate=fs, method="highpass")
    tonic = comp["EDA_Tonic"].to_numpy()
    phasic = comp["EDA_Phasic"].to_numpy()
    # SCRs: peaks of the (0.05 Hz high-passed) phasic component whose rise from the preceding trough
    # is at least SCR_MIN_AMPLITUDE µS, at most one per second
    dist = max(1, int(round(fs * 1.0)))
    peaks, props = find_peaks(phasic, prominence=SCR_MIN_AMPLITUDE, distance=dist)
    if len(peaks):
        # amplitude = rise from the preceding trough (left base of the prominence)
        amps = phasic[peaks] - phasic[props["left_bases"]]
        # absolute floor, plus 10 % of the window's largest response: the high-pass filter's
        # undershoot after a large SCR would otherwise count as small responses
        keep = amps >= max(SCR_MIN_AMPLITUDE, SCR_RELATIVE_MIN * float(amps.max()))
        peaks, amps = peaks[keep], amps[keep]
    else:
        amps = np.zeros(0)
    minutes = len(x) / fs / 60.0
    slope = _slope_per_min(tonic, fs)
    feats = {
        "eda_ln_level": math.log(max(level, EDA_RANGE[0])),
        "eda_slope": slope,
        "eda_rel_slope": slope / max(level, 0.05),
        "scr_rate": len(peaks) / minutes,
        "scr_amp": float(amps.mean()) if len(amps) else 0.0,
        "eda_ln_phasic_sd": math.log(max(float(np.std(phasic)), 1e-4)),
    }
    extra = {"level_uS": level, "scr_count": int(len(peaks)), "scr_peak_times_s": [float(p / fs) for p in peaks],
             "scr_amplitudes_uS": [float(a) for a in amps]}
    return feats, extra, _report(1.0, [], "nk.eda_phasic(highpass)+scipy.find_peaks(rise>=max(0.02 uS, 10% of largest))")


# --------------------------------------------------------------------------- respiration

def rsp_features(x: np.ndarray, fs: float) -> tuple[dict, dict, ChannelReport]:
    """Breathing rate (breaths/min) and variability from a respiration belt.

    Returns ``({"rsp_rate", "rsp_cv"}, extra, report)``; ``rsp_cv`` is the coefficient of variation
    of breath-to-breath intervals.
    """
    nk = neurokit()

    x, fs = _to_rate(x, fs, 25.0)
    why = _flat_or_clipped(x, name="rsp", min_ptp=1e-9)
    if why is not None:
        return {}, {}, _report(0.0, [why], "")
    if fs > 6.0:
        clean = nk.rsp_clean(x, sampling_rate=fs, method="khodadad2018")
        method = "nk.rsp_clean(khodadad2018)+nk.rsp_findpeaks(khodadad2018)"
    else:  # khodadad2018's 0.05-3 Hz band needs more than 6 Hz (nk.rsp_clean raises a scipy ValueError below)
        clean, band = _narrowed_band(x, fs, 0.05)
        method = f"{band}+nk.rsp_findpeaks(khodadad2018)"
    info = nk.rsp_findpeaks(clean, sampling_rate=fs, method="khodadad2018")
    peaks = np.asarray(info["RSP_Peaks"], dtype=np.float64) / fs
    if len(peaks) < 3:
        return {}, {"n_breaths": int(len(peaks))}, _report(0.0, [f"too few breaths ({len(peaks)})"], "")
    bb = np.diff(peaks)
    rate = 60.0 / float(np.median(bb))
    if not (RSP_RANGE[0] <= rate <= RSP_RANGE[1]):
        return {}, {"rate": rate}, _report(0.0, [f"implausible breathing rate {rate:.1f}/min"], "")
    feats = {"rsp_rate": rate, "rsp_cv": float(np.std(bb) / np.mean(bb))}
    extra = {"n_breaths": int(len(peaks)), "rate_per_min": rate}
    return feats, extra, _report(1.0, [], method)


# --------------------------------------------------------------------------- temperature

def temp_features(x: np.ndarray, fs: float) -> tuple[dict, dict, ChannelReport]:
    """Skin temperature level (°C), slope (°C/min) and SD."""
    level = float(np.median(x))
    if not (TEMP_RANGE[0] <= level <= TEMP_RANGE[1]):
        return {}, {"level_C": level}, _report(0.0, [f"temp out of range: median {level:.1f} °C "
                                                      f"(allowed {TEMP_RANGE[0]:g}-{TEMP_RANGE[1]:g}; off the body?)"], "")
    feats = {"temp_level": level, "temp_slope": _slope_per_min(x, fs), "temp_sd": float(np.std(x))}
    return feats, {"level_C": level}, _report(1.0, [], "median, least-squares slope")


# --------------------------------------------------------------------------- motion

def _acc_scale(mag_median: float) -> tuple[float, str]:
    """Factor to g from the median magnitude (gravity): g, m/s² or the E4's 1/64 g."""
    if 0.5 <= mag_median <= 2.0:
        return 1.0, "g"
    if 5.0 <= mag_median <= 20.0:
        return 1 / 9.80665, "m/s2"
    if 40.0 <= mag_median <= 130.0:
        return 1 / 64.0, "1/64 g (Empatica E4)"
    if mag_median < 0.5:
        return 1.0, "g (no gravity component)"
    return float("nan"), "unknown"


#: Activity (SD of the acceleration magnitude, g) above which heart and EDA readings are flagged.
ACTIVITY_GATE_G = 0.1


def acc_features(x: np.ndarray, fs: float) -> tuple[dict, dict, ChannelReport]:
    """Activity level from a 3-axis accelerometer.

    Parameters
    ----------
    x : np.ndarray [shape=(n, 3)]
        Acceleration in g, m/s² or 1/64 g (detected from gravity).

    Returns
    -------
    ``({"acc_ln_activity", "acc_moving", "acc_tilt_sd"}, extra, report)``: ln of the SD of the
    magnitude (g), fraction of 1-s epochs with magnitude SD above 0.02 g, SD of the tilt angle (deg).
    """
    if np.all(np.ptp(x, axis=0) == 0):
        return {}, {}, _report(0.0, ["acc: flat line on all three axes"], "")
    mag = np.sqrt((x ** 2).sum(1))
    scale, unit = _acc_scale(float(np.median(mag)))
    if not math.isfinite(scale):
        return {}, {}, _report(0.0, [f"acc: units not recognised (median magnitude {np.median(mag):.3g}; "
                                     "expected g, m/s² or 1/64 g)"], "")
    mag = mag * scale
    xs = x * scale
    sd = float(np.std(mag))
    e = max(1, int(round(fs)))
    m = (len(mag) // e) * e
    ep_sd = mag[:m].reshape(-1, e).std(1) if m else np.zeros(1)
    tilt = np.degrees(np.arctan2(xs[:, 2], np.sqrt(xs[:, 0] ** 2 + xs[:, 1] ** 2) + 1e-12))
    feats = {
        "acc_ln_activity": math.log(max(sd, 1e-3)),
        "acc_moving": float(np.mean(ep_sd > 0.02)),
        "acc_tilt_sd": float(np.std(tilt)),
    }
    extra = {"activity_g": sd, "unit_detected": unit, "moving": sd > ACTIVITY_GATE_G}
    return feats, extra, _report(1.0, [], f"magnitude SD; units detected as {unit}")
