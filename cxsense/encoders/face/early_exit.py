"""Adaptive compute for the base model: a small stage-1 network reads every crop first and answers alone when
it is sure enough; only the other crops go through the whole model (two networks over four views).

Base v1.4.0 ships a stage-1 network of half the width (pruned from a member and distilled from the whole
model, ``training/face/prune.py``) with its own temperature and a threshold of 0.65: about 60 % of FER-2013 dev
crops exit after one small pass (docs/face.md, "Early exit"). The stage-1 network's 256-d embedding is every
base result's embedding, whatever path a crop took or whether the exit is on, so that embeddings of one model
always live in one space. A single-network model (``"small"``) has no stage 1 and ignores the setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError, ModelError
from .views import stack_views
from .weights import ExpressionModel

__all__ = ["ExitConfig", "ExpressionRunner", "resolve_early_exit"]


@dataclass(frozen=True)
class ExitConfig:
    """The early exit in use: stage 1's calibration ``temperature`` and the ``threshold`` on its top probability."""

    temperature: float
    threshold: float


def resolve_early_exit(model: ExpressionModel, requested) -> ExitConfig | None:
    """The exit for ``requested`` (``"auto"``, None or a threshold, already checked by FaceOptions): None when
    off, when ``"auto"`` and the file ships no threshold, or for a single-network model."""
    if requested is None or model.stage1 is None:
        return None
    spec = model.meta.require("calibration", "early_exit")
    if spec is None:
        if requested == "auto":
            return None
        raise InputError("face_early_exit", "'auto' or None for a model file without an early-exit calibration "
                         f"({model.info['name']} {model.info['version']})", repr(requested))
    try:
        temperature = float(spec["temperature"])
        default = None if spec["threshold"] is None else float(spec["threshold"])
        if not (temperature > 0 and (default is None or 0 < default <= 1)):
            raise ValueError(spec)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{model.info['name']}: unreadable early_exit metadata ({e!r})") from e
    threshold = default if requested == "auto" else float(requested)
    return None if threshold is None else ExitConfig(temperature, threshold)


class ExpressionRunner:
    """Crops in, embeddings, calibrated probabilities and the passes each crop took out.

    Parameters
    ----------
    model : ExpressionModel
    early_exit : "auto", float in (0, 1] or None
    """

    def __init__(self, model: ExpressionModel, early_exit="auto"):
        self.model = model
        self.exit = resolve_early_exit(model, early_exit)
        self.temperature = float(model.meta.require("calibration", "temperature"))
        views = model.meta.require("input", "views")
        try:
            self.flip = bool(views["mirror"])
            self.scales = tuple(float(v) for v in views["zooms"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{model.info['name']}: unreadable input views in the metadata ({e!r})") from e
        if not all(0.5 <= v <= 2.0 for v in self.scales):
            raise ModelError(f"{model.info['name']}: implausible zoomed views (tta_scales) {self.scales} in the "
                             "metadata")
        self.embedding_dim = int((model.stage1 or model.net).embed_dim)

    @property
    def full_passes(self) -> int:
        """Network passes of the whole model: members times views (the crop, its mirror image, the zooms)."""
        return len(self.model.members) * ((2 if self.flip else 1) + len(self.scales))

    def _features(self, net, x):
        """``net.forward_features`` on standardised crops, in the model's precision (float32 out)."""
        import torch

        if self.model.bf16:
            return net.forward_features(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)).float()
        return net.forward_features(x)

    def _full(self, x, crops):
        """The whole model on standardised crops ``x`` (``crops``: the same as uint8 for the zoomed views): the
        view-averaged embedding and calibrated probabilities. The heads are linear, so averaging embeddings over
        views equals averaging logits."""
        import torch

        xx, n_views = stack_views(x, crops, self.flip, self.scales)
        z = self._features(self.model.net, xx).reshape(n_views, len(x), -1).mean(0)
        return z, torch.softmax(self.model.net.forward_head(z).double() / self.temperature, dim=1)

    def run(self, crops: np.ndarray):
        """Read 48x48 uint8 crops ``(n, 48, 48)``.

        Returns
        -------
        z : np.ndarray [shape=(n, embedding_dim)], float32
        p : np.ndarray [shape=(n, 7)], float64, calibrated
        passes : np.ndarray [shape=(n,)], int, network passes per crop (stage 1's counted as one)
        """
        import torch

        from .net import standardize

        crops = np.ascontiguousarray(crops, dtype=np.uint8)
        with torch.inference_mode():
            x = standardize(torch.from_numpy(crops.astype(np.float32) / 255.0).unsqueeze(1))
            if self.model.stage1 is None:  # one network: its own embedding, one path
                z, p = self._full(x, crops)
                return z.numpy().astype(np.float32), p.numpy(), np.full(len(crops), self.full_passes)
            z = self._features(self.model.stage1, x)
            if self.exit is None:
                rest = np.ones(len(crops), bool)
                p = torch.zeros(len(crops), 7, dtype=torch.float64)
            else:
                p = torch.softmax(self.model.stage1.forward_head(z).double() / self.exit.temperature, dim=1)
                rest = (p.max(dim=1).values < self.exit.threshold).numpy()
            if rest.any():
                idx = torch.from_numpy(np.flatnonzero(rest))
                p[idx] = self._full(x[idx], crops[rest])[1]
        return z.numpy().astype(np.float32), p.numpy(), np.where(rest, self.full_passes + 1, 1)

    def describe(self) -> dict | None:
        """The exit in use for provenance (``details``/``model``), or None when off."""
        if self.exit is None:
            return None
        return {"network": "stage1", "widths": [int(w) for w in self.model.meta.architecture["stage1"]["widths"]],
                "temperature": self.exit.temperature, "threshold": self.exit.threshold}
