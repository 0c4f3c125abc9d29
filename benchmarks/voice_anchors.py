"""Reproduce the voice anchors on our split: MFCC statistics + RBF-SVM, eGeMAPSv02 functionals + RBF-SVM.

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.voice_anchors [--data DIR]

Train on RAVDESS actors 01-18, test on actors 19-20, 7 classes (calm merged into neutral). Raw files as
recorded (no loudness normalisation), as the anchors were computed. SVM: StandardScaler + SVC(rbf,
gamma="scale"), C chosen from {0.3, 1, 3, 10, 30} by leave-3-actors-out cross-validation on the
training actors only (6 folds). eGeMAPSv02 runs only if the ``opensmile`` package imports.
Also reported: each anchor's accuracy on the same dev files shifted by -20 dB (float gain), which shows
how much they read the recording level.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def mfcc_stats(y: np.ndarray, sr: int = 16000) -> np.ndarray:
    """40 MFCCs (librosa defaults, 16 kHz): mean and standard deviation over frames (80 values)."""
    import librosa

    m = librosa.feature.mfcc(y=y.astype(np.float32), sr=sr, n_mfcc=40)
    return np.concatenate([m.mean(1), m.std(1)])


def egemaps(y: np.ndarray, sr: int = 16000, _smile=[]) -> np.ndarray:
    """The 88 eGeMAPSv02 functionals (openSMILE)."""
    import opensmile

    if not _smile:
        _smile.append(opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals))
    return _smile[0].process_signal(y.astype(np.float32), sr).to_numpy()[0]


def fit_svm(X, y, groups):
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    best = None
    for C in (0.3, 1, 3, 10, 30):
        clf = make_pipeline(StandardScaler(), SVC(C=C, kernel="rbf", gamma="scale"))
        s = cross_val_score(clf, X, y, groups=groups, cv=GroupKFold(n_splits=6), n_jobs=1).mean()
        if best is None or s > best[0]:
            best = (s, C)
    clf = make_pipeline(StandardScaler(), SVC(C=best[1], kernel="rbf", gamma="scale", probability=True,
                                              random_state=0))
    clf.fit(X, y)
    return clf, best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    args = ap.parse_args(argv)
    from benchmarks.metrics import print_report
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from training.common.data import data_root
    from training.common.ravdess import load_ravdess, read_wav

    root = data_root(args.data)
    tr, dv = load_ravdess(root, "train"), load_ravdess(root, "dev")
    ytr = np.array([r["label"] for r in tr])
    ydv = np.array([r["label"] for r in dv])
    gtr = np.array([r["speaker"] for r in tr])
    wav_tr = [read_wav(r["path"]) for r in tr]
    wav_dv = [read_wav(r["path"]) for r in dv]
    split = "train RAVDESS actors 01-18 (1080 files), test actors 19-20 (120 files); 7 classes, calm->neutral"
    extractors = [("MFCC(40) mean+std + RBF-SVM", mfcc_stats)]
    try:
        import opensmile  # noqa: F401

        extractors.append(("eGeMAPSv02 functionals (88) + RBF-SVM", egemaps))
    except Exception as e:  # pragma: no cover - depends on the environment
        print(f"opensmile not available ({e}); eGeMAPS anchor skipped")
    for name, fx in extractors:
        t0 = time.perf_counter()
        Xtr = np.stack([fx(w) for w in wav_tr])
        Xdv = np.stack([fx(w) for w in wav_dv])
        Xq = np.stack([fx(w * 0.1) for w in wav_dv])
        t_feat = (time.perf_counter() - t0) / (len(wav_tr) + 2 * len(wav_dv))
        clf, (cv, C) = fit_svm(Xtr, ytr, gtr)
        classes = list(clf.classes_)
        p = np.zeros((len(Xdv), len(EMOTIONS)))
        p[:, classes] = clf.predict_proba(Xdv)
        pq = np.zeros_like(p)
        pq[:, classes] = clf.predict_proba(Xq)
        rep = classification_report(p, ydv, EMOTIONS)
        acc_q = float((pq.argmax(1) == ydv).mean())
        print_report(name, split, rep, {"C": C, "cv_accuracy_train": round(float(cv), 4),
                                        "accuracy_minus20db": round(acc_q, 4),
                                        "feature_ms_per_file": round(1000 * t_feat, 2)})
        print(f"   C={C} (group-CV on train {cv:.4f}); dev accuracy at -20 dB: {acc_q:.4f}; "
              f"features {1000 * t_feat:.1f} ms per file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
