"""Speech, music or noise: the decision the voice encoder takes before it reads emotion.

The voice activity detection of :mod:`~cxsense.encoders.voice.features` keeps every frame that rises above the
noise floor, so a music soundtrack or a non-stationary noise (typing, traffic, a crowd) reaches the emotion
network as if it were speech. This module decides, on the frames the VAD kept, whether they hold speech.

It reads the kept 64-band log-mel frames and the YIN pitch track that :func:`voice_process` already computed
(no second spectrogram), turns them into :data:`N_FEATURES` hand-crafted descriptors (:func:`sound_features`:
syllable-rate (2-8 Hz) envelope modulation, low-energy frames, spectral flux, flatness, the similarity of
the spectrum 50-300 ms apart, voiced-run lengths and rate, pitch stability within voiced runs, rhythm
regularity, the coupling of low and high bands) and classifies them with a small multilayer perceptron
(``speech-music`` in the registry, a JSON file: its metadata block (:mod:`cxsense.modelmeta`: the features,
the standardiser, the threshold) and the layers; numpy only).

Recordings longer than one encoder segment are cut like the encoder cuts them (4-s chunks, 2-s hop); the
chunk probabilities are averaged. The recording is speech when ``p(speech) >= threshold`` (the threshold
is in the file's ``calibration``, chosen on RAVDESS dev actors 19-20 so that none of their clips is rejected).
See ``models/voice/SPEECH_MUSIC_CARD.md`` for the training data and the measured figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

__all__ = ["SOUND_MODEL_NAME", "SOUND_CLASSES", "FEATURE_NAMES", "N_FEATURES", "SoundDecision", "SoundClassifier",
           "sound_features"]

#: Registry name of the speech/music/noise classifier.
SOUND_MODEL_NAME = "speech-music"
#: ``architecture.family`` of its file (metadata block of :mod:`cxsense.modelmeta`; the layers beside it).
FAMILY = "cxsense-sound-mlp"
#: Classes in the order of the classifier's outputs.
SOUND_CLASSES = ("speech", "music", "noise")
FEATURE_NAMES = (
    "energy_std_db", "energy_p90_p10_db", "low_energy_fraction", "silent_fraction",
    "mod_2_8hz_share", "mod_0_2hz_share", "mod_8_20hz_share", "band_mod_depth_4hz",
    "flux_mean", "flux_std", "flux_p90", "flatness_mean_db", "flatness_std_db",
    "centroid_mean", "centroid_std", "centroid_delta",
    "spec_corr_10ms", "spec_corr_50ms", "spec_corr_300ms", "band_std_db",
    "voiced_fraction", "voiced_runs_per_s", "voiced_run_mean_s", "voiced_run_max_s",
    "pitch_stable_fraction", "pitch_delta_st", "pitch_jump_fraction", "pitch_run_range_st",
    "rhythm_peak", "lo_hi_corr", "hi_band_std_db", "duration_s",
)
N_FEATURES = len(FEATURE_NAMES)
_FPS = 100.0  # kept frames are 10 ms apart


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _mod_shares(env: np.ndarray) -> tuple[float, float, float]:
    """Shares of envelope modulation power in 0.25-2, 2-8 and 8-20 Hz (of 0.25-20 Hz)."""
    x = env - env.mean()
    n = max(256, int(2 ** np.ceil(np.log2(len(x)))))
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n)) ** 2
    fr = np.fft.rfftfreq(n, 1.0 / _FPS)
    tot = spec[(fr >= 0.25) & (fr < 20)].sum() + 1e-12
    return (float(spec[(fr >= 0.25) & (fr < 2)].sum() / tot), float(spec[(fr >= 2) & (fr < 8)].sum() / tot),
            float(spec[(fr >= 8) & (fr < 20)].sum() / tot))


def _lag_corr(z: np.ndarray, lag: int) -> float:
    """Mean cosine similarity of band-centred spectra ``lag`` frames apart."""
    if z.shape[1] <= lag:
        return 0.0
    a, b = z[:, :-lag], z[:, lag:]
    num = (a * b).sum(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0)) + 1e-9
    return float(np.mean(num / den))


def sound_features(logmel: np.ndarray, f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Descriptors that separate speech from music and noise (:data:`FEATURE_NAMES`).

    Parameters
    ----------
    logmel : np.ndarray [shape=(64, k)], dB
        Log-mel of the frames the VAD kept (10-ms hop), as :class:`VoiceFeatures.logmel`; the level does not
        matter (every descriptor is level-free).
    f0 : np.ndarray [shape=(k,)], Hz, YIN pitch of the same frames
    voiced : np.ndarray [shape=(k,)], bool

    Returns
    -------
    np.ndarray [shape=(N_FEATURES,)], float64, finite (0 where a descriptor is undefined)
    """
    L = np.asarray(logmel, np.float64)
    k = L.shape[1]
    out = np.zeros(N_FEATURES)
    if k < 8:
        return out
    P = 10.0 ** (L / 10.0)
    e = 10 * np.log10(P.mean(0) + 1e-12)
    med = np.median(e)
    out[0] = e.std()
    out[1] = np.percentile(e, 90) - np.percentile(e, 10)
    out[2] = np.mean(e < med - 10.0)
    out[3] = np.mean(e < e.max() - 35.0)
    # envelope modulation: the syllable rate of speech puts its power at 2-8 Hz
    out[4:7] = np.array(_mod_shares(np.maximum(e, e.max() - 50.0)))[[1, 0, 2]]
    bands = np.array_split(np.arange(L.shape[0]), 8)
    depth = []
    for b in bands:
        env = np.sqrt(P[b].mean(0))
        x = env / (env.mean() + 1e-12) - 1.0
        n = max(256, int(2 ** np.ceil(np.log2(k))))
        spec = np.abs(np.fft.rfft(x * np.hanning(k), n)) ** 2 / k
        fr = np.fft.rfftfreq(n, 1.0 / _FPS)
        depth.append(spec[(fr >= 2) & (fr < 8)].sum())
    out[7] = np.log10(np.mean(depth) + 1e-6)
    Lc = np.maximum(L, L.max() - 80.0)
    flux = np.maximum(np.diff(Lc, axis=1), 0.0).mean(0)
    out[8], out[9], out[10] = flux.mean(), flux.std(), np.percentile(flux, 90)
    flat = 10 * np.log10(np.exp(np.log(P + 1e-12).mean(0)) / (P.mean(0) + 1e-12) + 1e-12)
    out[11], out[12] = flat.mean(), flat.std()
    idx = np.arange(L.shape[0], dtype=np.float64)
    cen = (P * idx[:, None]).sum(0) / (P.sum(0) + 1e-12) / L.shape[0]
    out[13], out[14], out[15] = cen.mean(), cen.std(), np.abs(np.diff(cen)).mean()
    z = Lc - Lc.mean(0, keepdims=True)
    out[16], out[17], out[18] = _lag_corr(z, 1), _lag_corr(z, 5), _lag_corr(z, 30)
    out[19] = Lc.std(1).mean()
    v = np.asarray(voiced, bool)[:k]
    dur = k / _FPS
    out[20] = v.mean()
    s, t = _runs(v)
    if s.size:
        lens = (t - s) / _FPS
        out[21], out[22], out[23] = s.size / dur, lens.mean(), lens.max()
    st = 12 * np.log2(np.maximum(np.asarray(f0, np.float64)[:k], 1.0) / 100.0)
    d = np.abs(st[2:] - st[:-2])  # YIN runs every 20 ms
    both = v[2:] & v[:-2]
    if both.sum() >= 4:
        dv = d[both]
        out[24] = np.mean(dv < 0.06)
        out[25] = np.mean(np.minimum(dv, 2.0))
        out[26] = np.mean((dv > 0.7) & (dv < 6.0))
        ranges = [np.ptp(st[a:b]) for a, b in zip(s, t) if b - a >= 6]
        out[27] = float(np.median(ranges)) if ranges else 0.0
    # rhythm: the strongest periodicity of the flux envelope at 0.25-1.5 s
    o = flux - flux.mean()
    if len(o) > 160:
        ac = np.correlate(o, o, "full")[len(o) - 1:]
        out[28] = ac[25:min(150, len(o) - 10)].max() / (ac[0] + 1e-12)
    lo, hi = 10 * np.log10(P[:16].mean(0) + 1e-12), 10 * np.log10(P[48:].mean(0) + 1e-12)
    if lo.std() > 1e-6 and hi.std() > 1e-6:
        out[29] = np.corrcoef(lo, hi)[0, 1]
    out[30] = np.maximum(hi, hi.max() - 60).std()
    out[31] = dur
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class SoundDecision:
    """What the kept frames hold.

    Attributes
    ----------
    label : str, one of :data:`SOUND_CLASSES`
        ``"speech"`` when ``probabilities["speech"] >= threshold``, else the likelier of music and noise.
    probabilities : dict, class -> probability (sum 1), averaged over chunks
    threshold : float, the speech threshold used
    chunks : int, number of chunks classified
    """

    label: str
    probabilities: dict
    threshold: float
    chunks: int

    @property
    def is_speech(self) -> bool:
        """True when the frames are judged to hold speech."""
        return self.label == "speech"

    @property
    def reason(self) -> str | None:
        """The no-signal reason for music or noise (``"music without speech"``), None for speech."""
        return None if self.is_speech else f"{self.label} without speech"


class SoundClassifier:
    """The registered speech/music/noise classifier (a small MLP on :func:`sound_features`).

    Parameters
    ----------
    document : dict, optional
        A weights file's JSON content (its metadata block and ``layers``; for training and benchmarks of a
        candidate); by default the registered ``speech-music`` model, SHA-256 and metadata checked.

    Raises
    ------
    ModelError
        The weights are missing, corrupt, of another metadata format, or were made for other features.
    """

    def __init__(self, document: dict | None = None):
        from ...errors import ModelError
        from ...modelmeta import ModelMeta

        if document is None:
            from ...registry import model_file

            f = model_file(SOUND_MODEL_NAME)
            where, meta, sha256 = str(f.path), f.meta, f.entry["sha256"]
            try:
                document = json.loads(f.path.read_text())
            except (OSError, ValueError) as e:
                raise ModelError(f"cannot read the speech/music model {f.path}: {e}") from e
        else:
            where, sha256 = "<speech/music weights in memory>", None
            meta = ModelMeta.from_json_document(document, where)
        features = meta.require("input", "features", where=where)
        if meta.family != FAMILY or tuple(features) != FEATURE_NAMES or tuple(meta.labels) != SOUND_CLASSES:
            raise ModelError(f"{where}: a {meta.family!r} model for other features or classes than this code computes")
        try:
            mean, std = meta.require("normalisation", "mean", "std", where=where)
            self._mean = np.asarray(mean, np.float64)
            self._std = np.asarray(std, np.float64)
            self._layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in document["layers"]]
            self.threshold = float(meta.require("calibration", "threshold", where=where))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{where}: the speech/music model is malformed: {e!r}") from e
        self._info = {"name": SOUND_MODEL_NAME, "version": meta.version, "sha256": sha256,
                      "threshold": self.threshold}
        #: What the classifier was trained on (the metadata's ``provenance.training_data``).
        self.trained_on = meta.provenance["training_data"]

    def info(self) -> dict:
        """Name, version, SHA-256 and speech threshold."""
        return dict(self._info)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : np.ndarray [shape=(n, N_FEATURES)]

        Returns
        -------
        np.ndarray [shape=(n, 3)], rows sum to 1, in the order of :data:`SOUND_CLASSES`
        """
        h = (np.atleast_2d(X) - self._mean) / self._std
        for i, (w, b) in enumerate(self._layers):
            h = h @ w + b
            if i < len(self._layers) - 1:
                h = np.maximum(h, 0.0)
        h = h - h.max(1, keepdims=True)
        p = np.exp(h)
        return p / p.sum(1, keepdims=True)

    def decide(self, f, segments) -> SoundDecision:
        """Classify the kept frames of one recording.

        Parameters
        ----------
        f : VoiceFeatures, from :func:`~cxsense.encoders.voice.features.voice_process`
        segments : list of (start, end), chunks of the kept frames (the encoder's segments)

        Returns
        -------
        SoundDecision
        """
        f0, voiced = f.f0[f.kept_index], f.voiced[f.kept_index]
        X = np.stack([sound_features(f.logmel[:, a:b], f0[a:b], voiced[a:b]) for a, b in segments])
        p = self.predict(X).mean(0)
        probs = {c: round(float(x), 4) for c, x in zip(SOUND_CLASSES, p)}
        label = "speech" if p[0] >= self.threshold else ("music" if p[1] >= p[2] else "noise")
        return SoundDecision(label=label, probabilities=probs, threshold=self.threshold, chunks=len(segments))
