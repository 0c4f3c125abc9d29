"""Export a trained face network to the shipped safetensors file, with a temperature fitted on dev.

    python -m training.export_face --run training/runs/face_a --which best
    python -m training.export_face --run training/runs/face_a:last-raw training/runs/face_c:last-raw --dry-run
        # several runs: an ensemble (logits averaged), here only evaluated; none ships

Writes models/face/face_expression.safetensors (weights + metadata: architecture, labels,
normalisation, temperature, training provenance) and updates its entry in models/registry.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cxsense.emotions import EMOTIONS
from cxsense.encoders.face.net import FaceEnsemble, FaceNet
from training.datasets import REPO, data_root, load_fer
from training.registry_tools import register
from training.train_face import evaluate


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature minimising the NLL of ``logits / T`` (Guo et al. 2017)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp().item())


@torch.no_grad()
def recalibrate_bn(net, root, n_batches: int, batch: int = 256, seed: int = 0) -> None:
    """Re-estimate batch-norm statistics of (EMA) weights on augmented training crops (cumulative average)."""
    from cxsense.encoders.face.net import standardize
    from training.train_face import augment

    xtr, _, _ = load_fer(root, "train")
    x = torch.from_numpy(xtr).float().div_(255).unsqueeze(1)
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    perm = torch.randperm(len(x), generator=g)
    for i in range(n_batches):
        idx = perm[i * batch : (i + 1) * batch]
        net(standardize(augment(x[idx], g)))
    net.eval()


def _load_run(run: str, which: str, widths: str):
    """The float16-rounded network of one training run (``which``: see ``--which``) and its epoch."""
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, nargs="+",
                   help="run folder; several (each RUN or RUN:WHICH) make an ensemble whose logits are averaged")
    p.add_argument("--which", default="best", choices=["best", "final", "last-raw", "last-ema"],
                   help="best/final: EMA weights saved by train_face; last-raw/last-ema: the raw or EMA weights "
                        "of the last checkpoint")
    p.add_argument("--data", default=None)
    p.add_argument("--widths", default="48,96,192,384", help="architecture, for the last-* checkpoints")
    p.add_argument("--bn-recalibrate", type=int, default=0, metavar="N",
                   help="re-estimate batch-norm statistics on N batches of augmented training crops")
    p.add_argument("--dry-run", action="store_true", help="evaluate only; write nothing")
    p.add_argument("--no-tta", action="store_true", help="no flip averaging at inference (the small, fast model)")
    p.add_argument("--out", default=str(REPO / "models" / "face" / "face_expression.safetensors"))
    p.add_argument("--name", default="face-expression")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--command", default="", help="the training command, recorded in the metadata")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    nets, provenance = [], []
    for spec in a.run:
        run, _, which = spec.partition(":")
        which = which or a.which
        net, epoch = _load_run(run, which, a.widths)
        nets.append(net)
        provenance.append({"run": run, "checkpoint": which, "epoch": epoch})
    if len(nets) == 1:
        net = nets[0]
    else:
        net = FaceEnsemble([{"widths": list(n.widths), "embed_dim": n.embed_dim} for n in nets])
        for member, n in zip(net.members, nets):
            member.load_state_dict(n.state_dict())
    net.eval()
    if a.bn_recalibrate:
        recalibrate_bn(net, data_root(a.data), a.bn_recalibrate)
    xdv, ydv, desc = load_fer(data_root(a.data), "dev")
    x = torch.from_numpy(xdv).float().div_(255).unsqueeze(1)
    y = torch.from_numpy(ydv)
    acc, logits = evaluate(net, x, y, tta=not a.no_tta)
    t = fit_temperature(logits.float(), y)
    print(f"dev ({desc}): accuracy {'without' if a.no_tta else 'with'} flip TTA {acc:.4f}; fitted temperature {t:.4f}")
    if a.dry_run:
        return
    cfg = {"embed_dim": net.embed_dim, "temperature": t, "flip_tta": not a.no_tta,
           "input": "48x48 grey, /255, per-image standardisation", "labels": list(EMOTIONS)}
    if len(nets) == 1:
        cfg["widths"] = list(net.widths)
    else:
        cfg["members"] = [{"widths": list(n.widths), "embed_dim": n.embed_dim} for n in nets]
    meta = {"format_version": "1", "config": json.dumps(cfg), "name": a.name, "version": a.version,
            "training": json.dumps({**(provenance[0] if len(nets) == 1 else {"members": provenance}),
                                    "command": a.command, "dev_split": desc})}
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() for k, v in net.state_dict().items() if v.dtype.is_floating_point}
    state.update({k: v for k, v in net.state_dict().items() if not v.dtype.is_floating_point})
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out), metadata=meta)
    register(a.name, out, version=a.version, licence="weights: cxsense's own, trained on FER-2013 (research use only, see card)",
             card="face/MODEL_CARD.md")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
