"""Command line: ``cxsense assess``, ``faces``, ``session``, ``models``, ``audit``.

    cxsense assess --face IMG --voice AUDIO --physio FILE.csv     # Assessment.to_dict() as JSON (--embeddings adds them)
    cxsense faces IMG                                             # one assessment per face, as JSON
    cxsense session VIDEO [--physio FILE.csv] --out TIMELINE.csv [--report REPORT.html]   # a timeline
    cxsense study MANIFEST.csv --out DIR [--engine local|ray] [--workers N]   # many viewers: curves, moments, A/B
    cxsense models [--verify]                                     # the shipped models and their checksums
    cxsense audit verify PATH [--head H] [--store DIR] [--key-file F]   # an audit log's chain (and its store)
    cxsense serve [--host 127.0.0.1] [--port 8000] [--token TOKEN] ...   # a local HTTP and WebSocket service

Exit codes, one meaning each: 0 success; 1 an internal error (a bug: please report it, with the traceback);
2 bad input or usage (a wrong key included); 3 no usable signal; 4 a model file missing or corrupt; 5 an audit
log or result store that was altered (a broken chain, a failed integrity check); 6 a feature this installation does not provide (NotAvailableError); 7 a use that the usage policy
refuses (PolicyError). A reader that closes the output early (``cxsense assess ... | head``) ends it quietly
with 0: everything it asked for was written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import CxsenseError, InputError, ModelError, NoSignalError, NotAvailableError, PolicyError
from .governance.errors import IntegrityError, WrongKeyError

#: exception class -> (exit code, prefix of the message on stderr), most specific first
EXIT_CODES = ((InputError, 2, "error"), (WrongKeyError, 2, "error"), (NoSignalError, 3, "no signal"),
              (ModelError, 4, "model error"), (IntegrityError, 5, "integrity check failed"),
              (NotAvailableError, 6, "not available"), (PolicyError, 7, "refused by the usage policy"))


def _face_models():
    from .options import FACE_MODELS

    return FACE_MODELS


def _physio_for_assess(path: str, sampling_rate: float | None, window: float, notes: list):
    """The CLI's physio CSV as one window: the known channel columns of its last ``window`` seconds."""
    from .inputs.physio_csv import read_physio_csv

    table = read_physio_csv(path, sampling_rate=sampling_rate, parameter="--physio")
    if table.skipped:
        notes.append("physio: columns skipped (not a known channel): " + ", ".join(table.skipped))
    frame, (a, b) = table.last(window)
    if table.duration > window + 1e-9:
        notes.append(f"physio: the CSV holds {table.duration:.1f} s; its last {window:g} s ({a:.1f}-{b:.1f} s "
                     "of the file) were assessed as one window (--physio-window)")
    return frame, table.rate


def _early_exit_arg(text: str):
    """``--face-early-exit``: auto, off, or a threshold (checked where it is used)."""
    from .options import early_exit_from_text

    return early_exit_from_text(text)


def _cmd_assess(a) -> dict:
    from .api import assess

    if not (a.face or a.voice or a.physio):
        raise InputError("--face/--voice/--physio", "at least one input", "none")
    notes: list[str] = []
    physio, rate = (None, None)
    if a.physio:
        physio, rate = _physio_for_assess(a.physio, a.sampling_rate, a.physio_window, notes)
    baselines = {k: v for k, v in (("face_baseline", a.face_baseline), ("voice_baseline", a.voice_baseline)) if v}
    out = assess(face=a.face, voice=a.voice, physio=physio, sampling_rate=rate, detect_face=not a.no_detect_face,
                 **baselines, **_face_options(a)).to_dict(embeddings=a.embeddings)
    if notes:
        out["notes"] = notes
    return out


def _face_options(a) -> dict:
    """``--face-model``, ``--face-early-exit`` and ``--face-cues`` as ``assess`` options (only those given)."""
    options = {}
    if a.face_model is not None:
        options["face_model"] = a.face_model
    if a.face_early_exit != "auto":
        options["face_early_exit"] = a.face_early_exit
    if a.face_cues != "full":
        options["face_cues"] = a.face_cues
    return options


def _cmd_faces(a) -> list:
    from .api import assess_faces

    return [x.to_dict(embeddings=a.embeddings) for x in assess_faces(a.image, **_face_options(a))]


def _cmd_models(a) -> dict:
    from .registry import aliases, list_models, model_path, models_dir

    out = {"models_dir": str(models_dir()), "aliases": aliases(), "models": {}}
    for name, entry in list_models().items():
        e = {k: v for k, v in entry.items() if k != "cxsense"}  # the detector's metadata block: see --verify
        if a.verify:
            try:
                model_path(name)
                e["verified"] = True
            except ModelError as err:
                e["verified"] = False
                e["error"] = str(err)
        out["models"][name] = e
    if a.verify and not all(e["verified"] for e in out["models"].values()):
        bad = [n for n, e in out["models"].items() if not e["verified"]]
        json.dump(out, sys.stdout, indent=a.indent or None)
        sys.stdout.write("\n")
        raise ModelError(f"{len(bad)} model file(s) missing, corrupt or with unreadable metadata: {', '.join(bad)}")
    return out


def _cmd_audit(a) -> int:
    """``cxsense audit verify PATH [--head H] [--store DIR] [--key-file F]``: prints the result as JSON; 0 if
    the log is intact (and agrees with the store), 5 if not."""
    from .governance.audit import AuditLog
    from .governance.tie import read_key_file, store_report

    if not os.path.isfile(a.path):
        raise InputError("PATH", "an existing audit log file", repr(a.path))
    try:
        key = read_key_file(a.key_file) if a.key_file else None
        log = AuditLog(a.path)
        broken = log.verify(head=a.head, key=key if log.keyed else None)  # the key also serves the store
        with open(a.path, "rb") as f:
            n = sum(1 for _ in f)
        store = store_report(a.store, log, key) if a.store else None
    except OSError as e:
        raise InputError("PATH", "a readable audit log file", f"{a.path!r} ({type(e).__name__})") from None
    out = {"path": a.path, "entries": n, "intact": broken is None, "keyed": log.keyed,
           "macs_checked": key is not None and log.keyed}
    if broken is not None:
        out["broken"] = {"line": broken.line, "reason": broken.reason, "text": broken.text[:500]}
    if store is not None:
        out["store"] = dict(store, path=a.store)
        out["intact"] = out["intact"] and store["problem"] is None
    json.dump(out, sys.stdout, indent=a.indent or None)
    sys.stdout.write("\n")
    if broken is not None:
        print(f"cxsense: audit log broken at line {broken.line}: {broken.reason}", file=sys.stderr)
    if store is not None and store["problem"] is not None:
        print(f"cxsense: the store in {a.store} does not agree with the log: {store['problem']}", file=sys.stderr)
    return 0 if out["intact"] else 5


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


def _check_outputs(a) -> None:
    """Every output path of ``cxsense session`` writable, before any analysis."""
    for opt in ("out", "report", "events", "summary"):
        target = getattr(a, opt)
        if not target:
            continue
        folder = os.path.dirname(os.path.abspath(target))
        if os.path.isdir(target) or not os.path.isdir(folder) or not os.access(folder, os.W_OK) \
                or (os.path.exists(target) and not os.access(target, os.W_OK)):
            raise InputError(f"--{opt}", "a writable file path in an existing folder", repr(target))


def _cmd_session(a) -> dict:
    from .session import analyze_session
    from .session.events import parse_segments

    _check_outputs(a)
    segments = parse_segments(a.segments) if a.segments else None
    prog = _Progress(a.progress == "on" or (a.progress == "auto" and sys.stderr.isatty()))
    s = analyze_session(a.video, physio=a.physio, step=a.step, fps=a.fps, physio_offset=a.physio_offset,
                        persons=a.persons, face_model=a.face_model, face_early_exit=a.face_early_exit,
                        face_cues=a.face_cues,
                        progress=prog)
    if prog.enabled:
        sys.stderr.write("\n")
    s.to_csv(a.out)
    out = {"timeline": a.out, "rows": int(len(s.timeline)), "events": int(len(s.events)), "info": s.info}
    if a.events:
        s.events.to_csv(a.events, index=False, float_format="%.6g")
        out["events_csv"] = a.events
    if a.summary:
        s.summary(segments).to_csv(a.summary, index=False, float_format="%.6g")
        out["summary_csv"] = a.summary
    if a.report:
        s.report(a.report, segments=segments, title=a.title)
        out["report"] = a.report
    for note in s.info.get("notes", []):
        print(f"cxsense: note: {note}", file=sys.stderr)
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
                      face_cues=a.face_cues, segments=a.segments, store=store, policy=policy, reuse=not a.no_reuse,
                      progress=a.progress == "on" or (a.progress == "auto" and sys.stderr.isatty()),
                      ray_cpus_per_worker=a.ray_cpus_per_worker, title=a.title)
    counts = s.info["counts"]
    if counts["ok"] + counts["reused"] == 0:
        raise NoSignalError(f"no recording of the study could be analysed; see {s.out / 'recordings.csv'}")
    files = ["recordings.csv", "aggregate.csv", "moments.csv", "report.html", "study.json"]
    files += ["compare.csv"] if s.compare is not None else []
    return {"out": str(s.out), "recordings": s.info["recordings"], **counts, "files": files,
            "timelines": s.info["timelines"], "engine": s.info["engine"], "timings_s": s.info["timings_s"]}


def _study_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("study", help="many viewers of one stimulus: aggregate curves, key moments, A/B comparison")
    p.add_argument("manifest", help="CSV: recording, viewer[, variant, physio, physio_offset, stimulus_offset]")
    p.add_argument("--out", required=True, help="output folder (created if missing; a re-run reuses finished recordings)")
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: a local Ray for the run)")
    p.add_argument("--workers", type=int, default=None, help="worker processes or Ray actors (local 0: in this process)")
    p.add_argument("--ray-cpus-per-worker", type=float, default=1.0)
    p.add_argument("--step", type=float, default=1.0, help="seconds per timeline row (default 1)")
    p.add_argument("--fps", type=float, default=5.0, help="frames analysed per second (default 5; 0 = every frame)")
    p.add_argument("--persons", choices=["all", "largest"], default="all")
    _face_args(p, default="base")
    p.add_argument("--segments", help="CSV of stimulus segments: name,start,end (s) for the comparison")
    p.add_argument("--store", metavar="KEY", help="keep per-viewer timelines encrypted in DIR/store instead of "
                   "Parquet: 64 hex digits, @FILE or env:NAME (needs --policy)")
    p.add_argument("--policy", help="usage policy JSON (purpose, context, contact, retention_days[, consents])")
    p.add_argument("--no-reuse", action="store_true", help="analyse every recording again")
    p.add_argument("--title", default=None, help="the report's title")
    p.add_argument("--progress", choices=["auto", "on", "off"], default="auto")
    return p


def _cmd_serve(a) -> int:
    """``cxsense serve``: checks everything first (host and token, policy, rules, store), then serves until stopped."""
    from .errors import NotAvailableError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise NotAvailableError(f"the service needs its extra: pip install 'cxsense[serve]' ({e})") from None
    from .serve import ServeConfig, run
    from .serve.config import read_store_key

    cfg = ServeConfig(host=a.host, port=a.port, token=a.token or os.environ.get("CXSENSE_TOKEN") or None,
                      max_body_mb=a.max_body_mb, rules=a.rules, policy=a.policy, workers=a.workers,
                      store=a.store, store_key=read_store_key(a.store_key_file) if a.store else None,
                      rate_limit=a.rate_limit, max_jobs=a.max_jobs, allow_origins=tuple(a.allow_origin),
                      allowed_hosts=tuple(a.allowed_host), forwarded_allow_ips=a.forwarded_allow_ips)
    cfg.check().resolve()  # refusals raise here (exit 2, or 7 for a policy), before anything listens
    for w in cfg.warnings:
        print(f"cxsense: warning: {w}", file=sys.stderr)
    run(cfg, log_level=a.log_level)
    return 0


def _face_args(p, default=None) -> None:
    p.add_argument("--face-model", choices=list(_face_models()), default=default, help="face network (small: faster)")
    p.add_argument("--face-cues", choices=["full", "refined", "fast", "off"], default="full",
                   help="face mesh: confirms faces and gives the cues (refined: a second mesh pass for small faces; "
                        "fast: no iris network; off: no mesh)")
    p.add_argument("--face-early-exit", type=_early_exit_arg, default="auto", metavar="auto|off|THRESHOLD",
                   help="base face model: auto (the model file's setting), off, or a threshold in (0, 1]: the "
                        "stage-1 network answers alone when it is at least this sure (faster)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cxsense", description="Estimate expressed emotion from face, voice and body "
                                "signals, locally.", epilog="Exit codes: 0 ok, 1 internal error, 2 bad input, 3 no "
                                "usable signal, 4 model file missing or corrupt, 5 audit log or store altered, 6 not "
                                "available, 7 refused by the usage policy.")
    p.add_argument("--version", action="version", version=f"cxsense {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    pa = sub.add_parser("assess", help="assess one moment from any subset of face, voice, physio; prints JSON")
    pa.add_argument("--face", help="image file")
    pa.add_argument("--voice", help="audio file (wav, flac, ogg, mp3 where a decoder exists)")
    pa.add_argument("--physio", help="CSV: one column per channel (ecg, ppg, eda, rsp, temp, acc_x/acc_y/acc_z), "
                    "and 'time' in s; other columns are skipped")
    pa.add_argument("--sampling-rate", type=float, default=None, help="physio CSV rate in Hz when it has no 'time' column")
    pa.add_argument("--physio-window", type=float, default=60.0,
                    help="seconds of a longer physio CSV assessed: its last N s (default 60, the model's window)")
    pa.add_argument("--no-detect-face", action="store_true", help="take the whole image as one face crop")
    pa.add_argument("--face-baseline", nargs="+", metavar="IMG", help="neutral images of the same person")
    pa.add_argument("--voice-baseline", nargs="+", metavar="AUDIO", help="recordings of the same speaker")
    _face_args(pa)
    pa.add_argument("--embeddings", action="store_true", help="include each modality's embedding in the JSON")
    pf = sub.add_parser("faces", help="one assessment per face in an image; prints JSON")
    pf.add_argument("image")
    _face_args(pf)
    pf.add_argument("--embeddings", action="store_true", help="include each face's embedding in the JSON")
    pm = sub.add_parser("models", help="list the shipped models")
    pm.add_argument("--verify", action="store_true", help="check every file's SHA-256 (exit 4 if one fails)")
    pu = sub.add_parser("audit", help="audit log tools")
    pus = pu.add_subparsers(dest="audit_command", required=True)
    pv = pus.add_parser("verify", help="check an audit log's hash chain; exit 0 if intact, 5 if broken")
    pv.add_argument("path")
    pv.add_argument("--head", default=None, help="an anchor kept elsewhere (AuditLog.head()): it must be in the chain")
    pv.add_argument("--store", default=None, metavar="DIR",
                    help="a ResultStore folder: its last audit entry, generation and record count must agree with the log")
    pv.add_argument("--key-file", default=None, metavar="FILE",
                    help="the key (32 bytes or 64 hex digits): checks the lines' HMACs and the store's state and digest")
    ps = sub.add_parser("session", help="a recorded video (and physiology) to a timeline CSV, events and an HTML report")
    ps.add_argument("video", help="video file (mp4, mkv, webm, avi, mov, ...); its audio track is the voice")
    ps.add_argument("--physio", help="CSV with a 'time' column (s) and one column per channel")
    ps.add_argument("--physio-offset", type=float, default=0.0, help="seconds added to the CSV time to align it with the video")
    ps.add_argument("--out", required=True, help="timeline CSV to write")
    ps.add_argument("--report", help="self-contained HTML report to write")
    ps.add_argument("--title", help="the report's title (default: the video's file name)")
    ps.add_argument("--events", help="events CSV to write")
    ps.add_argument("--summary", help="per-segment summary CSV to write")
    ps.add_argument("--segments", help="CSV of segments: name,start,end (s) for the summary and the report")
    ps.add_argument("--step", type=float, default=1.0, help="seconds per timeline row (default 1)")
    ps.add_argument("--fps", type=float, default=5.0, help="frames analysed per second (default 5; 0 = every frame)")
    ps.add_argument("--persons", choices=["all", "largest"], default="all")
    _face_args(ps, default="base")
    ps.add_argument("--progress", choices=["auto", "on", "off"], default="auto")
    pst = _study_parser(sub)
    pr = sub.add_parser("serve", help="a local HTTP and WebSocket service (needs cxsense[serve]); see docs/serve.md")
    pr.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; others need a token)")
    pr.add_argument("--port", type=int, default=8000)
    pr.add_argument("--token", default=None, help="required as 'Authorization: Bearer TOKEN' (default: $CXSENSE_TOKEN)")
    pr.add_argument("--max-body-mb", type=float, default=50.0, help="largest request body or WebSocket message, MiB")
    pr.add_argument("--rules", help="RULES.json: reactions evaluated on live assessments")
    pr.add_argument("--policy", help="POLICY.json: the usage policy (checked at start; its notice is shown)")
    pr.add_argument("--workers", type=int, default=2, help="threads that run assessments (default 2)")
    pr.add_argument("--store", help="folder of an encrypted result store (needs --policy and a key)")
    pr.add_argument("--store-key-file", help="the store's key: 32 bytes or 64 hex digits (default: $CXSENSE_STORE_KEY)")
    pr.add_argument("--rate-limit", type=float, default=20.0, help="requests a second per client (burst twice that; 0: off)")
    pr.add_argument("--max-jobs", type=int, default=8, help="session jobs waiting or running at most")
    pr.add_argument("--allow-origin", action="append", default=[], help="a web origin allowed to call (CORS); repeatable")
    pr.add_argument("--allowed-host", action="append", default=[], help="an extra Host name accepted (behind a proxy)")
    pr.add_argument("--forwarded-allow-ips", default=None, help="proxy addresses whose X-Forwarded-For is trusted")
    pr.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    for sp in (pa, pf, pm, pv, ps, pst):
        sp.add_argument("--indent", type=int, default=2)
    return p


COMMANDS = {"assess": "_cmd_assess", "faces": "_cmd_faces", "models": "_cmd_models", "session": "_cmd_session",
            "audit": "_cmd_audit", "serve": "_cmd_serve", "study": "_cmd_study"}


def main(argv=None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    a = _parser().parse_args(argv)
    try:
        out = globals()[COMMANDS[a.command]](a)
    except CxsenseError as e:
        code, prefix = next(((c, p) for k, c, p in EXIT_CODES if isinstance(e, k)), (1, "internal error"))
        print(f"cxsense: {prefix}: {e}", file=sys.stderr)
        return code
    if isinstance(out, int):  # a command that printed its own output (audit)
        return out
    try:
        json.dump(out, sys.stdout, indent=a.indent or None, allow_nan=False)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped reading: point stdout at /dev/null so that exit does not fail again
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
