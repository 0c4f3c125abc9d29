"""Session jobs: an uploaded video (and physiology) analysed in the background, one bounded queue.

A job's upload lies in its own private folder; the folder is removed as soon as the job ends (done, failed
or cancelled). What is kept is the result as JSON and the HTML report, in memory, until ``DELETE`` or until
``job_ttl_s`` after the job ended; with a store configured the timeline also goes to the encrypted store.
At most ``max_jobs`` jobs wait or run (one more is refused with 503 before its body is read) and at most
``max_kept`` finished jobs are held (the oldest expired ones are dropped first).
"""

from __future__ import annotations

import json
import logging
import math
import queue
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .guard import ApiError, from_exception

__all__ = ["Job", "JobManager"]

log = logging.getLogger("cxsense.serve")


class _Cancelled(Exception):
    pass


def _records(df) -> list:
    """A DataFrame as JSON records (NaN as null)."""
    return json.loads(df.to_json(orient="records", double_precision=10)) if len(df) else []


def _plain(x):
    """JSON types only: numpy scalars to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and getattr(x, "shape", None) == ():
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return str(x)


@dataclass
class Job:
    """One session job. ``status``: uploading, queued, running, done, failed or cancelled."""

    id: str
    folder: Path
    created: float = field(default_factory=time.time)
    status: str = "uploading"
    progress: float = 0.0
    started: float | None = None
    ended: float | None = None
    error: dict | None = None
    result: dict | None = None
    report: str | None = None
    cancel: bool = False
    args: dict = field(default_factory=dict)

    def view(self) -> dict:
        out = {"id": self.id, "status": self.status, "progress": round(self.progress, 4),
               "created": self.created, "started": self.started, "ended": self.ended}
        if self.error is not None:
            out["error"] = self.error
        if self.result is not None:
            out.update(self.result)
        return out


class JobManager:
    """The queue, the worker thread and the kept results of session jobs (see the module docstring)."""

    def __init__(self, svc):
        self.svc = svc
        self.cfg = svc.config
        self.jobs: dict[str, Job] = {}
        self._q: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="cxsense-sessions", daemon=True)
        self._thread.start()

    def counts(self) -> dict:
        with self._lock:
            out: dict[str, int] = {}
            for j in self.jobs.values():
                out[j.status] = out.get(j.status, 0) + 1
        return out

    def _expire(self) -> None:
        now = time.time()
        with self._lock:
            gone = [j for j in self.jobs.values() if j.ended is not None and now - j.ended > self.cfg.job_ttl_s]
            for j in gone:
                del self.jobs[j.id]
        for j in gone:
            self._forget_stored(j.id)

    def reserve(self) -> Job:
        """A new job in a fresh private folder, or 503 when the queue or the kept results are full."""
        self._expire()
        with self._lock:
            active = sum(j.status in ("uploading", "queued", "running") for j in self.jobs.values())
            if active >= self.cfg.max_jobs:
                raise ApiError(503, "Busy", f"{active} session jobs are waiting or running (--max-jobs "
                               f"{self.cfg.max_jobs}); retry later", headers={"Retry-After": "10"})
            ended = sorted((j for j in self.jobs.values() if j.ended is not None), key=lambda j: j.ended)
            if len(ended) >= self.cfg.max_kept:
                raise ApiError(503, "Busy", f"{len(ended)} finished jobs are kept; DELETE some or wait "
                               f"{self.cfg.job_ttl_s:g} s after they ended", headers={"Retry-After": "60"})
            job = Job(id=secrets.token_urlsafe(12), folder=Path(tempfile.mkdtemp(prefix="job-", dir=self.svc.tmp)))
            self.jobs[job.id] = job
        return job

    def start(self, job: Job, video: Path, physio: Path | None, options: dict) -> None:
        job.args = {"video": video, "physio": physio, "options": options}
        job.status = "queued"
        self._q.put(job.id)

    def abandon(self, job: Job) -> None:
        """Forget a job whose upload failed."""
        with self._lock:
            self.jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def get(self, job_id: str) -> Job:
        self._expire()
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NotFound", "no session job with this id (never made, deleted or expired)", "id")
        return job

    def delete(self, job_id: str) -> Job:
        """Cancel a waiting or running job and remove everything kept for it (files, results, stored records)."""
        job = self.get(job_id)
        job.cancel = True
        with self._lock:
            self.jobs.pop(job_id, None)
        if job.status not in ("running",):
            shutil.rmtree(job.folder, ignore_errors=True)  # a running job removes its own folder when it stops
        job.result = job.report = None
        self._forget_stored(job_id)
        return job

    def _forget_stored(self, job_id: str) -> None:
        if self.svc.store is not None:
            try:
                self.svc.store.delete_session(job_id)
            except Exception:  # noqa: BLE001 - logged; the job is forgotten either way
                log.exception("could not delete stored records of job %s", job_id)

    # -- the worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job_id = self._q.get()
            if job_id is None:
                return
            with self._lock:
                job = self.jobs.get(job_id)
            if job is None or job.cancel:
                continue
            try:
                self._run(job)
            finally:
                shutil.rmtree(job.folder, ignore_errors=True)
                job.args = {}

    def _run(self, job: Job) -> None:
        from ..session import analyze_session

        job.status, job.started = "running", time.time()
        deadline = time.monotonic() + self.cfg.job_timeout_s

        def progress(done: float, total: float) -> None:
            if job.cancel or self._closed:
                raise _Cancelled()
            if time.monotonic() > deadline:
                raise ApiError(503, "Timeout", f"the analysis took longer than {self.cfg.job_timeout_s:g} s")
            if total and total > 0:
                job.progress = min(max(done / total, 0.0), 1.0)

        a = job.args
        try:
            s = analyze_session(str(a["video"]), physio=None if a["physio"] is None else str(a["physio"]),
                                progress=progress, **a["options"])
            report_path = job.folder / "report.html"
            s.report(report_path, title="cxsense session report")
            result = {"timeline": _records(s.timeline), "events": _records(s.events),
                      "summary": _records(s.summary()), "info": _plain(dict(s.info))}
            result["info"].pop("video", None)  # the private file's path says nothing to the client
            if self.svc.store is not None:
                self.svc.store.put(result["timeline"], session_id=job.id, person_id=0)
            job.report = report_path.read_text(encoding="utf-8").replace(str(job.folder), "upload")
            job.result, job.progress, job.status = result, 1.0, "done"
        except _Cancelled:
            job.status = "cancelled"
        except Exception as e:  # noqa: BLE001 - every failure becomes the job's error, never the thread's end
            err = from_exception(e, scrub=str(job.folder))
            job.status, job.error = "failed", {**err.body(), "status": err.status}
        finally:
            job.ended = time.time()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for j in self.jobs.values():
                j.cancel = True
        self._q.put(None)
        self._thread.join(timeout=10)
