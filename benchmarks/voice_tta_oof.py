"""Test-time views for the voice network, out of fold: do averaged views lift accuracy without a baseline?

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.voice_tta_oof [--seed 0]

Reads the three ``train_voice --cv-folds 3`` runs of the shipped recipe for one seed
(``training/runs/voice_n85cv3_320_f{0,1,2}_s{seed}``, made by the commands in models/voice/MODEL_CARD.md) and
their feature cache, and predicts each training actor's clean clips with the run that never heard that actor
(1,080 clips of actors 01-18; dev actors 19-20 not used), once as recorded and once per view: the log-mel
shifted by -1 or +1 mel band (a vocal-tract-like warp, as in training) and the frames stretched to tempo 0.9 or
1.1. It prints accuracy, macro-F1, NLL and ECE (temperature NLL-fitted on the clips themselves) for each view and
for averaged logits of some sets of views. The plain view must reproduce the runs' own ``oof_logits.npz``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

RUNS = Path(__file__).resolve().parents[1] / "training" / "runs"


def views(m: np.ndarray) -> dict:
    """The log-mel ``m`` (64, t), after the recording's mean subtraction, and its shifted and stretched views."""
    out = {"as recorded": m}
    for sh in (-1.0, 1.0):
        src = np.clip(np.arange(64) - sh, 0, 63)
        k0 = np.floor(src).astype(int)
        k1, w = np.minimum(k0 + 1, 63), (src - k0)[:, None]
        out[f"mel {sh:+.0f} band"] = (1 - w) * m[k0] + w * m[k1]
    for r in (0.9, 1.1):
        pos = np.linspace(0, m.shape[1] - 1, max(20, int(round(m.shape[1] / r))))
        i0 = np.floor(pos).astype(int)
        i1, w = np.minimum(i0 + 1, m.shape[1] - 1), (pos - i0)[None]
        out[f"tempo {r}"] = (1 - w) * m[:, i0] + w * m[:, i1]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefix", default="voice_n85cv3_320")
    ap.add_argument("--cache", default=str(RUNS / "voice_n85" / "cache_train_v5_s0_pt_n85.npz"))
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import machine
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.voice.net import VoiceNet
    from cxsense.metrics import fit_temperature, softmax
    from training.voice.train import load_cache

    print("split: out of fold, RAVDESS actors 01-18 (1,080 clips), 3 actor-grouped folds; dev actors 19-20 not used")
    print(f"machine: {machine()}")
    tr = load_cache(Path(a.cache))
    spk, ops = np.array([str(s) for s in tr["speakers"]]), np.array(tr["ops"])
    mels = [m.astype(np.float32) - m.astype(np.float32).mean(1, keepdims=True) for m in tr["mels"]]
    actors = sorted(set(spk))
    logits, labels = {}, []
    for fold in range(3):
        run = RUNS / f"{a.prefix}_f{fold}_s{a.seed}"
        held = np.isin(spk, actors[fold::3])
        clean = np.concatenate([m for m, o, t in zip(mels, ops, ~held) if o == "clean" and t], 1).astype(np.float64)
        mm, ms = clean.mean(1)[:, None], clean.std(1)[:, None] + 1e-3  # as train_voice normalises
        st = tr["stats"][~held]
        sm, ss = st.mean(0), st.std(0) + 1e-3
        net = VoiceNet()
        net.load_state_dict(torch.load(run / "checkpoint.pt", weights_only=False)["ema"])
        net.eval()
        idx = np.flatnonzero(held & (ops == "clean"))
        fold_logits = {}
        with torch.no_grad():
            for j in idx:
                s = torch.from_numpy(((tr["stats"][j] - sm) / ss).astype(np.float32))[None]
                for name, v in views(mels[j]).items():
                    x = torch.from_numpy(((v - mm) / ms).astype(np.float32))[None]
                    fold_logits.setdefault(name, []).append(net(x, torch.ones(1, x.shape[2]), s)[0][0].numpy())
        own = np.load(run / "oof_logits.npz")["logits"]
        if np.abs(np.stack(fold_logits["as recorded"]) - own).max() > 1e-4:
            raise SystemExit(f"{run}: the plain view does not reproduce oof_logits.npz")
        for k, v in fold_logits.items():
            logits.setdefault(k, []).extend(v)
        labels.extend(tr["labels"][idx])
    L = {k: np.stack(v).astype(np.float64) for k, v in logits.items()}
    y = np.array(labels)
    sets = {k: [k] for k in L} | {"as recorded + mel -1/+1": ["as recorded", "mel -1 band", "mel +1 band"],
                                  "as recorded + tempo 0.9/1.1": ["as recorded", "tempo 0.9", "tempo 1.1"],
                                  "all five": list(L)}
    out = {}
    for name, keys in sets.items():
        z = np.mean([L[k] for k in keys], 0)
        r = classification_report(softmax(z / fit_temperature(z, y)), y, EMOTIONS)
        out[name] = {k: r[k] for k in ("accuracy", "macro_f1", "nll", "ece")}
        print(f"{name:>30}: acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} NLL {r['nll']:.4f} ECE {r['ece']:.4f}")
    print("JSON " + json.dumps({"title": "voice test-time views, out of fold", "seed": a.seed, "results": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
