"""Command line: ``cxsense assess``, ``cxsense faces``, ``cxsense models``.

    cxsense assess --face IMG --voice AUDIO --physio FILE.csv     # prints Assessment.to_dict() as JSON
    cxsense faces IMG                                             # one assessment per face, as JSON
    cxsense models [--verify]                                     # the shipped models and their checksums
    cxsense audit verify PATH                                     # check an audit log's hash chain
    cxsense session VIDEO [--physio FILE.csv] --out TIMELINE.csv [--report REPORT.html]   # a timeline
    cxsense study MANIFEST.csv --out DIR [--engine local|ray] [--workers N]   # many viewers: curves, moments, A/B

Exit codes: 0 success, 2 bad input or usage, 3 no usable signal, 4 a model file missing or corrupt,
5 an audit log whose chain is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import CxsenseError, InputError, ModelError, NoSignalError


def _face_models():
    from .encoders.face.encoder import FACE_MODELS

    return FACE_MODELS


def _read_physio_csv(path: str, sampling_rate: float | None):
    """A CSV of physiology channels: one column per channel, and either a ``time`` column in seconds
    (the rate is taken from its median step) or ``--sampling-rate``."""
    import numpy as np

    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover
        raise InputError("--physio", "a CSV readable with pandas (install pandas)", path) from e
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise InputError("--physio", "a readable CSV file with one column per channel", f"{path!r} ({e})") from None
    if "time" in df.columns:
        t = df.pop("time").to_numpy(dtype=float)
        steps = np.diff(t)
        if len(steps) == 0 or not np.all(np.isfinite(steps)) or np.median(steps) <= 0:
            raise InputError("--physio", "a 'time' column in seconds, increasing", f"{path!r}")
        if sampling_rate is None:
            sampling_rate = float(1.0 / np.median(steps))
    if sampling_rate is None:
        raise InputError("--sampling-rate", "a rate in Hz, or a 'time' column in the CSV", "neither")
    return df, sampling_rate


def _early_exit_arg(text: str):
    """``--face-early-exit``: auto, off, or a threshold (checked where it is used)."""
    from .encoders.face.encoder import early_exit_from_text

    return early_exit_from_text(text)


def _cmd_assess(a) -> dict:
    from .api import assess

    options = {}
    physio = None
    if a.physio:
        physio, rate = _read_physio_csv(a.physio, a.sampling_rate)
        options["sampling_rate"] = rate
    if not (a.face or a.voice or a.physio):
        raise InputError("--face/--voice/--physio", "at least one input", "none")
    options.update(_face_options(a))
    return assess(face=a.face, voice=a.voice, physio=physio, detect_face=not a.no_detect_face, **options).to_dict()


def _face_options(a) -> dict:
    """``--face-model`` and ``--face-early-exit`` as ``assess`` options (only those given)."""
    options = {}
    if a.face_model is not None:
        options["face_model"] = a.face_model
    if a.face_early_exit != "auto":
        options["face_early_exit"] = a.face_early_exit
    return options


def _cmd_faces(a) -> list:
    from .api import assess_faces

    return [x.to_dict() for x in assess_faces(a.image, **_face_options(a))]


def _cmd_models(a) -> dict:
    from .registry import list_models, model_path, models_dir

    out = {"models_dir": str(models_dir()), "models": {}}
    for name, entry in list_models().items():
        e = dict(entry)
        if a.verify:
            try:
                model_path(name)
                e["verified"] = True
            except ModelError as err:
                e["verified"] = False
                e["error"] = str(err)
        out["models"][name] = e
    return out


def _cmd_audit(a) -> int:
    """``cxsense audit verify PATH``: prints the result as JSON; 0 if the chain is intact, 5 if broken."""
    from .governance.audit import AuditLog

    if not os.path.isfile(a.path):
        print(f"cxsense: error: the 'PATH' parameter must be an existing audit log file. Got {a.path!r} instead.",
              file=sys.stderr)
        return 2
    try:
        log = AuditLog(a.path)
        broken = log.verify(head=a.head)
        with open(a.path, "rb") as f:
            n = sum(1 for _ in f)
    except (CxsenseError, OSError) as e:
        print(f"cxsense: error: {e}", file=sys.stderr)
        return 2
    out = {"path": a.path, "entries": n, "intact": broken is None}
    if broken is not None:
        out["broken"] = {"line": broken.line, "reason": broken.reason, "text": broken.text[:500]}
    json.dump(out, sys.stdout, indent=a.indent or None)
    sys.stdout.write("\n")
    if broken is not None:
        print(f"cxsense: audit log broken at line {broken.line}: {broken.reason}", file=sys.stderr)
        return 5
    return 0


class _Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal, or when forced)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last = -1

    def __call__(self, done: float, total: float) -> None:
        if not self.enabled:
            return
        if total > 0:
            pct = int(100 * min(done / total, 1.0))
            if pct == self.last:
                return
            self.last = pct
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            sys.stderr.write(f"\r[{bar}] {pct:3d}%  {done:7.1f} / {total:.1f} s of video")
        else:
            sys.stderr.write(f"\r{done:7.1f} s of video")
        sys.stderr.flush()


def _cmd_session(a) -> dict:
    from .session import analyze_session

    prog = _Progress(a.progress == "on" or (a.progress == "auto" and sys.stderr.isatty()))
    s = analyze_session(a.video, physio=a.physio, step=a.step, fps=a.fps, physio_offset=a.physio_offset,
                        persons=a.persons, face_model=a.face_model, face_early_exit=a.face_early_exit,
                        progress=prog)
    if prog.enabled:
        sys.stderr.write("\n")
    for opt in ("out", "report", "events", "summary"):
        target = getattr(a, opt)
        if target and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            raise InputError(f"--{opt}", "a file path in an existing folder", repr(target))
    s.to_csv(a.out)
    out = {"timeline": a.out, "rows": int(len(s.timeline)), "events": int(len(s.events)), "info": s.info}
    if a.events:
        s.events.to_csv(a.events, index=False, float_format="%.6g")
        out["events_csv"] = a.events
    if a.summary:
        s.summary(a.segments).to_csv(a.summary, index=False, float_format="%.6g")
        out["summary_csv"] = a.summary
    if a.report:
        s.report(a.report, segments=a.segments)
        out["report"] = a.report
    return out


def _cmd_study(a) -> dict:
    from .study import analyze_study
    from .study.cliargs import read_key, read_policy

    policy = read_policy(a.policy) if a.policy else None
    store = read_key(a.store) if a.store else None
    if store is not None and policy is None:
        raise InputError("--policy", "a usage policy JSON file with --store (the store keeps results for its "
                                     "retention period)", "none")
    s = analyze_study(a.manifest, a.out, engine=a.engine, ray_address=a.ray_address, workers=a.workers, step=a.step,
                      fps=a.fps, persons=a.persons, face_model=a.face_model, face_early_exit=a.face_early_exit,
                      segments=a.segments, store=store, policy=policy, reuse=not a.no_reuse,
                      progress=a.progress == "on" or (a.progress == "auto" and sys.stderr.isatty()),
                      ray_cpus_per_worker=a.ray_cpus_per_worker, title=a.title)
    counts = s.info["counts"]
    if counts["ok"] + counts["reused"] == 0:
        raise NoSignalError(f"no recording of the study could be analysed; see {s.out / 'recordings.csv'}")
    files = ["recordings.csv", "aggregate.csv", "moments.csv", "report.html", "study.json"]
    files += ["compare.csv"] if s.compare is not None else []
    return {"out": str(s.out), "recordings": s.info["recordings"], **counts, "files": files,
            "timelines": s.info["timelines"], "engine": s.info["engine"], "timings_s": s.info["timings_s"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="cxsense", description="Estimate expressed emotion from face, voice and body signals, locally.")
    p.add_argument("--version", action="version", version=f"cxsense {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    pa = sub.add_parser("assess", help="assess one moment from any subset of face, voice, physio; prints JSON")
    pa.add_argument("--face", help="image file")
    pa.add_argument("--voice", help="audio file (wav, flac, ogg, mp3 where a decoder exists)")
    pa.add_argument("--physio", help="CSV: one column per channel (ecg, ppg, eda, rsp, temp, acc_x/acc_y/acc_z), and 'time' in s")
    pa.add_argument("--sampling-rate", type=float, default=None, help="physio CSV rate in Hz when it has no 'time' column")
    pa.add_argument("--no-detect-face", action="store_true", help="take the whole image as one face crop")
    pa.add_argument("--face-model", choices=list(_face_models()), default=None, help="face network (small: faster)")
    pa.add_argument("--face-early-exit", type=_early_exit_arg, default="auto", metavar="auto|off|THRESHOLD",
                    help="base face model: auto (the model file's setting), off, or a threshold in (0, 1]: the stage-1 network answers alone when it is at least this sure (faster)")
    pa.add_argument("--indent", type=int, default=2)
    pf = sub.add_parser("faces", help="one assessment per face in an image; prints JSON")
    pf.add_argument("image")
    pf.add_argument("--face-model", choices=list(_face_models()), default=None, help="face network (small: faster)")
    pf.add_argument("--face-early-exit", type=_early_exit_arg, default="auto", metavar="auto|off|THRESHOLD",
                    help="base face model: as for assess")
    pf.add_argument("--indent", type=int, default=2)
    pm = sub.add_parser("models", help="list the shipped models")
    pm.add_argument("--verify", action="store_true", help="check every file's SHA-256")
    pm.add_argument("--indent", type=int, default=2)
    pu = sub.add_parser("audit", help="audit log tools")
    pus = pu.add_subparsers(dest="audit_command", required=True)
    pv = pus.add_parser("verify", help="check an audit log's hash chain; exit 0 if intact, 5 if broken")
    pv.add_argument("path")
    pv.add_argument("--head", default=None, help="the SHA-256 of the last entry kept elsewhere (AuditLog.head())")
    pv.add_argument("--indent", type=int, default=2)
    ps = sub.add_parser("session", help="a recorded video (and physiology) to a timeline CSV, events and an HTML report")
    ps.add_argument("video", help="video file (mp4, mkv, webm, avi, mov, ...); its audio track is the voice")
    ps.add_argument("--physio", help="CSV with a 'time' column (s) and one column per channel")
    ps.add_argument("--physio-offset", type=float, default=0.0, help="seconds added to the CSV time to align it with the video")
    ps.add_argument("--out", required=True, help="timeline CSV to write")
    ps.add_argument("--report", help="self-contained HTML report to write")
    ps.add_argument("--events", help="events CSV to write")
    ps.add_argument("--summary", help="per-segment summary CSV to write")
    ps.add_argument("--segments", help="CSV of segments: name,start,end (s) for the summary and the report")
    ps.add_argument("--step", type=float, default=1.0, help="seconds per timeline row (default 1)")
    ps.add_argument("--fps", type=float, default=5.0, help="frames analysed per second (default 5; 0 = every frame)")
    ps.add_argument("--persons", choices=["all", "largest"], default="all")
    ps.add_argument("--face-model", choices=list(_face_models()), default="base", help="face network (small: faster)")
    ps.add_argument("--face-early-exit", type=_early_exit_arg, default="auto", metavar="auto|off|THRESHOLD",
                    help="base face model: auto (the model file's setting), off, or a threshold in (0, 1]: the stage-1 network answers alone when it is at least this sure (faster)")
    ps.add_argument("--progress", choices=["auto", "on", "off"], default="auto")
    ps.add_argument("--indent", type=int, default=2)
    pst = sub.add_parser("study", help="many viewers of one stimulus: aggregate curves, key moments, A/B comparison")
    pst.add_argument("manifest", help="CSV: recording, viewer[, variant, physio, physio_offset, stimulus_offset]")
    pst.add_argument("--out", required=True, help="output folder (created if missing; a re-run reuses finished recordings)")
    pst.add_argument("--engine", choices=["local", "ray"], default="local")
    pst.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: a local Ray for the run)")
    pst.add_argument("--workers", type=int, default=None, help="worker processes or Ray actors (local 0: in this process)")
    pst.add_argument("--ray-cpus-per-worker", type=float, default=1.0)
    pst.add_argument("--step", type=float, default=1.0, help="seconds per timeline row (default 1)")
    pst.add_argument("--fps", type=float, default=5.0, help="frames analysed per second (default 5; 0 = every frame)")
    pst.add_argument("--persons", choices=["all", "largest"], default="all")
    pst.add_argument("--face-model", choices=list(_face_models()), default="base")
    pst.add_argument("--face-early-exit", type=_early_exit_arg, default="auto", metavar="auto|off|THRESHOLD")
    pst.add_argument("--segments", help="CSV of stimulus segments: name,start,end (s) for the comparison")
    pst.add_argument("--store", metavar="KEY", help="keep per-viewer timelines encrypted in DIR/store instead of "
                     "Parquet: 64 hex digits, @FILE or env:NAME (needs --policy)")
    pst.add_argument("--policy", help="usage policy JSON (purpose, context, contact, retention_days[, consents])")
    pst.add_argument("--no-reuse", action="store_true", help="analyse every recording again")
    pst.add_argument("--title", default=None, help="the report's title")
    pst.add_argument("--progress", choices=["auto", "on", "off"], default="auto")
    pst.add_argument("--indent", type=int, default=2)
    a = p.parse_args(argv)
    if a.command == "audit":
        return _cmd_audit(a)
    try:
        out = {"assess": _cmd_assess, "faces": _cmd_faces, "models": _cmd_models,
               "session": _cmd_session, "study": _cmd_study}[a.command](a)
    except InputError as e:
        print(f"cxsense: error: {e}", file=sys.stderr)
        return 2
    except NoSignalError as e:
        print(f"cxsense: no signal: {e}", file=sys.stderr)
        return 3
    except ModelError as e:
        print(f"cxsense: model error: {e}", file=sys.stderr)
        return 4
    except CxsenseError as e:  # PolicyError among them
        print(f"cxsense: {e}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=a.indent or None, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
