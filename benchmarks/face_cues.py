"""Facial cues from the face mesh (docs/cues.md): ranges fitted on FER-2013 train, floors checked on dev.

    OMP_NUM_THREADS=1 python -m benchmarks.face_cues [--data DIR] [--fit] [--per-class 1500] [--faces 100]
                                                      [--skip-speed] [--skip-presence] [--speed-only]

FER-2013 crops (48x48 grey) are upscaled to 192x192 (bicubic), padded by 96 pixels on each side (border
replicated) to a 384x384 RGB frame, and go through the detector (``FaceDetector.detect``), the mesh
(``FaceMesh.run``, with the encoder's ``IRIS_MODE``) and :func:`face_cues`, as the encoder does.

- ``--fit``: on FER-2013 **train** (``--per-class`` faces each of happiness, surprise, neutral), prints the anchors
  of ``cxsense.encoders.face.cues.ANCHORS`` (medians of the raw measures per class; smile's weights from a
  logistic regression happiness vs neutral) and the yaw offset (half the median of yaw + mirrored yaw).
- ``--cues refined``: the same with ``face_cues="refined"`` (a second mesh pass on the first pass's crop).
- Otherwise, on FER-2013 **dev**: AUC of smile (happiness vs neutral), mouth_open and brow_raise (surprise vs
  neutral); head roll under +/-15 degrees of in-plane rotation and yaw under mirroring on ``--faces`` faces;
  gaze: fast iris centres vs the iris network; face presence on the dev faces vs generated non-faces; speed.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.metrics import machine
from training.common.fer import data_root, load_fer

CLASSES = {"happiness": 3, "surprise": 5, "neutral": 6}


def fer_frame(im: np.ndarray) -> np.ndarray:
    """A 48x48 FER crop -> 384x384 RGB: bicubic to 192, replicated border of 96 on each side."""
    import cv2

    up = cv2.resize(im, (192, 192), interpolation=cv2.INTER_CUBIC)
    up = cv2.copyMakeBorder(up, 96, 96, 96, 96, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(np.repeat(up[:, :, None], 3, axis=2))


class Pipeline:
    """Detector + mesh + cues as the encoder runs them, keeping the raw geometry for the benchmark."""

    def __init__(self, refine: bool = False):
        from cxsense.encoders.face.cue_hook import shared_mesh
        from cxsense.encoders.face.detect import FaceDetector
        from cxsense.registry import model_path

        self.det = FaceDetector(model_path("face-detector"))
        self.mesh = shared_mesh()
        self.refine = refine  # face_cues="refined": a second mesh pass on the first pass's crop

    def run(self, rgb, iris=None):
        """(detection, mesh result with iris centres, raw geometry, cues) of the largest face, or None."""
        import dataclasses

        from cxsense.encoders.face.cues import face_cues, raw_geometry
        from cxsense.encoders.face.mesh import fast_iris_centres

        from cxsense.encoders.face.cue_hook import IRIS_MODE

        iris = iris or IRIS_MODE
        dets = self.det.detect(rgb)
        if not dets:
            return None
        m = self.mesh.run(rgb, dets[0], iris=iris == "network", refine=self.refine)
        if m is None:
            return None
        if iris == "fast":
            c = fast_iris_centres(rgb, m.landmarks)
            m = dataclasses.replace(m, iris=None if c is None else c[:, None, :])
        return dets[0], m, raw_geometry(m), face_cues(m, rgb.shape)


def _sample(y, per_class, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for c in CLASSES.values():
        idx = np.flatnonzero(y == c)
        out.append(idx if per_class is None or per_class >= len(idx) else rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(out))


def measure(pipe, x, y, idx):
    rows = []
    for i in idx:
        r = pipe.run(fer_frame(x[i]))
        rows.append(None if r is None else {"label": int(y[i]), **r[2], **{"cue_" + k: v for k, v in r[3].items()}})
    return rows


def _auc(pos, neg):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def fit(pipe, x, y, desc, per_class):
    from sklearn.linear_model import LogisticRegression

    idx = _sample(y, per_class)
    t0 = time.time()
    rows = [r for r in measure(pipe, x, y, idx) if r is not None]
    print(f"fit split: {desc}; {per_class} per class of happiness/surprise/neutral drawn (seed 0); "
          f"{len(rows)} of {len(idx)} with a face and a mesh ({time.time() - t0:.0f} s)")
    col = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    lab = col["label"]
    med = {k: {n: float(np.nanmedian(col[k][lab == c])) for n, c in CLASSES.items()} for k in col if k != "label"}
    hn = np.isin(lab, [CLASSES["happiness"], CLASSES["neutral"]])
    feats = np.column_stack([col["corner_lift"], col["mouth_width"]])[hn]
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(feats, lab[hn] == CLASSES["happiness"])
    w = lr.coef_[0] / lr.coef_[0][0]  # corner_lift weight 1
    smile = col["corner_lift"] * w[0] + col["mouth_width"] * w[1]
    neu, hap, sur = (lab == CLASSES[n] for n in ("neutral", "happiness", "surprise"))
    sn = sur | neu
    # the candidates written down before their train AUCs were computed (docs/cues.md, "How mouth_open and
    # brow_raise were chosen"): mouth geometry, brow geometry, and brows with the upper lids
    cand = {"lip_gap": col["lip_gap"], "lip_height": col["lip_height"],
            "(lip_gap + lip_height) / 2 (the earlier mouth_open)": (col["lip_gap"] + col["lip_height"]) / 2,
            "lip_gap / mouth_width": col["lip_gap"] / col["mouth_width"], "mouth_aperture": col["mouth_aperture"],
            "brow_height": col["brow_height"], "upper_lid (not a brow measure alone)": col["upper_lid"]}
    for name, v in cand.items():
        print(f"train AUC surprise vs neutral of {name}: {_auc(v[sur], v[neu]):.4f}")
    # brow_raise: brows plus the upper lids' raise above their neutral median (blinks and squints do not count), the
    # weight from a logistic regression surprise vs neutral (brows weight 1)
    rest = float(np.nanmedian(col["upper_lid"][neu]))
    lid_raise = np.maximum(col["upper_lid"] - round(rest, 4), 0.0)
    print(f"upper_lid of neutral train faces, median (UPPER_LID_REST): {rest:.4f}")
    feats = np.column_stack([col["brow_height"], lid_raise])[sn]
    ok = np.all(np.isfinite(feats), axis=1)
    lr2 = LogisticRegression(C=1.0, max_iter=1000).fit(feats[ok] / feats[ok].std(0), sur[sn][ok])
    w_lid = float(lr2.coef_[0][1] / feats[ok].std(0)[1] / (lr2.coef_[0][0] / feats[ok].std(0)[0]))
    brows = col["brow_height"] + round(w_lid, 4) * lid_raise
    print(f"train AUC surprise vs neutral of brow_height + {w_lid:.4f} upper_lid_raise: {_auc(brows[sur], brows[neu]):.4f}")
    q = lambda v, m, pct: float(np.nanpercentile(v[m], pct))  # noqa: E731
    gaze = -col["gaze_angle"]
    anchors = {  # rule: the low class's 25th percentile reads 0.05, the high class's 75th reads 0.95
        "mouth_open": {"measure": {"mouth_aperture": 1.0}, "at_0.05": q(col["mouth_aperture"], neu, 25),
                       "at_0.95": q(col["mouth_aperture"], sur, 75)},
        "smile": {"measure": {"corner_lift": 1.0, "mouth_width": round(float(w[1]), 4)}, "at_0.05": q(smile, neu, 25),
                  "at_0.95": q(smile, hap, 75)},
        "brow_raise": {"measure": {"brow_height": 1.0, "upper_lid_raise": round(w_lid, 4)}, "at_0.05": q(brows, neu, 25),
                       "at_0.95": q(brows, sur, 75),
                       "fallback": {"measure": {"brow_height": 1.0}, "at_0.05": q(col["brow_height"], neu, 25),
                                    "at_0.95": q(col["brow_height"], sur, 75)}},
        # eyes: neutral faces' 1st percentile (nearly closed) reads 0.05, their 25th percentile 0.95
        "eyes_open": {"measure": {"eye_opening": 1.0}, "at_0.05": q(col["eye_opening"], neu, 1),
                      "at_0.95": q(col["eye_opening"], neu, 25),
                      "fallback": {"measure": {"eye_opening_mesh": 1.0}, "at_0.05": q(col["eye_opening_mesh"], neu, 1),
                                   "at_0.95": q(col["eye_opening_mesh"], neu, 25)}},
        # gaze: over all three classes (mostly looking into the camera) the 25th percentile of the angle reads 0.95,
        # the 90th 0.05
        "gaze_on_camera": {"measure": {"gaze_angle": -1.0}, "at_0.05": q(gaze, np.isfinite(gaze), 10),
                           "at_0.95": q(gaze, np.isfinite(gaze), 75)},
    }
    print("medians per class:", json.dumps({k: {n: round(v, 4) for n, v in d.items()} for k, d in med.items()}))
    print("train AUC happiness vs neutral of the smile measure: "
          f"{_auc(smile[hap], smile[neu]):.4f}; eye_opening surprise vs neutral: "
          f"{_auc(col['eye_opening'][sur], col['eye_opening'][neu]):.4f}")
    print("JSON " + json.dumps({"title": "face cue anchors (FER-2013 train)", "anchors": anchors}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--fit", action="store_true", help="fit the anchors on FER-2013 train and stop")
    p.add_argument("--per-class", type=int, default=1500)
    p.add_argument("--faces", type=int, default=100, help="dev faces for the roll and mirror checks")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-presence", action="store_true")
    p.add_argument("--speed-only", action="store_true", help="only the speed check (no data needed)")
    p.add_argument("--cues", choices=("full", "refined"), default="full",
                   help="the cue mode measured (refined: a second mesh pass; docs/cues.md)")
    a = p.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    print("machine:", machine())
    pipe = Pipeline(refine=a.cues == "refined")
    print("cues mode:", a.cues)
    if a.speed_only:
        from benchmarks.face_cues_checks import speed_check

        speed_check(pipe)
        return
    if a.fit:
        x, y, desc = load_fer(data_root(a.data), "train")
        fit(pipe, x, y, desc, a.per_class)
        return
    from benchmarks.face_cues_checks import gaze_agreement, geometry_checks, presence_check, speed_check

    x, y, desc = load_fer(data_root(a.data), "dev")
    idx = _sample(y, None)
    t0 = time.time()
    rows = measure(pipe, x, y, idx)
    found = [r for r in rows if r is not None]
    print(f"split: {desc}; happiness/surprise/neutral: {len(idx)} faces, {len(found)} with a face and a mesh "
          f"({time.time() - t0:.0f} s); FER crop bicubic to 192, replicated border to 384x384")
    col = {k: np.array([r[k] for r in found]) for k in found[0]}
    lab = col["label"]
    res = {}
    for cue, pos, floor in (("smile", "happiness", 0.90), ("mouth_open", "surprise", 0.85),
                            ("brow_raise", "surprise", 0.80), ("eyes_open", "surprise", None)):
        v = col["cue_" + cue]
        auc = _auc(v[lab == CLASSES[pos]], v[lab == CLASSES["neutral"]])
        res[cue] = auc
        print(f"{cue:10s} AUC {pos} vs neutral: {auc:.4f}" + ("" if floor is None else f" (floor {floor:.2f})"))
    # without the iris network ("fast" cues) brow_raise reads the brows alone (its fallback; AUC is that of the measure)
    v = col["brow_height"]
    res["brow_raise_fast"] = _auc(v[lab == CLASSES["surprise"]], v[lab == CLASSES["neutral"]])
    print(f"brow_raise AUC surprise vs neutral without the iris network (brows alone, cues='fast'): "
          f"{res['brow_raise_fast']:.4f} (floor 0.80)")
    res["gaze_on_camera_median_dev"] = float(np.median(col["cue_gaze_on_camera"]))
    res["share_gaze_on_camera_ge_0.5"] = float(np.mean(col["cue_gaze_on_camera"] >= 0.5))
    print(f"gaze_on_camera on these dev faces: median {res['gaze_on_camera_median_dev']:.3f}, share >= 0.5 "
          f"{res['share_gaze_on_camera_ge_0.5']:.3f}")
    print("JSON " + json.dumps({"title": "face cues AUC (FER-2013 dev)", "split": desc, "cues": a.cues, "n_faces": len(found),
                                "n_images": len(idx), **res}))
    geometry_checks(pipe, x, y, a.faces)
    gaze_agreement(pipe, x, y, a.faces)
    if not a.skip_presence:
        presence_check(pipe, x, y)
    if not a.skip_speed:
        speed_check(pipe)


if __name__ == "__main__":
    main()
