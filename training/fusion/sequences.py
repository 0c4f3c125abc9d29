"""Session-like sequences (issue 24, item 3): small videos of posed faces with same-emotion speech, run through
:func:`cxsense.analyze_session`, with what each step saw cached so that fusions can be compared offline.

A **sequence** is one video of ``--segments`` segments (default 5), one emotion per segment. A segment lasts one
RAVDESS clip rounded up to whole seconds (the clip from the segment's start, silence after it) and shows FER-2013
faces of the same label, one image every ``IMAGE_S`` seconds, each upscaled to ``FACE_PX`` pixels on a grey
320x240 frame at 25 fps, drifting by a few pixels. ``split="dev"``: FER-2013 PublicTest (de-duplicated) x every
RAVDESS clip of actors 19-20 (120 segments); ``split="train"``: FER-2013 Training (de-duplicated) x
``per_cell`` clips per actor and label of actors 01-18 (calm counts as neutral, as for the voice model). A
segment's faces and clip are drawn with one seed; the order of segments in a video is shuffled.

``degrade`` makes the faces harder (the outside film's faces scored 0.476 against 0.70 on FER-2013 dev):
``blur`` (Gaussian, sigma 1.6 px at 48 px), ``lowres`` (48 -> 14 -> 48 px), ``jpeg`` (quality 6 at 48 px),
``small`` (a 56-px face), ``mixed`` (one of the four per segment, seeded).

Each video is run once through ``analyze_session`` (default policy: 5 frames per second, 1-s steps, 3-s voice
windows); while it runs, :func:`record` notes every step's per-frame face results (before pooling), the number of
frames sampled, the voice reading and the rows the session made. The cache is one JSON file per video under
``training/runs/sequences/<split>_<degrade>_s<seed>_<face sha>_<voice sha>_<pipeline hash>/`` (git-ignored), so
a stopped run loses at most one video, and a new model or a change to the encoders or the session gets new files.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from training.common.data import REPO, data_root
from training.common.fer import load_fer

CACHE = REPO / "training" / "runs" / "sequences"
SR = 16000
FPS = 25
FRAME = (240, 320)  # rows, columns
FACE_PX = 160
SMALL_PX = 56
IMAGE_S = 2.0
DEGRADATIONS = ("none", "blur", "lowres", "jpeg", "small", "mixed")


def _key() -> str:
    """Face and voice model SHA-256 prefixes, and a hash of what else makes a step's evidence: every other
    registered model but the fusion's, and the source of the encoders and of the session (not of the fusion,
    which the benchmarks apply offline)."""
    import hashlib

    import cxsense
    from cxsense.registry import list_models

    models = list_models()
    h = hashlib.sha256()
    for name in sorted(models):
        if name not in ("late-fusion", "step-calibration"):
            h.update(f"{name}:{models[name]['sha256']}".encode())
    pkg = Path(cxsense.__file__).parent
    for f in sorted([*pkg.glob("encoders/**/*.py"), *pkg.glob("session/*.py"), *pkg.glob("inputs/*.py")]):
        h.update(f.read_bytes())
    return f"{models['face-expression']['sha256'][:8]}_{models['voice-tone']['sha256'][:8]}_{h.hexdigest()[:8]}"


def cache_dir(split: str, degrade: str, seed: int) -> Path:
    return CACHE / f"{split}_{degrade}_s{seed}_{_key()}"


def plan(split: str, seed: int = 0, segments: int = 5, per_cell: int = 2, degrade: str = "none", data=None) -> dict:
    """The videos of one sequence set: ``{"split": desc, "videos": [[segment, ...], ...]}``.

    Each segment is ``{"label", "clip", "faces": [FER index, ...], "seconds", "degrade"}``.
    """
    from training.common.ravdess import load_ravdess

    root = data_root(data)
    _, yf, fdesc = load_fer(root, split)
    rows = load_ravdess(root, split)
    rng = np.random.default_rng([seed, 24])
    if split == "train":  # per_cell clips per (actor, label), seeded
        cells: dict = {}
        for r in rows:
            cells.setdefault((r["speaker"], r["label"]), []).append(r)
        rows = [cells[k][i] for k in sorted(cells) for i in rng.permutation(len(cells[k]))[:per_cell]]
    order = rng.permutation(len(rows))
    pools = {c: list(rng.permutation(np.flatnonzero(yf == c))) for c in range(7)}
    segs = []
    for i in order:
        r = rows[int(i)]
        seconds = int(math.ceil(float(r["duration_s"]) - 0.05))
        n_img = int(math.ceil(seconds / IMAGE_S))
        pool = pools[r["label"]]
        if len(pool) < n_img:  # a rare class used up: start its images again in a new order
            pool += list(rng.permutation(np.flatnonzero(yf == r["label"])))
        faces = [int(pool.pop()) for _ in range(n_img)]
        kind = degrade if degrade != "mixed" else str(rng.choice(DEGRADATIONS[1:5]))
        segs.append({"label": int(r["label"]), "clip": r["file"], "speaker": r["speaker"], "faces": faces,
                     "seconds": seconds, "degrade": kind})
    videos = [segs[k:k + segments] for k in range(0, len(segs), segments)]
    actors = sorted({s["speaker"] for s in segs})
    desc = (f"{split}: {fdesc} x RAVDESS {split} clips of {actors[0]}..{actors[-1]} ({len(segs)} segments, "
            f"{len(videos)} videos of up to {segments} segments, faces degraded: {degrade}, seed {seed})")
    return {"split": desc, "videos": videos}


def degrade_face(img48: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    """A 48x48 grey face degraded by ``kind`` and the size in pixels at which it is shown."""
    import cv2

    x = img48
    if kind == "blur":
        x = cv2.GaussianBlur(x, (0, 0), 1.6)
    elif kind == "lowres":
        x = cv2.resize(cv2.resize(x, (14, 14), interpolation=cv2.INTER_AREA), (48, 48), interpolation=cv2.INTER_LINEAR)
    elif kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, 6])
        x = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return x, (SMALL_PX if kind == "small" else FACE_PX)


def render(video: list[dict], faces: np.ndarray, path: str, data=None, seed: int = 0) -> list[tuple[float, float]]:
    """Write one sequence video; returns each segment's ``(start, end)`` in seconds."""
    import cv2

    from cxsense.session.testing import write_video
    from training.common.ravdess import read_wav

    root = data_root(data)
    rng = np.random.default_rng(seed)
    frames, audio, spans, t = [], [], [], 0.0
    for seg in video:
        n = int(seg["seconds"] * FPS)
        shows = []
        for fi in seg["faces"]:
            x, px = degrade_face(faces[fi], seg["degrade"])
            big = cv2.resize(x, (px, px), interpolation=cv2.INTER_CUBIC)
            cy, cx = (FRAME[0] - px) // 2 + int(rng.integers(-12, 13)), (FRAME[1] - px) // 2 + int(rng.integers(-30, 31))
            shows.append((big, cy, cx))
        for i in range(n):
            big, cy, cx = shows[min(int(i / (IMAGE_S * FPS)), len(shows) - 1)]
            f = np.full(FRAME, 96, np.uint8)
            dy, dx = int(round(3 * math.sin(i / 11))), int(round(4 * math.cos(i / 17)))
            f[cy + dy:cy + dy + big.shape[0], cx + dx:cx + dx + big.shape[1]] = big
            frames.append(np.repeat(f[:, :, None], 3, axis=2))
        w = read_wav(str(root / "voice" / "ravdess" / seg["clip"]))[: n * SR // FPS]
        a = np.zeros(n * SR // FPS)
        a[: len(w)] = w
        audio.append(a)
        spans.append((t, t + seg["seconds"]))
        t += seg["seconds"]
    write_video(path, frames, fps=FPS, audio=np.concatenate(audio))
    return spans


def _vec(r) -> list:
    return [float(v) for v in r.probability_vector()] + [float(r.quality)]


@contextlib.contextmanager
def record(steps: list):
    """While active, each step that a session assesses appends ``{"t", "n", "persons", "together", "voice",
    "rows"}`` to ``steps``: per person the frames' ``[p(7), quality]`` before pooling, whether two faces were on
    screen together, the voice's ``[p(7), quality, speech_s]`` (or None) and the rows made (person, emotion,
    probabilities). A step made again (a session drops a flicker's rows at the end) replaces its first record."""
    from cxsense.emotions import EMOTIONS
    from cxsense.session import steps as steps_mod, tracking

    pool0, rows0 = tracking.pool_face, steps_mod.StepAssessor.rows
    frames_of: dict = {}  # id of a pooled result -> (the result, kept alive so that its id stays unique; frames)
    index: dict = {}

    def pool(results, n_sampled):
        out = pool0(results, n_sampled)
        if out is not None:
            frames_of[id(out)] = (out, [_vec(r) for r in results if r.quality > 0], int(n_sampled))
        return out

    def rows(self, t, faces, voice, physio, together=None):
        out = rows0(self, t, faces, voice, physio, together=together)
        persons = {p: frames_of.get(id(f), (None, [], 0))[1:] for p, f in faces.items()}
        v = None
        if voice is not None:
            speech = float(voice.details.get("signal", {}).get("speech_s", 0.0))
            v = (_vec(voice) if voice.quality > 0 else [1 / 7] * 7 + [0.0]) + [speech]
        rec = {"t": float(t), "n": max([n for _, n in persons.values()] or [0]),
               "persons": {p: fr for p, (fr, _) in persons.items()},
               "together": bool(len(faces) > 1 if together is None else together), "voice": v,
               "rows": [{"person": r["person"], "emotion": r["emotion"], "p": [float(r[e]) for e in EMOTIONS]}
                        for r in out]}
        if float(t) in index:
            steps[index[float(t)]] = rec
        else:
            index[float(t)] = len(steps)
            steps.append(rec)
        return out

    tracking.pool_face, steps_mod.StepAssessor.rows = pool, rows
    try:
        yield steps
    finally:
        tracking.pool_face, steps_mod.StepAssessor.rows = pool0, rows0


def build(split: str, seed: int = 0, degrade: str = "none", segments: int = 5, per_cell: int = 2,
          limit: int | None = None, data=None, verbose: bool = True) -> tuple[str, list[dict]]:
    """Run (or read from the cache) every video of a sequence set; returns ``(split description, videos)``.

    Each video is ``{"segments": [...], "spans": [(start, end), ...], "steps": [...], "seconds": wall time,
    "fusion": {"step_calibration": what the rows were fused with}}``.
    """
    import cxsense
    from cxsense.fusion import get_fusion

    p = plan(split, seed, segments, per_cell, degrade, data)
    faces, _, _ = load_fer(data_root(data), split)
    folder = cache_dir(split, degrade, seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, video in enumerate(p["videos"][:limit]):
        f = folder / f"video_{k:03d}.json"
        if f.is_file():
            doc = json.loads(f.read_text())
            if doc["segments"] == video:
                out.append(doc)
                continue
        cal = getattr(get_fusion(), "step_calibration", None)
        fusion = {"step_calibration": None if cal is None else dict(cal.meta)}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "seq.mp4")
            spans = render(video, faces, path, data, seed=seed * 1000 + k)
            steps: list = []
            t0 = time.perf_counter()
            with record(steps):
                s = cxsense.analyze_session(path)
            wall = time.perf_counter() - t0
        doc = {"segments": video, "spans": spans, "steps": steps, "seconds": wall, "fusion": fusion,
               "duration_s": s.info["duration_s"], "persons_seen": s.info["persons_seen"], "notes": s.info["notes"]}
        f.write_text(json.dumps(doc))
        out.append(doc)
        if verbose:
            print(f"  {split}/{degrade} video {k + 1}/{len(p['videos'])}: {doc['duration_s']:.0f} s of video in "
                  f"{wall:.0f} s, persons {s.info['persons_seen']}", flush=True)
    return p["split"], out
