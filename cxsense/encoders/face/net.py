"""The face-expression network: a small VGG-style CNN over 48x48 grey crops.

The network is deliberately plain (3x3 convolutions, batch norm, ReLU, max
pooling) so that it runs fast on one CPU core and trains on two. Its
``forward_features`` returns the pre-logit vector that cxsense uses as the
face embedding; ``forward_head`` maps it to the 7 emotion logits.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FaceNet", "FaceEnsemble", "Int8FaceNet", "build_from_config", "int8_available", "quantize_int8", "standardize"]


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
        """Logits of standardised crops: ``(n, 1, 48, 48) -> (n, n_classes)``."""
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
        """The members' embeddings side by side: ``(n, 1, 48, 48) -> (n, sum of embed_dim)``."""
        return torch.cat([m.forward_features(x) for m in self.members], dim=1)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of the members' logits: ``(n, sum of embed_dim) -> (n, n_classes)``."""
        parts = torch.split(z.to(self.members[0].head[-1].weight.dtype), self._dims, dim=1)
        return torch.stack([m.forward_head(p) for m, p in zip(self.members, parts)]).mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of standardised crops: ``(n, 1, 48, 48) -> (n, n_classes)``."""
        return self.forward_head(self.forward_features(x))


def build_from_config(cfg: dict, n_classes: int = 7) -> nn.Module:
    """The network a model file's ``architecture`` (metadata block) describes: one :class:`FaceNet` (``widths``,
    ``embed_dim``), or a :class:`FaceEnsemble` when it lists ``members``."""
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


# -- int8 ------------------------------------------------------------------------------------------------
#: Quantized engines whose int8 convolutions cxsense uses (x86 CPUs; FBGEMM kernels, VNNI where present).
INT8_ENGINES = ("x86", "fbgemm")


def _tq():
    import warnings

    with warnings.catch_warnings():  # eager-mode quantization is marked for a move to torchao; it works here
        warnings.simplefilter("ignore")
        import torch.ao.quantization as tq
    return tq


def int8_available() -> bool:
    """True when PyTorch's quantized engine here runs the int8 kernels cxsense uses (x86 or fbgemm).

    cxsense never changes ``torch.backends.quantized.engine`` (a process-wide setting); the default on
    x86 builds is ``"x86"``. Elsewhere (ARM's qnnpack) the face network runs in bf16 or float32.
    """
    try:
        _tq()
        return torch.backends.quantized.engine in INT8_ENGINES
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover - builds without quantization
        return False


class Int8FaceNet(nn.Module):
    """A batch-norm-folded :class:`FaceNet` with int8 convolutions (post-training static quantization).

    The first convolution (the grey input, where precision matters most and compute is least) and the
    linear head stay float32; every later convolution and the embedding layer run in int8 (weights per
    output channel, activations per tensor, scales fitted on training crops and shipped with the weights,
    see :func:`quantize_int8`). Same interface as :class:`FaceNet`.
    """

    def __init__(self, net: FaceNet):
        super().__init__()
        tq = _tq()
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
            raise ValueError("Int8FaceNet needs a network whose batch norms are folded (fold_batchnorm)")
        feats = list(net.features)
        if not (isinstance(feats[0], nn.Conv2d) and isinstance(feats[1], nn.ReLU)):
            raise ValueError("Int8FaceNet expects a folded FaceNet whose features start with a convolution and a ReLU")
        self.first = nn.Sequential(*feats[:2])  # conv + ReLU, float
        body = nn.Sequential(*feats[2:])
        pairs = [[str(i), str(i + 1)] for i in range(len(body) - 1)
                 if isinstance(body[i], nn.Conv2d) and isinstance(body[i + 1], nn.ReLU)]
        self.body = tq.fuse_modules(body, pairs)
        pre = net.pre_logits  # Flatten, Linear, ReLU after folding
        pairs = [[str(i), str(i + 1)] for i in range(len(pre) - 1)
                 if isinstance(pre[i], nn.Linear) and isinstance(pre[i + 1], nn.ReLU)]
        self.pre_logits = tq.fuse_modules(pre, pairs)
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.head = net.head
        self.embed_dim = net.embed_dim
        self._plan = None

    def compile_plan(self) -> bool:
        """Precompute the converted network's kernel calls, so that :meth:`forward_features` runs them directly.

        Same kernels, same arguments and the same outputs (checked bit for bit on a probe batch) as the module
        chain, without the per-module Python dispatch: on the development machine a 48x48 crop's pass took 14 %
        less time (docs/face.md, "Early exit and multi-scale views"). Call it after conversion (:func:`quantize_int8` with ``qparams``; the
        encoder does); a network of other layers keeps the module path. Returns whether the plan is in use. The
        plan reads this network's kernels as they are now: a copy shares it, so call this again after changing one.
        """
        import torch.nn.functional as F

        self._plan = None
        try:  # the overloads that take packed weights; a build without them keeps the module path
            conv_relu, linear_relu = torch.ops.quantized.conv2d_relu.new, torch.ops.quantized.linear_relu.default
        except (AttributeError, RuntimeError):
            return False
        first = self.first[0]
        if not (isinstance(first, nn.Conv2d) and isinstance(self.first[1], nn.ReLU) and len(self.first) == 2
                and hasattr(self.quant, "zero_point") and first.padding_mode == "zeros"):
            return False
        steps = []
        for m in list(self.body) + list(self.pre_logits):
            kind = type(m).__name__
            if kind == "ConvReLU2d" and hasattr(m, "_packed_params") and m.padding_mode == "zeros":
                steps.append((conv_relu, m._packed_params, float(m.scale), int(m.zero_point)))
            elif kind == "LinearReLU" and hasattr(m, "_packed_params"):
                steps.append((linear_relu, m._packed_params._packed_params, float(m.scale), int(m.zero_point)))
            elif isinstance(m, nn.MaxPool2d):
                steps.append((F.max_pool2d, m.kernel_size, m.stride, m.padding))
            elif isinstance(m, nn.Flatten):
                steps.append((torch.flatten, m.start_dim, m.end_dim, None))
            elif not isinstance(m, nn.Identity):
                return False
        w, b = first.weight.detach(), None if first.bias is None else first.bias.detach()
        conv_args = (first.stride, first.padding, first.dilation, first.groups)
        q_args = (float(self.quant.scale), int(self.quant.zero_point), self.quant.dtype)

        def run(x: torch.Tensor) -> torch.Tensor:
            q = torch.quantize_per_tensor(torch.relu_(F.conv2d(x, w, b, *conv_args)), *q_args)
            for fn, a1, a2, a3 in steps:
                q = fn(q, a1, a2) if a3 is None else fn(q, a1, a2, a3)
            return q.dequantize()

        probe = torch.linspace(-2, 2, 2 * 48 * 48).reshape(2, 1, 48, 48)
        with torch.inference_mode():
            try:
                same = torch.equal(run(probe), self._modules_forward(probe))
            except (RuntimeError, TypeError, ValueError):
                same = False
        self._plan = run if same else None
        return self._plan is not None

    def _modules_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.pre_logits(self.body(self.quant(self.first(x)))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding in int8 arithmetic (the compiled kernel plan when there is one): ``(n, 1, 48, 48) -> (n, d)``."""
        if self._plan is not None:
            return self._plan(x)
        return self._modules_forward(x)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        """Logits from embeddings (float32 head): ``(n, d) -> (n, n_classes)``."""
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of standardised crops: ``(n, 1, 48, 48) -> (n, n_classes)``."""
        return self.forward_head(self.forward_features(x))


def _qparams_of(q: nn.Module) -> dict:
    out = {}
    for name, m in q.named_modules():
        if hasattr(m, "scale") and hasattr(m, "zero_point") and name:
            out[name] = [float(m.scale), int(m.zero_point)]
    return out


@torch.no_grad()
def quantize_int8(net, calibration: torch.Tensor | None = None, qparams: dict | None = None):
    """The int8 version of a folded :class:`FaceNet` or :class:`FaceEnsemble`, and its activation scales.

    Give exactly one of

    calibration : torch.Tensor [shape=(n, 1, 48, 48)]
        Standardised training crops: activation ranges are observed on them (histogram observer, 7-bit
        activations as PyTorch's x86 default, ``reduce_range``). This is how the scales are made, once,
        when a model is exported (``training/face/quantize.py``).
    qparams : dict
        ``{module name: [scale, zero_point]}`` from an earlier call (what the weights file ships): the
        network is rebuilt with exactly those activation scales, without data.

    Weights are quantized per output channel from the float weights themselves (symmetric), so the same
    float weights and ``qparams`` give the same int8 network. Returns ``(network, qparams)``; an ensemble
    comes back as a :class:`FaceEnsemble` whose members are :class:`Int8FaceNet`.
    """
    import copy

    tq = _tq()
    if (calibration is None) == (qparams is None):
        raise ValueError("give calibration crops or qparams, not both or neither")
    if isinstance(net, FaceEnsemble):
        members, all_q = [], {}
        for i, m in enumerate(net.members):
            sub = None if qparams is None else {k[len(f"{i}."):]: v for k, v in qparams.items() if k.startswith(f"{i}.")}
            qm, qp = quantize_int8(m, calibration, sub)
            members.append(qm)
            all_q.update({f"{i}.{k}": v for k, v in qp.items()})
        if qparams is not None and set(all_q) != set(qparams):
            raise ValueError(f"int8 scales do not fit this ensemble: {sorted(set(qparams) - set(all_q))} left over")
        ens = copy.deepcopy(net)
        ens.members = nn.ModuleList(members)
        return ens.eval(), all_q
    q = Int8FaceNet(copy.deepcopy(net).eval()).eval()
    weight = tq.PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs = tq.HistogramObserver if calibration is not None else tq.MinMaxObserver
    q.qconfig = tq.QConfig(activation=obs.with_args(reduce_range=True), weight=weight)
    q.first.qconfig = None
    q.head.qconfig = None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq.prepare(q, inplace=True)
        data = calibration if calibration is not None else torch.zeros(1, 1, 48, 48)
        for i in range(0, len(data), 64):
            q.forward_features(data[i : i + 64])
        tq.convert(q, inplace=True)
    if qparams is not None:
        have = _qparams_of(q)
        if set(have) != set(qparams):
            raise ValueError(f"int8 scales do not fit this network: expected {sorted(have)}, got {sorted(qparams)}")
        for name, m in q.named_modules():
            if name in qparams:
                scale, zp = qparams[name]
                if isinstance(getattr(m, "scale"), torch.Tensor):  # QuantStub -> Quantize keeps buffers
                    m.scale.fill_(float(scale))
                    m.zero_point.fill_(int(zp))
                else:
                    m.scale, m.zero_point = float(scale), int(zp)
    return q, _qparams_of(q)
