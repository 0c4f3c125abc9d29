"""How face-like is a crop given with ``detect_face=False``? FER-2013 dev faces against non-face crops.

    python -m benchmarks.face_crop_quality [--data DIR] [--limit N] [--save FILE.npz]

Split: the de-duplicated FER-2013 dev split (PublicTest; faces) against 2,400 non-face 48x48 crops made here,
deterministically (seed 0): Gaussian and uniform noise, blurred noise at four scales, gratings, checkerboards,
dev faces with their 8x8 or 12x12 blocks shuffled or their pixels shuffled, and patches of the example photo
that miss its face. For each crop it measures what :func:`cxsense.encoders.face.quality.crop_quality` can read:
the face detector's best score on the crop (its close-up search: the crop padded to 2x and 3x), and the
expression network's top probability and entropy. It prints the separation (AUC, faces vs non-faces) of each,
the share of each set above the thresholds, and the quality the shipped rule gives each set (the old rule gave
1.0 to every crop with a pixel SD of 20 or more). Nothing is trained here; the thresholds in
``cxsense/encoders/face/quality.py`` were read off this output.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def nonface_crops(faces: np.ndarray, n_per_kind: int = 240, seed: int = 0) -> dict[str, np.ndarray]:
    """Non-face 48x48 uint8 crops of ten kinds, ``n_per_kind`` each."""
    import cv2
    from PIL import Image

    rng = np.random.default_rng(seed)
    out: dict[str, list] = {k: [] for k in ("gauss_noise", "uniform_noise", "blur_noise", "grating", "checker",
                                            "blocks8", "blocks12", "pixels", "photo_patch", "blur_noise_fine")}
    photo = np.asarray(Image.open(REPO / "examples" / "astronaut.jpg").convert("L"))
    face_box = (110, 20, 340, 270)  # x0, y0, x1, y1 of the face in the example photo (with margin)
    yy, xx = np.mgrid[0:48, 0:48]
    for i in range(n_per_kind):
        out["gauss_noise"].append(np.clip(rng.normal(128, rng.uniform(20, 80), (48, 48)), 0, 255))
        out["uniform_noise"].append(rng.uniform(0, 255, (48, 48)))
        for key, sig in (("blur_noise", rng.uniform(2.5, 6)), ("blur_noise_fine", rng.uniform(0.8, 2.5))):
            z = cv2.GaussianBlur(rng.normal(0, 1, (48, 48)), (0, 0), sig)
            out[key].append((z - z.min()) / max(np.ptp(z), 1e-9) * rng.uniform(80, 255))
        th, f = rng.uniform(0, np.pi), rng.uniform(0.05, 0.4)
        out["grating"].append(128 + 100 * np.sin(2 * np.pi * f * (xx * np.cos(th) + yy * np.sin(th))))
        s = int(rng.integers(3, 16))
        out["checker"].append(np.where(((yy // s) + (xx // s)) % 2, 200.0, 50.0))
        face = faces[rng.integers(len(faces))]
        for key, b in (("blocks8", 8), ("blocks12", 12)):
            blocks = face.reshape(48 // b, b, 48 // b, b).swapaxes(1, 2).reshape(-1, b, b)
            blocks = blocks[rng.permutation(len(blocks))]
            out[key].append(blocks.reshape(48 // b, 48 // b, b, b).swapaxes(1, 2).reshape(48, 48))
        out["pixels"].append(rng.permutation(face.ravel()).reshape(48, 48))
        while True:
            side = int(rng.integers(48, 200))
            x0, y0 = int(rng.integers(0, photo.shape[1] - side)), int(rng.integers(0, photo.shape[0] - side))
            if x0 + side <= face_box[0] or x0 >= face_box[2] or y0 + side <= face_box[1] or y0 >= face_box[3]:
                break
        out["photo_patch"].append(cv2.resize(photo[y0:y0 + side, x0:x0 + side], (48, 48), interpolation=cv2.INTER_AREA))
    return {k: np.stack(v).round().clip(0, 255).astype(np.uint8) for k, v in out.items()}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a face > score of a non-face), ties counted half."""
    s = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(s, kind="stable"), kind="stable") + 1.0
    for v in np.unique(s):  # average ranks of ties
        m = s == v
        ranks[m] = ranks[m].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def measure(enc, crops: np.ndarray) -> dict[str, np.ndarray]:
    from cxsense.encoders.face.quality import crop_signals
    from cxsense.encoders.face.views import pixel_std

    _, p = enc.crops_embed(crops)
    det = np.array([crop_signals(c, enc._detector)["detector_score"] for c in crops])
    pmax = p.max(1)
    ent = -(p * np.log(np.clip(p, 1e-12, 1))).sum(1) / np.log(p.shape[1])
    std = np.array([pixel_std(c) for c in crops])
    from cxsense.encoders.face.cue_hook import read_mesh

    mesh = np.array([read_mesh(np.repeat(c[:, :, None], 3, axis=2), None, "fast") is not None for c in crops], float)
    return {"detector_score": det, "max_prob": pmax, "entropy": ent, "std": std, "probs": p, "mesh": mesh}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N dev faces (0: all)")
    ap.add_argument("--save", default=None, help="write the per-crop measures to this .npz")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import machine
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.encoders.face.quality import crop_quality
    from training.common.fer import data_root, load_fer

    faces, labels, split = load_fer(data_root(a.data), "dev")
    if a.limit:
        faces, labels = faces[: a.limit], labels[: a.limit]
    print(f"machine: {machine()}")
    print(f"split: {split} (faces, {len(faces)} used) against non-face crops made here (seed 0)")
    enc = FaceEncoder("base")
    t0 = time.time()
    sets = {"faces (FER dev)": faces, **nonface_crops(faces)}
    res = {k: measure(enc, v) for k, v in sets.items()}
    print(f"measured {sum(len(v) for v in sets.values())} crops in {time.time() - t0:.0f} s")
    neg = {m: np.concatenate([r[m] for k, r in res.items() if k != "faces (FER dev)"])
           for m in ("detector_score", "max_prob", "entropy")}
    pos = res["faces (FER dev)"]
    print("separation, faces vs all non-face crops (AUC; entropy: lower for faces):")
    neg["mesh"] = np.concatenate([r["mesh"] for k, r in res.items() if k != "faces (FER dev)"])
    for m in ("detector_score", "max_prob", "mesh"):
        print(f"  {m:<15} AUC {auc(pos[m], neg[m]):.3f}")
    print(f"  {'entropy':<15} AUC {auc(-pos['entropy'], -neg['entropy']):.3f}")
    print("q: the shipped rule with the face mesh on (the default: 1.0 where the mesh sees a face, else the "
          "detector's score on the crop); q det: with the mesh off (the detector's score alone)")
    print(f"{'set':<18} {'n':>5} {'mesh':>6} {'det>0':>6} {'det med':>7} {'pmax med':>8} {'ent med':>7} "
          f"{'q med':>6} {'q>=0.5':>7} {'q det>=.5':>9} {'q old':>6}")
    out = {}
    for k, r in res.items():
        q_det = np.array([crop_quality(c, None, probabilities=p, detector=enc._detector)
                          for c, p in zip(sets[k], r["probs"])])
        q = np.where(r["mesh"] > 0, np.array([crop_quality(c, None, likeness=1.0) for c in sets[k]]), q_det)
        old = np.minimum(1.0, r["std"] / 20.0) * (r["std"] >= 2.0)
        out[k] = {"n": len(q), "mesh_found": float(r["mesh"].mean()),
                  "detector_found": float((r["detector_score"] > 0).mean()),
                  "quality_median": float(np.median(q)), "quality_ge_0.5": float((q >= 0.5).mean()),
                  "quality_mean": float(q.mean()), "quality_detector_ge_0.5": float((q_det >= 0.5).mean()),
                  "old_quality_mean": float(old.mean())}
        print(f"{k:<18} {len(q):>5} {r['mesh'].mean():>6.1%} {(r['detector_score'] > 0).mean():>6.1%} "
              f"{np.median(r['detector_score']):>7.2f} {np.median(r['max_prob']):>8.2f} {np.median(r['entropy']):>7.2f} "
              f"{np.median(q):>6.2f} {(q >= 0.5).mean():>7.1%} {(q_det >= 0.5).mean():>9.1%} {old.mean():>6.2f}")
    f = res["faces (FER dev)"]
    correct = f["probs"].argmax(1) == labels
    found = f["detector_score"] > 0
    print(f"dev accuracy of the expression network: all {correct.mean():.3f}; crops where the detector finds a face "
          f"{correct[found].mean():.3f} (n={found.sum()}), where it finds none {correct[~found].mean():.3f} "
          f"(n={(~found).sum()})")
    seen = f["mesh"] > 0
    print(f"  crops where the face mesh sees a face {correct[seen].mean():.3f} (n={seen.sum()}), where it does not "
          f"{correct[~seen].mean():.3f} (n={(~seen).sum()})")
    out["accuracy"] = {"all": float(correct.mean()), "found": float(correct[found].mean()),
                       "not_found": float(correct[~found].mean())}
    if a.save:
        np.savez(a.save, **{f"{k}:{m}": v for k, r in res.items() for m, v in r.items()})
    print("JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
