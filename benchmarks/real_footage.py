"""Sessions on footage made to look like what a CX researcher records (issue 24, "Floors"): phantom persons,
music read as speech, faces missed, one person who leaves or appears.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.real_footage [--data DIR] [--minutes 5] [--titles 3]
        [--title-seconds 20] [--fer 0] [--portraits 30] [--movers 4] [--skip title,nonface,miss,movers]

Every clip is generated here (``training/common/footage_media.py``; nothing is written into the repository) and read
by :func:`cxsense.analyze_session` at its defaults (5 analysed frames per second, 1-s steps), once with face
confirmation (``face_cues="full"``: the face mesh's presence output and the drawn-face check) and once without
(``face_cues="off"``: every detection is read as a face).

1. **Title clips**: rendered text in eight OpenCV fonts, logo-like badges, shapes and drawn cartoon faces moving
   over a gradient or a texture, with synthetic music (held-out timbres of ``training/common/music_synth.py``); the
   floor is no person and no voice row. Also with the face mesh alone (the drawn-face check turned off).
2. **Non-face video**: ``--minutes`` minutes, a fifth each of text, shapes and badges, textures, noise and
   natural-like textures (foliage, terrain, bokeh, bark, clouds), with slow camera motion: confirmed detections
   (analysed frames' faces with quality > 0) and persons (after flickers are dropped) per hour.
3. **Missed faces**: FER-2013 **dev** crops (``--fer`` of them, 0 = all, seed 0) upscaled to 96-192 px in 640x480
   scenes, and the shipped portrait (``examples/astronaut.jpg``; its face 64-128 px) in ``--portraits`` scenes,
   all through H.264: the share of faces on which no detection with quality > 0 comes back (one whose centre
   lies on the face; the encoder's ``detect`` + ``read_face``, as sessions call them), with the reason, and the
   confirmed detections elsewhere in the same scenes.
4. **Leave / appear**: the portrait and ``--movers`` FER-2013 dev faces (the first of a seeded shuffle that the
   detector finds where the face rests in each of its four clips), each in 10-s clips where the face slides out of
   the frame from 4 s (in 1.2 s or in 3 s) and never comes back, and where it slides in from 4 s: ``persons_seen``
   must be ``["p0"]``.

Figures: ``benchmarks/README.md``, "Real footage".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import tempfile
import time

import numpy as np

from benchmarks.metrics import machine

MODES = ("full", "off")


@contextlib.contextmanager
def counting():
    """Count analysed frames, detections and confirmed faces (quality > 0) inside sessions."""
    from cxsense.session.stages import Recording

    orig, n = Recording._read_faces, {"frames": 0, "detections": 0, "confirmed": 0, "rejected": {}}

    def read(self, img, t):
        out = orig(self, img, t)
        n["frames"] += 1
        n["detections"] += len(out)
        n["confirmed"] += sum(r.quality > 0 for r in out)
        for r in out:
            if r.quality <= 0:
                why = "drawn" if "drawn" in r.details.get("reason", "") else "mesh"
                n["rejected"][why] = n["rejected"].get(why, 0) + 1
        return out

    Recording._read_faces = read
    try:
        yield n
    finally:
        Recording._read_faces = orig


@contextlib.contextmanager
def mesh_only():
    """Face confirmation by the face mesh alone (the drawn-face check turned off), to show what each part buys."""
    from cxsense.encoders.face import drawn

    orig, drawn.looks_drawn = drawn.looks_drawn, lambda crop, threshold=None: False
    try:
        yield
    finally:
        drawn.looks_drawn = orig


def session(path: str, mode: str) -> dict:
    """analyze_session at its defaults with ``face_cues=mode`` ("mesh": "full" without the drawn-face check):
    persons, rows with a voice, flickers, counts."""
    from cxsense import analyze_session

    with counting() as n, (mesh_only() if mode == "mesh" else contextlib.nullcontext()):
        s = analyze_session(path, face_cues="full" if mode == "mesh" else mode)
    tl = s.info
    flick = next((int(m.group(1)) for m in (re.match(r"(\d+) face track", x) for x in tl["notes"]) if m), 0)
    return {"persons": tl["persons_seen"], "voice_rows": int((s.timeline["voice_quality"] > 0).sum()),
            "face_rows": int((s.timeline["face_quality"] > 0).sum()), "flickers": flick, "notes": tl["notes"],
            "seconds": tl["duration_s"], **n}


def _portrait() -> np.ndarray:
    from PIL import Image

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    im = np.asarray(Image.open(os.path.join(repo, "examples", "astronaut.jpg")).convert("RGB"))
    return np.ascontiguousarray(im[0:260, 100:360])  # the head with some hair, collar and background


def titles(a, tmp) -> dict:
    from training.common.footage_media import soundtrack, title_clip
    from cxsense.session.testing import write_video

    out = []
    for k in range(a.titles):
        p = os.path.join(tmp, f"title{k}.mp4")
        write_video(p, title_clip(a.title_seconds, seed=100 + k), n_frames=int(25 * a.title_seconds), fps=25,
                    audio=soundtrack(a.title_seconds, seed=100 + k))
        r = {m: session(p, m) for m in (*MODES, "mesh")}
        out.append(r)
        f = r["full"]
        print(f"title clip {k} ({a.title_seconds:g} s, seed {100 + k}): with confirmation persons {f['persons']}, "
              f"voice rows {f['voice_rows']}, confirmed detections {f['confirmed']} of {f['detections']} (rejected "
              f"{f['rejected'] or 'none'}); mesh alone: persons {len(r['mesh']['persons'])}, confirmed "
              f"{r['mesh']['confirmed']}; without: persons {len(r['off']['persons'])}, detections "
              f"{r['off']['confirmed']}; notes: {f['notes']}",
              flush=True)
    ok = all(not r["full"]["persons"] and r["full"]["voice_rows"] == 0 for r in out)
    return {"clips": out, "floor_met": ok}


def nonface(a, tmp) -> dict:
    from training.common.footage_media import NONFACE_KINDS, nonface_clip
    from cxsense.session.testing import write_video

    per = 60.0 * a.minutes / len(NONFACE_KINDS)
    res = {}
    for j, kind in enumerate(NONFACE_KINDS):
        p = os.path.join(tmp, f"nonface_{kind}.mp4")
        write_video(p, nonface_clip(kind, per, seed=200 + j), n_frames=int(25 * per), fps=25)
        res[kind] = {m: session(p, m) for m in MODES}
        os.remove(p)
        print(f"non-face {kind} ({per:g} s): " + "; ".join(
            f"{m}: confirmed {res[kind][m]['confirmed']} of {res[kind][m]['detections']} detections "
            f"(rejected {res[kind][m]['rejected'] or 'none'}) in "
            f"{res[kind][m]['frames']} frames, persons {len(res[kind][m]['persons'])}, flickers "
            f"{res[kind][m]['flickers']}" for m in MODES), flush=True)
    hours = 60.0 * a.minutes / 3600
    total = {m: {k: sum(res[kind][m][k] for kind in res) for k in ("frames", "detections", "confirmed", "flickers")}
             for m in MODES}
    for m in MODES:
        total[m]["persons"] = sum(len(res[kind][m]["persons"]) for kind in res)
        total[m]["confirmed_per_hour"] = total[m]["confirmed"] / hours
        total[m]["persons_per_hour"] = total[m]["persons"] / hours
        total[m]["persons_per_hour_95_upper"] = (3.0 if total[m]["persons"] == 0 else np.nan) / hours
    return {"minutes": a.minutes, "per_kind": res, "total": total}


#: Where the face lies in the portrait crop of :func:`_portrait` (the detector's box on it), in crop units.
PORTRAIT_FACE = (70 / 260, 67 / 260, 111 / 260, 111 / 260)


def _read(enc, rgb, mode, face_box) -> tuple[bool, str, int]:
    """For one frame, as sessions read it: (a face with quality > 0 came back on the face: a detection whose
    centre lies in ``face_box``; the reason when not; confirmed detections elsewhere)."""
    from cxsense.inputs.image import load_image
    from cxsense.options import FaceOptions

    def on_face(b):
        cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
        return face_box[0] <= cx <= face_box[0] + face_box[2] and face_box[1] <= cy <= face_box[1] + face_box[3]

    img = load_image(rgb, parameter="frame")
    rs = [(on_face(d.box), enc.read_face(img, d, FaceOptions(cues=mode))) for d in enc.detect(img, tiled="auto")]
    on = [r for hit, r in rs if hit]
    elsewhere = sum(r.quality > 0 for hit, r in rs if not hit)
    if any(r.quality > 0 for r in on):
        return True, "", elsewhere
    return False, (on[0].details.get("reason", "quality 0") if on else "no detection on the face"), elsewhere


def _scenes(faces, sizes, rng, pool, rel=(0.0, 0.0, 1.0, 1.0)):
    """Frames (through H.264) with each face at its size in a random place, and the face's box in each."""
    from training.common.footage_media import H, W, scene_with_face, through_h264

    frames, boxes = [], []
    for k, (face, size) in enumerate(zip(faces, sizes)):
        n = size + 2 * (size // 4)
        at = (int(rng.integers(0, max(W - n, 1))), int(rng.integers(0, max(H - n, 1))))
        frames.append(scene_with_face(face, size, rng, bg=pool[k % len(pool)], at=at))
        boxes.append((at[0] + size // 4 + rel[0] * size, at[1] + size // 4 + rel[1] * size, rel[2] * size,
                      rel[3] * size))
    return through_h264(frames), boxes


def _tally(o: dict, ok: bool, why: str, elsewhere: int, cls: str | None = None) -> None:
    o["phantoms"] = o.get("phantoms", 0) + elsewhere
    if cls is not None:
        o["per_class"].setdefault(cls, [0, 0])[1] += 1
    if not ok:
        o["missed"] += 1
        o["reasons"][why] = o["reasons"].get(why, 0) + 1
        if cls is not None:
            o["per_class"][cls][0] += 1


def misses(a) -> dict:
    from training.common.footage_media import background
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders import get_encoder
    from cxsense.options import FaceOptions
    from training.common.data import data_root
    from training.common.fer import load_fer

    x, y, desc = load_fer(data_root(a.data), "dev")
    rng = np.random.default_rng(0)
    idx = np.arange(len(x)) if a.fer == 0 else np.sort(rng.choice(len(x), min(a.fer, len(x)), replace=False))
    print(f"missed faces: {desc}; {len(idx)} faces at 96-192 px in 640x480 scenes, through H.264; a face is found "
          "when a detection with quality > 0 has its centre on it", flush=True)
    kinds = ["gradient", "clouds", "wood", "foliage", "bokeh", "stripes", "radial"]
    pool = [background(kinds[k % len(kinds)], rng) for k in range(21)]
    enc = get_encoder("face", FaceOptions())
    out = {"fer": {m: {"missed": 0, "reasons": {}, "per_class": {}} for m in MODES}, "n_fer": int(len(idx)),
           "portrait": {m: {"missed": 0, "reasons": {}, "per_class": {}} for m in MODES}}
    for b in range(0, len(idx), 250):
        part = idx[b:b + 250]
        frames, boxes = _scenes([x[i] for i in part], rng.integers(96, 193, len(part)), rng,
                                [pool[i % len(pool)] for i in part])
        for i, f, box in zip(part, frames, boxes):
            for m in MODES:
                _tally(out["fer"][m], *_read(enc, f, m, box), cls=EMOTIONS[int(y[i])])
    sizes = np.linspace(150, 300, a.portraits).astype(int)  # the face itself 64-128 px
    frames, boxes = _scenes([_portrait()] * len(sizes), sizes, np.random.default_rng(1), pool, PORTRAIT_FACE)
    out["n_portrait"] = len(frames)
    for f, box in zip(frames, boxes):
        for m in MODES:
            _tally(out["portrait"][m], *_read(enc, f, m, box))
    for m in MODES:
        o, p = out["fer"][m], out["portrait"][m]
        print(f"  FER-2013 dev, {m}: missed {o['missed']} of {len(idx)} ({100 * o['missed'] / len(idx):.2f} %); "
              f"reasons {o['reasons']}; per class " + ", ".join(f"{k} {v[0] / v[1]:.3f}" for k, v in
                                                                sorted(o["per_class"].items()))
              + f"; confirmed detections elsewhere in the scenes {o['phantoms']}", flush=True)
        print(f"  portrait (whole crop {sizes[0]}-{sizes[-1]} px), {m}: missed {p['missed']} of {len(frames)}; "
              f"reasons {p['reasons']}; confirmed detections elsewhere {p['phantoms']}", flush=True)
    return out


def movers(a, tmp) -> dict:
    from training.common.footage_media import person_clip
    from cxsense.encoders import get_encoder
    from cxsense.inputs.image import load_image
    from cxsense.options import FaceOptions
    from cxsense.session.testing import write_video
    from training.common.data import data_root
    from training.common.fer import load_fer

    x, _, _ = load_fer(data_root(a.data), "dev")
    enc = get_encoder("face", FaceOptions(cues="off"))
    plan = [(m, slide) for m in ("leave", "appear") for slide in (1.2, 3.0)]

    def clips(face, size, first):  # (mode, slide, make) of the face's four clips; seeds from `first`
        return [(m, sl, person_clip(face, m, seconds=10.0, size=size, seed=first + k, slide=sl)[0])
                for k, (m, sl) in enumerate(plan)]

    def found_at_rest(cs):  # the detector finds the face where it rests in each clip: tracks, not misses
        return all(enc.detect(load_image(make(0 if m == "leave" else 249), parameter="frame"), tiled="auto")
                   for m, _, make in cs)

    faces, skipped = [("portrait", clips(_portrait(), 200, 0))], 0
    for i in np.random.default_rng(2).permutation(len(x)):
        if len(faces) > a.movers:
            break
        cs = clips(x[i], 150, 4 * len(faces))
        if found_at_rest(cs):
            faces.append((f"FER dev #{i}", cs))
        else:
            skipped += 1
    print(f"leave / appear: the portrait and {len(faces) - 1} FER-2013 dev faces ({skipped} passed over: the "
          "detector does not find them at rest in all four clips)", flush=True)
    out = []
    for name, cs in faces:
        for mode, slide, make in cs:
            p = os.path.join(tmp, "mover.mp4")
            write_video(p, make, n_frames=250, fps=25)
            r = {m: session(p, m) for m in MODES}
            r.update(face=name, mode=mode, slide_s=slide)
            out.append(r)
            print(f"{name} who {mode}s (sliding for {slide:g} s): persons {r['full']['persons']} (without "
                  f"confirmation {r['off']['persons']}), face rows {r['full']['face_rows']}, flickers dropped "
                  f"{r['full']['flickers']} ({r['off']['flickers']})", flush=True)
    return {"clips": out, "skipped": skipped, "floor_met": all(r["full"]["persons"] == ["p0"] for r in out)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--titles", type=int, default=3)
    ap.add_argument("--title-seconds", type=float, default=20.0)
    ap.add_argument("--fer", type=int, default=0)
    ap.add_argument("--portraits", type=int, default=30)
    ap.add_argument("--movers", type=int, default=4)
    ap.add_argument("--skip", default="")
    a = ap.parse_args(argv)
    skip = set(filter(None, a.skip.split(",")))
    import torch

    torch.set_num_threads(1)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print("split: FER-2013 dev (PublicTest de-duplicated against train) for the faces; everything else generated")
    res, t0 = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("title", lambda: titles(a, tmp)), ("nonface", lambda: nonface(a, tmp)),
                         ("miss", lambda: misses(a)), ("movers", lambda: movers(a, tmp))):
            if name not in skip:
                t = time.perf_counter()
                res[name] = fn()
                print(f"[{name}: {time.perf_counter() - t:.0f} s]", flush=True)
    summary(res)
    print(f"total {time.perf_counter() - t0:.0f} s")
    print("JSON " + json.dumps({"title": "sessions on generated footage (issue 24 floors)", **res}, default=str))
    return 0


def summary(res: dict) -> None:
    """The short table of the figures."""
    print("\n| measure | with confirmation (face_cues='full') | without (face_cues='off') |\n|---|---|---|")
    if "title" in res:
        c = res["title"]["clips"]
        print("| title clips with music: persons, rows with a voice | " + " | ".join(
            f"{sum(len(r[m]['persons']) for r in c)} persons, {sum(r[m]['voice_rows'] for r in c)} voice rows "
            f"({len(c)} clips)" for m in MODES) + " |")
        print(f"| title clips, the face mesh alone (no drawn-face check): persons | "
              f"{sum(len(r['mesh']['persons']) for r in c)} | |")
    if "nonface" in res:
        t = res["nonface"]["total"]
        print(f"| non-face video ({res['nonface']['minutes']:g} min): confirmed detections per hour | " + " | ".join(
            f"{t[m]['confirmed_per_hour']:.0f} ({t[m]['confirmed']} in {t[m]['frames']} frames)" for m in MODES)
            + " |")
        print("| non-face video: persons per hour | " + " | ".join(
            f"{t[m]['persons_per_hour']:.0f} ({t[m]['persons']}; {t[m]['flickers']} flickers dropped)"
            for m in MODES) + " |")
    if "miss" in res:
        r = res["miss"]
        print("| FER-2013 dev faces missed (confirmed detections elsewhere in their scenes) | " + " | ".join(
            f"{100 * r['fer'][m]['missed'] / r['n_fer']:.2f} % of {r['n_fer']} ({r['fer'][m]['phantoms']})"
            for m in MODES) + " |")
        print("| portrait scenes missed (detections elsewhere) | " + " | ".join(
            f"{r['portrait'][m]['missed']} of {r['n_portrait']} ({r['portrait'][m]['phantoms']})" for m in MODES)
            + " |")
    if "movers" in res:
        c = res["movers"]["clips"]
        print("| one person who leaves or appears: clips with persons == ['p0'] | " + " | ".join(
            f"{sum(r[m]['persons'] == ['p0'] for r in c)} of {len(c)}" for m in MODES) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
