"""Does aligning faces on the mesh's eye corners help the expression network? (FER-2013 dev)

    OMP_NUM_THREADS=1 python -m benchmarks.face_mesh_align [--data DIR] [--limit N]

Framing as ``benchmarks/face_accuracy.py``'s detection path: each 48x48 dev crop upscaled x2 (bicubic) and centred
in a 192x192 frame (replicated border). On every frame where the detector finds a face and the mesh confirms it,
the shipped encoder's network (base, ``precision="auto"``, early exit as shipped) reads three crops of the same face:

- ``shipped``: ``face_align(..., rotate=ROTATE_UPRIGHT)`` (False: the FER framing of the BlazeFace box, no rotation);
- ``keypoint_upright``: the same crop levelled on BlazeFace's two eye keypoints;
- ``mesh_upright``: levelled on the mesh's eye centres (the middles of landmarks 33-133 and 362-263), which are
  placed more precisely than BlazeFace's keypoints.

Accuracy and macro-F1 on the same faces; the shipped default changes only if a variant is better.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from benchmarks.metrics import machine
from cxsense.metrics import classification_report
from training.common.fer import data_root, load_fer


def main(argv=None):
    import cv2

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--limit", type=int, default=None)
    a = p.parse_args(argv)
    import cxsense
    from cxsense.encoders import get_encoder
    from cxsense.encoders.face.cue_hook import shared_mesh
    from cxsense.encoders.face.encoder import ROTATE_UPRIGHT, face_align
    from cxsense.inputs.image import load_image

    x, y, desc = load_fer(data_root(a.data), "dev")
    if a.limit:
        x, y = x[: a.limit], y[: a.limit]
    enc, mesh = get_encoder("face"), shared_mesh()
    variants = {"shipped": [], "keypoint_upright": [], "mesh_upright": []}
    labels = []
    for im, lab in zip(x, y):
        frame = cv2.copyMakeBorder(cv2.resize(im, (96, 96), interpolation=cv2.INTER_CUBIC), 48, 48, 48, 48,
                                   cv2.BORDER_REPLICATE)
        image = load_image(frame)
        dets = enc.detect(image)
        if not dets:
            continue
        m = mesh.run(image.rgb, dets[0], iris=False)
        if m is None:
            continue
        eyes = np.array([m.landmarks[[33, 133], :2].mean(0), m.landmarks[[362, 263], :2].mean(0)], np.float32)
        kp = dets[0].keypoints.copy()
        kp[:2] = eyes
        crops = [face_align(image.gray, dets[0], rotate=ROTATE_UPRIGHT), face_align(image.gray, dets[0], rotate=True),
                 face_align(image.gray, dataclasses.replace(dets[0], keypoints=kp), rotate=True)]
        _, probs = enc.crops_embed(np.stack(crops))
        for name, pr in zip(variants, probs):
            variants[name].append(pr)
        labels.append(lab)
    labels = np.array(labels)
    print(f"split: {desc}; {len(labels)} of {len(x)} frames with a face found and confirmed by the mesh; machine: {machine()}")
    out = {}
    for name, pr in variants.items():
        rep = classification_report(np.stack(pr), labels, cxsense.EMOTIONS)
        out[name] = {"accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"], "ece": rep["ece"]}
        print(f"{name:18s} accuracy {rep['accuracy']:.4f}  macro-F1 {rep['macro_f1']:.4f}  ECE {rep['ece']:.4f}  "
              "recall " + ", ".join(f"{e} {rep['per_class_recall'][e]:.3f}" for e in cxsense.EMOTIONS))
    print("JSON " + json.dumps({"title": "alignment on mesh eye corners (FER-2013 dev)", "split": desc,
                                "n_faces": int(len(labels)), **out}))


if __name__ == "__main__":
    main()
