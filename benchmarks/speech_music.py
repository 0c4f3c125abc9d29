"""Speech, music or noise: what the voice encoder reads, measured end to end through :class:`VoiceEncoder`.

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.speech_music [--data DIR] [--quick] [--session-windows-only]

Needs ``fluidsynth`` + ``fluid-soundfont-gm`` (held-out SoundFont music) and ``wesnoth-1.16-music`` (real music);
a set whose package is missing is skipped with a line that says so.

Music and noise are cut as a recorded session cuts its audio: 3-s windows every second (``voice_window`` 3,
``step`` 1), so **false speech per minute** = 60 x (share of windows the encoder reads as speech, quality > 0)
seconds of speech invented per minute of music. Each line gives what the energy VAD alone lets through
(``vad``) and what is left after the speech/music/noise decision (``read``).

Sets (none of them was used in training or to choose anything):

* ``synthetic music, held out``: :mod:`training.common.music_synth` pieces with seeds never used in training and the
  *held-out* settings: other instrument families (Karplus-Strong pluck, FM, brass, another organ), another
  drum kit, a wider tempo range; rendered by additive synthesis and by fluidsynth with the General MIDI
  programs that training never used (``program % 4 == 3``).
* ``wesnoth test tracks``: every third track of ``wesnoth-1.16-music`` (real orchestral, folk and choral
  recordings; training used the others when trained with ``--wesnoth``); with a model trained without them
  (the shipped one), the other 27 tracks too (``wesnoth other tracks``).
* ``noise, held out``: every noise kind of :func:`training.common.sound_data.make_noise`, unseen seeds; babble from
  the dev actors.
* ``dev speech``: RAVDESS actors 19-20 (120 takes, whole files): **missed speech** = share of takes that the
  VAD passes but the decision rejects; also over held-out music and noise at 20, 10, 5, 0 and -5 dB SNR; and the
  same takes one after another, cut into a session's 3-s windows every second (windows with a take's end, silence
  and the next take's start are where the decision errs most).

Then the classifier alone on the same windows (per-class recall, macro-F1, ECE) and its speed: the added
milliseconds per second of audio (median over 3-s windows, one core), and the whole ``encode``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

import numpy as np

SNRS = (20, 10, 5, 0, -5)


def _sliding(y: np.ndarray, win: float = 3.0, hop: float = 1.0) -> list[np.ndarray]:
    n, h = int(win * 16000), int(hop * 16000)
    return [y[a:a + n] for a in range(0, max(1, len(y) - n + 1), h)]


def session_windows(enc, dev) -> None:
    """Dev takes one after another, read in a session's windows: how many the decision drops."""
    from cxsense.inputs.audio import Audio

    print("\n== dev speech as a session reads it: the 120 takes, each padded with silence to whole seconds, one after "
          "another in file order, 3-s windows every 1 s (the session's voice window and step)")
    track = np.concatenate([np.pad(w, (0, -len(w) % 16000)) for w in dev])
    kinds = {"read as speech": 0, "music without speech": 0, "noise without speech": 0, "VAD: no usable speech": 0}
    for w in _sliding(track):
        r = enc.encode(Audio(w.astype(np.float32), 16000))
        s = r.details.get("sound")
        if r.quality > 0:
            kinds["read as speech"] += 1
        elif s is not None and s["decision"] != "speech":
            kinds[f"{s['decision']} without speech"] += 1
        else:
            kinds["VAD: no usable speech"] += 1
    n = sum(kinds.values())
    passed = n - kinds["VAD: no usable speech"]
    print(f"{n} windows: " + ", ".join(f"{k} {v}" for k, v in kinds.items())
          + f"; the decision drops {passed - kinds['read as speech']} of the {passed} windows the VAD passes "
            f"({(passed - kinds['read as speech']) / max(passed, 1):.3f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--quick", action="store_true", help="a few pieces per set (a smoke run, not a figure)")
    ap.add_argument("--weights", default=None, help="a candidate speech/music JSON instead of the registered model")
    ap.add_argument("--session-windows-only", action="store_true", help="only dev speech in a session's windows")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import machine
    from cxsense.metrics import classification_report
    from cxsense.encoders.voice.encoder import VoiceEncoder, segments
    from cxsense.encoders.voice.features import voice_process
    from cxsense.encoders.voice.speech import SOUND_CLASSES
    from cxsense.inputs.audio import Audio
    from training.common.data import data_root
    from training.common.music_synth import SOUNDFONT
    from training.common.sound_data import NOISE_KINDS, WESNOTH, make_noise, mix, read_music, wesnoth_tracks
    from training.voice.train_speech_music import music_pieces
    from training.common.ravdess import load_ravdess, read_wav

    enc = VoiceEncoder()
    if args.weights:
        import json

        from cxsense.encoders.voice.speech import SoundClassifier

        enc._sound = SoundClassifier(json.loads(open(args.weights).read()))
        print(f"speech/music weights: {args.weights} (a candidate, not the registered model)")
    print(f"machine: {machine()}\nspeech/music model: {enc._sound.info() if enc._sound else None}")
    k = 3 if args.quick else 20
    rows = load_ravdess(data_root(args.data), "dev")
    dev = [read_wav(r["path"]) for r in rows]
    pool = [r["path"] for r in rows]
    if args.session_windows_only:
        session_windows(enc, dev)
        return 0
    collected = {c: [] for c in SOUND_CLASSES}  # classifier probabilities of VAD-passed windows, per true class

    def run(windows, true, collect=True):
        vad = read = 0
        for w in windows:
            peak = float(np.max(np.abs(w)))
            r = enc.encode(Audio((w / max(1.0, peak)).astype(np.float32), 16000))
            s = r.details.get("sound")
            vad += s is not None
            read += r.quality > 0
            if s is not None and collect:
                collected[true].append([s[c] for c in SOUND_CLASSES])
        return vad, read, len(windows)

    def report(name, windows, true, minutes=True):
        vad, read, n = run(windows, true, collect=not name.endswith("-5 dB SNR"))
        if minutes:
            print(f"{name:44s} {n:5d} windows ({n / 60:5.1f} min)  false speech: vad {60 * vad / n:5.2f} s/min, "
                  f"read {60 * read / n:5.2f} s/min")
        else:
            print(f"{name:44s} {n:5d} takes  vad passes {vad:4d}  read {read:4d}  missed by the decision "
                  f"{vad - read:3d} ({(vad - read) / max(vad, 1):.3f})")

    print("\n== music and noise, 3-s windows every 1 s (false speech = seconds read as speech per minute)")
    beds = []
    add = music_pieces("add", k, 5000, held_out=True, duration=30.0)
    beds += add
    report("synthetic music, held out (additive)", [w for p in add for w in _sliding(p.astype(np.float64))], "music")
    if shutil.which("fluidsynth") and os.path.exists(SOUNDFONT):
        sfp = music_pieces("sf", k, 5001, held_out=True, duration=30.0)
        beds += sfp
        report("synthetic music, held out (SoundFont)", [w for p in sfp for w in _sliding(p.astype(np.float64))], "music")
    else:
        print("synthetic music, held out (SoundFont): skipped (no fluidsynth or FluidR3_GM.sf2)")
    if os.path.isdir(WESNOTH):
        tracks = wesnoth_tracks("test")[: 3 if args.quick else None]
        wins = []
        for p in tracks:
            wins += _sliding(read_music(p, 60 if args.quick else None))
        report(f"wesnoth test tracks ({len(tracks)}, real music)", wins, "music")
        if "wesnoth" not in enc._sound.trained_on and not args.quick:  # the model never heard these either
            wins = [w for p in wesnoth_tracks("train") for w in _sliding(read_music(p))]
            report(f"wesnoth other tracks ({len(wesnoth_tracks('train'))}, unseen too)", wins, "music")
    else:
        print("wesnoth test tracks: skipped (apt-get install wesnoth-1.16-music)")
    noise_beds = {}
    for kind in NOISE_KINDS:
        noise_beds[kind] = [make_noise(kind, 30.0, np.random.default_rng([6000, i, NOISE_KINDS.index(kind)]), pool)
                            for i in range(max(1, k // 4))]
        report(f"noise, held out: {kind}", [w for p in noise_beds[kind] for w in _sliding(p)], "noise")

    print("\n== dev speech (RAVDESS actors 19-20, whole takes); missed = VAD passes it, the decision rejects it")
    report("clean", dev, "speech", minutes=False)
    for snr in SNRS:
        rng = np.random.default_rng([7000, snr + 100])
        report(f"over held-out music at {snr:+d} dB SNR", [mix(w, beds[i % len(beds)].astype(np.float64), snr, rng)
                                                         for i, w in enumerate(dev)], "speech", minutes=False)
    for snr in SNRS:
        rng = np.random.default_rng([7001, snr + 100])
        kinds = list(noise_beds)
        report(f"over held-out noise at {snr:+d} dB SNR", [mix(w, noise_beds[kinds[i % len(kinds)]][0], snr, rng)
                                                         for i, w in enumerate(dev)], "speech", minutes=False)

    session_windows(enc, dev)

    print("\n== the classifier alone, on every window the VAD passed above except speech at -5 dB SNR (argmax decision)")
    P = np.concatenate([np.array(collected[c]).reshape(-1, 3) for c in SOUND_CLASSES])
    y = np.concatenate([[i] * len(collected[c]) for i, c in enumerate(SOUND_CLASSES)])
    rep = classification_report(P, y, list(SOUND_CLASSES))
    print("windows: " + ", ".join(f"{c} {len(collected[c])}" for c in SOUND_CLASSES))
    print(f"accuracy {rep['accuracy']:.4f}  macro-F1 {rep['macro_f1']:.4f}  ECE {rep['ece']:.4f}  "
          + "  ".join(f"recall {c} {rep['per_class_recall'][c]:.3f}" for c in SOUND_CLASSES))
    print(f"confusion (rows true, columns predicted, {'/'.join(SOUND_CLASSES)}): {rep['confusion']}")
    thr = enc._sound.threshold
    print(f"with the shipped decision (speech when p(speech) >= {thr}): speech kept {np.mean(P[y == 0, 0] >= thr):.4f}, "
          f"music rejected {np.mean(P[y == 1, 0] < thr):.4f}, noise rejected {np.mean(P[y == 2, 0] < thr):.4f}")

    print("\n== speed (one torch thread; 3-s windows: 20 dev takes cut to 3 s and 20 held-out music windows)")
    wins = [w[:48000] for w in dev[:20]] + [w for p in add[:2] for w in _sliding(p.astype(np.float64))][:20]
    added, full_on, full_off = [], [], []
    for w in wins:
        a = Audio(w.astype(np.float32), 16000)
        f = voice_process(a.samples)
        if f.quality > 0:
            segs = segments(f.logmel.shape[1])
            for _ in range(5):
                t = time.process_time()
                enc._sound.decide(f, segs)
                added.append((time.process_time() - t) * 1000 / 3.0)
        t = time.process_time()
        enc.encode(a)
        full_on.append((time.process_time() - t) * 1000 / 3.0)
    sound, enc._sound = enc._sound, None
    for w in wins:
        t = time.process_time()
        enc.encode(Audio(w.astype(np.float32), 16000))
        full_off.append((time.process_time() - t) * 1000 / 3.0)
    enc._sound = sound
    print(f"speech/music decision: median {np.median(added):.3f} ms CPU per s of audio (p90 {np.percentile(added, 90):.3f})")
    print(f"whole encode: median {np.median(full_on):.2f} ms per s with the decision, {np.median(full_off):.2f} without "
          "(music windows the decision rejects skip the emotion network)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
