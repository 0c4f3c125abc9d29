"""Engines that analyse a study's recordings: ``local`` (a process pool) and ``ray`` (actors on a Ray cluster).

Both run :func:`analyze_job` on each job and give the results to a callback as they finish, in whatever
order they finish (the study's outputs do not depend on it: the aggregation reads the stored timelines back in
the manifest's order). A job's failure (any exception inside the analysis) is a result with status
``failed`` and its reason. A worker that dies (out of memory, a crash in a native library) is replaced: in the
local pool, the jobs that were in flight then run one at a time, so that only the one that kills its worker
alone is reported failed; a Ray actor runs one job at a time, and its job is tried once more on a new actor.
Nothing here stops a study because of one recording.

- ``local``: ``workers`` processes (``spawn``), each loading the encoders once in its initializer and using
  ``cpu_count // workers`` torch threads; ``workers=0`` analyses in this process (for debugging).
- ``ray``: one actor per worker (``num_cpus=cpus_per_worker``), each holding the encoders; on the cluster
  at ``address`` (``ray.init(address=...)``), on a Ray already initialised by the caller, or on a local Ray
  started for the run (loopback only, no dashboard, usage statistics off) and shut down after it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Callable

from ..errors import InputError

__all__ = ["analyze_job", "run_local", "run_ray", "start_local_ray", "ENGINES"]

ENGINES = ("local", "ray")
_ATTEMPTS = 2  # a job whose worker died is tried once more


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` (Linux; unlike ``ru_maxrss`` it does not carry the
    parent's peak over fork and exec), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    import sys

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def _warm(options: dict, threads: int | None) -> None:
    """Set torch threads and load the encoders and the fusion once, in this worker process."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    from ..api import warm_up
    from ..fusion import get_fusion

    warm_up("face", "voice", face_model=options.get("face_model", "base"),
            face_early_exit=options.get("face_early_exit", "auto"))
    get_fusion()


def models_fingerprint(models: dict | None = None) -> str:
    """SHA-256 of every registered model's name, version and SHA-256 (this process's registry by default)."""
    import hashlib
    import json

    from .. import registry

    models = registry.list_models() if models is None else models
    doc = {k: [v.get("version"), v.get("sha256")] for k, v in sorted(models.items())}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def analyze_job(job: dict, analyzer: Callable | None = None) -> dict:
    """Analyse one recording; never raises for a bad recording.

    Parameters
    ----------
    job : dict
        ``index``, ``path`` (the video), ``physio`` (a CSV path or None), ``physio_offset`` (s), ``options``
        (keyword arguments of :func:`cxsense.analyze_session`) and ``models`` (the driver's
        :func:`models_fingerprint`: a worker whose models differ, e.g. another cxsense version on a cluster
        node, refuses the job, since the reuse key would name models it did not use).
    analyzer : callable ``job -> (timeline DataFrame, info dict)``, optional
        Replaces :func:`cxsense.analyze_session` (benchmarks use it to time the study machinery alone).

    Returns
    -------
    dict with ``index``, ``status`` (``"ok"`` or ``"failed"``), ``reason``, ``timeline`` (DataFrame or None),
    ``duration_s``, ``analysis_s`` (wall), ``cpu_s`` (CPU seconds of the worker process, all its threads), ``pid``
    and ``rss_mb`` (the worker's peak resident memory).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    out = {"index": job["index"], "status": "ok", "reason": "", "timeline": None, "duration_s": 0.0}
    try:
        if job.get("models") and job["models"] != models_fingerprint():
            raise RuntimeError("this worker's models (name, version, SHA-256) differ from the driver's: install the "
                               "same cxsense on every node")
        if analyzer is not None:
            tl, info = analyzer(job)
        else:
            from ..session import analyze_session

            s = analyze_session(job["path"], physio=job.get("physio"), physio_offset=job.get("physio_offset", 0.0),
                                **job["options"])
            tl, info = s.timeline, s.info
        out["timeline"] = tl
        out["duration_s"] = float(info.get("duration_s") or 0.0)
        if len(tl) == 0:
            out.update(status="failed", reason="the analysis gave no timeline rows", timeline=None)
    except Exception as e:  # noqa: BLE001 - one bad recording must never stop a study
        out.update(status="failed", reason=f"{type(e).__name__}: {e}"[:500], timeline=None)
    out.update(analysis_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0, pid=os.getpid(),
               rss_mb=peak_rss_mb())
    return out


def _died(job: dict, what: str) -> dict:
    return {"index": job["index"], "status": "failed", "timeline": None, "duration_s": 0.0, "analysis_s": 0.0,
            "cpu_s": 0.0,
            "reason": f"{what} died while analysing it (out of memory or a crash in a native library)",
            "pid": None, "rss_mb": None}


# ----------------------------------------------------------------------------------------------- local
def _init_worker(options: dict, threads: int, warm: bool) -> None:
    if warm:
        _warm(options, threads)
    elif threads:
        import torch

        torch.set_num_threads(int(threads))


def run_local(jobs: list[dict], on_result: Callable[[dict], None], *, workers: int, options: dict,
              analyzer: Callable | None = None) -> dict:
    """Run ``jobs`` on a local process pool of ``workers`` (0: in this process); return engine info."""
    if workers == 0:
        for job in jobs:
            on_result(analyze_job(job, analyzer))
        return {"engine": "local", "workers": 0, "pool_restarts": 0}
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    queue = deque(jobs)
    suspects: deque = deque()  # jobs in flight when a worker died: each runs alone next, to find the culprit
    restarts = 0

    def new_pool():
        return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(options, threads, analyzer is None))

    pool = new_pool()
    pending: dict = {}
    try:
        while queue or suspects or pending:
            broken = False
            try:  # a job leaves its deque only once the pool took it
                if suspects:
                    if not pending:
                        future = pool.submit(analyze_job, suspects[0], analyzer)
                        pending[future] = (suspects.popleft(), True)
                else:
                    while queue and len(pending) < 2 * workers:
                        future = pool.submit(analyze_job, queue[0], analyzer)
                        pending[future] = (queue.popleft(), False)
            except BrokenProcessPool:  # a worker died after the last wait: the pool refuses new jobs
                broken = True
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for f in done:
                job, alone = pending.pop(f)
                try:
                    on_result(f.result())
                except BrokenProcessPool:
                    broken = True
                    if alone:
                        on_result(_died(job, "a worker process"))
                    else:
                        suspects.append(job)
            if broken:  # every job still pending in the broken pool is lost too
                suspects.extend(job for job, _ in pending.values())
                suspects = deque(sorted(suspects, key=lambda j: j["index"]))
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                restarts += 1
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {"engine": "local", "workers": workers, "torch_threads": threads, "pool_restarts": restarts}


# ------------------------------------------------------------------------------------------------- ray
class StudyWorker:
    """A Ray actor's state: the encoders, loaded once when the actor starts."""

    def __init__(self, options: dict, threads: int, warm: bool):
        _init_worker(options, threads, warm)

    def run(self, job: dict, analyzer: Callable | None = None) -> dict:
        return analyze_job(job, analyzer)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError("engine", "'local', or 'ray' with Ray installed (pip install \"cxsense[ray]\")",
                         "'ray' without the ray package") from None
    return ray


def start_local_ray(num_cpus: int | None = None):
    """Start a local Ray for this process: loopback only, no dashboard, no usage statistics, quiet.

    Returns the ``ray`` module. Ray chooses the node address at import time from its environment; where
    ``ray`` was imported before this call, its loopback switch is set on the module as well.
    """
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray's "single machine" mode: it binds 127.0.0.1
    ray = _import_ray()
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):  # pragma: no cover - another Ray layout
        pass
    ray.init(num_cpus=int(num_cpus or os.cpu_count() or 1), include_dashboard=False,
             _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    return ray


def run_ray(jobs: list[dict], on_result: Callable[[dict], None], *, workers: int | None, options: dict,
            address: str | None = None, cpus_per_worker: float = 1.0, analyzer: Callable | None = None) -> dict:
    """Run ``jobs`` on Ray actors (see the module docstring); return engine info."""
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        if address:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError("ray_address", "the address of a running Ray cluster (ray://host:10001 or host:6379)",
                                 f"{address!r} ({type(e).__name__}: {str(e)[:200]})") from None
        else:
            start_local_ray(workers)
        started = True
    try:
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        n = int(workers or max(1, int(cpus // cpus_per_worker)))
        n = max(1, min(n, len(jobs))) if jobs else 1
        threads = max(1, int(cpus_per_worker))
        Actor = ray.remote(num_cpus=cpus_per_worker)(StudyWorker)
        warm = analyzer is None

        def new_actor():
            return Actor.remote(options, threads, warm)

        idle = [new_actor() for _ in range(n)]
        queue = deque((job, 0) for job in jobs)
        running: dict = {}
        replaced = 0
        analyzer_ref = ray.put(analyzer) if analyzer is not None else None
        while queue or running:
            while queue and idle:
                job, tries = queue.popleft()
                actor = idle.pop()
                running[actor.run.remote(job, analyzer_ref)] = (actor, job, tries)
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                actor, job, tries = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError:  # the actor died (its process, or its node)
                    ray.kill(actor, no_restart=True)
                    idle.append(new_actor())
                    replaced += 1
                    if tries + 1 < _ATTEMPTS:
                        queue.appendleft((job, tries + 1))
                    else:
                        on_result(_died(job, "a Ray worker"))
                    continue
                idle.append(actor)
                on_result(result)
        for actor in idle:
            ray.kill(actor, no_restart=True)
        info = {"engine": "ray", "workers": n, "cpus_per_worker": cpus_per_worker, "cluster_cpus": cpus,
                "actors_replaced": replaced, "ray_started_here": started, "ray_version": ray.__version__}
    finally:
        if started:
            ray.shutdown()
    return info
