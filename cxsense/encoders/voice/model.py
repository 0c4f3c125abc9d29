"""One voice-tone model file: its member networks, input normalisation and calibration, ready to run.

A file (safetensors) holds the member networks' tensors (``m{i}.<parameter>``) and cxsense's metadata block
(:mod:`cxsense.modelmeta`): ``architecture`` (``family`` ``voicetdnn-v1``, ``members``), ``input``
(``n_mels``, ``stat_names``, ``cmn``), ``normalisation`` (``mel_mean``, ``mel_std``, ``stats_mean``,
``stats_std``) and ``calibration`` (``temperature``, ``logit_bias``, ``class_prior``). Every field is required.

:meth:`VoiceModel.load` reads a registered file (SHA-256 and metadata checked by the registry);
:meth:`VoiceModel.from_file` a candidate file outside the registry (benchmarks of a new export);
``VoiceModel(state, meta)`` weights in memory (training, before the file is written).
"""

from __future__ import annotations

import numpy as np

from ...emotions import EMOTIONS
from ...errors import ModelError
from ...modelmeta import ModelMeta

__all__ = ["VoiceModel"]


class VoiceModel:
    """The networks and calibration of one voice-tone file.

    Parameters
    ----------
    state : dict, ``m{i}.<parameter>`` -> tensor for each member ``i``
    meta : ModelMeta, the file's metadata block
    sha256 : str or None, the file's SHA-256 (provenance)
    where : str, the file, for error messages

    Raises
    ------
    ModelError
        Another architecture, features, labels, or a missing or malformed field.
    """

    def __init__(self, state: dict, meta: ModelMeta, sha256: str | None = None, where: str = "<in memory>"):
        import torch

        from .features import N_MELS, N_STATS, STAT_NAMES
        from .net import ARCH, VoiceNet

        if meta.family != ARCH:
            raise ModelError(f"voice model {where} has architecture {meta.family!r}; this cxsense needs {ARCH!r}")
        n_mels, stat_names, cmn = meta.require("input", "n_mels", "stat_names", "cmn", where=where)
        if int(n_mels) != N_MELS or list(stat_names) != list(STAT_NAMES):
            raise ModelError(f"voice model {where} was trained on other features (n_mels={n_mels}, "
                             f"{len(stat_names)} statistics); this version computes n_mels={N_MELS}, "
                             f"{N_STATS} statistics")
        if list(meta.labels) != list(EMOTIONS):
            raise ModelError(f"voice model {where} has labels {list(meta.labels)}; expected {list(EMOTIONS)}")
        n_members = int(meta.require("architecture", "members", where=where))
        self._nets = []
        for i in range(n_members):
            prefix = f"m{i}."
            net = VoiceNet(n_mels=N_MELS, n_stats=N_STATS)
            try:
                net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, strict=True)
            except RuntimeError as e:
                raise ModelError(f"voice model {where} does not fit architecture {meta.family}: {e}") from e
            self._nets.append(net.eval())
        self._torch = torch
        norm = meta.require("normalisation", "mel_mean", "mel_std", "stats_mean", "stats_std", where=where)
        self._mel_mean, self._mel_std = (np.asarray(v, np.float32)[:, None] for v in norm[:2])
        self._st_mean, self._st_std = (np.asarray(v, np.float32) for v in norm[2:])
        temperature, bias, prior = meta.require("calibration", "temperature", "logit_bias", "class_prior", where=where)
        # logit_bias is added to the tempered logits: RAVDESS counts calm as neutral, so neutral is 1.5 times as
        # frequent in training as any other class (12 of 60 takes per actor); ``logit_bias = -log(7 * train
        # prior)`` makes the estimate assume equal class priors.
        if len(bias) != len(EMOTIONS) or not np.all(np.isfinite(bias)):
            raise ModelError(f"voice model {where}: logit_bias must be {len(EMOTIONS)} finite numbers")
        self.temperature = float(temperature)
        self.bias = np.asarray(bias, np.float64)
        self.cmn = bool(cmn)
        self.meta = meta
        self.info = {"name": meta.name, "version": meta.version, "sha256": sha256, "arch": meta.family,
                     "temperature": round(self.temperature, 4), "class_prior": prior,
                     "logit_bias": [round(float(b), 6) for b in self.bias],
                     "licence": meta.provenance["licence"], "trained_on": meta.provenance["training_data"],
                     "members": n_members}

    @classmethod
    def load(cls, name: str) -> "VoiceModel":
        """A registered model (``"voice-tone"`` or ``"voice-tone-narrowband"``), SHA-256 and metadata checked."""
        from ...registry import model_file

        f = model_file(name)
        return cls(_tensors(f.path), f.meta, f.entry["sha256"], str(f.path))

    @classmethod
    def from_file(cls, path) -> "VoiceModel":
        """A candidate file outside the registry (no SHA-256 check; its metadata is checked)."""
        from ...modelmeta import read_meta
        from ...registry import sha256_file

        return cls(_tensors(path), read_meta(path), sha256_file(path), str(path))

    def member_logits(self, f, segs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, int]:
        """Uncalibrated logits of every member, the embedding and the number of segments, for features ``f``
        (:func:`~cxsense.encoders.voice.features.voice_process`) read in the segments ``segs`` (frame ranges of
        one length: :func:`cxsense.encoders.voice.encoder.segments`).

        Returns
        -------
        logits : np.ndarray [shape=(members, 7)], float64, segment-averaged, before the temperature
        embedding : np.ndarray [shape=(128,)], float32, the first member's (segment-averaged)
        n_segments : int
        """
        torch = self._torch
        mel = f.logmel - f.logmel.mean(1, keepdims=True) if self.cmn else f.logmel
        mel = (mel - self._mel_mean) / self._mel_std
        st = ((f.stats - self._st_mean) / self._st_std).astype(np.float32)
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

    def calibrated_logp(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated log-probabilities ``(7,)`` from member logits ``(members, 7)``: the mean logits divided by the
        temperature, plus ``logit_bias``, normalised."""
        z = logits.mean(0) / self.temperature + self.bias
        z = z - z.max()
        return z - np.log(np.exp(z).sum())

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(7,)`` from member logits ``(members, 7)`` (what the encoder reports)."""
        p = np.exp(self.calibrated_logp(logits))
        return p / p.sum()


def _tensors(path) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for a damaged file
        raise ModelError(f"cannot read the voice model {path}: {e}") from e
