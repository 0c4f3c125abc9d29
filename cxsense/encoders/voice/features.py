"""Signal stages of the voice encoder: activity detection, loudness normalisation, log-mel, pitch, statistics.

Small named stages, each a pure function of a 16-kHz float waveform, called in this order by
:func:`voice_process`:

1. :func:`voice_frames` -- the short-time power spectrum (25-ms Hann window, 10-ms hop, 512-point FFT).
2. :func:`voice_activity` -- energy-based voice activity detection with an adaptive threshold.
3. :func:`voice_quality` -- silence, too little speech and clipping checks; the quality in [0, 1]. Then
   the bandwidth check (:data:`NARROWBAND_DB`, in :func:`voice_process`): ``info["narrowband"]``.
4. Loudness normalisation: the waveform is scaled so that its active (speech) frames have an RMS of
   :data:`TARGET_DBFS`. A gain change of the input therefore leaves every feature unchanged: the model
   cannot read the recording level (RAVDESS takes differ by 40 dB) as emotion.
5. :func:`voice_logmel` -- 64-band log-mel (50-8000 Hz), in dB relative to the normalised level.
6. :func:`voice_pitch` -- f0 with YIN (:func:`librosa.yin`, 65-600 Hz, 64-ms frames) and a voicing
   decision from the normalised autocorrelation at the YIN period.
7. :func:`voice_statistics` -- :data:`N_STATS` prosodic, energy and spectral statistics of the kept frames.
8. :func:`voice_keep` -- frames kept for the model: active frames plus 150 ms on each side; longer
   pauses are shortened to at most 300 ms, so pauses and room noise do not drive the estimate.

All frame sequences share one clock: frame ``i`` is centred on sample ``160 * i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SR", "HOP", "N_MELS", "N_STATS", "STAT_NAMES", "TARGET_DBFS", "MIN_SPEECH_S",
    "VoiceFeatures", "voice_frames", "voice_activity", "voice_quality", "voice_logmel", "voice_pitch",
    "voice_statistics", "voice_keep", "voice_process",
]

from .vad import HOP, N_FFT, SILENCE_DBFS, SR, WIN, frame_db, voice_activity, voice_frames, voice_keep  # noqa: F401

_frame_db = frame_db  # the name the training code reads
N_MELS = 64
FMIN, FMAX = 50.0, 8000.0
#: Active-speech RMS after loudness normalisation, dBFS.
TARGET_DBFS = -23.0
#: Below this much active speech (seconds) the quality is 0.
MIN_SPEECH_S = 0.5
#: Active speech RMS below this (dBFS) counts as silence (int16 quantisation noise is about -101 dBFS).
#: A clipped fraction of active samples above this gives quality 0; from 0.2 % quality falls.
CLIP_MAX_FRACTION = 0.02
CLIP_START_FRACTION = 0.002
#: Active speech with less energy above 4 kHz than this (dB relative to 300-3400 Hz) is narrowband (telephone).
NARROWBAND_DB = -38.0
#: Quality factor for narrowband speech read by a model without telephone training (the encoder applies it
#: when no ``voice-tone-narrowband`` model is registered): such a model loses about 19 accuracy points in the
#: telephone band (benchmarks/voice_accuracy.py, "telephone band"), so its estimates count half in the fusion.
NARROWBAND_QUALITY = 0.5
PITCH_FMIN, PITCH_FMAX = 65.0, 600.0
PITCH_FRAME = 1024
#: Normalised autocorrelation at the YIN period above which a frame is voiced.
VOICING_THRESHOLD = 0.55
_LOG_FLOOR = 1e-10  # power floor of the log-mel after normalisation: -100 dB

STAT_NAMES = (
    "f0_mean_st", "f0_std_st", "f0_p10_st", "f0_p90_st", "f0_range_st", "f0_delta_abs_st", "f0_slope_st_s",
    "voiced_fraction", "harmonicity_mean", "energy_std_db", "energy_range_db", "energy_delta_abs_db",
    "energy_voiced_minus_unvoiced_db", "centroid_mean_log", "centroid_std_log", "rolloff_mean_log",
    "flatness_mean_db", "hf_ratio_mean_db", "tilt_mean", "zcr_mean", "pause_fraction", "onset_rate_hz",
)
N_STATS = len(STAT_NAMES)

_mel_basis = None
_freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
_window = None


def _mel():
    global _mel_basis
    if _mel_basis is None:
        import librosa

        _mel_basis = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX).astype(np.float64)
    return _mel_basis


def voice_logmel(power: np.ndarray, gain: float) -> np.ndarray:
    """Log-mel spectrogram of the loudness-normalised signal.

    Parameters
    ----------
    power : np.ndarray [shape=(257, t)], power spectrum of the raw signal (:func:`voice_frames`)
    gain : float
        Linear amplitude gain of the loudness normalisation (applied as ``gain ** 2`` to power).

    Returns
    -------
    logmel : np.ndarray [shape=(64, t)], float32, dB (floor -100 dB)
    """
    mel = _mel() @ power * (gain * gain)
    return (10.0 * np.log10(mel + _LOG_FLOOR)).astype(np.float32)


def voice_pitch(y: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Fundamental frequency with YIN and a voicing decision.

    YIN (:func:`librosa.yin`, 65-600 Hz) runs on the signal decimated to 8 kHz with 64-ms frames
    every 20 ms (8 times cheaper than at 16 kHz every 10 ms); each 20-ms estimate is given to the
    two 10-ms frames it covers.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], 16 kHz
    n_frames : int
        Number of 10-ms frames to return (the spectrogram's).

    Returns
    -------
    f0 : np.ndarray [shape=(n_frames,)], Hz (YIN estimate; meaningful where ``voiced``)
    harmonicity : np.ndarray [shape=(n_frames,)], normalised autocorrelation at the YIN period in [-1, 1];
        a frame is voiced where it exceeds :data:`VOICING_THRESHOLD`.
    """
    import librosa
    from scipy.signal import resample_poly

    y8 = resample_poly(np.asarray(y, dtype=np.float64), 1, 2)
    sr8, frame, hop = SR // 2, PITCH_FRAME // 2, HOP
    if len(y8) < frame:
        y8 = np.pad(y8, (0, frame - len(y8)))
    f0 = librosa.yin(y8, fmin=PITCH_FMIN, fmax=PITCH_FMAX, sr=sr8, frame_length=frame, hop_length=hop,
                     center=True, pad_mode="constant")
    f0 = np.nan_to_num(f0, nan=PITCH_FMIN)
    yp = np.pad(y8, (frame // 2, frame // 2))
    frames = librosa.util.frame(yp, frame_length=frame, hop_length=hop)[:, : len(f0)]
    f0 = f0[: frames.shape[1]]
    lags = np.clip(np.round(sr8 / f0).astype(int), 1, frame // 2)
    # normalised autocorrelation of the first half of the frame with its copy one period later
    half = frame // 2
    a = frames[:half]
    idx = np.arange(half)[:, None] + lags[None, :]
    b = np.take_along_axis(frames, idx, axis=0)
    num = (a * b).sum(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0)) + 1e-12
    harm = num / den
    # a period at the search limits means YIN found no dip: not voiced
    harm[(f0 >= PITCH_FMAX * 0.97) | (f0 <= PITCH_FMIN * 1.03)] = 0.0
    j = np.minimum((np.arange(n_frames) + 1) // 2, len(f0) - 1)
    return f0[j], np.clip(harm[j], -1.0, 1.0)


def _fit(x: np.ndarray, n: int, fill: float) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.full(n - len(x), fill)])


@dataclass(frozen=True)
class VoiceFeatures:
    """Everything the network and the quality check need from one recording.

    Attributes
    ----------
    logmel : np.ndarray [shape=(64, k)], float32 -- kept frames only (dB, loudness-normalised)
    stats : np.ndarray [shape=(N_STATS,)], float32 -- over the kept frames (see :data:`STAT_NAMES`)
    kept_index : np.ndarray [shape=(k,)], int -- frame indices of the kept frames in the recording
    speech_s : float -- seconds of active speech
    voiced_s : float -- seconds of voiced speech
    quality : float in [0, 1]
    reason : str or None -- why the quality is 0
    info : dict -- JSON-able facts (levels, SNR estimate, clipped fraction, durations)
    f0 : np.ndarray [shape=(t,)] -- YIN f0 of every frame, Hz
    voiced : np.ndarray [shape=(t,)], bool
    """

    logmel: np.ndarray
    stats: np.ndarray
    kept_index: np.ndarray
    speech_s: float
    voiced_s: float
    quality: float
    reason: str | None
    info: dict
    f0: np.ndarray
    voiced: np.ndarray


def voice_quality(y: np.ndarray, frame_db: np.ndarray, active: np.ndarray, voiced: np.ndarray) -> tuple[float, str | None, dict]:
    """Quality in [0, 1] and the reason when it is 0.

    Quality 0: silence (active level below -90 dBFS or no active frame), less than 0.5 s of active speech,
    no voiced frame in 0.2 s, or more than 2 % of the active samples clipped (at the waveform's peak
    magnitude, found as runs of equal extreme values). Otherwise the product of a duration term
    (0.5 s -> 0.5, >= 1.5 s -> 1), an SNR term (estimated SNR 0 dB -> 0.3, >= 20 dB -> 1) and a clipping
    term (1 at <= 0.2 % clipped, falling linearly to 0.3 at 2 %).
    """
    speech_s = float(active.sum()) * HOP / SR
    voiced_s = float((active & voiced).sum()) * HOP / SR
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    info = {"duration_s": round(len(y) / SR, 3), "speech_s": round(speech_s, 3), "voiced_s": round(voiced_s, 3),
            "peak_dbfs": round(float(20 * np.log10(peak + 1e-12)), 2)}
    if not active.any():
        info["active_dbfs"] = None
        return 0.0, ("silence: no speech detected" if frame_db.size == 0 or np.percentile(frame_db, 95) < SILENCE_DBFS
                     else "no speech detected (no frame rises above the noise floor)"), info
    act_db = 10 * np.log10(np.mean(10 ** (frame_db[active] / 10)))
    noise_db = np.percentile(frame_db, 10) if (~active).sum() < 10 else 10 * np.log10(
        np.mean(10 ** (np.sort(frame_db[~active])[: max(1, int(0.5 * (~active).sum()))] / 10)))
    snr = float(act_db - noise_db)
    info.update(active_dbfs=round(float(act_db), 2), snr_db=round(snr, 1))
    # clipping: samples within 0.01 % of the peak magnitude (a clean waveform touches its peak rarely)
    if peak > 0:
        near = np.abs(y) >= peak * (1 - 1e-4)
        clip_frac = float(near.sum()) / max(1.0, speech_s * SR)
    else:
        clip_frac = 0.0
    info["clipped_fraction"] = round(clip_frac, 5)
    if act_db < SILENCE_DBFS:
        return 0.0, "silence: speech level below -90 dBFS", info
    if speech_s < MIN_SPEECH_S:
        return 0.0, f"too little speech: {speech_s:.2f} s active, at least {MIN_SPEECH_S} s needed", info
    if voiced_s < 0.2:
        return 0.0, f"no voiced speech: {voiced_s:.2f} s voiced", info
    if clip_frac > CLIP_MAX_FRACTION:
        return 0.0, f"heavy clipping: {100 * clip_frac:.1f} % of the speech samples clipped", info
    q_dur = float(np.clip(0.5 + 0.5 * (speech_s - MIN_SPEECH_S) / 1.0, 0.5, 1.0))
    q_snr = float(np.clip(0.3 + 0.7 * snr / 20.0, 0.3, 1.0))
    q_clip = float(np.clip(1.0 - 0.7 * (clip_frac - CLIP_START_FRACTION) / (CLIP_MAX_FRACTION - CLIP_START_FRACTION),
                           0.3, 1.0))
    return q_dur * q_snr * q_clip, None, info


def voice_statistics(power_n: np.ndarray, logmel: np.ndarray, frame_db_n: np.ndarray, f0: np.ndarray,
                     voiced: np.ndarray, harm: np.ndarray, active: np.ndarray, keep: np.ndarray,
                     zcr: np.ndarray) -> np.ndarray:
    """Prosodic, energy and spectral statistics over the kept frames (:data:`STAT_NAMES`).

    Pitch in semitones re 100 Hz over voiced kept frames; energies in dB of the loudness-normalised
    signal; spectral centroid and 85 % roll-off as log10 Hz; flatness and the >1 kHz energy ratio in dB;
    tilt as the slope of the log-mel over band index (dB per band); pause fraction = inactive share of
    the kept frames; onset rate = energy peaks (rises of 3 dB over 50 ms) per second of speech.
    Missing values (no voiced frame) are 0.

    Returns
    -------
    stats : np.ndarray [shape=(N_STATS,)], float32, finite
    """
    k = keep
    v = voiced & k
    frame_db_n = np.maximum(frame_db_n, TARGET_DBFS - 60.0)  # 60 dB below the speech level is "silence"
    out = np.zeros(N_STATS, np.float64)
    if v.sum() >= 2:
        st = 12 * np.log2(f0[v] / 100.0)
        p10, p90 = np.percentile(st, [10, 90])
        d = np.abs(np.diff(st))
        d = d[d < 4]  # octave jumps are errors, not intonation
        idx = np.flatnonzero(v) * HOP / SR
        slope = np.polyfit(idx - idx.mean(), st, 1)[0] if np.ptp(idx) > 0 else 0.0
        out[0:7] = [st.mean(), st.std(), p10, p90, p90 - p10, d.mean() if d.size else 0.0, slope]
    out[7] = v.sum() / max(1, (active & k).sum())
    out[8] = harm[k].mean() if k.any() else 0.0
    e = frame_db_n[k]
    if e.size:
        p5, p95 = np.percentile(e, [5, 95])
        out[9:12] = [e.std(), p95 - p5, np.abs(np.diff(e)).mean() if e.size > 1 else 0.0]
        uv = k & active & ~voiced
        out[12] = (frame_db_n[v].mean() - frame_db_n[uv].mean()) if (v.any() and uv.any()) else 0.0
        P = power_n[:, k] + 1e-12
        tot = P.sum(0)
        cen = (_freqs[:, None] * P).sum(0) / tot
        lc = np.log10(np.maximum(cen, 1.0))
        cum = np.cumsum(P, 0)
        roll = _freqs[np.argmax(cum >= 0.85 * tot, axis=0)]
        flat = 10 * np.log10(np.exp(np.mean(np.log(P), 0)) / P.mean(0))
        hf = 10 * np.log10(P[_freqs >= 1000].sum(0) / tot + 1e-12)
        bands = np.arange(N_MELS, dtype=np.float64)
        bc = bands - bands.mean()
        tilt = (bc @ (logmel[:, k] - logmel[:, k].mean(0))) / (bc @ bc)
        out[13:20] = [lc.mean(), lc.std(), np.log10(np.maximum(roll, 1.0)).mean(), flat.mean(), hf.mean(),
                      tilt.mean(), zcr[k].mean()]
        out[20] = 1.0 - (active & k).sum() / k.sum()
        sm = np.convolve(frame_db_n, np.ones(3) / 3, mode="same")
        rise = (sm[5:] - sm[:-5]) > 3.0
        onsets = np.flatnonzero(np.diff(rise.astype(np.int8)) == 1)
        onsets = onsets[k[onsets + 5]] if onsets.size else onsets
        out[21] = onsets.size / max(0.1, (active & k).sum() * HOP / SR)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def voice_process(y: np.ndarray) -> VoiceFeatures:
    """Run every stage on one 16-kHz recording.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float, 16 kHz (any level; the stages normalise loudness)

    Returns
    -------
    VoiceFeatures
    """
    y = np.asarray(y, dtype=np.float64)
    y = y - y.mean() if y.size else y
    power = voice_frames(y)
    t = power.shape[1]
    frame_db = _frame_db(power)
    active = voice_activity(frame_db)
    f0, harm = voice_pitch(y, t)
    voiced = (harm > VOICING_THRESHOLD) & active
    quality, reason, info = voice_quality(y, frame_db, active, voiced)
    if active.any():
        # bandwidth: telephone audio (300-3400 Hz, 8 kHz) has almost nothing above 4 kHz; the encoder sends such
        # speech to its telephone-band model (or halves the quality where there is none)
        freqs = np.arange(power.shape[0]) * SR / N_FFT
        band = power[:, active].sum(1)
        ref = band[(freqs >= 300) & (freqs <= 3400)].sum()
        high_db = float(10 * np.log10(band[freqs > 4000].sum() / ref + 1e-12)) if ref > 0 else None
        info["high_band_db"] = None if high_db is None else round(high_db, 1)
        info["narrowband"] = bool(high_db is not None and high_db < NARROWBAND_DB)
    if active.any():
        act_db = 10 * np.log10(np.mean(10 ** (frame_db[active] / 10)))
        gain_db = float(np.clip(TARGET_DBFS - act_db, -60.0, 100.0))
    else:
        gain_db = 0.0
    gain = 10 ** (gain_db / 20)
    info["gain_db"] = round(gain_db, 2)
    keep = voice_keep(active)
    logmel_all = voice_logmel(power, gain)
    frame_db_n = frame_db + gain_db
    zc = np.abs(np.diff(np.signbit(y).astype(np.int8))) if y.size > 1 else np.zeros(1)
    c = np.concatenate([[0.0], np.cumsum(zc, dtype=np.float64)])
    centres = np.arange(t) * HOP
    lo, hi = np.clip(centres - WIN // 2, 0, len(zc)), np.clip(centres + WIN // 2, 0, len(zc))
    zcr = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    if keep.any():
        stats = voice_statistics(power * gain * gain, logmel_all, frame_db_n, f0, voiced, harm, active, keep, zcr)
    else:
        stats = np.zeros(N_STATS, np.float32)
    kept_index = np.flatnonzero(keep)
    return VoiceFeatures(logmel=logmel_all[:, kept_index], stats=stats, kept_index=kept_index,
                         speech_s=info["speech_s"], voiced_s=info["voiced_s"], quality=quality, reason=reason,
                         info=info, f0=f0, voiced=voiced)
