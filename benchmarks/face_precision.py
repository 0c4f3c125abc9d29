"""How far int8 (and bf16) inference moves the face model from float32, on dev crops and on altered ones.

    python -m benchmarks.face_precision [--face-model base|small] [--data PATH]

Split: FER-2013 PublicTest de-duplicated (dev, 3,292 crops), as given and once more through the training
augmentation (random rotation, scale, shift, flip, gamma and erasing; seed 0), which takes the crops away from
what the int8 scales were calibrated on. For each precision available here: accuracy, agreement of the top
emotion with float32, and the largest and mean absolute difference of a probability.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--face-model", default="base", choices=["base", "small"])
    ap.add_argument("--data", default=None)
    a = ap.parse_args(argv)
    import torch

    from benchmarks.metrics import machine
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.encoders.face.weights import bf16_supported
    from cxsense.encoders.face.net import int8_available
    from training.common.fer import data_root, load_fer
    from training.face.train import augment

    torch.set_num_threads(1)
    x, y, split = load_fer(data_root(a.data), "dev")
    g = torch.Generator().manual_seed(0)
    xa = augment(torch.from_numpy(x).float().div(255).unsqueeze(1), g)
    xa = xa.squeeze(1).mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    precisions = ["fp32"] + (["bf16"] if bf16_supported() else []) + (["int8"] if int8_available() else [])
    print(f"machine: {machine()}\nsplit: {split}; also the same crops through the training augmentation (seed 0)")
    encs = {p: FaceEncoder(a.face_model, precision=p) for p in precisions}
    for name, data in (("dev", x), ("dev, augmented", xa)):
        probs = {p: np.concatenate([e.crops_embed(data[i : i + 256])[1] for i in range(0, len(data), 256)])
                 for p, e in encs.items()}
        ref = probs["fp32"]
        for p, pr in probs.items():
            row = {"crops": name, "face_model": a.face_model, "precision": p,
                   "accuracy": float((pr.argmax(1) == y).mean()),
                   "same_emotion_as_fp32": float((pr.argmax(1) == ref.argmax(1)).mean()),
                   "max_abs_prob_diff": float(np.abs(pr - ref).max()), "mean_abs_prob_diff": float(np.abs(pr - ref).mean())}
            print(f"{name:15s} {p:5s} accuracy {row['accuracy']:.4f}  same emotion as fp32 {row['same_emotion_as_fp32']:.4f}  "
                  f"max |dp| {row['max_abs_prob_diff']:.3f}  mean |dp| {row['mean_abs_prob_diff']:.4f}")
            print("JSON " + json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
