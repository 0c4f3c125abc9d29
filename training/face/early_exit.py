"""Calibrate the adaptive inference of an ensemble face model and write it to the file: the early exit (a separate
stage-1 network, one pass) and, with ``--tta-scales``, the multi-scale views of the whole model.

    python -m training.face.early_exit --stage1-run training/runs/face_p --threshold 0.65 --version 1.4.0
    python -m training.face.early_exit --tta-scales 0.93 1.08 --threshold 0.65 --version X   # keep the file's stage 1

``--stage1-run RUN[:WHICH]`` makes a separate, narrower network the stage 1 (for instance one pruned from a
network of the model and distilled from the whole model, ``training/face/prune.py``): its float16-rounded weights
go into the file as ``stage1.*`` with ``architecture.stage1`` (widths), its run in ``provenance.runs``, and its
int8 activation scales (2,048 seeded training crops, as ``training/face/quantize.py`` makes them) join the file's.
Without it the file's own stage-1 network is recalibrated. Its pass is not one of the whole model's, so a crop
that goes on costs one pass more. Its temperature is fitted (:func:`cxsense.metrics.fit_temperature`) on its
one-pass float32 dev logits.

``--tta-scales`` sets the zoomed views (no flip) that the whole model reads beside the crop and its mirror image
(``input.views.zooms``) and refits the whole model's temperature on float32 dev logits averaged over its views;
``--tta-scales`` with no value removes them.

The script then prints what the early exit does on the dev split at a grid of thresholds, through the encoder's
runner (:class:`~cxsense.encoders.face.early_exit.ExpressionRunner`) in its default precision: the share of crops
answered after one pass, accuracy, macro-F1, ECE and NLL; the row for the whole model (no exit) comes first. It
rewrites the file with ``calibration.early_exit = {"network": "stage1", "temperature", "threshold", "fitted"}``
(threshold ``null`` unless ``--threshold``: ``early_exit="auto"`` then leaves it off, and a caller can turn it
on with a threshold) and updates models/registry.json. ``--dry-run`` prints and writes nothing. ``--limit N``
reads only the first N dev crops (a smoke check; no file is written).

Member-style exits (stage 1 = one of the model's own networks, base 1.2.2-1.3.0) are no longer made: this
cxsense refuses such files.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from cxsense.metrics import classification_report, fit_temperature
from training.common.fer import data_root, load_fer
from training.common.model_metadata import read_tensors, rewrite, with_command

GRID = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def _stage1_for(model, stage1, q1) -> object:
    """The stage-1 network in ``model``'s precision (as :func:`cxsense.encoders.face.weights.load_expression`
    prepares it)."""
    if model.info["precision"] == "int8":
        q1.compile_plan()
        return q1
    net = copy.deepcopy(stage1)
    if model.bf16:
        net.features.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        net.pre_logits.to(dtype=torch.bfloat16)
    return net


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="face-expression", help="registry name of an ensemble face model")
    p.add_argument("--threshold", type=float, default=None,
                   help="default exit threshold written to the file (omit: early exit off unless a caller asks)")
    p.add_argument("--version", required=True, help="the file's new version (same weights)")
    p.add_argument("--tta-scales", type=float, nargs="*", default=None,
                   help="zoom factors of the whole model's extra views (refits its temperature); none: remove them")
    p.add_argument("--stage1-run", default=None, metavar="RUN[:WHICH]",
                   help="a separate stage-1 network: this training run's weights (last-raw unless WHICH)")
    p.add_argument("--stage1-note", default="", help="how the stage-1 run was made (written to the file)")
    p.add_argument("--data", default=None)
    p.add_argument("--limit", type=int, default=0, help="first N dev crops only (a smoke check; writes nothing)")
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.face.early_exit import ExpressionRunner
    from cxsense.encoders.face.net import fold_batchnorm, quantize_int8, standardize
    from cxsense.encoders.face.weights import load_expression
    from cxsense.registry import model_file

    if a.threshold is not None and not (0 < a.threshold <= 1):
        raise SystemExit("--threshold must be in (0, 1]")
    f = model_file(a.name)
    f32 = load_expression(a.name, "fp32")
    if len(f32.members) < 2:
        raise SystemExit(f"{a.name} is one network: there is nothing to exit early from")
    xdv, ydv, ddv = load_fer(data_root(a.data), "dev")
    if a.limit:
        xdv, ydv, ddv = xdv[: a.limit], ydv[: a.limit], f"first {a.limit} of {ddv}"
    x = standardize(torch.from_numpy(xdv).float().div_(255).unsqueeze(1))
    meta = f.meta
    q1, stage1_q, stage1_state, run_entry = None, {}, {}, None
    if a.stage1_run:
        from training.face.nets import load_run

        run, _, which = a.stage1_run.partition(":")
        raw, epoch = load_run(run, which or "last-raw")
        stage1_state = {k: (v.half() if v.dtype.is_floating_point else v) for k, v in raw.state_dict().items()}
        stage1 = fold_batchnorm(copy.deepcopy(raw).eval())
        xtr, _, _ = load_fer(data_root(a.data), "train")
        pick = np.sort(np.random.default_rng(0).choice(len(xtr), 2048, replace=False))
        q1, stage1_q = quantize_int8(stage1, calibration=standardize(
            torch.from_numpy(xtr[pick]).float().div_(255).unsqueeze(1)))
        arch = dict(meta.architecture, stage1={"widths": list(raw.widths), "embed_dim": int(raw.embed_dim)})
        run_entry = {"run": run, "checkpoint": which or "last-raw", "epoch": epoch, "role": "stage 1",
                     "made": a.stage1_note}
    elif f32.stage1 is not None:
        stage1, arch = f32.stage1, meta.architecture
    else:
        raise SystemExit(f"{a.name} has no stage-1 network: give --stage1-run")
    with torch.inference_mode():
        l1 = stage1(x).double().numpy()
    t1 = fit_temperature(l1, ydv)
    print(f"{a.name} {meta.version} ({f.path.name}); dev: {ddv}")
    print(f"stage 1 ({a.stage1_run or 'the file'}'s {tuple(arch['stage1']['widths'])} network), one pass, float32: "
          f"accuracy {np.mean(l1.argmax(1) == ydv):.4f}; temperature {t1:.4f} (NLL on dev)")

    views = dict(meta.input["views"])
    calibration = dict(meta.calibration)
    if a.tta_scales is not None:
        if not all(0.5 <= v <= 2.0 for v in a.tta_scales):
            raise SystemExit("--tta-scales: zoom factors in [0.5, 2]")
        runner = ExpressionRunner(f32, early_exit=None)
        runner.scales, runner.temperature = tuple(a.tta_scales), 1.0
        lf = np.log(np.concatenate([runner.run(xdv[i: i + 256])[1] for i in range(0, len(xdv), 256)]))
        t_full = fit_temperature(lf, ydv)
        print(f"whole model with the flip and zoomed views {list(a.tta_scales)}, float32: accuracy "
              f"{np.mean(lf.argmax(1) == ydv):.4f}; temperature {t_full:.4f} (NLL on dev; was "
              f"{calibration['temperature']:.4f} with views {views['zooms']})")
        views["zooms"] = list(a.tta_scales)
        calibration.update(temperature=t_full, fitted=(
            f"NLL on the whole model's float32 dev logits averaged over the crop, its mirror image and zooms "
            f"{list(a.tta_scales)} ({ddv})"))
    command = (f"python -m training.face.early_exit --name {a.name}"
               + (f" --stage1-run {a.stage1_run}" if a.stage1_run else "") + f" --version {a.version}"
               + (f" --threshold {a.threshold}" if a.threshold is not None else "")
               + (" --tta-scales " + " ".join(map(str, a.tta_scales)) if a.tta_scales is not None else ""))
    calibration["early_exit"] = {
        "network": "stage1", "temperature": t1, "threshold": a.threshold,
        "fitted": f"temperature NLL-fitted on the stage-1 network's one-pass float32 dev logits ({ddv})",
        "command": command}
    new_meta = meta.replace(architecture=arch, input=dict(meta.input, views=views), calibration=calibration)

    model = load_expression(a.name)  # the encoder's default precision
    if q1 is not None:
        model.stage1 = _stage1_for(model, stage1, q1)
    model.meta = new_meta
    print(f"through the encoder's runner ({model.info['precision']}):")
    for thr in (None, *GRID):
        runner = ExpressionRunner(model, thr)
        out = [runner.run(xdv[i: i + 256]) for i in range(0, len(xdv), 256)]
        probs, passes = np.concatenate([o[1] for o in out]), np.concatenate([o[2] for o in out])
        r = classification_report(probs, ydv, EMOTIONS)
        print(f"  {'no early exit' if thr is None else f'threshold {thr:.2f}':>14}: one pass "
              f"{np.mean(passes == 1):.3f}, mean passes {passes.mean():.2f} | accuracy {r['accuracy']:.4f} "
              f"macro-F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f} NLL {r['nll']:.4f}")
    if a.dry_run or a.limit:
        return 0
    tensors, _ = read_tensors(f.path)
    extra = {}
    if q1 is not None:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("stage1.")}
        tensors.update({f"stage1.{k}": v for k, v in stage1_state.items()})
        int8 = dict(new_meta.extra["quantization"]["int8"])
        int8["qparams"] = {k: v for k, v in int8["qparams"].items() if not k.startswith("stage1.")}
        int8["qparams"].update({f"stage1.{k}": v for k, v in stage1_q.items()})
        int8["stage1_calibration"] = f"2048 FER-2013 train crops (seed 0), histogram observer ({command})"
        extra["quantization"] = {"int8": int8}
        runs = [r for r in new_meta.provenance["runs"] if r.get("role") != "stage 1"] + [run_entry]
        new_meta = new_meta.replace(provenance=dict(new_meta.provenance, runs=runs))
    rewrite(a.name, tensors, with_command(new_meta, command).replace(version=a.version, **extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
