"""Voice tone with and without the speaker's own baseline, on the dev actors, through :class:`VoiceEncoder`.

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.voice_baseline [--data DIR] [--head FILE.json]

Split: RAVDESS actors 19 (male) and 20 (female), 120 clips, 7 classes (calm -> neutral). Neither the voice
model nor the baseline head was trained on them; the head was chosen by cross-validation on actors 01-18
(``training/voice/train_baseline.py``), not on these actors.

Each clip is assessed once without a baseline (``encode(x)``) and once per baseline kind with
``encode(x, baseline=speaker_stats(B))``, where ``B`` is a set of *other* clips of the same actor, never the
tested clip:

* ``neutral, all``: the actor's neutral and calm takes (12; 11 when the tested clip is one of them);
* ``neutral, k=1`` / ``k=3``: 1 or 3 of them at random (seeded);
* ``everyday, k=8`` / ``k=3``: 8 or 3 clips of the actor at random, of any emotion (seeded);
* ``neutral, other sentence``: the neutral and calm takes of the sentence the tested clip does not say (RAVDESS
  actors say the same two sentences in every take, so this removes the help of hearing the same words).

For each it prints accuracy, macro-F1, ECE, NLL and per-class recall, and the ECE a perfectly calibrated
model with the same confidences would show on 120 clips (the noise floor of a binned ECE on this split).
``--head FILE.json`` evaluates a candidate head instead of the registered one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

KINDS = [("neutral", None), ("neutral", 1), ("neutral", 3), ("everyday", 8), ("everyday", 3),
         ("neutral-other-sentence", None)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--head", default=None, help="a candidate head (JSON) instead of the registered voice-baseline")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import calibration_noise_floor, machine
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.voice.baseline import BaselineHead, SpeakerBaseline, speaker_stats
    from cxsense.encoders.voice.encoder import VoiceEncoder
    from cxsense.inputs.audio import load_audio
    from training.common.data import data_root
    from training.voice.baseline_data import baseline_sets
    from training.common.ravdess import load_ravdess, read_wav

    enc = VoiceEncoder()
    if args.head:
        with open(args.head) as f:
            enc._baseline_head = BaselineHead.from_document(json.load(f))
        print(f"head: {args.head} (candidate, not the registered file)")
    rows = load_ravdess(data_root(args.data), "dev")
    split = "dev: RAVDESS actors 19 (male) + 20 (female), 120 clips, 7 classes (calm->neutral)"
    print(f"split: {split}\nmachine: {machine()}")
    audio = [load_audio((read_wav(r["path"]).astype(np.float32), 16000)) for r in rows]
    y = np.array([r["label"] for r in rows])
    table = {"speaker": np.array([r["speaker"] for r in rows]), "emotion": np.array([r["emotion"] for r in rows]),
             "statement": np.array([int(r["statement"]) for r in rows]), "quality": np.ones(len(rows))}
    summary = {}

    def show(name, P, extra=""):
        ok = ~np.isnan(P).any(1)
        r = classification_report(P[ok], y[ok], EMOTIONS)
        acc = float(np.mean(ok & (np.nan_to_num(P, nan=-1).argmax(1) == y)))
        floor = np.median(calibration_noise_floor(P[ok], n_sim=500))
        rec = " ".join(f"{c[:3]} {v:.2f}" for c, v in r["per_class_recall"].items())
        print(f"{name:>26}: acc {acc:.4f} F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f} (noise floor {floor:.3f}) "
              f"NLL {r['nll']:.4f} | recall {rec}{extra}")
        summary[name] = {"accuracy": acc, "macro_f1": r["macro_f1"], "ece": r["ece"], "nll": r["nll"],
                         "ece_noise_floor_median": float(floor), "per_class_recall": r["per_class_recall"]}

    t0 = time.time()
    P0 = np.stack([enc.encode(a).probability_vector() for a in audio])
    show("no baseline", P0, f"  ({(time.time() - t0) / len(audio) * 1000:.0f} ms per clip)")
    # each clip summarised once (one encoder pass); a baseline is the merge of its clips' summaries, which is
    # what speaker_stats over those clips computes (checked on the first clip of each kind)
    t0 = time.time()
    one = [speaker_stats(a, encoder=enc) for a in audio]
    print(f"speaker_stats: {(time.time() - t0) / len(audio) * 1000:.0f} ms per baseline clip (one encoder pass)")
    for kind, k in KINDS:
        sets = baseline_sets(table, np.arange(len(rows)), kind, k, np.random.default_rng(0))
        direct = speaker_stats([audio[j] for j in sets[0]], encoder=enc)
        if not np.allclose(direct.logp, SpeakerBaseline.merge([one[j] for j in sets[0]]).logp, atol=1e-9):
            raise SystemExit("merged summaries differ from speaker_stats")
        P = np.stack([enc.encode(a, baseline=SpeakerBaseline.merge([one[j] for j in b])).probability_vector()
                      for a, b in zip(audio, sets)])
        name = f"{kind}, " + ("all" if k is None else f"k={k}")
        show(name, P, f"  ({np.mean([len(b) for b in sets]):.1f} baseline clips)")
    print("JSON " + json.dumps({"title": "voice tone with a speaker baseline", "split": split, "results": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
