"""The voice-tone network: a small time-delay CNN over log-mel with prosodic statistics.

Input: a normalised log-mel ``(B, 64, T)`` (10-ms frames, the 64 mel bands as channels), a frame mask
``(B, T)`` and normalised statistics ``(B, N_STATS)``.

* Conv1d 64->96, kernel 5, stride 2 (20-ms steps), BatchNorm, ReLU
* Conv1d 96->96, kernel 3, dilation 2, BatchNorm, ReLU
* Conv1d 96->128, kernel 3, dilation 3, BatchNorm, ReLU  (receptive field ~0.35 s)
* masked mean and standard deviation over time (256), joined with a 32-unit projection of the
  statistics, then a 128-unit ReLU layer: the **embedding** (pre-logit vector); a linear layer gives
  the 7 logits.

About 0.12 M parameters, ~7 M multiply-adds per second of audio. A 1-D design (x-vector/TDNN style) was
chosen over a 2-D CNN for CPU cost: training had one shared core.
"""

from __future__ import annotations

import torch
from torch import nn

ARCH = "voicetdnn-v1"


class VoiceNet(nn.Module):
    """See the module docstring. ``forward`` returns ``(logits (B, 7), embedding (B, 128))``."""

    def __init__(self, n_mels: int = 64, n_stats: int = 22, width: int = 96, emb_dim: int = 128,
                 n_classes: int = 7, dropout: float = 0.3):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, width, 5, stride=2, padding=2, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, dilation=2, padding=2, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            nn.Conv1d(width, 128, 3, dilation=3, padding=3, bias=False), nn.BatchNorm1d(128), nn.ReLU(inplace=True),
        )
        self.stats = nn.Sequential(nn.Linear(n_stats, 32), nn.ReLU(inplace=True))
        self.emb = nn.Sequential(nn.Dropout(dropout), nn.Linear(256 + 32, emb_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(emb_dim, n_classes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, stats: torch.Tensor):
        """Logits ``(B, 7)`` and embedding ``(B, 128)`` of normalised log-mel segments ``x`` ``(B, 64, T)`` with
        their frame ``mask`` ``(B, T)`` and prosodic statistics ``stats`` ``(B, 22)``."""
        h = self.conv(x)  # (B, 128, T')
        t = h.shape[-1]
        m = mask[:, None, ::2][..., :t].float()  # stride 2, as the first convolution
        if m.shape[-1] < t:
            m = nn.functional.pad(m, (0, t - m.shape[-1]))
        n = m.sum(-1).clamp_min(1.0)
        mean = (h * m).sum(-1) / n
        var = (((h - mean[..., None]) ** 2) * m).sum(-1) / n
        pooled = torch.cat([mean, torch.sqrt(var + 1e-5)], 1)
        e = self.emb(torch.cat([pooled, self.stats(stats)], 1))
        return self.head(e), e
