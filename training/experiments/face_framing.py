"""Measure how FER-2013 crops are framed relative to the detector's box (the constants in face_align).

    python -m training.experiments.face_framing [--n 400]

Each dev crop is upscaled x2 and centred in a 192x192 frame; the detector runs on it; the box and keypoints are
expressed in crop units. Prints the medians and interquartile ranges; cxsense/encoders/face/encoder.py uses the
box medians (side 0.892, origin 0.041, 0.070).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from cxsense.encoders.face.detect import FaceDetector
from cxsense.registry import model_path
from training.common.fer import data_root, load_fer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--n", type=int, default=400, help="first N dev crops")
    a = p.parse_args(argv)
    det = FaceDetector(model_path("face-detector"))
    x, _, split = load_fer(data_root(a.data), "dev")
    rel, miss = [], 0
    for im in x[: a.n]:
        big = cv2.resize(im, (96, 96), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((192, 192), int(im.mean()), np.uint8)
        canvas[48:144, 48:144] = big
        d = det.detect(np.repeat(canvas[:, :, None], 3, 2), tiled=False)
        if not d:
            miss += 1
            continue
        b, k = d[0].box, d[0].keypoints
        ec = k[:2].mean(0)
        rel.append([(b[0] - 48) / 96, (b[1] - 48) / 96, b[2] / 96, b[3] / 96, (ec[0] - 48) / 96, (ec[1] - 48) / 96,
                    np.linalg.norm(k[0] - k[1]) / 96])
    rel = np.array(rel)
    names = ["box x", "box y", "box w", "box h", "eye centre x", "eye centre y", "eye distance"]
    print(f"split: {split}; first {a.n}; detected {len(rel)}, missed {miss}")
    med, iqr = np.median(rel, 0), np.percentile(rel, 75, 0) - np.percentile(rel, 25, 0)
    for n, m, q in zip(names, med, iqr):
        print(f"{n:>14}: median {m:.3f}  IQR {q:.3f}  (crop units)")


if __name__ == "__main__":
    main()
