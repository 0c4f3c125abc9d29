"""A speaker's own baseline for the voice-tone estimate.

People differ: a voice that is always loud, always high or always flat reads as emotion to a model that only
knows the population. Given a few other recordings of the same speaker (neutral speech, or everyday speech of
any tone), :func:`speaker_stats` summarises them once, and :meth:`VoiceEncoder.encode(x, baseline=...)
<cxsense.encoders.voice.encoder.VoiceEncoder.encode>` compares the recording with that summary through a small
head (``voice-baseline`` in the registry, ``models/voice/voice_baseline_v1.json``; see
``training/voice/train_baseline.py`` and docs/voice.md, "Speaker baseline").

What the summary keeps: the mean calibrated log-probabilities of the baseline recordings (7 numbers), the mean
of the 22 prosodic statistics and the mean log-mel spectrum (64 bands) of their speech, and counts. No sample,
no spectrogram frame and no identity is kept; the summary is meant to be used for one call (or one session)
and dropped.

The head reads, for the tested recording: its own calibrated log-probabilities, their difference from the
baseline's, the difference of its statistics from the baseline's (in units of the population's spread) and
the difference of its mean log-mel from the baseline's (projected on a few directions learnt from the
training speakers). It is a multinomial logistic regression trained on (recording, baseline) pairs of the
training actors, whose logits came from networks that never heard those actors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...emotions import EMOTIONS

__all__ = ["SpeakerBaseline", "speaker_stats", "check_baseline", "BaselineHead", "HEAD_NAME", "FAMILY", "head_features"]

#: Registry name of the head's weights.
HEAD_NAME = "voice-baseline"
#: ``architecture.family`` of its file (metadata block: features, standardisation, temperature; coef beside it).
FAMILY = "cxsense-voice-baseline-head"


@dataclass(frozen=True)
class SpeakerBaseline:
    """What :func:`speaker_stats` keeps of a speaker's baseline recordings (means only).

    Attributes
    ----------
    logp : np.ndarray [shape=(7,)], mean calibrated log-probabilities (natural log, :data:`EMOTIONS` order)
    stats : np.ndarray [shape=(22,)], mean prosodic and spectral statistics
        (:data:`cxsense.encoders.voice.features.STAT_NAMES`)
    mel : np.ndarray [shape=(64,)], mean log-mel of the kept speech frames, dB (loudness-normalised)
    n_items : int, recordings given
    n_usable : int, recordings with usable speech (quality > 0); the means are over these
    speech_s : float, seconds of active speech in the usable recordings
    model : str, name of the voice model whose probabilities ``logp`` holds
    """

    logp: np.ndarray
    stats: np.ndarray
    mel: np.ndarray
    n_items: int
    n_usable: int
    speech_s: float
    model: str

    def summary(self) -> dict:
        """JSON-able counts for a result's details (no features)."""
        return {"items": self.n_items, "usable_items": self.n_usable, "speech_s": round(self.speech_s, 2)}

    @classmethod
    def merge(cls, parts: list["SpeakerBaseline"]) -> "SpeakerBaseline":
        """One summary of several (e.g. one per recording, gathered as a session goes): the same means as
        :func:`speaker_stats` over all their recordings, weighted by usable recordings."""
        w = np.array([b.n_usable for b in parts], np.float64)
        if not len(parts) or w.sum() <= 0:
            raise ValueError("nothing usable to merge")
        mean = lambda a: np.average(np.stack(a), axis=0, weights=w)  # noqa: E731
        return cls(logp=mean([b.logp for b in parts]), stats=mean([b.stats for b in parts]),
                   mel=mean([b.mel for b in parts]), n_items=int(sum(b.n_items for b in parts)),
                   n_usable=int(w.sum()), speech_s=float(sum(b.speech_s for b in parts)), model=parts[0].model)


def check_baseline(baseline) -> None:
    """An :class:`InputError` naming ``voice_baseline`` unless ``baseline`` is a :class:`SpeakerBaseline`."""
    from ...errors import InputError

    if not isinstance(baseline, SpeakerBaseline):
        raise InputError("voice_baseline", "a SpeakerBaseline from speaker_stats()", type(baseline).__name__)


def speaker_stats(items, encoder=None, parameter: str = "voice_baseline") -> SpeakerBaseline:
    """Summarise one speaker's baseline recordings: one encoder pass per recording, computed once.

    Parameters
    ----------
    items : Audio, any form ``voice`` accepts, or a list or tuple of them
        Recordings of the same speaker, never the recording to be assessed. Neutral speech is best (the head
        was trained on both neutral and everyday baselines; docs/voice.md). A tuple ``(samples, rate)`` is
        one recording, as for ``voice``.
    encoder : VoiceEncoder, optional
        The encoder whose model reads the recordings (default: the shared one, ``get_encoder("voice")``).
    parameter : str
        Name used in errors.

    Returns
    -------
    SpeakerBaseline

    Raises
    ------
    InputError
        ``items`` is empty, one item is not a readable recording (naming ``parameter[i]``), or none of them
        has usable speech (as for ``encode``: enough voiced speech, not music or noise alone).
    """
    from ...errors import InputError
    from ...inputs.audio import Audio, load_audio
    from .encoder import segments
    from .features import voice_process

    if encoder is None:
        from .. import get_encoder

        encoder = get_encoder("voice")
    if isinstance(items, (list,)) or (isinstance(items, tuple) and not _is_samples_rate(items)):
        seq = list(items)
        names = [f"{parameter}[{i}]" for i in range(len(seq))]
    else:
        seq, names = [items], [parameter]
    if not seq:
        raise InputError(parameter, "one or more recordings of the same speaker", "an empty list")
    logps, stats, mels, speech = [], [], [], 0.0
    model = None
    for x, name in zip(seq, names):
        if isinstance(x, Audio):
            audio = x
        else:
            try:
                audio = load_audio(x)
            except InputError as e:
                raise InputError(name, e.allowed, e.given) from None
        f = voice_process(audio.samples)
        if f.quality <= 0:
            continue
        sound = getattr(encoder, "_sound", None)  # music or noise without speech is no baseline either
        if sound is not None and not sound.decide(f, segments(f.logmel.shape[1])).is_speech:
            continue
        m = encoder.model_for(bool(f.info.get("narrowband")))
        lg, _, _ = m.member_logits(f, segments(f.logmel.shape[1]))
        logps.append(m.calibrated_logp(lg))
        stats.append(f.stats.astype(np.float64))
        mels.append(f.logmel.mean(1).astype(np.float64))
        speech += float(f.speech_s)
        model = model or m.info["name"]
    if not logps:
        raise InputError(parameter, "recordings with usable speech (at least 0.5 s of speech, not silence or "
                         "heavy clipping)", f"{len(seq)} recording(s) without usable speech")
    return SpeakerBaseline(logp=np.mean(logps, 0), stats=np.mean(stats, 0), mel=np.mean(mels, 0),
                           n_items=len(seq), n_usable=len(logps), speech_s=speech, model=str(model))


def _is_samples_rate(x) -> bool:
    """True for a ``(samples, rate)`` tuple (one recording), False for a tuple of recordings."""
    return len(x) == 2 and isinstance(x[1], (int, np.integer)) and not isinstance(x[1], bool)


def head_features(logp: np.ndarray, stats: np.ndarray, mel: np.ndarray, b_logp: np.ndarray, b_stats: np.ndarray,
                  b_mel: np.ndarray, spec: dict) -> np.ndarray:
    """The head's inputs for ``n`` (recording, baseline) pairs, before its standardisation.

    Parameters
    ----------
    logp, b_logp : np.ndarray [shape=(n, 7)], calibrated log-probabilities of the recording and mean of its baseline's
    stats, b_stats : np.ndarray [shape=(n, 22)]
    mel, b_mel : np.ndarray [shape=(n, 64)], dB
    spec : dict, the head's ``features`` entry: ``groups`` (a subset of ``logp``, ``dlogp``, ``dstats``,
        ``dmel``), ``stats_sd`` (22), ``mel_basis`` (k x 64)

    Returns
    -------
    np.ndarray [shape=(n, d)], float64
    """
    parts = []
    groups = spec["groups"]
    if "logp" in groups:
        parts.append(logp)
    if "dlogp" in groups:
        parts.append(logp - b_logp)
    if "dstats" in groups:
        parts.append((stats - b_stats) / np.asarray(spec["stats_sd"]))
    if "dmel" in groups:
        parts.append((mel - b_mel) @ np.asarray(spec["mel_basis"]).T)
    return np.concatenate(parts, 1)


class BaselineHead:
    """The multinomial logistic head over :func:`head_features` (weights from a JSON dict).

    Parameters
    ----------
    weights : dict with ``features`` (see :func:`head_features`), ``mean``, ``sd`` (standardisation), ``coef``
        (7 x d), ``intercept`` (7), ``temperature`` and ``version``
    """

    def __init__(self, weights: dict):
        self.spec = weights["features"]
        self.mean = np.asarray(weights["mean"], np.float64)
        self.sd = np.asarray(weights["sd"], np.float64)
        self.coef = np.asarray(weights["coef"], np.float64)
        self.intercept = np.asarray(weights["intercept"], np.float64)
        self.temperature = float(weights["temperature"])
        self.version = str(weights.get("version", "?"))
        d = len(self.mean)
        if self.coef.shape != (len(EMOTIONS), d) or self.sd.shape != (d,) or self.intercept.shape != (len(EMOTIONS),):
            raise ValueError("inconsistent shapes in the voice baseline head")
        if not (np.all(np.isfinite(self.coef)) and np.all(self.sd > 0) and self.temperature > 0):
            raise ValueError("non-finite or non-positive values in the voice baseline head")

    @classmethod
    def from_document(cls, document: dict) -> "BaselineHead":
        """From a model file's JSON document: the metadata block (``input.features``, ``normalisation`` ``mean`` and
        ``sd``, ``calibration.temperature``) and the ``coef`` and ``intercept`` beside it.

        Raises
        ------
        ModelError
            Another metadata format version, family or labels, or a missing field.
        """
        from ...modelmeta import ModelMeta

        meta = ModelMeta.from_json_document(document, HEAD_NAME).expect(FAMILY, EMOTIONS)
        mean, sd = meta.require("normalisation", "mean", "sd")
        return cls({"features": meta.require("input", "features"), "mean": mean, "sd": sd,
                    "coef": document["coef"], "intercept": document["intercept"],
                    "temperature": meta.require("calibration", "temperature"), "version": meta.version})

    @classmethod
    def load(cls) -> "BaselineHead":
        """The registered head (``voice-baseline``, SHA-256 and metadata checked)."""
        from ...registry import load_json_model

        return load_json_model(HEAD_NAME, cls.from_document)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Calibrated logits ``(n, 7)`` for features ``x`` ``(n, d)`` from :func:`head_features`."""
        return (((x - self.mean) / self.sd) @ self.coef.T + self.intercept) / self.temperature

    def probabilities(self, logp: np.ndarray, stats: np.ndarray, mel: np.ndarray, base: SpeakerBaseline) -> np.ndarray:
        """Probabilities ``(7,)`` of one recording (its calibrated ``logp``, ``stats``, mean ``mel``) given ``base``."""
        x = head_features(logp[None], stats[None], mel[None], base.logp[None], base.stats[None], base.mel[None],
                          self.spec)
        z = self.logits(x)[0]
        z = z - z.max()
        p = np.exp(z)
        return p / p.sum()
