"""Calibrate an exported voice-tone model on out-of-fold logits of the training actors, not on dev.

The dev split has 120 files (2 actors): a temperature fitted there is fitted on the same files the figures come
from, and a binned ECE over 120 files is mostly sampling noise. This script instead uses the logits that
``training.voice.train --cv-folds K --cv-fold i`` writes for the training actors each fold held out (same recipe, one run
per fold and seed; 1080 files for actors 01-18), averaged over the seeds given:

1. temperature ``T``: NLL-optimal on the out-of-fold logits (grid over [0.3, 5]), under the training prior;
2. ``--prior uniform`` (default): ``logit_bias = -log(7 * train prior)``, Bayes' rule for equal class priors.
   RAVDESS counts calm as neutral, so neutral is 1.5 times as frequent as any other class in training (12 of
   60 takes per actor); without the correction the model favours neutral (sad and calm takes are both
   quiet). ``--prior training`` keeps the training prior.

It prints the out-of-fold figures (with ``T`` cross-fitted over the folds, so that no file calibrates itself)
and writes a copy of the weights with the metadata block's ``calibration`` (``temperature``, ``logit_bias``,
``class_prior``, ``fitted``) set and this command joined to ``provenance.command``. If ``--out`` is inside
``models/``, the registry entry (``--name``) is updated too.

    python -m training.voice.calibrate --weights training/runs/voice_join/voice5.safetensors \\
        --oof training/runs/voice_cv3_f0_s0 training/runs/voice_cv3_f1_s0 training/runs/voice_cv3_f2_s0 \\
              training/runs/voice_cv3_f0_s1 training/runs/voice_cv3_f1_s1 training/runs/voice_cv3_f2_s1 \\
        --out models/voice/voice_tone_v1.safetensors --version 1.1.0
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from cxsense.metrics import classification_report, fit_temperature, softmax
from training.common.data import REPO


def encoder_logits(model, audio) -> np.ndarray | None:
    """Uncalibrated logits of each member for one recording, computed exactly as the encoder computes them (every
    recording is read: no speech/music decision).

    Parameters
    ----------
    model : VoiceModel (:mod:`cxsense.encoders.voice.model`), or a VoiceEncoder: then the model it routes this
        recording's band to (the telephone-band one for narrowband speech)
    audio : Audio (from :func:`cxsense.inputs.audio.load_audio`)

    Returns
    -------
    np.ndarray [shape=(members, 7)] float64, segment-averaged, before the temperature; or None when the
    recording has no usable speech (the encoder's quality 0).
    """
    from cxsense.encoders.voice.encoder import segments
    from cxsense.encoders.voice.features import voice_process

    f = voice_process(audio.samples)
    if f.quality <= 0:
        return None
    if hasattr(model, "model_for"):
        model = model.model_for(bool(f.info.get("narrowband")))
    return model.member_logits(f, segments(f.logmel.shape[1]))[0]


def load_oof(runs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Out-of-fold logits averaged over seeds: (logits (n, 7), labels (n,), fold of each file, seeds)."""
    by_seed: dict[int, list[Path]] = {}
    for r in runs:
        m = re.search(r"_s(\d+)$", str(Path(r).name))
        if not m:
            raise SystemExit(f"{r}: run folder names must end in _s<seed>")
        by_seed.setdefault(int(m.group(1)), []).append(Path(r) / "oof_logits.npz")
    per_seed, labels, folds = [], None, None
    for seed, files in sorted(by_seed.items()):
        zs = [np.load(f) for f in sorted(files)]
        idx = np.concatenate([z["file_idx"] for z in zs])
        if len(np.unique(idx)) != len(idx):
            raise SystemExit(f"seed {seed}: a file appears in two folds")
        order = np.argsort(idx)
        per_seed.append(np.concatenate([z["logits"] for z in zs])[order])
        lab = np.concatenate([z["labels"] for z in zs])[order]
        fold = np.concatenate([np.full(len(z["labels"]), k) for k, z in enumerate(zs)])[order]
        if labels is not None and (len(lab) != len(labels) or np.any(lab != labels)):
            raise SystemExit("the seeds' folds do not cover the same files")
        labels, folds = lab, fold
    return np.mean(per_seed, 0), labels.astype(int), folds, sorted(by_seed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="exported voice model (safetensors) to calibrate")
    ap.add_argument("--oof", nargs="+", required=True, help="cross-validation run folders (…_s<seed>)")
    ap.add_argument("--prior", choices=("uniform", "training"), default="uniform")
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", default=None, help="model version written to the file (and the registry)")
    ap.add_argument("--name", default="voice-tone",
                    help="registry name to update when --out is inside models/ (voice-tone-narrowband: the model "
                         "the encoder uses for telephone-band speech)")
    args = ap.parse_args(argv)

    from cxsense.emotions import EMOTIONS
    from cxsense.modelmeta import read_meta
    from training.common.model_metadata import read_tensors, register, with_command, write_safetensors

    L, y, folds, seeds = load_oof(args.oof)
    n_folds = len(np.unique(folds))
    print(f"split: out-of-fold logits of RAVDESS training actors 01-18, {n_folds} actor-grouped folds, "
          f"seeds {seeds} averaged; {len(y)} files (dev actors 19-20 not used)")
    prior = np.bincount(y, minlength=len(EMOTIONS)) / len(y)
    bias = -np.log(len(EMOTIONS) * prior) if args.prior == "uniform" else np.zeros(len(EMOTIONS))
    T = fit_temperature(L, y)
    print(f"training prior {np.round(prior, 3).tolist()}; logit_bias {np.round(bias, 4).tolist()}; T = {T:.4f}")

    def show(name, p):
        r = classification_report(p, y, EMOTIONS)
        rec = " ".join(f"{c[:4]} {v:.2f}" for c, v in r["per_class_recall"].items())
        print(f"  {name}: accuracy {r['accuracy']:.4f} macro-F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f} "
              f"NLL {r['nll']:.4f} | recall {rec}")

    # cross-fitted: each fold's temperature comes from the other folds
    Tcf = np.empty(len(y))
    for k in range(n_folds):
        Tcf[folds == k] = fit_temperature(L[folds != k], y[folds != k])
    print(f"out-of-fold figures (T cross-fitted over folds: {sorted(set(np.round(Tcf, 3).tolist()))}):")
    show("training prior", softmax(L / Tcf[:, None]))
    show(f"{args.prior} prior  ", softmax(L / Tcf[:, None] + bias))

    state, _ = read_tensors(args.weights)
    meta = read_meta(args.weights)
    fitted = (f"temperature NLL-fitted on out-of-fold logits of actors 01-18 ({n_folds} actor-grouped folds, seeds "
              f"{seeds}, {len(y)} files); logit_bias = " + ("-log(7 * training prior)" if args.prior == "uniform"
                                                              else "0"))
    command = (f"python -m training.voice.calibrate --weights {args.weights} --oof {' '.join(args.oof)} "
               f"--prior {args.prior} --out {args.out}" + (f" --version {args.version}" if args.version else "")
               + f" --name {args.name}")
    meta = meta.replace(
        name=args.name, version=args.version or meta.version,
        calibration=dict(meta.calibration, temperature=T, logit_bias=[round(float(b), 6) for b in bias],
                         class_prior=args.prior, fitted=fitted),
        provenance=dict(meta.provenance, training_data=(
            "RAVDESS speech actors 01-18 (calm merged into neutral); calibrated on their out-of-fold logits; actors "
            "19-20 (dev) chose the recipe"), runs=meta.provenance["runs"] + [
            {"run": r, "role": "out-of-fold logits (calibration)"} for r in args.oof]))
    meta = with_command(meta, command)
    out = write_safetensors(args.out, state, meta)
    from cxsense.registry import sha256_file

    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {sha256_file(out)})")
    if out.resolve().is_relative_to((REPO / "models").resolve()):
        register(args.name, out, meta, licence=meta.provenance["licence"], card="voice/MODEL_CARD.md")
        print(f"registry entry {args.name!r} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
