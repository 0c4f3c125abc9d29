"""Calibrate the adaptive inference of an ensemble face model and write it to the file: the early exit (stage 1:
one member, one pass) and, with ``--tta-scales``, the multi-scale views of the whole model.

    python -m training.face_early_exit --member 0 --version 1.2.2              # calibration only, off by default
    python -m training.face_early_exit --member 0 --threshold 0.7 --version X  # and on by default
    python -m training.face_early_exit --member 0 --threshold 0.65 --tta-scales 0.93 1.08 --version 1.3.0

``--tta-scales`` sets the zoomed views (no flip) that the whole model reads beside the crop and its mirror image
(``tta_scales`` in the file's ``config``) and refits the whole model's temperature (NLL, float32 dev logits
averaged over those views, as ``training/export_face.py`` fits it over the flip); ``--tta-scales`` with no value
removes them.

Stage 1 is ``members[--member]`` run once, without the flip. Its temperature is fitted (NLL) on its dev logits
in float32, as every face temperature is (the encoder's int8 path gives the same dev figures). The script
then prints, through :class:`~cxsense.encoders.face.encoder.FaceEncoder` in its default precision, what the
early exit does on the dev split at a grid of thresholds: the share of crops answered after one pass, accuracy,
macro-F1 and ECE; the row for the whole model (no exit) comes first. It rewrites the weights file with the same
tensors and ``early_exit`` = ``{"member", "temperature", "threshold"}`` in the file's ``config`` (threshold
``null`` unless ``--threshold``: the encoder's ``early_exit="auto"`` then leaves it off, and a caller can turn it
on with a threshold), and updates models/registry.json. ``--dry-run`` prints and writes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training.datasets import data_root, load_fer
from training.registry_tools import rewrite_registered

GRID = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """NLL-optimal temperature on a log grid over [0.3, 5] (400 points)."""
    from training.calibrate_voice import fit_temperature as fit

    return fit(logits, y)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="face-expression", help="registry name of an ensemble face model")
    p.add_argument("--member", type=int, default=0, help="the member that reads every crop first")
    p.add_argument("--threshold", type=float, default=None,
                   help="default exit threshold written to the file (omit: early exit off unless a caller asks)")
    p.add_argument("--version", required=True, help="the file's new version (same weights)")
    p.add_argument("--tta-scales", type=float, nargs="*", default=None,
                   help="zoom factors of the whole model's extra views (refits its temperature); none: remove them")
    p.add_argument("--data", default=None)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    from safetensors import safe_open

    from benchmarks.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.face.encoder import FACE_MODELS, FaceEncoder, _load_facenet
    from cxsense.encoders.face.net import standardize
    from cxsense.registry import model_entry, model_path

    if a.threshold is not None and not (0 < a.threshold <= 1):
        raise SystemExit("--threshold must be in (0, 1]")
    path = Path(model_path(a.name))
    entry = model_entry(a.name)
    net, cfg, _ = _load_facenet(a.name)
    members = getattr(net, "members", None)
    if members is None or len(members) < 2:
        raise SystemExit(f"{a.name} is one network: there is nothing to exit early from")
    if not 0 <= a.member < len(members):
        raise SystemExit(f"--member must be 0..{len(members) - 1}")
    xdv, ydv, ddv = load_fer(data_root(a.data), "dev")
    x = standardize(torch.from_numpy(xdv).float().div_(255).unsqueeze(1))
    with torch.inference_mode():
        l1 = members[a.member](x).double().numpy()
    t1 = fit_temperature(l1, ydv)
    print(f"{a.name} {entry.get('version')} ({path.name}); dev: {ddv}")
    print(f"stage 1 = member {a.member}, one pass, float32: accuracy {np.mean(l1.argmax(1) == ydv):.4f}; "
          f"temperature {t1:.4f} (NLL on dev)")

    model = next(k for k, v in FACE_MODELS.items() if v == a.name)
    t_full = cfg["temperature"]
    if a.tta_scales is not None:
        if not all(0.5 <= v <= 2.0 for v in a.tta_scales):
            raise SystemExit("--tta-scales: zoom factors in [0.5, 2]")
        f32 = FaceEncoder(model, precision="fp32", early_exit=None)
        f32._scales, f32.temperature = tuple(a.tta_scales), 1.0
        lf = np.log(np.concatenate([f32.crops_embed(xdv[i : i + 256])[1] for i in range(0, len(xdv), 256)]))
        t_full = fit_temperature(lf, ydv)
        print(f"whole model with the flip and zoomed views {list(a.tta_scales)}, float32: accuracy "
              f"{np.mean(lf.argmax(1) == ydv):.4f}; temperature {t_full:.4f} (NLL on dev; was {cfg['temperature']:.4f} "
              f"with views {cfg.get('tta_scales', [])})")
    enc = FaceEncoder(model, early_exit=None)
    enc._cfg = dict(enc._cfg, early_exit={"member": a.member, "temperature": t1, "threshold": None})
    if a.tta_scales is not None:
        enc._scales, enc.temperature = tuple(a.tta_scales), t_full

    def show(label, probs, passes):
        r = classification_report(probs, ydv, EMOTIONS)
        print(f"  {label:>14}: one pass {np.mean(passes == 1):.3f}, mean passes {passes.mean():.2f} | accuracy "
              f"{r['accuracy']:.4f} macro-F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f} NLL {r['nll']:.4f}")

    print(f"through FaceEncoder ({enc.info()['expression']['precision']}):")
    for thr in (None, *GRID):
        enc._exit = enc._early_exit_config(thr)
        out = [enc.crops_embed(xdv[i : i + 256], return_passes=True) for i in range(0, len(xdv), 256)]
        show("no early exit" if thr is None else f"threshold {thr:.2f}",
             np.concatenate([o[1] for o in out]), np.concatenate([o[2] for o in out]))
    if a.dry_run:
        return 0
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    if a.tta_scales is not None:
        config["tta_scales"], config["temperature"] = list(a.tta_scales), t_full
        config["temperature_fitted"] = (f"NLL on the whole model's float32 dev logits averaged over the crop, its mirror "
                                        f"image and zooms {list(a.tta_scales)} ({ddv})")
    config["early_exit"] = {
        "member": a.member, "temperature": t1, "threshold": a.threshold,
        "fitted": f"temperature NLL-fitted on member {a.member}'s one-pass float32 dev logits ({ddv})",
        "command": f"python -m training.face_early_exit --name {a.name} --member {a.member} --version {a.version}"
                   + (f" --threshold {a.threshold}" if a.threshold is not None else "")
                   + (" --tta-scales " + " ".join(map(str, a.tta_scales)) if a.tta_scales is not None else ""),
    }
    meta["config"] = json.dumps(config)
    rewrite_registered(a.name, path, tensors, meta, a.version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
