"""Prune one network of the shipped base face model to narrower widths, as the start of a fine-tuning run.

    python -m training.face.prune --member 0 --widths 32,64,128,256 --out training/runs/face_p_init
    python -m training.face.train --out training/runs/face_p --widths 32,64,128,256 \
        --init training/runs/face_p_init --epochs 12 --lr 0.01 \
        --teacher models/face/face_expression.safetensors --kd-alpha 0.7 --kd-temperature 2 --seed 5

Structured (channel) pruning in the manner of network slimming (Liu et al. 2017): in every convolution the output
channels whose batch-norm scale ``|gamma|`` is largest are kept, the next layer's input channels are sliced to
match, and the embedding layer keeps the columns of the kept channels of the last stage. The result is a
:class:`~cxsense.encoders.face.net.FaceNet` of the new widths, written as ``checkpoint.pt`` with key ``model``
(what ``training.face.train --init`` reads). Pruning alone costs accuracy; the fine-tuning run (distilled from the whole
base model) wins it back. It prints the pruned network's dev accuracy before any fine-tuning.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from cxsense.encoders.face.net import FaceNet
from training.common.fer import REPO, data_root, load_fer
from training.face.nets import evaluate


def load_member(path: Path, member: int) -> tuple[FaceNet, dict]:
    """Network ``member`` of a face ensemble file, in float32, unfolded (batch norms kept), and the file's
    ``architecture`` (metadata block)."""
    from safetensors import safe_open

    from cxsense.modelmeta import read_meta

    arch = read_meta(path).architecture
    with safe_open(str(path), "pt") as f:
        prefix = f"members.{member}."
        state = {k[len(prefix):]: f.get_tensor(k).float() for k in f.keys() if k.startswith(prefix)}
    spec = arch["members"][member]
    net = FaceNet(widths=tuple(spec["widths"]), embed_dim=int(spec["embed_dim"]))
    net.load_state_dict(state)
    return net.eval(), arch


@torch.no_grad()
def prune(net: FaceNet, widths: tuple[int, ...]) -> FaceNet:
    """A narrower copy of ``net``: per stage, both convolutions keep the ``widths[i]`` channels of largest |gamma|."""
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.features if isinstance(m, nn.BatchNorm2d)]
    if len(convs) != 2 * len(widths):
        raise ValueError(f"{len(convs)} convolutions, {len(widths)} widths")
    out = FaceNet(widths=widths, embed_dim=net.embed_dim)
    new_convs = [m for m in out.features if isinstance(m, nn.Conv2d)]
    new_bns = [m for m in out.features if isinstance(m, nn.BatchNorm2d)]
    keep_in = torch.arange(1)
    for i, (c, bn, nc, nbn) in enumerate(zip(convs, bns, new_convs, new_bns)):
        k = widths[i // 2]
        keep = torch.sort(torch.topk(bn.weight.abs(), k).indices).values
        nc.weight.copy_(c.weight[keep][:, keep_in])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(nbn, name).copy_(getattr(bn, name)[keep])
        keep_in = keep
    # the embedding layer reads the last stage flattened channel-major (channel * 9 + position)
    lin, nlin = net.pre_logits[2], out.pre_logits[2]
    cols = (keep_in.view(-1, 1) * 9 + torch.arange(9).view(1, -1)).reshape(-1)
    nlin.weight.copy_(lin.weight[:, cols])
    nlin.bias.copy_(lin.bias)
    out.pre_logits[3].load_state_dict(net.pre_logits[3].state_dict())
    out.head.load_state_dict(net.head.state_dict())
    return out.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(REPO / "models" / "face" / "face_expression.safetensors"))
    p.add_argument("--member", type=int, default=0)
    p.add_argument("--widths", default="32,64,128,256")
    p.add_argument("--out", required=True)
    p.add_argument("--data", default=None)
    a = p.parse_args(argv)
    torch.manual_seed(0)
    net, _ = load_member(Path(a.model), a.member)
    widths = tuple(int(w) for w in a.widths.split(","))
    small = prune(net, widths)
    xdv, ydv, ddv = load_fer(data_root(a.data), "dev")
    xdv = torch.from_numpy(xdv).float().div_(255).unsqueeze(1)
    ydv = torch.from_numpy(ydv)
    acc0, _ = evaluate(net, xdv, ydv, tta=False)
    acc1, _ = evaluate(small, xdv, ydv, tta=False)
    n0 = sum(v.numel() for v in net.parameters())
    n1 = sum(v.numel() for v in small.parameters())
    print(f"dev: {ddv}")
    print(f"member {a.member}: {n0 / 1e6:.2f} M parameters, dev one pass {acc0:.4f}")
    print(f"pruned to {widths}: {n1 / 1e6:.2f} M parameters, dev one pass {acc1:.4f} (before fine-tuning)")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": small.state_dict(), "epoch": 0, "widths": widths,
                "pruned_from": {"model": a.model, "member": a.member}}, out / "checkpoint.pt")
    print(f"wrote {out / 'checkpoint.pt'}")


if __name__ == "__main__":
    main()
