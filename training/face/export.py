"""Export a trained face network to the shipped safetensors file, with a temperature fitted on dev.

    python -m training.face.export --run training/runs/face_a --which best
    python -m training.face.export --run training/runs/face_a:last-raw training/runs/face_c:last-raw --dry-run
        # several runs: an ensemble (logits averaged), here only evaluated; none ships

Writes models/face/face_expression.safetensors (float16 weights and the metadata block of
:func:`training.common.model_metadata.face_meta`: architecture, labels, views, temperature, provenance) and
updates its entry in models/registry.json. The temperature is :func:`cxsense.metrics.fit_temperature` on the
float16-rounded networks' dev logits (flip-averaged unless ``--no-tta``). Files before 2026-12-04 fitted it with
L-BFGS instead (small v2.0.0: 0.9851); ``training.face.early_exit --tta-scales`` refits base's on its views.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from cxsense.encoders.face.net import FaceEnsemble
from cxsense.metrics import fit_temperature
from training.common.fer import REPO, data_root, load_fer
from training.common.model_metadata import FER_TERMS, FER_TRAIN, face_meta, provenance, register, write_safetensors
from training.face.nets import augment, evaluate, load_run


@torch.no_grad()
def recalibrate_bn(net, root, n_batches: int, batch: int = 256, seed: int = 0) -> None:
    """Re-estimate batch-norm statistics of (EMA) weights on augmented training crops (cumulative average)."""
    from cxsense.encoders.face.net import standardize

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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, nargs="+",
                   help="run folder; several (each RUN or RUN:WHICH) make an ensemble whose logits are averaged")
    p.add_argument("--which", default="best", choices=["best", "final", "last-raw", "last-ema"],
                   help="best/final: EMA weights saved by training.face.train; last-raw/last-ema: the raw or EMA "
                        "weights of the last checkpoint")
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
    nets, runs = [], []
    for spec in a.run:
        run, _, which = spec.partition(":")
        which = which or a.which
        net, epoch = load_run(run, which, a.widths)
        nets.append(net)
        runs.append({"run": run, "checkpoint": which, "epoch": epoch, "role": f"network {len(runs)}"})
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
    t = fit_temperature(logits.double().numpy(), ydv)
    print(f"dev ({desc}): accuracy {'without' if a.no_tta else 'with'} flip TTA {acc:.4f}; fitted temperature {t:.4f}")
    if a.dry_run:
        return
    arch = ({"widths": list(net.widths), "embed_dim": net.embed_dim} if len(nets) == 1 else
            {"members": [{"widths": list(n.widths), "embed_dim": n.embed_dim} for n in nets]})
    meta = face_meta(a.name, a.version, architecture=dict(arch, embed_dim=net.embed_dim, stage1=None), temperature=t,
                     temperature_fitted=(f"NLL (cxsense.metrics.fit_temperature) on the float16-rounded "
                                         f"network(s)' dev logits, "
                                         f"{'one pass' if a.no_tta else 'averaged with the mirror image'} ({desc})"),
                     mirror=not a.no_tta, zooms=[], early_exit=None, int8=None,
                     provenance=provenance(f"{FER_TRAIN}; temperature fitted on {desc}", FER_TERMS,
                                           a.command or "not recorded", runs))
    state = {k: v.detach().half().contiguous() for k, v in net.state_dict().items() if v.dtype.is_floating_point}
    state.update({k: v for k, v in net.state_dict().items() if not v.dtype.is_floating_point})
    out = write_safetensors(a.out, state, meta)
    if out.resolve().is_relative_to((REPO / "models").resolve()):  # a candidate elsewhere is not registered
        register(a.name, out, meta, licence=FER_TERMS, card="face/MODEL_CARD.md")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
