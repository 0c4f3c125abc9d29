"""``analyze_study``: the orchestration of a study (checks, reuse, engine, storage, aggregation, outputs).

Order of work: every option, the usage policy and the output folder are checked first; then the manifest
(columns, duplicates, readable paths) and, where the policy lists consents, every viewer's consent; only then
are recordings read (hashed for the reuse key, then analysed). Each finished timeline is stored at once, so a
stop loses at most the recordings in progress. The outputs are then computed in one pass over the stored
timelines in the manifest's order (one viewer in memory at a time).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, PolicyError
from .aggregate import INTERVAL, Aggregator, measures_of, viewer_steps
from .compare import SegmentMeans, compare_variants
from .engines import ENGINES, models_fingerprint, run_local, run_ray
from .manifest import read_manifest
from .moments import MomentCounter
from .progress import StudyProgress
from .storage import ParquetSink, StoreSink, analysis_key, decorate, file_sha256, row_name

__all__ = ["analyze_study", "Study", "RECORDING_COLUMNS"]

#: Columns of ``recordings.csv``.
RECORDING_COLUMNS = ["recording", "viewer", "variant", "status", "reason", "seconds", "analysis_seconds"]
COMPARE_METHOD = ("Per segment and measure, each viewer's mean over the segment's steps; differences b - a with "
                  "a 95% t interval; a paired t-test when both variants hold the same viewers, else Welch's t-test "
                  "(viewers as the unit); p_holm: Holm-adjusted over all rows.")
MOMENTS_METHOD = ("A moment is a step where at least 2 viewers and 25% of the viewers watching react with the same "
                  "kind of event (onset, peak, stress rise, attention loss) within the tolerance, at least twice "
                  "the share expected by chance, and the reactions concentrate there.")
_FLOAT = "%.8g"


@dataclass
class Study:
    """The outcome of :func:`analyze_study` (all tables are also in the output folder).

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    recordings : pandas.DataFrame
        ``recordings.csv``: columns :data:`RECORDING_COLUMNS`, in the manifest's order.
    aggregate, moments : pandas.DataFrame
        ``aggregate.csv`` and ``moments.csv``.
    compare : pandas.DataFrame or None
        ``compare.csv`` (None with one variant).
    info : dict
        Options, engine, models, methods, counts and timings (also ``study.json``).
    """

    out: Path
    recordings: object
    aggregate: object
    moments: object
    compare: object
    info: dict = field(default_factory=dict)
    _sink: object = field(default=None, repr=False)
    _names: list = field(default_factory=list, repr=False)

    def timelines(self):
        """Every stored per-viewer timeline as one DataFrame (decrypted, where the store holds them)."""
        import pandas as pd

        if isinstance(self._sink, ParquetSink):
            return pd.read_parquet(self.out / "timelines") if self._names else pd.DataFrame()
        frames = [self._sink.read(n)[0] for n in self._names]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def report(self, path=None, title: str | None = None) -> None:
        """Write the HTML report (default ``out/report.html``)."""
        from .report import write_study_report

        write_study_report(self, path or self.out / "report.html", title=title)


def _check_options(engine, ray_address, workers, ray_cpus_per_worker, tolerance, min_share, min_viewers) -> None:
    if engine not in ENGINES:
        raise InputError("engine", "'local' or 'ray'", repr(engine))
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < (0 if engine == "local" else 1)):
        raise InputError("workers", "None or a whole number >= 0 (local; 0: in this process) or >= 1 (ray)",
                         repr(workers))
    if ray_address is not None and (engine != "ray" or not isinstance(ray_address, str) or not ray_address):
        raise InputError("ray_address", "a cluster address, with engine='ray'", f"{ray_address!r} (engine {engine!r})")
    for name, v, lo, hi in (("ray_cpus_per_worker", ray_cpus_per_worker, 0.01, 1024), ("tolerance", tolerance, 0, 60),
                            ("min_share", min_share, 0.0, 1.0), ("min_viewers", min_viewers, 1, 1e9)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise InputError(name, f"a number in [{lo}, {hi}]", repr(v))


def _check_session_options(options: dict) -> None:
    """Check the analysis options as ``analyze_session`` does (its settings object), before any recording is read."""
    from ..options import FaceOptions
    from ..session import SessionSettings

    SessionSettings(step=options["step"], fps=options["fps"], persons=options["persons"],
                    face=FaceOptions(model=options["face_model"], early_exit=options["face_early_exit"],
                                     cues=options["face_cues"]))


def _store_sink(store, policy):
    from ..governance import ResultStore, UsagePolicy

    if policy is not None and not isinstance(policy, UsagePolicy):
        raise InputError("policy", "a cxsense.governance.UsagePolicy or None", type(policy).__name__)
    if policy is not None:
        policy.check()
    if store is None:
        return None, policy
    if isinstance(store, ResultStore):
        return StoreSink(store, own=False), policy or store.policy
    if isinstance(store, (bytes, bytearray)):
        if policy is None:
            raise InputError("policy", "a UsagePolicy when store is a key (the store needs its retention)", "None")
        return "key", policy
    raise InputError("store", "None, a cxsense.governance.ResultStore, or its 32-byte key", type(store).__name__)


def _check_consent(recs, policy) -> None:
    if policy is None or not policy.consents:
        return
    for r in recs:
        if policy.consent_for(r.viewer) is None:
            raise PolicyError(f"manifest row {r.row}, column 'viewer': the usage policy lists consents, and viewer "
                              f"{r.viewer!r} has no active one; remove the row or record the consent")


def _out_dir(out) -> Path:
    if not isinstance(out, (str, os.PathLike)):
        raise InputError("out", "a folder path", type(out).__name__)
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError("out", "a folder (created if missing; its parent must exist)", f"{os.fspath(out)!r} (a file)")
    if not p.exists() and not p.resolve().parent.is_dir():
        raise InputError("out", "a folder whose parent exists", repr(os.fspath(out)))
    p.mkdir(exist_ok=True)
    if not os.access(p, os.W_OK):
        raise InputError("out", "a writable folder", repr(os.fspath(out)))
    return p


def _write_csv(df, path: Path) -> None:
    tmp = path.with_name(f"_tmp-{path.name}")
    df.to_csv(tmp, index=False, float_format=_FLOAT)
    os.replace(tmp, path)


def analyze_study(manifest, out, *, engine: str = "local", ray_address: str | None = None, workers: int | None = None,
                  step: float = 1.0, fps: float = 5.0, persons: str = "all", face_model: str = "base",
                  face_early_exit="auto", face_cues: str = "full", segments=None, store=None, policy=None,
                  reuse: bool = True,
                  progress=None, ray_cpus_per_worker: float = 1.0, tolerance: float = 1.0, min_share: float = 0.25,
                  min_viewers: int = 2, analyzer=None, title: str | None = None) -> Study:
    """Analyse every recording of a study and aggregate them (see docs/study.md).

    Parameters
    ----------
    manifest : str, os.PathLike, pandas.DataFrame or list of dict
        See :mod:`cxsense.study.manifest`: ``recording``, ``viewer``, optional ``variant``, ``physio``,
        ``physio_offset``, ``stimulus_offset``.
    out : str or os.PathLike
        The output folder (created if missing). A folder of an earlier run is reused.
    engine : {"local", "ray"}
    ray_address : str, optional
        An existing Ray cluster (``engine="ray"``); without it a Ray already initialised by the caller is used,
        else a local one is started for the run (loopback only) and stopped after it.
    workers : int, optional
        Local: worker processes (default: the CPU count; 0: in this process). Ray: actors (default: the
        cluster's CPUs over ``ray_cpus_per_worker``).
    step, fps, persons, face_model, face_early_exit, face_cues
        As for :func:`cxsense.analyze_session` (one timeline row per ``step`` seconds).
    segments : list of (name, start_s, end_s), a DataFrame or a CSV path (``name,start,end``), optional
        Segments of the stimulus (stimulus time) for the comparison; default one segment ``"all"``.
    store : cxsense.governance.ResultStore, or a 32-byte key, optional
        Keep per-viewer timelines in the encrypted store (a key: ``out/store``, with ``policy``) instead of
        Parquet. Aggregates (no per-viewer rows) stay plain.
    policy : cxsense.governance.UsagePolicy, optional
        Checked before any recording is read; where it lists consents, every viewer needs an active one.
    reuse : bool, default True
        Reuse stored timelines whose video, physiology, options and model versions are unchanged.
    progress : bool or callable, optional
        True: a bar on stderr; a callable receives a dict (``done, failed, reused, total, elapsed_s, eta_s``).
    ray_cpus_per_worker : float, default 1
    tolerance, min_share, min_viewers : key moments (:mod:`cxsense.study.moments`).
    analyzer : callable ``job -> (timeline, info)``, optional
        Replaces ``analyze_session`` (picklable; for benchmarks of the study machinery without video).
    title : str, optional
        The report's title.

    Returns
    -------
    Study

    Raises
    ------
    InputError
        Bad options, an unusable output folder, a bad manifest (naming row and column).
    PolicyError
        A policy for a banned use, or a viewer without consent where the policy lists consents.
    """
    t_start = time.perf_counter()
    _check_options(engine, ray_address, workers, ray_cpus_per_worker, tolerance, min_share, min_viewers)
    options = {"step": step, "fps": fps, "persons": persons, "face_model": face_model,
               "face_early_exit": face_early_exit, "face_cues": face_cues}
    if analyzer is None:
        _check_session_options(options)
    elif not callable(analyzer):
        raise InputError("analyzer", "None or a callable job -> (timeline, info)", type(analyzer).__name__)
    from ..session.events import parse_segments

    segs = parse_segments(segments) if segments is not None else [("all", 0.0, math.inf)]
    sink, policy = _store_sink(store, policy)
    outp = _out_dir(out)
    recs = read_manifest(manifest)
    _check_consent(recs, policy)
    if sink == "key":
        from ..governance import ResultStore

        sink = StoreSink(ResultStore(outp / "store", bytes(store), policy), own=True)
    sink = sink or ParquetSink(outp / "timelines")

    from ..registry import list_models
    from ..session import TIMELINE_COLUMNS

    t0 = time.perf_counter()
    models = list_models()
    fingerprint = models_fingerprint(models)
    an_id = "cxsense.analyze_session" if analyzer is None else f"{analyzer.__module__}.{analyzer.__qualname__}"
    from concurrent.futures import ThreadPoolExecutor

    paths = list(dict.fromkeys(r.path for r in recs))
    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:  # hashlib releases the GIL; storage may be remote
        hashes = dict(zip(paths, pool.map(file_sha256, paths)))
    keys, names = [], []
    for r in recs:
        keys.append(analysis_key(r, options, models, TIMELINE_COLUMNS, an_id, hashes[r.path]))
        names.append(row_name(keys[-1], r))
    hash_s = time.perf_counter() - t0

    rows = [{"recording": r.recording, "viewer": r.viewer, "variant": r.variant, "status": "", "reason": "",
             "seconds": 0.0, "analysis_seconds": 0.0} for r in recs]
    stored = sink.names() if reuse else set()
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(recs):
        if names[i] in stored:
            meta = sink.meta(names[i])
            if any(meta.get(k) != v for k, v in _meta(r, keys[i]).items()):  # a relabel only, no analysis
                sink.write(names[i], decorate(sink.read(names[i])[0], r), {**meta, **_meta(r, keys[i])})
            rows[i].update(status="reused", seconds=float(meta.get("duration_s", 0.0)),
                           analysis_seconds=float(meta.get("analysis_s", 0.0)))
        else:
            groups.setdefault(keys[i], []).append(i)  # identical inputs are analysed once
    bar = StudyProgress(len(recs), reused=sum(r["status"] == "reused" for r in rows), enabled=progress is True,
                        callback=progress if callable(progress) else None)
    jobs = [{"index": idx[0], "path": recs[idx[0]].path, "physio": recs[idx[0]].physio,
             "physio_offset": recs[idx[0]].physio_offset, "options": options, "models": fingerprint}
            for idx in groups.values()]
    by_first = {idx[0]: idx for idx in groups.values()}
    workers_seen: dict = {}
    cpu = {"cpu_s": 0.0, "video_s": 0.0}

    def on_result(res: dict) -> None:
        if res.get("pid") is not None:
            workers_seen[res["pid"]] = max(workers_seen.get(res["pid"], 0.0), res.get("rss_mb") or 0.0)
        cpu["cpu_s"] += float(res.get("cpu_s") or 0.0)
        cpu["video_s"] += float(res["duration_s"]) if res["status"] == "ok" else 0.0
        for i in by_first[res["index"]]:
            if res["status"] == "ok":
                meta = {**_meta(recs[i], keys[i]), "duration_s": res["duration_s"], "analysis_s": res["analysis_s"]}
                sink.write(names[i], decorate(res["timeline"], recs[i]), meta)
            rows[i].update(status=res["status"], reason=res["reason"], seconds=float(res["duration_s"]),
                           analysis_seconds=float(res["analysis_s"]))
            bar.update(res["status"])

    t0 = time.perf_counter()
    try:
        if not jobs:
            eng = {"engine": engine, "workers": 0, "note": "every recording was reused: nothing to analyse"}
        elif engine == "local":
            n = (os.cpu_count() or 1) if workers is None else workers
            eng = run_local(jobs, on_result, workers=min(n, len(jobs)), options=options,
                            analyzer=analyzer)
        else:
            eng = run_ray(jobs, on_result, workers=workers, options=options, address=ray_address,
                          cpus_per_worker=ray_cpus_per_worker, analyzer=analyzer)
    finally:
        bar.close()
    analysis_s = time.perf_counter() - t0
    keep = {names[i] for i, r in enumerate(rows) if r["status"] in ("ok", "reused")}
    pruned = sink.prune(keep)

    import pandas as pd

    recordings = pd.DataFrame(rows, columns=RECORDING_COLUMNS)
    _write_csv(recordings, outp / "recordings.csv")
    t0 = time.perf_counter()
    agg, mom, seg_means, measures = _aggregate_pass(recs, rows, names, sink, step, segs, tolerance, min_share,
                                                    min_viewers)
    aggregate = agg.table() if agg else Aggregator(measures_of(TIMELINE_COLUMNS), step).table()
    moments = mom.table(aggregate) if mom else MomentCounter(step).table(aggregate)
    if segments is None and len(aggregate):
        segs = [("all", 0.0, float(aggregate["stimulus_time"].max() + step))]
    means = seg_means.frame() if seg_means else None
    compare = (compare_variants(means, segs) if means is not None and means["variant"].nunique() >= 2 else None)
    aggregate_s = time.perf_counter() - t0
    _write_csv(aggregate, outp / "aggregate.csv")
    _write_csv(moments, outp / "moments.csv")
    if compare is not None:
        _write_csv(compare, outp / "compare.csv")
    elif (outp / "compare.csv").exists():
        (outp / "compare.csv").unlink()  # from an earlier run with more variants
    counts = recordings["status"].value_counts().to_dict()
    info = {
        "manifest": os.fspath(manifest) if isinstance(manifest, (str, os.PathLike)) else "(in memory)",
        "out": str(outp), "options": options, "segments": [[s[0], s[1], s[2] if math.isfinite(s[2]) else None] for s in segs],
        "segments_given": segments is not None, "engine": eng, "timelines": sink.describe(),
        "counts": {k: int(counts.get(k, 0)) for k in ("ok", "reused", "failed")}, "recordings": len(recs),
        "analysed_jobs": len(jobs), "measures": measures, "interval": INTERVAL, "compare_method": COMPARE_METHOD,
        "moments_method": MOMENTS_METHOD, "moments": {"tolerance_s": tolerance, "min_share": min_share,
                                                      "min_viewers": min_viewers},
        "models": {k: v.get("version") for k, v in models.items()}, "pruned_timelines": pruned,
        "worker_peak_rss_mb": sorted(workers_seen.values()), "worker_cpu_s": cpu["cpu_s"],
        "analysed_video_s": cpu["video_s"],
        "timings_s": {"hash": hash_s, "analysis": analysis_s, "aggregate": aggregate_s},
        "policy": policy.summary() if policy is not None else None,
    }
    study = Study(out=outp, recordings=recordings, aggregate=aggregate, moments=moments, compare=compare, info=info,
                  _sink=sink, _names=[names[i] for i, r in enumerate(rows) if r["status"] in ("ok", "reused")])
    t0 = time.perf_counter()
    study.report(title=title)
    info["timings_s"]["report"] = time.perf_counter() - t0
    info["timings_s"]["total"] = time.perf_counter() - t_start
    with open(outp / "study.json", "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, default=str)
    return study


def _meta(rec, key: str) -> dict:
    return {"key": key, "recording": rec.recording, "viewer": rec.viewer, "variant": rec.variant,
            "stimulus_offset": rec.stimulus_offset}


def _aggregate_pass(recs, rows, names, sink, step, segs, tolerance, min_share, min_viewers):
    """One pass over the stored timelines, in the manifest's order: aggregate, moments and segment means."""
    from ..session.events import detect_events

    agg = mom = seg = None
    measures: list[str] = []
    for i, r in enumerate(recs):
        if rows[i]["status"] not in ("ok", "reused"):
            continue
        tl, _ = sink.read(names[i])
        if agg is None:
            measures = measures_of(tl.columns)
            agg = Aggregator(measures, step)
            mom = MomentCounter(step, tolerance=tolerance, min_share=min_share, min_viewers=min_viewers)
            seg = SegmentMeans(segs, measures, step)
        vs = viewer_steps(tl, r.stimulus_offset, step, measures)
        agg.add(r.variant, vs)
        gaze = vs["values"][:, measures.index("gaze_on_camera")] if "gaze_on_camera" in measures else None
        mom.add(r.variant, vs, detect_events(tl), r.stimulus_offset, gaze=gaze)
        seg.add(r.variant, r.viewer, vs)
    return agg, mom, seg, measures
