"""Accuracy of the shipped face model through ``cxsense.assess``, on the de-duplicated FER-2013 dev split.

    python -m benchmarks.face_accuracy [--data DIR] [--anchor-probs /tmp/anchor_fer_dev_probs.npy]
                                       [--face-model base|small] [--early-exit auto|off|THRESHOLD]

Two paths:
1. crops: each 48x48 dev crop through ``assess(face=crop, detect_face=False)``;
2. detection: each crop upscaled to 96x96 and centred in a 192x192 frame, through ``assess(face=frame)``
   (detect, align, crop): the detection rate, and accuracy over all images with misses counted wrong.
With ``--anchor-probs`` (written by ``anchor_fer_minixception.py --save-probs``) the anchor is reported beside.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import cxsense
from benchmarks.metrics import print_report
from cxsense.metrics import classification_report
from training.common.fer import data_root, load_fer
from cxsense.options import FACE_MODELS


def _probs(a) -> np.ndarray:
    return np.array([a.probabilities[e] for e in cxsense.EMOTIONS])


def selective_accuracy(probs: np.ndarray, labels: np.ndarray, shares=(1.0, 0.8, 0.6, 0.4, 0.2)) -> dict:
    """Accuracy when only the most confident share of answers is kept."""
    conf = probs.max(1)
    order = np.argsort(-conf, kind="stable")
    correct = probs.argmax(1) == labels
    return {f"{s:.0%}": float(correct[order[: max(1, int(round(s * len(labels))))]].mean()) for s in shares}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--anchor-probs", default=None)
    p.add_argument("--no-detection", action="store_true", help="skip the detection path")
    p.add_argument("--face-model", default="base", choices=list(FACE_MODELS))
    p.add_argument("--precision", default="auto", choices=["auto", "int8", "bf16", "fp32"],
                   help="face network precision (auto: int8 on x86, else bf16 where the CPU has it natively, else fp32)")
    p.add_argument("--early-exit", default="auto",
                   help="base's early exit: auto (what the model file says), off, or a threshold in (0, 1]")
    a = p.parse_args(argv)
    from cxsense.encoders import get_encoder
    from cxsense.fusion import fuse
    from cxsense.inputs.image import load_image
    from cxsense.options import FaceOptions, early_exit_from_text

    ee = early_exit_from_text(a.early_exit)
    opts = FaceOptions(model=a.face_model, early_exit=ee, precision=a.precision)
    kw = {"face_model": a.face_model, "face_early_exit": ee}
    enc = get_encoder("face", opts)

    def assess_image(im, detect: bool):
        """``assess(face=im, detect_face=detect)``; the same stages with the encoder of ``--precision``."""
        if a.precision == "auto":
            return cxsense.assess(face=im, detect_face=detect, **kw)
        return fuse({"face": enc.encode(load_image(im, parameter="face"), opts.replace(detect=detect))})

    x, y, split = load_fer(data_root(a.data), "dev")
    t0 = time.time()
    results = [assess_image(im, False) for im in x]
    probs = np.stack([_probs(r) for r in results])
    passes = np.array([r.modalities["face"].details["passes"] for r in results])
    rep = classification_report(probs, y, cxsense.EMOTIONS)
    ran = enc.info()["expression"]
    print(f"face model: {ran['name']} {ran['version']}, runs in {ran['precision']}; early exit "
          f"{ran.get('early_exit', 'off')}: {np.mean(passes == 1):.4f} of crops answered after one pass, "
          f"{passes.mean():.2f} network passes per crop on average")
    print_report(f"cxsense face ({a.face_model}, precision {a.precision} = {ran['precision']}), crops: "
                 "assess(face=crop48, detect_face=False)",
                 split, rep,
                 {"selective_accuracy": selective_accuracy(probs, y), "seconds": time.time() - t0,
                  "early_exit": ran.get("early_exit"), "one_pass_share": float(np.mean(passes == 1)),
                  "mean_passes": float(passes.mean())})
    if a.anchor_probs:
        ap = np.load(a.anchor_probs)
        print_report("anchor: fer mini-XCEPTION (same split)", split, classification_report(ap, y, cxsense.EMOTIONS))
    if not a.no_detection:
        import cv2

        framings = {
            "FER crop upscaled x2 in a 192x192 frame, assess(face=frame)":
                lambda im: cv2.copyMakeBorder(cv2.resize(im, (96, 96), interpolation=cv2.INTER_CUBIC),
                                              48, 48, 48, 48, cv2.BORDER_REPLICATE),
            "close-up: the 48x48 crop as given, assess(face=crop) with detection": lambda im: im,
        }
        for title, make in framings.items():
            found, dprobs = [], []
            for im in x:
                try:
                    dprobs.append(_probs(assess_image(make(im), True)))
                    found.append(True)
                except cxsense.NoSignalError:
                    dprobs.append(np.full(7, np.nan))
                    found.append(False)
            found = np.array(found)
            dprobs = np.stack(dprobs)
            rep_d = classification_report(dprobs[found], y[found], cxsense.EMOTIONS)
            acc_all = float(((np.nan_to_num(dprobs, nan=-1).argmax(1) == y) & found).mean())
            crop_on_found = float((probs[found].argmax(1) == y[found]).mean())
            print_report(f"cxsense face, detection path: {title}",
                         split + f"; faces detected in {found.sum()} of {len(found)}", rep_d,
                         {"detection_rate": float(found.mean()), "accuracy_misses_counted_wrong": acc_all,
                          "crop_path_accuracy_on_the_same_faces": crop_on_found})
            same = float((dprobs[found].argmax(1) == probs[found].argmax(1)).mean())
            print(f"agreement of the detection path with the crop path on detected faces: {same:.4f}; crop-path "
                  f"accuracy on the same faces {crop_on_found:.4f}; misses counted wrong {acc_all:.4f}")
            print("JSON " + json.dumps({"title": "detection vs crop agreement", "framing": title, "agreement": same}))

if __name__ == "__main__":
    main()
