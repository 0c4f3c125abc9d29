"""Train the speech/music/noise classifier the voice encoder asks before it reads emotion.

    OMP_NUM_THREADS=1 nice -n 10 python3 -m training.voice.train_speech_music [--data DIR] [--out DIR] [--export]

Needs the Debian packages ``fluidsynth`` and ``fluid-soundfont-gm`` (sampled-instrument music) and, with
``--wesnoth``, ``wesnoth-1.16-music`` (real music); the run itself is offline.

1. Feature caches (``--out``, default ``training/runs/speech_music``; each set is written once and reused, so a
   stopped run loses at most one set): every window goes through :func:`voice_process` exactly as in the
   encoder, and windows that the VAD already rejects (quality 0) are left out; a window's features are those
   of its first encoder segment.

   * ``speech``: each RAVDESS ``train`` take (actors 01-18) once, clean or (p=0.5) augmented by
     :func:`training.common.ravdess.augment` (equalisation, reverberation, gain, 3-30 dB noise, a telephone line
     with p=0.3; no pitch/tempo);
   * ``speech_music``: each take over a training music piece at 0-25 dB SNR; ``speech_noise``: every other
     take over a noise bed (:func:`training.common.sound_data.make_noise`, babble from training actors) at 0-25 dB;
   * ``music_add`` / ``music_sf``: 1.5-5-s windows of synthetic pieces (:mod:`training.common.music_synth`,
     training settings, seeds 0-...), additive and SoundFont renders, random gain, equalisation and reverb;
   * ``music_wes`` and ``speech_wes`` (only with ``--wesnoth``): windows of the training tracks of
     ``wesnoth-1.16-music``, and every other take over one of them at 0-25 dB;
   * ``noise``: windows of each noise kind.

2. A standardiser and a multilayer perceptron (scikit-learn ``MLPClassifier``, ReLU, Adam, L2 ``--alpha``),
   with classes balanced by sample weights; the same fit on a validation split (actors 16-18 and one piece in
   five held out) is printed first.
3. The speech threshold, from the RAVDESS **dev** actors 19-20 only: ``--threshold-share`` (default 0.5)
   times the lowest speech probability of a clean dev take, capped at 0.5: no clean dev take is rejected.
4. ``--export``: ``models/voice/speech_music_v1.json`` (the metadata block of
   :func:`training.common.model_metadata.sound_meta`: features, classes, standardiser, threshold, provenance; the
   layers beside it) and its registry entry.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from training.common.data import REPO, data_root

OUT = REPO / "training" / "runs" / "speech_music"
EXPORT = REPO / "models" / "voice" / "speech_music_v1.json"
VERSION = "1.0.0"


def _augment_music(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from training.common.ravdess import equalise, reverberate

    if rng.random() < 0.4:
        y = equalise(y, rng)
    if rng.random() < 0.3:
        y = reverberate(y, rng)
    if rng.random() < 0.6:  # a recording's noise floor: synthetic music has digital silence between notes
        from training.common.ravdess import coloured_noise

        y = y + np.sqrt(np.mean(y ** 2)) * 10 ** (rng.uniform(-50, -20) / 20) * coloured_noise(len(y), rng, "pink")
    return y * 10 ** (rng.uniform(-30, 0) / 20)


def music_pieces(kind: str, n: int, seed: int, held_out: bool = False, duration: float = 20.0) -> list[np.ndarray]:
    """``n`` rendered pieces (``kind`` "add" or "sf"), float32, seeded by ``[seed, i]``."""
    from training.common.music_synth import make_score, render_additive, render_soundfont

    render = render_additive if kind == "add" else render_soundfont
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, int(held_out)])
        out.append(render(make_score(duration, rng, held_out), rng, held_out).astype(np.float32))
    return out


def _windows(y: np.ndarray, rng: np.random.Generator, k: int) -> list[np.ndarray]:
    out = []
    for _ in range(k):
        n = int(rng.uniform(1.5, 5.0) * 16000)
        if len(y) <= n:
            out.append(y)
            continue
        a = int(rng.integers(0, len(y) - n))
        out.append(y[a:a + n])
    return out


def build(name: str, path: Path, args, log) -> dict:
    """Build (or load) one feature set; returns ``{"X", "y", "group"}``."""
    if path.exists():
        z = np.load(path)
        return {k: z[k] for k in z.files}
    from training.common.sound_data import NOISE_KINDS, make_noise, mix, read_music, wesnoth_tracks, window_features
    from training.common.ravdess import augment, load_ravdess, read_wav

    t0 = time.time()
    root = data_root(args.data)
    rows = load_ravdess(root, "train")
    pool = [r["path"] for r in rows]
    X, y, g = [], [], []

    def add(w, label, group):
        f = window_features(w)
        if f is not None:
            X.append(f[0])
            y.append(label)
            g.append(group)

    if name.startswith("speech"):
        beds = music_pieces("add", 30, 100) + music_pieces("sf", 30, 101) if name == "speech_music" else None
        if name == "speech_wes":
            beds = [read_music(p) for p in wesnoth_tracks("train")]
        for i, r in enumerate(rows):
            rng = np.random.default_rng([{"speech": 11, "speech_music": 12, "speech_noise": 13, "speech_wes": 14}[name], i])
            w = read_wav(r["path"])
            if name == "speech" and rng.random() < 0.5:
                w = augment(w, rng, pitch_tempo=False, noise_p=0.3, telephone=0.3)[0]
            elif name in ("speech_music", "speech_wes"):
                if name == "speech_wes" and i % 2:
                    continue
                w = mix(w, beds[int(rng.integers(len(beds)))].astype(np.float64), rng.uniform(0, 25), rng)
            elif name == "speech_noise":
                if i % 2:
                    continue
                kind = NOISE_KINDS[i // 2 % len(NOISE_KINDS)]
                w = mix(w, make_noise(kind, 6.0, rng, pool), rng.uniform(0, 25), rng)
            add(w * 10 ** (rng.uniform(-20, 0) / 20), 0, int(r["speaker"].split("_")[-1]))
    elif name in ("music_add", "music_sf"):
        kind = name.split("_")[1]
        for i, piece in enumerate(music_pieces(kind, args.pieces, 0 if kind == "add" else 1)):
            rng = np.random.default_rng([7, i, kind == "sf"])
            for w in _windows(piece.astype(np.float64), rng, 8):
                add(_augment_music(w, rng), 1, 1000 + i)
    elif name == "music_wes":
        for i, p in enumerate(wesnoth_tracks("train")):
            rng = np.random.default_rng([8, i])
            for w in _windows(read_music(p), rng, 30):
                add(_augment_music(w, rng), 1, 2000 + i)
    elif name == "noise":
        for i in range(args.noise_windows):
            rng = np.random.default_rng([9, i])
            kind = NOISE_KINDS[i % len(NOISE_KINDS)]
            add(make_noise(kind, rng.uniform(1.5, 5.0), rng, pool) * 10 ** (rng.uniform(-30, 0) / 20), 2, 3000 + i)
    else:
        raise ValueError(name)
    d = {"X": np.array(X), "y": np.array(y), "group": np.array(g)}
    np.savez(path, **d)
    log(f"{name}: {len(y)} windows in {time.time() - t0:.0f} s")
    return d


def fit(X, y, args, seed: int = 0):
    """Standardiser and MLP fitted with balanced class weights."""
    from sklearn.neural_network import MLPClassifier

    mean, std = X.mean(0), X.std(0) + 1e-6
    counts = np.bincount(y, minlength=3)
    w = (len(y) / (3.0 * counts))[y]
    clf = MLPClassifier(hidden_layer_sizes=tuple(args.hidden), alpha=args.alpha, max_iter=600, random_state=seed,
                        learning_rate_init=1e-3, batch_size=128)
    clf.fit((X - mean) / std, y, sample_weight=w)
    return mean, std, clf


def weights_json(mean, std, clf, threshold: float, args, trained_on: str = "", command: str = "") -> dict:
    """The model file's JSON: the metadata block (:func:`training.common.model_metadata.sound_meta`) and the layers."""
    from training.common.model_metadata import provenance, sound_meta

    licence = ("CC BY-NC-SA 4.0 (trained on RAVDESS speech, CC BY-NC-SA 4.0, with synthetic music and noise; SoundFont "
               "renders with FluidR3 GM, MIT)" + ("; also wesnoth-1.16-music tracks (GPL-2+)" if args.wesnoth else ""))
    meta = sound_meta(VERSION, mean=mean.tolist(), std=std.tolist(), threshold=round(float(threshold), 4),
                      hidden=list(args.hidden), threshold_rule=(
                          f"{args.threshold_share} times the lowest p(speech) of a clean RAVDESS dev take (actors "
                          "19-20), capped at 0.5"),
                      provenance=provenance(trained_on, licence, command, [{"run": str(args.out),
                                                                             "role": "feature caches"}]))
    return meta.json_document({"layers": [[w.tolist(), b.tolist()] for w, b in zip(clf.coefs_, clf.intercepts_)]})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--pieces", type=int, default=100, help="synthetic pieces (20 s) per renderer")
    ap.add_argument("--noise-windows", type=int, default=960)
    ap.add_argument("--wesnoth", action="store_true", help="train on the training tracks of wesnoth-1.16-music too")
    ap.add_argument("--hidden", type=int, nargs="+", default=[32])
    ap.add_argument("--alpha", type=float, default=1e-3)
    ap.add_argument("--threshold-share", type=float, default=0.5)
    ap.add_argument("--export", action="store_true", help="write models/voice/speech_music_v1.json and register it")
    ap.add_argument("--save", default=None, help="write the weights JSON here only (a candidate, not registered)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "log.txt", "a")

    def log(s):
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()

    log(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {vars(args)}")
    names = ["speech", "speech_music", "speech_noise", "music_add", "music_sf", "noise"]
    names += ["music_wes", "speech_wes"] if args.wesnoth else []
    sets = {n: build(n, out / f"{n}.npz", args, log) for n in names}
    X = np.concatenate([sets[n]["X"] for n in names])
    y = np.concatenate([sets[n]["y"] for n in names]).astype(int)
    g = np.concatenate([sets[n]["group"] for n in names])
    src = np.concatenate([[n] * len(sets[n]["y"]) for n in names])
    log("train windows: " + ", ".join(f"{n} {len(sets[n]['y'])}" for n in names))
    # validation split: actors 16-18 and every fifth piece / noise window
    val = np.where(y == 0, g >= 16, g % 5 == 0)
    mean, std, clf = fit(X[~val], y[~val], args)
    P = clf.predict_proba((X[val] - mean) / std)
    for n in names:
        m = src[val] == n
        if m.any():
            log(f"  val {n:13s} n={m.sum():4d}  mean p(speech) {P[m, 0].mean():.3f}  "
                f"p(speech)<0.5: {np.mean(P[m, 0] < 0.5):.3f}")
    mean, std, clf = fit(X, y, args)
    # the threshold: from the dev actors only
    from cxsense.encoders.voice.speech import SoundClassifier
    from training.common.sound_data import window_features
    from training.common.ravdess import load_ravdess, read_wav

    sc = SoundClassifier(weights_json(mean, std, clf, 0.5, args))
    dev = [window_features(read_wav(r["path"])) for r in load_ravdess(data_root(args.data), "dev")]
    p_dev = np.array([sc.predict(f).mean(0)[0] for f in dev if f is not None])
    thr = min(0.5, args.threshold_share * float(p_dev.min()))
    log(f"dev actors 19-20: {len(p_dev)} takes, p(speech) min {p_dev.min():.4f}, p1 {np.percentile(p_dev, 1):.4f}, "
        f"median {np.median(p_dev):.4f} -> threshold {thr:.4f}")
    trained_on = ("RAVDESS train actors 01-18 (speech, also over music and noise); synthetic music (additive and "
                  "FluidR3 GM renders, training settings); synthetic noise and babble"
                  + ("; wesnoth-1.16-music training tracks" if args.wesnoth else ""))
    command = "python -m training.voice.train_speech_music " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = weights_json(mean, std, clf, thr, args, trained_on, command)
    if args.save:
        Path(args.save).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    if args.export:
        from cxsense.modelmeta import ModelMeta
        from training.common.model_metadata import register, write_json

        meta = ModelMeta.from_json_document(doc, str(EXPORT))
        write_json(EXPORT, {"layers": doc["layers"]}, meta, compact=True)
        e = register("speech-music", EXPORT, meta, card="voice/SPEECH_MUSIC_CARD.md",
                     licence=meta.provenance["licence"], origin=command)
        log(f"exported {EXPORT} sha256 {e['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
