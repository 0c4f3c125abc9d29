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
4. Probabilities (:class:`~cxsense.encoders.voice.model.VoiceModel`): softmax of the averaged logits divided by
   the temperature, plus a prior correction (``logit_bias`` in the file's metadata block) so that no class is
   favoured a priori (RAVDESS counts calm as
   neutral, which makes neutral 1.5 times as frequent in training). Temperature and correction are fitted on out-of-fold logits
   of the training actors (see models/voice/MODEL_CARD.md), not on the dev actors.
   Valence and arousal are the circumplex expectation (:func:`cxsense.emotions.circumplex_va`) and
   stress is :func:`cxsense.emotions.stress_from_va` of them (RAVDESS has no stress labels).

Warm-up: the first librosa call compiles numba code (about 15-25 s on one core). ``VoiceEncoder()`` runs
one synthetic 1.5-s signal through the whole pipeline at construction (``warmup=True``, the default),
so that the cost is paid once when the encoder is created, not in the first :meth:`encode`.
"""

from __future__ import annotations

import numpy as np

from ...emotions import EMOTIONS, circumplex_va, stress_from_va
from ..base import Encoder, ModalityResult
from .features import NARROWBAND_QUALITY
from .model import VoiceModel

__all__ = ["VoiceEncoder", "segments", "MODEL_NAME", "NARROWBAND_MODEL_NAME", "SEGMENT_FRAMES", "SEGMENT_HOP_FRAMES",
           "SINGLE_PASS_FRAMES"]

MODEL_NAME = "voice-tone"
#: The model for narrowband (telephone-band) speech: same recipe plus telephone-line augmentation.
NARROWBAND_MODEL_NAME = "voice-tone-narrowband"
#: Recordings with at most this many kept 10-ms frames are read in one pass (5 s).
SINGLE_PASS_FRAMES = 500
#: Segment length and hop for longer recordings, in 10-ms frames (4 s and 2 s).
SEGMENT_FRAMES = 400
SEGMENT_HOP_FRAMES = 200


def segments(n_frames: int) -> list[tuple[int, int]]:
    """The segments a recording of ``n_frames`` kept 10-ms frames is read in: ``[(0, n_frames)]`` up to
    :data:`SINGLE_PASS_FRAMES`, else windows of :data:`SEGMENT_FRAMES` with hop :data:`SEGMENT_HOP_FRAMES`, the
    last one aligned to the end. Returns ``[(start, end), ...]`` in frames."""
    if n_frames <= SINGLE_PASS_FRAMES:
        return [(0, n_frames)]
    starts = list(range(0, n_frames - SEGMENT_FRAMES + 1, SEGMENT_HOP_FRAMES))
    if starts[-1] + SEGMENT_FRAMES < n_frames:
        starts.append(n_frames - SEGMENT_FRAMES)
    return [(s, s + SEGMENT_FRAMES) for s in starts]


class VoiceEncoder(Encoder):
    """Voice tone -> 7 calibrated emotion probabilities, valence, arousal, stress and a 128-d embedding.

    Parameters
    ----------
    warmup : bool, default True
        Run one synthetic signal through the pipeline at construction, so that numba compilation
        (librosa, about 15-25 s once per process) is not paid by the first :meth:`encode`.
    model : VoiceModel, optional
        Read every recording with this model (for instance a candidate file,
        :meth:`VoiceModel.from_file`) instead of the registered ones; narrowband speech then gets half the
        quality, as without a telephone-band model.

    Raises
    ------
    ModelError
        The weights file is missing, corrupt, or of another architecture or metadata format.
    """

    modality = "voice"
    embedding_dim = 128

    def __init__(self, *, warmup: bool = True, model: VoiceModel | None = None):
        from ...registry import list_models

        if model is not None:  # a candidate file: every recording is read, no speech/music decision
            self._wide, self._narrow, self._sound = model, None, None
        else:
            self._wide = VoiceModel.load(MODEL_NAME)
            # telephone-band speech goes to a model trained with telephone-line augmentation, where one is registered
            self._narrow = VoiceModel.load(NARROWBAND_MODEL_NAME) if NARROWBAND_MODEL_NAME in list_models() else None
            self._sound = _sound_classifier()
        if warmup:
            self.warm_up()

    def warm_up(self) -> None:
        """Run one synthetic 1.5-s signal through the whole pipeline (numba compiles librosa's code once)."""
        self.encode(_warmup_signal())

    def info(self) -> dict:
        """Provenance of the wideband model: name, version, SHA-256, architecture, temperature, class prior and
        logit bias, licence, training data, members."""
        return dict(self._wide.info)

    def model_for(self, narrowband: bool) -> VoiceModel:
        """The model that reads speech of this band: the telephone-band model for narrowband speech when one is
        registered, else the wideband one."""
        return self._narrow if (narrowband and self._narrow is not None) else self._wide

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
        if self._wide.cmn:
            details["methods"]["channel"] = "recording's mean log-mel subtracted per band"
        if f.quality <= 0:
            return ModalityResult.no_signal("voice", self.embedding_dim, f.reason or "no usable speech",
                                            details=details, model=self.info())
        sound = self._sound.decide(f, segments(f.logmel.shape[1])) if self._sound is not None else None
        if sound is not None:  # speech, music or noise (cxsense.encoders.voice.speech): music is not read as speech
            details["sound"] = {"decision": sound.label, **sound.probabilities}
            details["methods"]["sound"] = f"speech/music/noise MLP; speech when p(speech) >= {sound.threshold}"
            if not sound.is_speech:
                return ModalityResult.no_signal("voice", self.embedding_dim, sound.reason, details=details,
                                                model=self.info())
        narrowband = bool(f.info.get("narrowband"))
        m = self.model_for(narrowband)
        quality = f.quality
        if narrowband and m is self._wide:  # no telephone-band model: such estimates count half
            quality *= NARROWBAND_QUALITY
        lg, e, n_segs = m.member_logits(f, segments(f.logmel.shape[1]))
        logp = m.calibrated_logp(lg)
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
                              details=details, model=dict(m.info))

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

    def _with_baseline(self, logp: np.ndarray, f, baseline) -> tuple[np.ndarray, dict]:
        """Probabilities ``(7,)`` of the speaker-baseline head and the details entry for ``baseline``."""
        from .baseline import BaselineHead

        if getattr(self, "_baseline_head", None) is None:
            self._baseline_head = BaselineHead.load()
        head = self._baseline_head
        p = head.probabilities(logp, f.stats.astype(np.float64), f.logmel.mean(1).astype(np.float64), baseline)
        return p, dict(baseline.summary(), used=True, head=f"{head.version}")


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
