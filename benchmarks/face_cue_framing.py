"""How FER-2013 crops are framed for the cue floors: the detector framing vs the crop path (docs/cues.md).

    OMP_NUM_THREADS=1 python -m benchmarks.face_cue_framing [train|dev]

The three floor cues' AUCs with the benchmark's detector framing (bicubic to 192, replicated border to 384, then
the detector) against the crop path (``detect_face=False``: the mesh on the whole bicubic-192 crop). Rule written
before the first run (2026-12-05): adopt the crop framing for the dev floors only if mouth_open gains at least 0.01
on train and neither smile nor brow_raise loses more than 0.01; dev is read only then.
"""
import sys

import cv2
import numpy as np

from benchmarks.face_cues import CLASSES, Pipeline, _auc, _sample, fer_frame
from benchmarks.metrics import machine
from training.common.fer import data_root, load_fer

CUES = (("smile", "happiness"), ("mouth_open", "surprise"), ("brow_raise", "surprise"))


def main(argv=None):
    from cxsense.encoders.face.cue_hook import cues_for

    argv = sys.argv[1:] if argv is None else argv
    split = argv[0] if argv else "train"
    print("machine:", machine())
    x, y, desc = load_fer(data_root(None), split)
    idx = _sample(y, 1500 if split == "train" else None)
    pipe = Pipeline()
    rows = []
    for i in idx:
        r = pipe.run(fer_frame(x[i]))
        up = cv2.resize(x[i], (192, 192), interpolation=cv2.INTER_CUBIC)
        w = cues_for(np.ascontiguousarray(np.repeat(up[:, :, None], 3, axis=2)), None)
        rows.append([y[i]] + [np.nan if r is None else r[3][k] for k, _ in CUES]
                    + [np.nan if w is None else w[k] for k, _ in CUES])
    a = np.array(rows, float)
    lab = a[:, 0]
    print(f"split: FER-2013 {split} ({desc}); faces {len(a)} (happiness, surprise, neutral); read: detector framing "
          f"{np.isfinite(a[:, 1]).sum()}, crop path {np.isfinite(a[:, 4]).sum()}")
    for name, off in (("detector framing", 1), ("crop path", 4)):
        out = []
        for j, (cue, pos) in enumerate(CUES):
            v = a[:, off + j]
            ok = np.isfinite(v)
            out.append(f"{cue} {_auc(v[ok & (lab == CLASSES[pos])], v[ok & (lab == CLASSES['neutral'])]):.4f}")
        print(" ", name + " AUC:", ", ".join(out))


if __name__ == "__main__":
    main()
