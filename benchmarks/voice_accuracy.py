"""Dev figures of the shipped voice-tone model, through :class:`VoiceEncoder` (the code ``assess`` uses).

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.voice_accuracy [--data DIR] [--weights FILE]

``--weights FILE`` evaluates a candidate safetensors file (as written by ``training.voice.train --export``)
through the same encoder code instead of the registered model (no registry or SHA-256 check).

Split: RAVDESS actors 19 (male) and 20 (female), 120 files, 7 classes (calm -> neutral); the model never
saw these actors in training, and since voice-tone 1.1.0 its temperature comes from out-of-fold training
actors, but the recipe was chosen on them, so these are development figures, not a held-out test.

Conditions (each file read from disk, 16 kHz):

* ``clean``: as recorded, through ``load_audio((samples, 16000))``.
* ``+20 dB`` and ``-20 dB``: the float samples times 10 or 0.1, **not** clipped (an :class:`Audio` built
  directly, since +20 dB leaves [-1, 1] for loud takes): tests that the level is not read as emotion.
* ``+20 dB clipped``: the same gain then clipped to [-1, 1] through ``load_audio`` (a recording chain that
  saturates); files whose clipping the encoder flags as heavy get quality 0 and count as wrong.
* ``white 10 dB`` / ``pink 10 dB``: noise at 10 dB SNR relative to the active-speech power (seeded).
* ``telephone band``: 300-3400 Hz band-pass, 8-kHz int16 (a support call's band and rate, without a codec),
  resampled back to 16 kHz by ``load_audio``.

After the clean report it prints the ECE that a *perfectly calibrated* model with the same confidences
would show on the same number of files (labels drawn from the model's own probabilities, 2000 seeded
simulations): with 120 files and 15 bins the binned ECE is mostly sampling noise, and this is its scale.

A file with quality 0 has no estimate and counts as wrong in every accuracy figure here.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _telephone(w: np.ndarray) -> np.ndarray:
    """16-kHz float speech -> 8-kHz int16 in the 300-3400 Hz telephone band."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    y = sosfiltfilt(butter(4, [300, 3400], "band", fs=16000, output="sos"), w)
    y = resample_poly(y, 1, 2)
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--limit", type=int, default=None, help="first N dev files only (a quick check, not a figure)")
    ap.add_argument("--weights", default=None,
                    help="a candidate voice-tone safetensors file to evaluate instead of the registered model")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import calibration_noise_floor, print_report
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.voice.encoder import VoiceEncoder
    from cxsense.inputs.audio import Audio, load_audio
    from training.common.data import data_root
    from training.common.ravdess import add_noise, load_ravdess, read_wav

    if args.weights:
        from cxsense.encoders.voice.model import VoiceModel

        candidate = VoiceModel.from_file(args.weights)
        enc = VoiceEncoder(model=candidate, warmup=False)
        print(f"weights: {args.weights} (candidate, not the registered model; T = {candidate.temperature:.3f})")
    else:
        enc = VoiceEncoder()
    rows = load_ravdess(data_root(args.data), "dev")
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)][: args.limit]
    y = np.array([r["label"] for r in rows])
    gender = np.array([r["gender"] for r in rows])
    wavs = [read_wav(r["path"]) for r in rows]
    split = "dev: RAVDESS actors 19 (male) + 20 (female), 120 files, 7 classes (calm->neutral)"

    def run(make):
        P = np.full((len(wavs), len(EMOTIONS)), np.nan)
        q = np.zeros(len(wavs))
        for i, w in enumerate(wavs):
            r = enc.encode(make(i, w))
            q[i] = r.quality
            if r.quality > 0:
                P[i] = r.probability_vector()
        return P, q

    conds = {
        "clean": lambda i, w: load_audio((w.astype(np.float32), 16000)),
        "+20 dB": lambda i, w: Audio((w * 10).astype(np.float32), 16000),
        "-20 dB": lambda i, w: Audio((w * 0.1).astype(np.float32), 16000),
        "+20 dB clipped": lambda i, w: load_audio((np.clip(w * 10, -1, 1).astype(np.float32), 16000)),
        "white 10 dB": lambda i, w: Audio(add_noise(w, 10.0, np.random.default_rng([7, i]), "white").astype(np.float32), 16000),
        "pink 10 dB": lambda i, w: Audio(add_noise(w, 10.0, np.random.default_rng([8, i]), "pink").astype(np.float32), 16000),
        # a support call: 300-3400 Hz band (4th-order Butterworth), 8-kHz sampling, 16-bit; not a worst case (no
        # codec, no packet loss), the band and rate only
        "telephone band": lambda i, w: load_audio((_telephone(w), 8000)),
    }
    summary = {}
    for name, make in conds.items():
        P, q = run(make)
        ok = q > 0
        acc = float(np.mean(ok & (np.nan_to_num(P, nan=-1).argmax(1) == y)))
        summary[name] = acc
        if name == "clean":
            rep = classification_report(P[ok], y[ok], EMOTIONS)
            per_gender = {}
            for g in ("male", "female"):
                m = ok & (gender == g)
                rg = classification_report(P[m], y[m], EMOTIONS)
                per_gender[g] = {"n": rg["n"], "accuracy": round(rg["accuracy"], 4), "macro_f1": round(rg["macro_f1"], 4),
                                 "ece": round(rg["ece"], 4)}
            print_report("voice-tone v1 (VoiceEncoder), clean", split, rep,
                         {"no_signal": int((~ok).sum()), "per_gender": per_gender,
                          "mean_quality": round(float(q.mean()), 4)})
            # What ECE a perfectly calibrated model with these confidences would show on this many files:
            # labels drawn from the model's own probabilities (seeded). With ~120 files and 15 bins the binned
            # ECE is dominated by this sampling noise, so read the measured ECE against it.
            sims = calibration_noise_floor(P[ok])
            print(f"ECE of a perfectly calibrated model with these confidences on {int(ok.sum())} files "
                  f"(2000 simulations): median {np.median(sims):.4f}, 5-95 % {np.percentile(sims, 5):.4f}-"
                  f"{np.percentile(sims, 95):.4f}; P(ECE <= 0.06) = {np.mean(sims <= 0.06):.3f}")
            print("per gender (one actor each): " + ", ".join(
                f"{g}: acc {v['accuracy']:.4f} F1 {v['macro_f1']:.4f} ECE {v['ece']:.4f}" for g, v in per_gender.items()))
        else:
            extra = ""
            if ok.sum() > 0:
                r2 = classification_report(P[ok], y[ok], EMOTIONS)
                extra = f"  macro-F1 {r2['macro_f1']:.4f}  ECE {r2['ece']:.4f} (on files with signal)"
            print(f"{name:>16}: accuracy {acc:.4f}  (drop {100 * (summary['clean'] - acc):+.1f} points)  "
                  f"no-signal {int((~ok).sum())}/{len(ok)}  mean quality {q.mean():.3f}{extra}")
    worst = max(summary["clean"] - summary[k] for k in ("+20 dB", "-20 dB", "white 10 dB"))
    print(f"largest drop over +-20 dB and white 10 dB SNR: {100 * worst:.1f} points (floor: at most 10)")
    import json

    print("JSON " + json.dumps({"title": "voice-tone robustness", "split": split, "accuracy": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
