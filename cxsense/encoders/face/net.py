"""The face-expression network: a small VGG-style CNN over 48x48 grey crops.

The network is deliberately plain (3x3 convolutions, batch norm, ReLU, max
pooling) so that it runs fast on one CPU core and trains on two. Its
``forward_features`` returns the pre-logit vector that cxsense uses as the
face embedding; ``forward_head`` maps it to the 7 emotion logits.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FaceNet", "FaceEnsemble", "build_from_config", "standardize"]


def standardize(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Per-image standardisation of grey crops (robust to lighting and contrast).

    Parameters
    ----------
    x : torch.Tensor [shape=(n, 1, 48, 48)], float in [0, 1]
    """
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / (std + eps)


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class FaceNet(nn.Module):
    """VGG-style expression classifier.

    Parameters
    ----------
    widths : tuple of int
        Channels of the four stages (two convolutions each, then 2x2 pooling).
    embed_dim : int
        Size of the pre-logit embedding.
    n_classes : int
        Number of emotion classes (7).
    dropout : float
        Dropout before the embedding layer and before the classifier.
    """

    def __init__(self, widths=(48, 96, 192, 384), embed_dim=256, n_classes=7, dropout=0.4):
        super().__init__()
        layers: list[nn.Module] = []
        c = 1
        for w in widths:
            layers += _block(c, w) + _block(w, w) + [nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.pre_logits = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c * 3 * 3, embed_dim),
            nn.BatchNorm1d(embed_dim),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, n_classes))
        self.embed_dim = embed_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding of standardised crops: ``(n, 1, 48, 48) -> (n, embed_dim)``."""
        return self.pre_logits(self.features(x))

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        """Logits from embeddings: ``(n, embed_dim) -> (n, n_classes)``."""
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class FaceEnsemble(nn.Module):
    """Several :class:`FaceNet` members read as one network.

    The embedding is the members' embeddings side by side (``sum of embed_dim``); the logits are the mean of
    the members' logits. Each head is linear, so averaging embeddings over the flip (as the encoder does)
    still equals averaging logits.

    Parameters
    ----------
    members : list of dict
        ``{"widths": [...], "embed_dim": int}`` per member.
    n_classes : int
    """

    def __init__(self, members, n_classes=7):
        super().__init__()
        self.members = nn.ModuleList(FaceNet(widths=tuple(m["widths"]), embed_dim=int(m["embed_dim"]),
                                             n_classes=n_classes) for m in members)
        self._dims = [m.embed_dim for m in self.members]
        self.embed_dim = sum(self._dims)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.forward_features(x) for m in self.members], dim=1)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        parts = torch.split(z.to(self.members[0].head[-1].weight.dtype), self._dims, dim=1)
        return torch.stack([m.forward_head(p) for m, p in zip(self.members, parts)]).mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build_from_config(cfg: dict, n_classes: int = 7) -> nn.Module:
    """The network a weights file's ``config`` describes: one :class:`FaceNet`, or a :class:`FaceEnsemble`
    when the config lists ``members``."""
    if "members" in cfg:
        return FaceEnsemble(cfg["members"], n_classes=n_classes)
    return FaceNet(widths=tuple(cfg["widths"]), embed_dim=int(cfg["embed_dim"]), n_classes=n_classes)


def _fold(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.modules.batchnorm._BatchNorm):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    w = weight * scale.reshape(shape)
    b = (bias if bias is not None else torch.zeros_like(bn.running_mean)) - bn.running_mean
    return w, b * scale + bn.bias


@torch.no_grad()
def fold_batchnorm(net):
    """The same network for inference with every BatchNorm folded into the layer before it (in place).

    Convolution + BatchNorm becomes one convolution with a bias; Linear + BatchNorm1d one Linear. The
    outputs (embedding and logits) are unchanged up to float rounding; the network must be in eval mode
    and is for inference only afterwards.
    """
    def fold_seq(seq: nn.Sequential) -> nn.Sequential:
        mods = list(seq)
        out: list[nn.Module] = []
        i = 0
        while i < len(mods):
            m = mods[i]
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(m, (nn.Conv2d, nn.Linear)) and isinstance(nxt, (nn.BatchNorm2d, nn.BatchNorm1d)):
                w, b = _fold(m.weight, m.bias, nxt)
                if isinstance(m, nn.Conv2d):
                    new = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=True)
                else:
                    new = nn.Linear(m.in_features, m.out_features, bias=True)
                new.weight.copy_(w)
                new.bias.copy_(b)
                out.append(new)
                i += 2
            elif isinstance(m, nn.Dropout):
                i += 1  # identity at inference
            else:
                out.append(m)
                i += 1
        return nn.Sequential(*out)

    if isinstance(net, FaceEnsemble):
        for m in net.members:
            fold_batchnorm(m)
        return net.eval()
    net.features = fold_seq(net.features)
    net.pre_logits = fold_seq(net.pre_logits)
    net.head = fold_seq(net.head)
    return net.eval()
