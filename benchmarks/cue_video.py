"""Jaw-drop timing on a benchmark video made from real faces with a synthetic expression change.

    OMP_NUM_THREADS=1 python -m benchmarks.cue_video [--data DIR] [--people 10] [--offset 0] [--fps 10] [--out VIDEO.mp4]
                                                     [--face-cues full|refined]

What the video shows (honestly): FER-2013 has no person ids, so no real "same person, neutral then surprised"
pairs exist in it. Each clip takes one FER-2013 **dev** face labelled neutral (bicubic to 192x192, replicated border
to 384x384; the first ``--people`` whose face the detector and mesh find) and the shipped portrait, holds it for 4 s
with a small drift and camera noise, then over 0.3 s warps it (``cxsense.encoders.face.synthetic``): the mouth
opened by 0.35 inter-ocular distances and the brows raised by 0.15, and holds that for 4 s. So the change is a
geometric warp of a real face, not a real surprised expression. The same clips without the change are the
neutral-only stretches. ``--offset N`` skips the first N such faces (and the portrait); the faces up to the 220th
have set or checked a rule (docs/cues.md, "Session events"), so fresh faces start at ``--offset 220``. Every frame
goes through ``cxsense.assess`` (the face's surprise probability and cues), the timeline through
:func:`cxsense.session.cue_events.jaw_drop_events`.

Reported: per clip the jaw_drop onset minus the change's midpoint (floor: within 1 s), misses, and events in the
neutral-only clips (floor: none). ``--controls`` adds per face the mouth opening without the brows (a jaw drop by the
issue's definition only where the expression network reads surprise) and speech-like mouth movement (syllables at
3-5 Hz, 0.1-0.35 IOD: talking, 2 s of silence, talking again; right answer: no jaw drop); ``--timelines FILE`` saves
every clip's timeline (pickle) so that rules can be compared on the same frames (docs/cues.md, "Fourth rule" and
"Fifth rule"). ``--out`` also writes the clips as one video (PyAV) for sessions to read later. ``--face-cues``: the
cue mode every frame is assessed with (default ``full``; ``refined``: a second mesh pass, docs/cues.md).

Plan written before the first run with ``refined`` (2026-12-05): both modes run once on the 131st-160th faces
(``--controls --offset 130 --people 30``), the sixth rule unchanged, reported whatever they give. docs/cues.md
recommends ``refined`` for jaw-drop work only if it finds at least 3 more changes than ``full`` with no event in
neutral-only clips, no extra event and no more speech-like events; no default changes either way.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.metrics import machine
from training.common.fer import data_root, load_fer

HOLD, RAMP = 4.0, 0.3


def clip(face_rgb, lm, iod, fps, change, seed: int):
    """Frames (list of uint8 RGB) and the time of the change's midpoint. ``change``: True (mouth and brows, the
    jaw drop), False (neutral only), ``"mouth_only"`` (the same opening without the brows) or ``"speech"`` (the mouth
    alone opening and closing like syllables, talking for 2 s, silent for 2 s, then talking from 4 s to the end, so
    that an utterance starts from a resting mouth where the jaw drop would be; amplitude 0.1, 0.2 or 0.35 IOD and
    syllable rate 3, 4 or 5 Hz by ``seed``)."""
    import cv2

    from cxsense.encoders.face.synthetic import open_mouth, raise_brows

    rng = np.random.default_rng(seed)
    n = int(round((2 * HOLD + RAMP) * fps))
    frames = []
    amp, rate = (0.1, 0.2, 0.35)[seed % 3], (3.0, 4.0, 5.0)[(seed // 3) % 3]
    for i in range(n):
        t = i / fps
        im = face_rgb
        if change == "speech":
            k = abs(float(np.sin(np.pi * rate * t + seed))) if not 2.0 <= t < HOLD else 0.0
            if k > 0.05:
                im = open_mouth(im, lm, amp * iod * k)
        elif change:
            k = float(np.clip((t - HOLD) / RAMP, 0, 1))
            if k > 0:
                im = open_mouth(im, lm, 0.35 * iod * k)
                if change is True:
                    im = raise_brows(im, lm, 0.15 * iod * k)
        dx, dy = 3 * np.sin(2 * np.pi * t / 5), 2 * np.cos(2 * np.pi * t / 7)  # a slow drift
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        im = cv2.warpAffine(im, m, (im.shape[1], im.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        noise = rng.normal(0, 2.0, im.shape)
        frames.append(np.clip(im + noise, 0, 255).astype(np.uint8))
    return frames, HOLD + RAMP / 2


def timeline(frames, fps, face_cues="full"):
    import pandas as pd

    import cxsense

    rows = []
    for i, f in enumerate(frames):
        row = {"time": i / fps}
        try:
            a = cxsense.assess(face=f, face_cues=face_cues)
            row.update(a.cues or {})
            row["surprise"] = a.probabilities["surprise"]
        except cxsense.NoSignalError:
            pass
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    import cv2
    from PIL import Image

    from benchmarks.face_cues import fer_frame
    from cxsense.encoders.face.cue_hook import shared_mesh
    from cxsense.encoders.face.detect import FaceDetector
    from cxsense.registry import model_path
    from cxsense.session.cue_events import jaw_drop_events

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--people", type=int, default=10)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--offset", type=int, default=0, help="skip the first N faces found (held-out clips)")
    p.add_argument("--out", default=None, help="also write the clips as one video (.mp4)")
    p.add_argument("--controls", action="store_true",
                   help="also per face: the mouth opening without the brows, and speech-like mouth movement (3-5 Hz, "
                        "talk / 2 s silence / talk; right answer: no jaw_drop)")
    p.add_argument("--timelines", default=None, help="also save every clip's timeline (pickle) for rule analysis")
    p.add_argument("--face-cues", choices=("full", "refined"), default="full", help="the cue mode of every frame")
    a = p.parse_args(argv)
    cv2.setNumThreads(1)
    x, y, desc = load_fer(data_root(a.data), "dev")
    det, mesh = FaceDetector(model_path("face-detector")), shared_mesh()
    faces = [("portrait", np.asarray(Image.open("examples/astronaut.jpg").convert("RGB")))] if not a.offset else []
    skip = a.offset
    for i in np.flatnonzero(y == 6):
        f = fer_frame(x[i])
        if len(faces) >= a.people + (0 if a.offset else 1):
            break
        d = det.detect(f)
        if d and mesh.run(f, d[0], iris=False) is not None:
            if skip:
                skip -= 1
                continue
            faces.append((f"fer_dev_{i}", f))
    results, all_frames, saved = [], [], {}
    for k, (name, f) in enumerate(faces):
        lm = mesh.run(f, det.detect(f)[0], iris=False).landmarks
        iod = float(np.linalg.norm(lm[[33, 133], :2].mean(0) - lm[[362, 263], :2].mean(0)))
        row = {"clip": name}
        for change in (True, False) + (("mouth_only", "speech") if a.controls else ()):
            frames, t_change = clip(f, lm, iod, a.fps, change, seed=k)
            tl = timeline(frames, a.fps, a.face_cues)
            saved[(name, str(change))] = tl
            ev = jaw_drop_events(tl)
            if isinstance(change, str):
                row[f"events_in_{change}"] = int(len(ev))
            elif change:
                row["onsets_minus_change_s"] = [round(float(t - t_change), 3) for t in ev["time"]]
                row["hit_within_1s"] = bool(len(ev) and np.min(np.abs(ev["time"] - t_change)) <= 1.0)
                row["extra_events"] = int(max(0, len(ev) - 1))
                all_frames += [cv2.resize(fr, (384, 384)) for fr in frames]
            else:
                row["events_in_neutral_only"] = int(len(ev))
        results.append(row)
        print(json.dumps(row), flush=True)
    if a.timelines:
        import pickle

        with open(a.timelines, "wb") as fh:
            pickle.dump(saved, fh)
    hits = sum(r["hit_within_1s"] for r in results)
    false = sum(r["events_in_neutral_only"] for r in results) + sum(r["extra_events"] for r in results)
    lat = [min(r["onsets_minus_change_s"], key=abs) for r in results if r["onsets_minus_change_s"]]
    print(f"split: {desc} (neutral faces, skipping the first {a.offset} found)"
          f"{'' if a.offset else ' and the shipped portrait'}; {len(results)} clips at {a.fps} fps, change = "
          f"synthetic warp (mouth +0.35 IOD, brows +0.15 IOD over {RAMP} s); face_cues={a.face_cues}; "
          f"machine: {machine()}")
    print(f"jaw_drop within 1 s of the change: {hits} of {len(results)}; events in neutral-only clips or extra: "
          f"{false}; onset minus change midpoint: median {np.median(lat) if lat else float('nan'):+.2f} s")
    controls = {c: sum(r.get(f"events_in_{c}", 0) for r in results) for c in ("mouth_only", "speech")}
    if a.controls:
        print(f"controls: jaw_drop events in mouth-only clips {controls['mouth_only']} (a jaw drop by the definition "
              f"where surprise is read), in speech-like clips {controls['speech']} (right answer: none); "
              f"{len(results)} each")
    print("JSON " + json.dumps({"title": "jaw_drop timing on synthetic-change clips", "clips": len(results),
                                "hits_within_1s": hits, "false_events": false,
                                **({"control_events": controls} if a.controls else {}),
                                "onset_minus_change_median_s": float(np.median(lat)) if lat else None}))
    if a.out:
        from cxsense.session.testing import write_video

        write_video(a.out, all_frames, fps=a.fps)
        print(f"wrote {a.out} ({len(all_frames)} frames)")


if __name__ == "__main__":
    main()
