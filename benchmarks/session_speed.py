"""Speed and memory of recorded sessions (issue 6): 640x480 at 25 fps with one face and speech.

    python -m benchmarks.session_speed [--seconds 60] [--repeats 3] [--threads 2] [--memory-minutes 10]

The test recording is made here (not shipped): the public-domain astronaut portrait (``examples/``),
drifting slowly across a 640x480 frame at 25 fps, with RAVDESS dev speech (actors 19-20) on the audio
track when ``../shared/data`` is present, else a synthetic voiced signal. Reported: wall time of
``analyze_session`` (default policy: 5 analysed frames per second, 1-s steps, 3-s voice windows) as a
multiple of real time (median of ``--repeats`` runs, after one warm-up), the time of decoding alone, and,
with ``--memory-minutes``, the process RSS every minute of a longer recording (memory must stay flat).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from benchmarks.metrics import machine, rss_mb




def speech(seconds: float, data=None) -> tuple[np.ndarray, str]:
    sr = 16000
    try:
        from training.common.data import data_root
        from training.common.ravdess import load_ravdess, read_wav

        rows = load_ravdess(data_root(data), "dev")
        parts, n = [], 0
        k = 0
        while n < seconds * sr:
            w = read_wav(rows[k % len(rows)]["path"]).astype(np.float32)
            parts.append(w); n += len(w); k += 1
        return np.concatenate(parts)[: int(seconds * sr)], "RAVDESS actors 19-20 speech, concatenated"
    except (SystemExit, OSError, ImportError):
        t = np.arange(int(seconds * sr)) / sr
        f0 = 150 * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))
        x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / sr) * (0.55 + 0.45 * np.sin(2 * np.pi * 3.5 * t))
        return x.astype(np.float32), "synthetic voiced signal (no shared data found)"


def make_video(path: str, seconds: float, data=None) -> str:
    import cv2
    from PIL import Image

    from cxsense.session.testing import write_video

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    face = np.asarray(Image.open(os.path.join(repo, "examples", "astronaut.jpg")).convert("RGB"))
    face = cv2.resize(face, (240, 240))
    audio, desc = speech(seconds, data)

    def frame(i):
        f = np.full((480, 640, 3), 50, np.uint8)
        x = int(200 + 120 * np.sin(2 * np.pi * i / (25 * 20)))
        y = int(120 + 40 * np.cos(2 * np.pi * i / (25 * 15)))
        f[y:y + 240, x:x + 240] = face
        return f

    write_video(path, frame, n_frames=int(seconds * 25), fps=25, audio=audio)
    return desc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-minutes", type=float, default=0.0)
    ap.add_argument("--data", default=None)
    ap.add_argument("--face-early-exit", default="auto",
                    help="auto (the model file's setting), off, or a threshold; the example face is an easy one, "
                         "so with a threshold this is the best case")
    ap.add_argument("--face-cues", default="full", choices=["full", "fast", "off"],
                    help="the face mesh: full (with the iris network), fast (mesh only) or off")
    a = ap.parse_args(argv)
    from cxsense.options import early_exit_from_text

    kw = {"face_early_exit": early_exit_from_text(a.face_early_exit), "face_cues": a.face_cues}
    import av
    import torch

    torch.set_num_threads(a.threads)
    import cxsense

    print(f"machine: {machine()}; torch threads {a.threads}; face early exit {kw['face_early_exit']}; "
          f"face cues {a.face_cues}; load average {os.getloadavg()[0]:.1f}")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "session.mp4")
        desc = make_video(path, a.seconds, a.data)
        print(f"recording: {a.seconds:.0f} s, 640x480, 25 fps, H.264 + AAC; face: examples/astronaut.jpg drifting; "
              f"audio: {desc}")
        t0 = time.perf_counter()
        with av.open(path) as c:
            n = sum(1 for _ in c.decode(video=0))
        dec = time.perf_counter() - t0
        print(f"decode only (all {n} frames, no conversion): {dec:.2f} s ({a.seconds / dec:.1f}x real time)")
        cxsense.analyze_session(path, **kw)  # warm-up: model loading, numba compilation
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            s = cxsense.analyze_session(path, **kw)
            times.append(time.perf_counter() - t0)
        med = float(np.median(times))
        print(f"analyze_session (fps=5, step=1 s): median {med:.2f} s over {a.repeats} runs = "
              f"{a.seconds / med:.2f}x real time; {s.info['frames_analysed']} frames analysed, "
              f"{len(s.timeline)} rows, face found in {(s.timeline['face_quality'] > 0).mean():.0%} of steps, "
              f"voice in {(s.timeline['voice_quality'] > 0).mean():.0%}")
        out.update({"face_early_exit": s.info["face_early_exit"], "seconds": a.seconds, "median_s": med, "x_realtime": a.seconds / med, "decode_s": dec})
        t0 = time.perf_counter()
        s_all = cxsense.analyze_session(path, fps=0, **kw)
        t_all = time.perf_counter() - t0
        print(f"analyze_session every frame (fps=0): {t_all:.2f} s = {a.seconds / t_all:.2f}x real time "
              f"({s_all.info['frames_analysed']} frames)")
        out["every_frame_x_realtime"] = a.seconds / t_all
        if a.memory_minutes:
            long = os.path.join(tmp, "long.mp4")
            make_video(long, a.memory_minutes * 60, a.data)
            marks = []

            def progress(done, total):
                if not marks or done - marks[-1][0] >= 60:
                    marks.append((done, rss_mb()))

            t0 = time.perf_counter()
            s = cxsense.analyze_session(long, progress=progress, **kw)
            el = time.perf_counter() - t0
            marks.append((a.memory_minutes * 60, rss_mb()))
            print(f"memory over a {a.memory_minutes:.0f}-minute recording ({el:.0f} s, "
                  f"{a.memory_minutes * 60 / el:.2f}x real time): RSS MB by minute of video: "
                  + ", ".join(f"{d / 60:.0f}: {r:.0f}" for d, r in marks))
            out["rss_mb"] = marks
    print("JSON " + json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
