"""What the face recipe's steps share: the training augmentation, the dev evaluation, and reading a run's weights.

Kept apart from ``train.py`` and ``export.py`` so that neither imports the other.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from cxsense.encoders.face.net import FaceNet, standardize

__all__ = ["augment", "evaluate", "load_run"]


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random affine (rotation, scale, shift), flip, gamma and random erasing on a batch in [0, 1]."""
    n, dev = x.shape[0], x.device

    def rand(*shape):
        return torch.rand(*shape, generator=g, device=dev)

    ang = (rand(n) * 2 - 1) * math.radians(15)
    scale = 1 + (rand(n) * 2 - 1) * 0.15
    tx, ty = [(rand(n) * 2 - 1) * 0.12 for _ in range(2)]
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    gamma = torch.exp((rand(n, 1, 1, 1) * 2 - 1) * 0.4)
    x = x.clamp_min(1e-4) ** gamma
    # random erasing of one rectangle, half of the time
    er = rand(n) < 0.5
    h = (rand(n) * 16 + 8).long()
    w = (rand(n) * 16 + 8).long()
    y0 = (rand(n) * (48 - h)).long()
    x0 = (rand(n) * (48 - w)).long()
    rows = torch.arange(48, device=dev).view(1, 48, 1)
    cols = torch.arange(48, device=dev).view(1, 1, 48)
    m = (rows >= y0.view(-1, 1, 1)) & (rows < (y0 + h).view(-1, 1, 1)) & (cols >= x0.view(-1, 1, 1)) & (cols < (x0 + w).view(-1, 1, 1))
    m = m & er.view(-1, 1, 1)
    noise = rand(x.shape)
    x = torch.where(m.unsqueeze(1), noise, x)
    return x


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, tta: bool) -> tuple[float, torch.Tensor]:
    """Accuracy and logits ``(n, 7)`` of ``model`` on crops ``images`` ``(n, 1, 48, 48)`` in [0, 1] (bf16 autocast,
    batches of 512); ``tta``: average with the mirror image's logits."""
    model.eval()
    logits = []
    for i in range(0, len(images), 512):
        x = standardize(images[i : i + 512]).contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, dtype=torch.bfloat16):
            lo = model(x).float()
            if tta:
                lo = (lo + model(torch.flip(x, dims=[3])).float()) / 2
        logits.append(lo)
    logits = torch.cat(logits)
    return (logits.argmax(1) == labels).float().mean().item(), logits


def load_run(run: str, which: str, widths: str = "48,96,192,384"):
    """The float16-rounded network of one training run and its epoch.

    Parameters
    ----------
    run : str, the run folder of ``training.face.train``
    which : {"best", "final", "last-raw", "last-ema"}
        best/final: the EMA weights saved by the training; last-raw/last-ema: the raw or EMA weights of the
        last checkpoint
    widths : str, the architecture for checkpoints that do not record it (runs before session 5: base)

    Returns
    -------
    (FaceNet in eval mode with ``widths`` set, epoch or None)
    """
    if which.startswith("last-"):
        ck = torch.load(Path(run) / "checkpoint.pt", weights_only=False)
        state = ck["model" if which == "last-raw" else "ema"]
        w = tuple(int(v) for v in (ck.get("widths") or widths.split(",")))
    else:
        ck = torch.load(Path(run) / f"{which}.pt", weights_only=True)
        state = ck["ema"]
        w = tuple(ck["widths"])
    net = FaceNet(widths=w)
    net.load_state_dict(state)
    net.widths = w
    # shipped in float16 (half the size); evaluate and calibrate the float16-rounded weights
    net.load_state_dict({k: (v.half().float() if v.dtype.is_floating_point else v) for k, v in net.state_dict().items()})
    return net.eval(), ck.get("epoch")
