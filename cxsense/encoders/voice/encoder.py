"""The voice-tone encoder: how something is said, not what is said.

Pipeline (see :mod:`cxsense.encoders.voice.features` for the signal stages):

1. Any accepted input is normalised once by :func:`cxsense.inputs.audio.load_audio` (16-kHz mono float32).
2. Voice activity detection, quality checks (silence, < 0.5 s of speech, no voiced speech, heavy clipping
   give ``quality == 0`` and no estimate; so do music and noise without speech, judged on the kept frames by
   :mod:`~cxsense.encoders.voice.speech`), loudness normalisation to -23 dBFS of active speech, a 64-band
   log-mel of the kept frames (pauses capped at 300 ms; the recording's mean log-mel per band is subtracted
   when the weights say ``cmn``) and 22 prosodic/spectral statistics (YIN pitch).
3. :class:`~cxsense.encoders.voice.net.VoiceNet` reads the log-mel and the statistics. Up to 5 s of kept
   frames are read in one pass; longer recordings are cut into 4-s segments with 2-s hop (the last one
   aligned to the end), the segment logits are averaged, and the embedding is the mean of the segment
   embeddings. The statistics are those of the whole recording.
4. Probabilities: softmax of the averaged logits divided by the temperature, plus a prior correction
   (``logit_bias`` in the weights' metadata) so that no class is favoured a priori (RAVDESS counts calm as
   neutral, which makes neutral 1.5 times as frequent in training). Temperature and correction are fitted on out-of-fold logits
   of the training actors (see models/voice/MODEL_CARD.md), not on the dev actors.
   Valence and arousal are the circumplex expectation (:func:`cxsense.emotions.circumplex_va`) and
   stress is :func:`cxsense.emotions.stress_from_va` of them (RAVDESS has no stress labels).

Warm-up: the first librosa call compiles numba code (about 15-25 s on one core). ``VoiceEncoder()`` runs
one synthetic 1.5-s signal through the whole pipeline at construction (``warmup=True``, the default),
so that the cost is paid once when the encoder is created, not in the first :meth:`encode`.
"""

from __future__ import annotations

import json

import numpy as np

from ...emotions import EMOTIONS, circumplex_va, stress_from_va
from ...errors import ModelError
from ..base import Encoder, ModalityResult
from .features import NARROWBAND_QUALITY

__all__ = ["VoiceEncoder", "MODEL_NAME", "NARROWBAND_MODEL_NAME", "SEGMENT_FRAMES", "SEGMENT_HOP_FRAMES", "SINGLE_PASS_FRAMES"]

MODEL_NAME = "voice-tone"
#: The model for narrowband (telephone-band) speech: same recipe plus telephone-line augmentation.
NARROWBAND_MODEL_NAME = "voice-tone-narrowband"
#: Recordings with at most this many kept 10-ms frames are read in one pass (5 s).
SINGLE_PASS_FRAMES = 500
#: Segment length and hop for longer recordings, in 10-ms frames (4 s and 2 s).
SEGMENT_FRAMES = 400
SEGMENT_HOP_FRAMES = 200


def _segments(k: int) -> list[tuple[int, int]]:
    if k <= SINGLE_PASS_FRAMES:
        return [(0, k)]
    starts = list(range(0, k - SEGMENT_FRAMES + 1, SEGMENT_HOP_FRAMES))
    if starts[-1] + SEGMENT_FRAMES < k:
        starts.append(k - SEGMENT_FRAMES)
    return [(s, s + SEGMENT_FRAMES) for s in starts]


class VoiceEncoder(Encoder):
    """Voice tone -> 7 calibrated emotion probabilities, valence, arousal, stress and a 128-d embedding.

    Parameters
    ----------
    warmup : bool, default True
        Run one synthetic signal through the pipeline at construction, so that numba compilation
        (librosa, about 15-25 s once per process) is not paid by the first :meth:`encode`.

    Raises
    ------
    ModelError
        The weights file is missing, corrupt, or of another architecture.
    """

    modality = "voice"
    embedding_dim = 128

    def __init__(self, *, warmup: bool = True):
        from ...registry import list_models

        self._setup(*self._read(MODEL_NAME))
        # telephone-band speech goes to a model trained with telephone-line augmentation, where one is registered
        self._narrow = None
        if NARROWBAND_MODEL_NAME in list_models():
            self._narrow = VoiceEncoder.__new__(VoiceEncoder)
            self._narrow._setup(*self._read(NARROWBAND_MODEL_NAME), name=NARROWBAND_MODEL_NAME)
            self._narrow._narrow = None
        self._sound = _sound_classifier()
        if warmup:
            self.warm_up()

    def warm_up(self) -> None:
        """Run one synthetic 1.5-s signal through the whole pipeline (numba compiles librosa's code once)."""
        self.encode(_warmup_signal())

    @staticmethod
    def _read(name: str) -> tuple[dict, dict, str, dict]:
        """Weights, metadata, path and registry entry of a registered voice model, checked against this code."""
        from safetensors import safe_open

        from ...registry import model_entry, model_path
        from .features import N_MELS, N_STATS, STAT_NAMES
        from .net import ARCH

        path = model_path(name)
        entry = model_entry(name)
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                state = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:
            raise ModelError(f"cannot read the voice model {path}: {e}") from e
        if meta.get("arch") != ARCH:
            raise ModelError(f"voice model {path} has architecture {meta.get('arch')!r}; "
                             f"this version of cxsense needs {ARCH!r}")
        if int(meta.get("n_mels", -1)) != N_MELS or json.loads(meta.get("stat_names", "[]")) != list(STAT_NAMES):
            raise ModelError(f"voice model {path} was trained on other features "
                             f"(n_mels={meta.get('n_mels')}, {len(json.loads(meta.get('stat_names', '[]')))} statistics); "
                             f"this version computes n_mels={N_MELS}, {N_STATS} statistics")
        if json.loads(meta.get("labels", "[]")) != list(EMOTIONS):
            raise ModelError(f"voice model {path} has labels {meta.get('labels')}; expected {list(EMOTIONS)}")
        return state, meta, str(path), entry

    @classmethod
    def _from_weights(cls, state: dict, meta: dict) -> "VoiceEncoder":
        """An encoder from in-memory weights and metadata, not from the registry (for training and calibration).

        ``state`` maps ``m{i}.<parameter>`` to tensors, ``meta`` is the safetensors metadata the export writes.
        No warm-up is run. Library users construct :class:`VoiceEncoder` instead.
        """
        self = cls.__new__(cls)
        self._setup(state, meta, "<in memory>", {"sha256": None, "version": meta.get("version"),
                                                 "licence": meta.get("licence")})
        self._narrow = None
        self._sound = None  # no speech/music decision: training and calibration read every recording
        return self

    def _setup(self, state: dict, meta: dict, path: str, entry: dict, name: str = MODEL_NAME) -> None:
        import torch

        from .features import N_MELS, N_STATS
        from .net import VoiceNet

        n_members = int(meta.get("members", "1"))
        nets = []
        for i in range(n_members):
            prefix = f"m{i}." if "members" in meta else ""
            net = VoiceNet(n_mels=N_MELS, n_stats=N_STATS)
            try:
                net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, strict=True)
            except RuntimeError as e:
                raise ModelError(f"voice model {path} does not fit architecture {meta.get('arch')}: {e}") from e
            nets.append(net.eval())
        self._torch = torch
        self._nets = nets
        norm = json.loads(meta["normalisation"])
        self._mel_mean = np.asarray(norm["mel_mean"], np.float32)[:, None]
        self._mel_std = np.asarray(norm["mel_std"], np.float32)[:, None]
        self._st_mean = np.asarray(norm["stats_mean"], np.float32)
        self._st_std = np.asarray(norm["stats_std"], np.float32)
        self._temperature = float(meta["temperature"])
        # Optional prior correction added to the tempered logits (the export writes it with the calibration):
        # RAVDESS counts calm as neutral, so neutral is 1.5 times as frequent in training as any other class
        # (12 of 60 takes per actor); ``logit_bias = -log(7 * train prior)`` makes the estimate assume equal
        # class priors.
        bias = json.loads(meta["logit_bias"]) if "logit_bias" in meta else [0.0] * len(EMOTIONS)
        if len(bias) != len(EMOTIONS) or not np.all(np.isfinite(bias)):
            raise ModelError(f"voice model {path}: logit_bias must be {len(EMOTIONS)} finite numbers")
        self._bias = np.asarray(bias, np.float64)
        self._cmn = meta.get("cmn", "0") == "1"
        self._info = {"name": name, "version": meta.get("version", entry.get("version")),
                      "sha256": entry["sha256"], "arch": meta.get("arch"), "temperature": round(self._temperature, 4),
                      "class_prior": meta.get("class_prior", "training"),
                      "logit_bias": [round(float(b), 6) for b in self._bias],
                      "licence": entry.get("licence"), "trained_on": meta.get("trained_on"), "members": n_members}

    def info(self) -> dict:
        """Provenance: model name, version, SHA-256, architecture, temperature, class prior and logit bias, licence."""
        return dict(self._info)

    def encode(self, x, options=None, *, baseline=None) -> ModalityResult:
        """Read the tone of one recording.

        Parameters
        ----------
        x : Audio (from :func:`cxsense.inputs.audio.load_audio`: 16-kHz mono float32)
        options : VoiceOptions, optional
            None are read yet (the interface every encoder shares).
        baseline : SpeakerBaseline, optional
            The same speaker's other recordings, read once by :meth:`prepare_baseline` (or
            :func:`cxsense.encoders.voice.baseline.speaker_stats`). The probabilities then come from the
            speaker-baseline head (``voice-baseline``), which compares this recording with the baseline;
            ``details["baseline"]`` says how much of it was usable. None changes nothing.

        Returns
        -------
        ModalityResult
            ``quality == 0`` (with ``details["reason"]``) for silence, less than 0.5 s of speech, no
            voiced speech, heavy clipping, or music or noise without speech (``details["sound"]``: the
            decision and the speech/music/noise probabilities of :mod:`.speech`); otherwise calibrated
            probabilities, valence, arousal, stress and the 128-d pre-logit embedding.
        """
        from .features import voice_process

        if baseline is not None:
            from .baseline import check_baseline

            check_baseline(baseline)
        audio = _clean(x)
        f = voice_process(audio.samples)
        details = {"signal": dict(f.info), "methods": {
            "vad": "adaptive energy threshold (10-ms frames)", "loudness": "active speech to -23 dBFS",
            "pitch": "librosa.yin 65-600 Hz at 8 kHz, voicing by autocorrelation > 0.55",
            "features": "64-band log-mel 50-8000 Hz + 22 prosodic/spectral statistics",
            "pooling": "one pass up to 5 s of kept frames, else 4-s segments (2-s hop), mean logits"}}
        if self._cmn:
            details["methods"]["channel"] = "recording's mean log-mel subtracted per band"
        if f.quality <= 0:
            return ModalityResult.no_signal("voice", self.embedding_dim, f.reason or "no usable speech",
                                            details=details, model=self.info())
        sound = self._sound.decide(f, _segments(f.logmel.shape[1])) if getattr(self, "_sound", None) else None
        if sound is not None:  # speech, music or noise (cxsense.encoders.voice.speech): music is not read as speech
            details["sound"] = {"decision": sound.label, **sound.probabilities}
            details["methods"]["sound"] = f"speech/music/noise MLP; speech when p(speech) >= {sound.threshold}"
            if not sound.is_speech:
                return ModalityResult.no_signal("voice", self.embedding_dim, sound.reason, details=details,
                                                model=self.info())
        m = self._model_for(f)
        quality = f.quality
        if f.info.get("narrowband") and m is self:  # no telephone-band model: such estimates count half
            quality *= NARROWBAND_QUALITY
        lg, e, n_segs = m._member_logits(f)
        logp = m._calibrated_logp(lg)
        p = np.exp(logp)
        p /= p.sum()
        if baseline is not None:
            p, details["baseline"] = self._with_baseline(logp, f, baseline)
        v, a = circumplex_va(p)
        voiced_f0 = f.f0[f.voiced]
        details["segments"] = n_segs
        details["f0_median_hz"] = round(float(np.median(voiced_f0)), 1) if voiced_f0.size else None
        details["statistics"] = {"voiced_fraction": round(float(f.stats[7]), 3),
                                 "f0_range_semitones": round(float(f.stats[4]), 2)}
        return ModalityResult(modality="voice", probabilities=dict(zip(EMOTIONS, p.tolist())), embedding=e,
                              quality=quality, valence=v, arousal=a, stress=stress_from_va(v, a),
                              details=details, model=m.info())

    def prepare_baseline(self, baseline, options=None):
        """Read a speaker's baseline recordings once, for :meth:`encode`'s ``baseline=``.

        Parameters
        ----------
        baseline : Audio, or a list or tuple of Audio (other recordings of the same speaker, never the one assessed)
        options : VoiceOptions, optional (none are read)

        Returns
        -------
        SpeakerBaseline (:mod:`cxsense.encoders.voice.baseline`): means only, one encoder pass per recording

        Raises
        ------
        InputError
            Naming ``voice_baseline``: empty, or no recording with usable speech.
        """
        from .baseline import speaker_stats

        return speaker_stats(baseline, encoder=self)

    def _calibrated_logp(self, member_logits: np.ndarray) -> np.ndarray:
        """Log-probabilities ``(7,)``: members' logits averaged, divided by T, plus the prior correction."""
        z = member_logits.mean(0) / self._temperature + self._bias
        z = z - z.max()
        return z - np.log(np.exp(z).sum())

    def _with_baseline(self, logp: np.ndarray, f, baseline) -> tuple[np.ndarray, dict]:
        """Probabilities ``(7,)`` of the speaker-baseline head and the details entry for ``baseline``."""
        from .baseline import BaselineHead

        if getattr(self, "_baseline_head", None) is None:
            self._baseline_head = BaselineHead.load()
        head = self._baseline_head
        p = head.probabilities(logp, f.stats.astype(np.float64), f.logmel.mean(1).astype(np.float64), baseline)
        return p, dict(baseline.summary(), used=True, head=f"{head.version}")

    def _model_for(self, f) -> "VoiceEncoder":
        """The telephone-band model for narrowband speech when one is registered, else this one."""
        return self._narrow if (f.info.get("narrowband") and getattr(self, "_narrow", None) is not None) else self

    def _member_logits(self, f) -> tuple[np.ndarray, np.ndarray, int]:
        """Uncalibrated logits of every member, the embedding and the number of segments, for features ``f``.

        Returns
        -------
        logits : np.ndarray [shape=(members, 7)], float64, segment-averaged, before the temperature
        embedding : np.ndarray [shape=(128,)], float32, the first member's (segment-averaged)
        n_segments : int
        """
        torch = self._torch
        mel = f.logmel - f.logmel.mean(1, keepdims=True) if self._cmn else f.logmel
        mel = (mel - self._mel_mean) / self._mel_std
        st = ((f.stats - self._st_mean) / self._st_std).astype(np.float32)
        segs = _segments(mel.shape[1])
        L = segs[0][1] - segs[0][0]
        xb = np.stack([mel[:, s:e] for s, e in segs]).astype(np.float32)
        xt, mt = torch.from_numpy(xb), torch.ones(len(segs), L)
        stt = torch.from_numpy(np.repeat(st[None], len(segs), 0))
        logits, embs = [], []
        with torch.inference_mode():
            for net in self._nets:
                lg, em = net(xt, mt, stt)
                logits.append(lg.numpy().astype(np.float64).mean(0))
                embs.append(em.numpy().astype(np.float32).mean(0))
        # the members' embedding spaces are not aligned: the first member's is the embedding
        return np.stack(logits), embs[0], len(segs)

    def raw_logits(self, x) -> np.ndarray | None:
        """Uncalibrated logits of each member (before averaging and the temperature); for calibration.

        Parameters
        ----------
        x : Audio (from :func:`cxsense.inputs.audio.load_audio`)

        Returns
        -------
        np.ndarray [shape=(members, 7)] float64, or None when the recording has no usable speech (quality 0).
        """
        from .features import voice_process

        f = voice_process(_clean(x).samples)
        if f.quality <= 0:
            return None
        return self._model_for(f)._member_logits(f)[0]


def _sound_classifier():
    """The registered speech/music/noise classifier, or None where this install has none."""
    from ...registry import list_models
    from .speech import SOUND_MODEL_NAME, SoundClassifier

    return SoundClassifier() if SOUND_MODEL_NAME in list_models() else None


def _clean(x):
    from ...inputs.audio import Audio

    if not isinstance(x, Audio):
        from ...errors import InputError

        raise InputError("x", "an Audio from cxsense.inputs.audio.load_audio", type(x).__name__)
    return x


def _warmup_signal():
    """1.5 s of synthetic vowel-like syllables (harmonics of a gliding f0, 200-ms syllables, 60-ms gaps)."""
    from ...inputs.audio import Audio

    t = np.arange(24000) / 16000.0
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    ph = 2 * np.pi * np.cumsum(f0) / 16000.0
    y = sum(np.sin(k * ph) / k for k in range(1, 8))
    cycle = (t % 0.26) / 0.26
    y = y * np.where(cycle < 0.77, np.sin(np.pi * np.minimum(cycle / 0.77, 1.0)), 0.0)
    y = (0.1 * y / np.max(np.abs(y))).astype(np.float32)
    return Audio(samples=y, sampling_rate=16000)
