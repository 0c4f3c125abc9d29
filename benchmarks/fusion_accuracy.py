"""Late fusion on dev pseudo-pairs (issue 5): accuracy, calibration, degraded inputs, selective accuracy,
incongruence.

    python -m benchmarks.fusion_accuracy [--data PATH] [--assess-check 60] [--draws 5]

Split: dev pseudo-pairs = each FER-2013 PublicTest (de-duplicated, 3,292) face image with a RAVDESS actor
19-20 clip of the same label drawn at random (``--draws`` per image, seeded). The shipped fusion was
fitted on pseudo-pairs of the train splits; its L2 strength and temperature were chosen on dev pairs
(``training/fusion/fit.py`` also prints the ECE with the temperature cross-fitted between dev halves).
Encoder outputs come from the shipped face and voice models exactly as ``assess`` runs them (cached by
``training/fusion/data.py``); ``--assess-check N`` re-runs N pairs through ``cxsense.assess`` and prints the
largest difference from the cached path. Conditions: both modalities; voice with white noise at 10 dB SNR;
no face (voice only); no voice (face only).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.metrics import machine
from cxsense.metrics import classification_report


def selective(P, y, shares=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)):
    conf = P.max(1)
    order = np.argsort(-conf, kind="stable")
    ok = (P.argmax(1) == y)[order]
    out = {}
    for s in shares:
        k = max(1, int(round(s * len(y))))
        out[f"{int(s * 100)}%"] = {"accuracy": round(float(ok[:k].mean()), 4), "min_confidence": round(float(conf[order][k - 1]), 4)}
    return out


def auc(pos, neg):
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _result(modality, p, q):
    from cxsense.emotions import EMOTIONS, circumplex_va, stress_from_va
    from cxsense.encoders.base import ModalityResult

    v, a = circumplex_va(p)
    return ModalityResult(modality, dict(zip(EMOTIONS, map(float, p))), np.zeros(1, np.float32), float(q),
                          v, a, stress_from_va(v, a))


def stress_section(d, shipped, data=None) -> None:
    """Fused stress on pseudo-triples: Stress-Predict dev windows (S04, S09, S14; label stress / no stress)
    with a face and a voice drawn from the dev pairs' classes whose circumplex stress is above / below 0.5
    (anger, disgust, fear, surprise / happiness, sadness, neutral): the issue's mapping of stress to arousal."""
    from cxsense.emotions import CIRCUMPLEX, EMOTIONS, stress_from_va
    from cxsense.encoders import get_encoder
    from cxsense.inputs.physio import load_physio
    from training.common.stress_predict import subjects, windows

    from cxsense.metrics import binary_ece

    hi = [k for k, e in enumerate(EMOTIONS) if stress_from_va(*CIRCUMPLEX[e]) > 0.5]
    enc = get_encoder("physio")
    rng = np.random.default_rng(21)
    rows = {"physio only": [], "face+voice": [], "face+voice+physio": []}
    ys = []
    for sub, split in sorted(subjects().items()):
        if split != "dev":
            continue
        for _, y, _, m in windows(sub):
            ph = enc.encode(load_physio(m))
            if ph.quality <= 0:
                continue
            pool = [k for k in range(7) if (k in hi) == bool(y)]
            c = int(rng.choice(pool))
            i = int(rng.choice(np.flatnonzero(d["face_dev_y"] == c)))
            j = int(rng.choice(np.flatnonzero(d["voice_dev_y"] == c)))
            fr = _result("face", d["face_dev_p"][i], d["face_dev_q"][i])
            vr = _result("voice", d["voice_dev_p"][j], d["voice_dev_q"][j])
            rows["physio only"].append(shipped.fuse({"physio": ph}).stress)
            rows["face+voice"].append(shipped.fuse({"face": fr, "voice": vr}).stress)
            rows["face+voice+physio"].append(shipped.fuse({"face": fr, "voice": vr, "physio": ph}).stress)
            ys.append(int(y))
    y = np.array(ys)
    print(f"\n== stress on pseudo-triples: Stress-Predict dev subjects S04, S09, S14 ({len(y)} windows, "
          f"{y.mean():.0%} stress) x dev faces and voices of classes {[EMOTIONS[k] for k in hi]} (stress) or the others ==")
    for k, v in rows.items():
        v = np.array(v)
        ba = 0.5 * (np.mean(v[y == 1] >= 0.5) + np.mean(v[y == 0] < 0.5))
        print(f"  {k:<20} AUC {auc(v[y == 1], v[y == 0]):.3f}  balanced accuracy {ba:.3f}  ECE {binary_ece(v, y):.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--assess-check", type=int, default=60)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--no-stress", dest="stress", action="store_false", help="skip the physiology stress section")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from cxsense.emotions import EMOTIONS
    from cxsense.fusion.incongruence import incongruence
    from cxsense.fusion.learned import LearnedFusion
    from training.fusion.data import load_outputs, part

    d = load_outputs(a.data)
    shipped = LearnedFusion.load()
    doc = json.loads(open(__import__("cxsense.registry", fromlist=["x"]).model_path("late-fusion")).read())
    C = doc["cxsense"]["provenance"]["C"]
    print(f"machine: {machine()}")
    split = ("dev pseudo-pairs: FER-2013 PublicTest de-duplicated (3,292 images) x RAVDESS actors 19-20 (120 clips), "
             f"same label, {a.draws} draws per image; shipped fusion (fitted on train pairs; C={C}, "
             f"T={shipped.temperature:.3f} chosen on dev)")
    print(split)

    conds = {"face+voice": ("dev", "both"), "face+voice(noise 10 dB)": ("devnoise", "both"),
             "voice only (no face)": ("dev", "voice"), "face only (no voice)": ("dev", "face")}
    from training.fusion.data import make_pairs

    face_d = part(d, "face", "dev")
    res = {}
    incong = {"same": [], "different": []}
    for name, (vsplit, mode) in conds.items():
        voice_d = part(d, "voice", vsplit)
        P_f, P_face, P_voice, Y = [], [], [], []
        for r in range(a.draws):
            pr = make_pairs(face_d, voice_d, np.random.default_rng([5, r]), mode)
            if mode == "both" or not shipped.single_passthrough:
                P_f.append(shipped.predict_rows(pr["X"]))
            else:  # one categorical modality: the shipped fusion passes its own estimate through
                P_f.append((face_d["p"][pr["face_i"]] if mode == "face" else voice_d["p"][pr["voice_i"]]).astype(float))
            P_face.append(face_d["p"][pr["face_i"]]); P_voice.append(voice_d["p"][pr["voice_i"]]); Y.append(pr["y"])
            if name == "face+voice" and r == 0:
                rng = np.random.default_rng(6)
                for i, j in zip(pr["face_i"][::4], pr["voice_i"][::4]):
                    fr = _result("face", face_d["p"][i], face_d["q"][i])
                    incong["same"].append(incongruence({"face": fr, "voice": _result("voice", voice_d["p"][j], voice_d["q"][j])})["score"])
                    jj = int(rng.choice(np.flatnonzero(voice_d["y"] != face_d["y"][i])))
                    incong["different"].append(incongruence({"face": fr, "voice": _result("voice", voice_d["p"][jj], voice_d["q"][jj])})["score"])
        P_f, P_face, P_voice, Y = map(np.concatenate, (P_f, P_face, P_voice, Y))
        res[name] = {"fused": classification_report(P_f, Y, EMOTIONS),
                     "face alone": classification_report(P_face, Y, EMOTIONS),
                     "voice alone": classification_report(P_voice, Y, EMOTIONS)}
        if name == "face+voice":
            lp = 0.5 * np.log(np.clip(P_face, 1e-12, 1)) + 0.5 * np.log(np.clip(P_voice, 1e-12, 1))
            Pr = np.exp(lp - lp.max(1, keepdims=True))
            res[name]["rule (equal-weight log-linear pool)"] = classification_report(Pr / Pr.sum(1, keepdims=True), Y, EMOTIONS)
            res[name]["selective accuracy (fused)"] = selective(P_f, Y)
    for name, r in res.items():
        print(f"\n== {name} ==")
        for who, rep in r.items():
            if who.startswith("selective"):
                print(f"  {who}: " + ", ".join(f"{k} {v['accuracy']:.3f} (conf >= {v['min_confidence']:.2f})" for k, v in rep.items()))
                continue
            rec = ", ".join(f"{e} {v:.3f}" for e, v in rep["per_class_recall"].items())
            print(f"  {who:<42} accuracy {rep['accuracy']:.4f} macro-F1 {rep['macro_f1']:.4f} ECE {rep['ece']:.4f} "
                  f"NLL {rep['nll']:.3f}\n      recall: {rec}")
    best_single = max(res["face+voice"]["face alone"]["accuracy"], res["face+voice"]["voice alone"]["accuracy"])
    gain = res["face+voice"]["fused"]["accuracy"] - best_single
    print(f"\nfused minus better single modality (face+voice): {100 * gain:+.1f} points")
    print(f"noisy voice: fused {res['face+voice(noise 10 dB)']['fused']['accuracy']:.4f} vs face alone "
          f"{res['face+voice(noise 10 dB)']['face alone']['accuracy']:.4f}")
    print(f"no face: fused {res['voice only (no face)']['fused']['accuracy']:.4f} vs voice alone "
          f"{res['voice only (no face)']['voice alone']['accuracy']:.4f}")
    s, n = np.array(incong["same"]), np.array(incong["different"])
    print(f"incongruence score, same-label pairs median {np.median(s):.3f}, different-label pairs median "
          f"{np.median(n):.3f}; AUC (different > same) {auc(n, s):.3f} over {len(s)} + {len(n)} pairs")

    # stress: physiology dev windows with face and voice pseudo-pairs whose label's circumplex stress matches
    if a.stress:
        stress_section(d, shipped, a.data)

    # the shipped fusion, through assess, against the cached path
    if a.assess_check:
        import cxsense
        from training.common.fer import data_root, load_fer
        from training.common.ravdess import load_ravdess, read_wav

        xf, yf, _ = load_fer(data_root(a.data), "dev")
        rows = load_ravdess(data_root(a.data), "dev")
        rng = np.random.default_rng(11)
        diffs, agree = [], 0
        for i in rng.choice(len(xf), a.assess_check, replace=False):
            j = int(rng.choice([k for k, r in enumerate(rows) if r["label"] == yf[i]]))
            got = cxsense.assess(face=xf[i], voice=(read_wav(rows[j]["path"]).astype(np.float32), 16000), detect_face=False)
            ref = shipped.categorical({"face": _result("face", d["face_dev_p"][i], d["face_dev_q"][i]),
                                       "voice": _result("voice", d["voice_dev_p"][j], d["voice_dev_q"][j])})
            diffs.append(float(np.abs(np.array([got.probabilities[e] for e in EMOTIONS]) - ref).max()))
            agree += got.emotion == EMOTIONS[int(ref.argmax())]
        print(f"through cxsense.assess: {a.assess_check} dev pairs, largest probability difference from the cached "
              f"path {max(diffs):.2e}, same emotion {agree}/{a.assess_check}")
    print("JSON " + json.dumps({"split": split, "results": res, "gain_points": 100 * gain,
                                "incongruence_auc": auc(n, s)}, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
