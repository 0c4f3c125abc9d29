"""Throughput and scaling of studies (issue 26): engines, stages, storage, and the driver at 1,000 recordings.

    python -m benchmarks.study_throughput [--videos 20] [--seconds 10] [--repeats 3] [--synthetic 100,300,1000]
        [--data DIR]

1. A study built here (never stored in the repository): ``--videos`` webcam-like recordings of ``--seconds`` each,
   640x480 at 25 fps, H.264 with AAC. Each shows FER-2013 **dev** faces (PublicTest, de-duplicated against
   Training; 48x48 grey, upscaled with a replicated border; a new face every 2 s) and plays RAVDESS **dev**
   speech (actors 19-20); the first half of the viewers are variant A, the rest B.
2. Throughput of ``analyze_study`` with ``local`` and 1 and 2 workers and ``ray`` with 2 actors (a local Ray,
   started before the timed run; its start is timed apart), ``--repeats`` runs each, from the start of
   ``analyze_study`` (worker start and model loading included) to its end: recordings per hour and seconds of
   video per second (median run), each worker's peak memory, and whether Ray's outputs equal the local ones.
3. Where one recording's time goes (cProfile of one analysis: decoding, face detection, the expression
   network, the voice encoder, the rest), and the cost of writing and reading one timeline as Parquet.
4. Engine overhead per recording: 200 synthetic recordings (no video: ``cxsense.study.testing``) through the
   local pool and Ray, 2 workers each.
5. The driver's SHA-256 of recordings (the reuse key), in MB per second.
6. Scaling of the driver: synthetic one-minute recordings (60 one-second steps; the video analysis is
   bypassed with pre-made timelines, everything else runs as in a real study) at each ``--synthetic`` size, each
   in a fresh process: its peak memory and the time of each phase, and of a re-run that reuses everything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.metrics import machine, rss_mb
from cxsense.study.engines import peak_rss_mb


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def make_study(folder: str, videos: int, seconds: float, data=None) -> tuple[str, str]:
    """Write the videos and a manifest; return (manifest path, a description of the data split)."""
    import cv2

    from benchmarks.session_speed import speech
    from cxsense.session.testing import write_video
    from training.common.data import data_root
    from training.common.fer import load_fer

    x, _, fer_desc = load_fer(data_root(data), "dev")
    rng = np.random.default_rng(26)
    per = int(np.ceil(seconds / 2.0))
    faces = x[rng.choice(len(x), videos * per, replace=False)]
    audio, voice_desc = speech(videos * seconds, data)
    rows = ["recording,viewer,variant"]
    for v in range(videos):
        frames = []
        for k in range(per):
            f = cv2.copyMakeBorder(faces[v * per + k], 12, 12, 12, 12, cv2.BORDER_REPLICATE)
            f = cv2.resize(f, (260, 260), interpolation=cv2.INTER_CUBIC)
            fr = np.full((480, 640, 3), 60, np.uint8)
            fr[110:370, 190:450] = f[..., None]
            frames.append(fr)
        name = f"viewer{v:03d}.mp4"
        clip = audio[int(v * seconds * 16000):int((v + 1) * seconds * 16000)]
        write_video(os.path.join(folder, name), lambda i, fr=frames: fr[min(i // 50, per - 1)],
                    n_frames=int(seconds * 25), fps=25, audio=clip)
        rows.append(f"{name},v{v:03d},{'A' if v < videos // 2 else 'B'}")
    with open(os.path.join(folder, "manifest.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    return os.path.join(folder, "manifest.csv"), f"{fer_desc}; {voice_desc}"


def throughput(manifest: str, work: str, videos: int, repeats: int) -> dict:
    import pandas as pd

    from cxsense.study import analyze_study
    from cxsense.study.engines import start_local_ray

    out = {}
    for engine, workers in (("local", 1), ("local", 2), ("ray", 2)):
        runs = []
        for rep in range(repeats):
            ray_start = None
            if engine == "ray":
                t0 = time.perf_counter()
                ray = start_local_ray(num_cpus=2)
                ray_start = time.perf_counter() - t0
            folder = os.path.join(work, f"out-{engine}-{workers}")
            shutil.rmtree(folder, ignore_errors=True)
            t0 = time.perf_counter()
            s = analyze_study(manifest, folder, engine=engine, workers=workers)
            wall = time.perf_counter() - t0
            if engine == "ray":
                ray.shutdown()
            ok = int((s.recordings["status"] == "ok").sum())
            video_s = float(s.recordings["seconds"].sum())
            runs.append({"wall_s": wall, "recordings_ok": ok, "video_s": video_s,
                         "worker_cpu_s": s.info["worker_cpu_s"],
                         "video_s_per_cpu_s": s.info["analysed_video_s"] / max(s.info["worker_cpu_s"], 1e-9),
                         "worker_peak_rss_mb": s.info["worker_peak_rss_mb"], "ray_start_s": ray_start,
                         "median_analysis_s_per_recording": float(s.recordings["analysis_seconds"].median()),
                         "load": _load()})
            print(f"  {engine} x{workers} run {rep + 1}: {wall:.1f} s wall, {ok}/{videos} ok, {video_s:.0f} s of video, "
                  f"{runs[-1]['video_s_per_cpu_s']:.2f} s of video per CPU second, "
                  f"worker peak RSS {[round(m) for m in s.info['worker_peak_rss_mb']]} MB"
                  + (f", Ray start {ray_start:.1f} s" if ray_start else "") + f"  [{runs[-1]['load']}]", flush=True)
        wall = float(np.median([r["wall_s"] for r in runs]))
        ok, video_s = runs[0]["recordings_ok"], runs[0]["video_s"]
        r = {"runs": runs, "median_wall_s": wall, "recordings_per_hour": ok / wall * 3600,
             "video_s_per_s": video_s / wall,
             "median_analysis_s_per_recording": float(np.median([x["median_analysis_s_per_recording"] for x in runs])),
             "video_s_per_cpu_s": float(np.median([x["video_s_per_cpu_s"] for x in runs])),
             "worker_peak_rss_mb_max": max(max(x["worker_peak_rss_mb"]) for x in runs)}
        out[f"{engine}-{workers}"] = r
        print(f"{engine} x{workers}: median {wall:.1f} s wall for {ok} recordings ({video_s:.0f} s of video): "
              f"{r['recordings_per_hour']:.0f} recordings/hour, {r['video_s_per_s']:.2f} s of video per s; "
              f"{r['median_analysis_s_per_recording']:.2f} s per recording in a worker (median), "
              f"{r['video_s_per_cpu_s']:.2f} s of video per CPU second; worker peak RSS "
              f"up to {r['worker_peak_rss_mb_max']:.0f} MB", flush=True)
    a = pd.read_csv(os.path.join(work, "out-local-2", "aggregate.csv"))
    b = pd.read_csv(os.path.join(work, "out-ray-2", "aggregate.csv"))
    num = a.select_dtypes("number").columns
    out["ray_vs_local_max_abs_diff"] = float(np.abs(a[num].to_numpy() - b[num].to_numpy()).max())
    print(f"ray vs local, aggregate.csv: max |difference| {out['ray_vs_local_max_abs_diff']:.3g}")
    return out


def stages(video: str) -> dict:
    """Seconds of one analysis by stage (cProfile's cumulative times of the stage functions)."""
    import cProfile
    import pstats

    from cxsense.session import analyze_session

    analyze_session(video)  # warm: models loaded
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    s = analyze_session(video)
    prof.disable()
    total = time.perf_counter() - t0
    st = pstats.Stats(prof).stats
    # (function name, where): a file for Python functions; for PyAV's compiled methods the type in the name
    want = {"decode": [("decode' of 'av.", "~"), ("to_ndarray' of 'av.", "~"), ("demux", "~"), ("resample", "~")],
            "face detection": [("detect", "face/detect.py")],
            "expression network": [("run", "face/early_exit.py")],
            "face mesh and cues": [("read_mesh", "face/cue_hook.py"), ("cues_of", "face/cue_hook.py")],
            "voice encoder": [("encode", "voice/encoder.py")],
            "fusion": [("fuse", "fusion/learned.py")]}
    out = {}
    for label, keys in want.items():
        cum = 0.0
        for (file, _line, fn), (_cc, _nc, _tt, ct, _callers) in st.items():
            for name, where in keys:
                if (where == "~" and file == "~" and name in fn and "av." in fn) or (where != "~" and fn == name and where in file):
                    cum += ct
        out[label] = cum
    out["rest"] = max(0.0, total - sum(out.values()))
    print(f"one {s.info['duration_s']:.0f}-s recording, {total:.2f} s under cProfile: "
          + ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in out.items()), flush=True)
    return {"total_s": total, **out}


def parquet_cost(work: str) -> dict:
    from cxsense.study.manifest import Recording
    from cxsense.study.storage import ParquetSink, decorate
    from cxsense.study.testing import synthetic_timeline

    sink = ParquetSink(os.path.join(work, "pq"))
    tl = decorate(synthetic_timeline(60, seed=1), Recording(1, "r.mp4", "/r.mp4", "v1", "A"))
    w, r = [], []
    for k in range(200):
        t0 = time.perf_counter()
        sink.write(f"t{k}", tl, {"k": k})
        w.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sink.read(f"t{k}")
        r.append(time.perf_counter() - t0)
    out = {"write_ms_median": 1000 * float(np.median(w)), "read_ms_median": 1000 * float(np.median(r)),
           "bytes": os.path.getsize(os.path.join(work, "pq", "t0.parquet"))}
    print(f"Parquet, one 60-row timeline: write {out['write_ms_median']:.1f} ms, read {out['read_ms_median']:.1f} ms "
          f"(medians of 200), {out['bytes']} bytes", flush=True)
    return out


def hash_speed(work: str, mb: int = 256) -> dict:
    """The driver's SHA-256 of recordings (the reuse key): MB per second over one ``mb``-MB file."""
    from cxsense.study.storage import file_sha256

    path = os.path.join(work, "hash.bin")
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        file_sha256(path)
        times.append(time.perf_counter() - t0)
    os.remove(path)
    out = {"mb_per_s": mb / float(np.median(times))}
    print(f"SHA-256 of recordings on the driver: {out['mb_per_s']:.0f} MB/s (median of 3 over {mb} MB, page cache warm)",
          flush=True)
    return out


def synthetic_manifest(folder: str, n: int, seconds: float = 60.0) -> str:
    from cxsense.study.testing import write_synthetic

    rng = np.random.default_rng(n)
    rows = ["recording,viewer,variant"]
    for k in range(n):
        reactions = []
        if rng.random() < 0.6:  # a shared laugh near 20 s, stronger in B
            reactions.append((20 + int(rng.integers(-1, 2)), "happiness", 0.6 if k % 2 else 0.8, 4))
        if rng.random() < 0.1:  # a personal surprise at a random time
            reactions.append((int(rng.integers(0, 55)), "surprise", 0.7, 2))
        write_synthetic(os.path.join(folder, f"s{k:05d}.json"), seconds, reactions, seed=k)
        rows.append(f"s{k:05d}.json,v{k:05d},{'AB'[k % 2]}")
    with open(os.path.join(folder, "manifest.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    return os.path.join(folder, "manifest.csv")


def synthetic_one(n: int, work: str) -> dict:
    """One scaling point, in this (fresh) process."""
    from cxsense.study import analyze_study
    from cxsense.study.testing import synthetic_analyzer

    folder = os.path.join(work, f"syn{n}")
    os.makedirs(folder, exist_ok=True)
    manifest = synthetic_manifest(folder, n)
    before = rss_mb()
    t0 = time.perf_counter()
    s = analyze_study(manifest, os.path.join(folder, "out"), workers=0, analyzer=synthetic_analyzer)
    first = time.perf_counter() - t0
    peak = peak_rss_mb()
    t0 = time.perf_counter()
    again = analyze_study(manifest, os.path.join(folder, "out"), workers=0, analyzer=synthetic_analyzer)
    rerun = time.perf_counter() - t0
    return {"n": n, "rss_before_mb": before, "peak_rss_mb": peak, "first_run_s": first, "rerun_s": rerun,
            "phases_s": s.info["timings_s"], "rerun_phases_s": again.info["timings_s"],
            "reused": int((again.recordings["status"] == "reused").sum()), "moments": int(len(s.moments)),
            "compare_rows": int(len(s.compare)) if s.compare is not None else 0}


def engine_overhead(work: str, n: int = 200) -> dict:
    from cxsense.study import analyze_study
    from cxsense.study.engines import start_local_ray
    from cxsense.study.testing import synthetic_analyzer

    folder = os.path.join(work, "overhead")
    os.makedirs(folder, exist_ok=True)
    manifest = synthetic_manifest(folder, n, seconds=10.0)
    out = {}
    for engine in ("local", "ray"):
        ray = start_local_ray(num_cpus=2) if engine == "ray" else None
        seen: list = []
        t0 = time.perf_counter()
        s = analyze_study(manifest, os.path.join(folder, f"out-{engine}"), engine=engine, workers=2,
                          analyzer=synthetic_analyzer, progress=lambda st: seen.append(st["elapsed_s"]))
        wall = time.perf_counter() - t0
        if ray is not None:
            ray.shutdown()
        first, last = seen[1], seen[-1]  # seen[0]: the bar's start, before any result
        out[engine] = {"wall_s": wall, "analysis_phase_s": s.info["timings_s"]["analysis"], "first_result_s": first,
                       "ms_per_recording": 1000 * (last - first) / (n - 1)}
        print(f"{engine} x2, {n} synthetic recordings: first result after {first:.1f} s (worker start), then "
              f"{out[engine]['ms_per_recording']:.1f} ms per recording (2 workers; the synthetic analysis itself "
              f"included)", flush=True)
    out["ray_overhead_ms_per_recording"] = out["ray"]["ms_per_recording"] - out["local"]["ms_per_recording"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3, help="runs per engine configuration (the median is reported)")
    ap.add_argument("--synthetic", default="100,300,1000", help="sizes of the synthetic scaling runs ('' to skip)")
    ap.add_argument("--skip-video", action="store_true")
    ap.add_argument("--sections", default="hash,video,stages,storage,overhead,synthetic",
                    help="comma-separated: hash, video (throughput), stages, storage, overhead, synthetic")
    ap.add_argument("--data", default=None)
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one, removed at the end)")
    ap.add_argument("--synthetic-one", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    work = a.work or tempfile.mkdtemp(prefix="cxsense-study-bench-")
    try:
        if a.synthetic_one is not None:
            print("JSON " + json.dumps(synthetic_one(a.synthetic_one, work)))
            return 0
        print(f"== study throughput\nmachine: {machine()}\n{_load()}", flush=True)
        result = {"machine": machine()}
        sections = set(a.sections.split(","))
        if "hash" in sections:
            result["hash"] = hash_speed(work)
        if "video" in sections and not a.skip_video:
            t0 = time.perf_counter()
            manifest, split = make_study(work, a.videos, a.seconds, a.data)
            print(f"split: {split}\n{a.videos} recordings of {a.seconds:.0f} s made in {time.perf_counter() - t0:.0f} s",
                  flush=True)
            result.update(split=split, throughput=throughput(manifest, work, a.videos, a.repeats))
        if "stages" in sections:
            if "video" not in sections or a.skip_video:
                make_study(work, a.videos, a.seconds, a.data)  # the same faces as the throughput study
            result["stages"] = stages(os.path.join(work, "viewer000.mp4"))
        if "storage" in sections:
            result["parquet"] = parquet_cost(work)
        if "overhead" in sections:
            result["engine_overhead"] = engine_overhead(work)
        scaling = []
        for n in [int(x) for x in a.synthetic.split(",") if x.strip() and "synthetic" in sections]:
            p = subprocess.run([sys.executable, "-m", "benchmarks.study_throughput", "--synthetic-one", str(n),
                                "--work", work], capture_output=True, text=True, check=True)
            r = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("JSON ")][-1][5:])
            scaling.append(r)
            ph = r["phases_s"]
            print(f"synthetic n={n}: driver peak RSS {r['peak_rss_mb']:.0f} MB (at start {r['rss_before_mb']:.0f}); "
                  f"hash {ph['hash']:.1f} s, analysis+storage {ph['analysis']:.1f} s, aggregate {ph['aggregate']:.1f} s "
                  f"({1000 * ph['aggregate'] / n:.1f} ms per recording), report {ph['report']:.1f} s; re-run "
                  f"{r['rerun_s']:.1f} s ({r['reused']} reused); {r['moments']} moments", flush=True)
        result["synthetic"] = scaling
        print("JSON " + json.dumps(result))
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
