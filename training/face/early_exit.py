"""Calibrate the adaptive inference of an ensemble face model and write it to the file: the early exit (stage 1:
one member, one pass) and, with ``--tta-scales``, the multi-scale views of the whole model.

    python -m training.face_early_exit --member 0 --version 1.2.2              # calibration only, off by default
    python -m training.face_early_exit --member 0 --threshold 0.7 --version X  # and on by default
    python -m training.face_early_exit --member 0 --threshold 0.65 --tta-scales 0.93 1.08 --version 1.3.0
    python -m training.face_early_exit --stage1-run training/runs/face_p --threshold 0.65 --version 1.4.0

``--tta-scales`` sets the zoomed views (no flip) that the whole model reads beside the crop and its mirror image
(``tta_scales`` in the file's ``config``) and refits the whole model's temperature (NLL, float32 dev logits
averaged over those views, as ``training/export_face.py`` fits it over the flip); ``--tta-scales`` with no value
removes them.

Stage 1 is ``members[--member]`` run once, without the flip, or, with ``--stage1-run RUN[:WHICH]``, a separate
narrower network (for instance one pruned from a member and distilled from the whole model,
``training/prune_face.py``): its float16-rounded weights go into the file as ``stage1.*`` with ``stage1`` (widths,
provenance) in the config, and its int8 activation scales (2,048 seeded training crops, as
``training/quantize_face.py`` makes them) join the file's. A separate stage 1 is cheaper, but its pass is not
one of the whole model's, so a crop that goes on costs one pass more. Its temperature is fitted (NLL) on its dev logits
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
    p.add_argument("--stage1-run", default=None, metavar="RUN[:WHICH]",
                   help="a separate stage-1 network: this training run's weights (last-raw unless WHICH)")
    p.add_argument("--stage1-note", default="", help="how the stage-1 run was made (written to the file)")
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
    stage1, stage1_q, stage1_state = None, {}, {}
    if a.stage1_run:
        import copy

        from cxsense.encoders.face.net import fold_batchnorm, quantize_int8
        from training.export_face import _load_run

        run, _, which = a.stage1_run.partition(":")
        raw, epoch = _load_run(run, which or "last-raw", "48,96,192,384")
        stage1_state = {k: (v.half() if v.dtype.is_floating_point else v) for k, v in raw.state_dict().items()}
        stage1 = fold_batchnorm(copy.deepcopy(raw).eval())
        xtr, _, dtr = load_fer(data_root(a.data), "train")
        pick = np.sort(np.random.default_rng(0).choice(len(xtr), 2048, replace=False))
        cal = standardize(torch.from_numpy(xtr[pick]).float().div_(255).unsqueeze(1))
        q1, stage1_q = quantize_int8(stage1, calibration=cal)
        stage1_cfg = {"widths": list(raw.widths), "embed_dim": int(raw.embed_dim),
                      "run": run, "checkpoint": which or "last-raw", "epoch": epoch, "made": a.stage1_note}
    with torch.inference_mode():
        l1 = (stage1 if stage1 is not None else members[a.member])(x).double().numpy()
    t1 = fit_temperature(l1, ydv)
    print(f"{a.name} {entry.get('version')} ({path.name}); dev: {ddv}")
    who = f"separate network {a.stage1_run} {tuple(raw.widths)}" if stage1 is not None else f"member {a.member}"
    print(f"stage 1 = {who}, one pass, float32: accuracy {np.mean(l1.argmax(1) == ydv):.4f}; "
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
    if stage1 is not None:
        enc._stage1 = q1 if enc.info()["expression"]["precision"] == "int8" else stage1
        if enc._bf16:
            enc._stage1.features.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
            enc._stage1.pre_logits.to(dtype=torch.bfloat16)
        enc._cfg = dict(enc._cfg, stage1=stage1_cfg, early_exit={"network": "stage1", "temperature": t1, "threshold": None})
    else:
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
    command = (f"python -m training.face_early_exit --name {a.name} "
               + (f"--stage1-run {a.stage1_run}" if stage1 is not None else f"--member {a.member}")
               + f" --version {a.version}"
               + (f" --threshold {a.threshold}" if a.threshold is not None else "")
               + (" --tta-scales " + " ".join(map(str, a.tta_scales)) if a.tta_scales is not None else ""))
    tensors = {k: v for k, v in tensors.items() if not k.startswith("stage1.")}
    config.pop("stage1", None)
    if stage1 is not None:
        tensors.update({f"stage1.{k}": v for k, v in stage1_state.items()})
        config["stage1"] = stage1_cfg
        config["early_exit"] = {
            "network": "stage1", "temperature": t1, "threshold": a.threshold,
            "fitted": f"temperature NLL-fitted on the stage-1 network's one-pass float32 dev logits ({ddv})",
            "command": command}
        int8 = json.loads(meta["int8"])
        int8["qparams"] = {k: v for k, v in int8["qparams"].items() if not k.startswith("stage1.")}
        int8["qparams"].update({f"stage1.{k}": v for k, v in stage1_q.items()})
        int8["stage1_calibration"] = f"2048 FER-2013 train crops (seed 0), histogram observer ({command})"
        meta["int8"] = json.dumps(int8)
    else:
        config["early_exit"] = {
            "member": a.member, "temperature": t1, "threshold": a.threshold,
            "fitted": f"temperature NLL-fitted on member {a.member}'s one-pass float32 dev logits ({ddv})",
            "command": command}
        if "int8" in meta:  # a stage-1 network removed: its scales go with it
            int8 = json.loads(meta["int8"])
            int8["qparams"] = {k: v for k, v in int8["qparams"].items() if not k.startswith("stage1.")}
            int8.pop("stage1_calibration", None)
            meta["int8"] = json.dumps(int8)
    meta["config"] = json.dumps(config)
    rewrite_registered(a.name, path, tensors, meta, a.version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
