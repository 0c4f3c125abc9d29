"""Add int8 activation scales to a shipped face model (post-training static quantization).

    python -m training.face.quantize --name face-expression --version 1.2.1
    python -m training.face.quantize --name face-expression-small --version 1.1.1

Reads the shipped safetensors file as the encoder does (float weights, batch norms folded), observes
activation ranges on ``--calibration`` seeded training crops (FER-2013 train split, never dev), checks that
the scales alone rebuild the same int8 network, prints dev accuracy in float32 and in int8 (the network with
flip averaging only: the encoder's extra views and early exit of v1.3.0+ are not applied here, so these are
a check of the quantization, not the shipped figures; ``benchmarks/face_precision.py`` measures the whole
encoder in each precision), then rewrites the file with the same tensors and the scales in the metadata block
(``quantization.int8``; the command joins ``provenance.command``), and updates models/registry.json.
``--dry-run`` prints and writes nothing.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from cxsense.encoders.face.net import quantize_int8, standardize
from training.common.fer import data_root, load_fer
from training.common.model_metadata import read_tensors, rewrite, with_command


def _logits(net, x: torch.Tensor, tta: bool) -> torch.Tensor:
    with torch.inference_mode():
        z = net.forward_features(x)
        if tta:
            z = (z + net.forward_features(torch.flip(x, dims=[3]))) / 2
        return net.forward_head(z)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="face-expression", help="registry name of the face model")
    p.add_argument("--version", required=True, help="the file's new version (same weights, scales added)")
    p.add_argument("--calibration", type=int, default=2048, help="training crops to observe (default 2048)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    from cxsense.encoders.face.weights import load_expression
    from cxsense.registry import model_file

    f = model_file(a.name)
    tensors, _ = read_tensors(f.path)
    model = load_expression(a.name, "fp32")  # the float networks, batch norms folded, as the encoder builds them
    net, stage1, path = model.net, model.stage1, f.path
    root = data_root(a.data)
    xtr, _, dtr = load_fer(root, "train")
    pick = np.sort(np.random.default_rng(a.seed).choice(len(xtr), a.calibration, replace=False))
    cal = standardize(torch.from_numpy(xtr[pick]).float().div_(255).unsqueeze(1))
    qnet, qparams = quantize_int8(net, calibration=cal)
    again, _ = quantize_int8(net, qparams=qparams)
    xdv, ydv, ddv = load_fer(root, "dev")
    x = standardize(torch.from_numpy(xdv).float().div_(255).unsqueeze(1))
    y = torch.from_numpy(ydv)
    tta = bool(f.meta.input["views"]["mirror"])
    lf, lq, lr = _logits(net, x, tta), _logits(qnet, x, tta), _logits(again, x, tta)
    if not torch.equal(lq, lr):
        raise SystemExit("the shipped scales do not rebuild the calibrated int8 network exactly")
    acc_f = (lf.argmax(1) == y).float().mean().item()
    acc_q = (lq.argmax(1) == y).float().mean().item()
    agree = (lf.argmax(1) == lq.argmax(1)).float().mean().item()
    print(f"{a.name} {f.meta.version} ({path.name}); calibration: {a.calibration} crops of {dtr}, seed {a.seed}")
    print(f"dev ({ddv}), the network with flip {'on' if tta else 'off'} (no extra views, no early exit: "
          f"a quantization check, not the encoder's figure): float32 {acc_f:.4f}, int8 {acc_q:.4f}, "
          f"same emotion on {agree:.4f}; {len(qparams)} activation scales; rebuilt from scales: identical")
    if stage1 is not None:
        q1, qp1 = quantize_int8(stage1, calibration=cal)
        l1f, l1q = _logits(stage1, x, False), _logits(q1, x, False)
        print(f"stage-1 network, one pass: float32 {(l1f.argmax(1) == y).float().mean().item():.4f}, "
              f"int8 {(l1q.argmax(1) == y).float().mean().item():.4f}")
        qparams = dict(qparams, **{f"stage1.{k}": v for k, v in qp1.items()})
    if a.dry_run:
        return 0
    command = (f"python -m training.face.quantize --name {a.name} --version {a.version} "
               f"--calibration {a.calibration} --seed {a.seed}")
    int8 = {"scheme": "post-training static quantization (PyTorch eager, x86/fbgemm): weights int8 per output "
                      "channel (symmetric), activations 7-bit per tensor; first convolution and head in float32",
            "calibration": f"{a.calibration} FER-2013 train crops (seed {a.seed}), histogram observer",
            "command": command, "qparams": qparams}
    rewrite(a.name, tensors, with_command(f.meta, command).replace(version=a.version, quantization={"int8": int8}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
