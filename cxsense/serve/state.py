"""The running server's state: its private folder, the compute threads, the rules, the policy, the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .config import ServeConfig, default_policy
from .guard import ApiError, GuardMiddleware

__all__ = ["Service", "assessment_json", "rss_mb"]

log = logging.getLogger("cxsense.serve")


def assessment_json(a, embeddings: bool = False) -> dict:
    """``Assessment.to_dict()`` without the modalities' ``embedding`` unless ``embeddings`` is true."""
    import inspect

    if "embeddings" in inspect.signature(a.to_dict).parameters:
        return a.to_dict(embeddings=embeddings)
    d = a.to_dict()
    if not embeddings:
        for m in d.get("modalities", {}).values():
            m.pop("embedding", None)
    return d


def rss_mb() -> float | None:
    """This process's resident memory in MiB (Linux), or None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


class Service:
    """Made when the app starts (its lifespan), closed when it stops; ``app.state.svc``."""

    def __init__(self, config: ServeConfig):
        from ..governance import AuditLog, ResultStore, notice_text

        self.config = config.resolve()
        self.policy = default_policy(config.job_ttl_s) if config.policy is None else config.policy.check()
        self.notice = notice_text(self.policy)
        self.rules = config.rules
        self.store = None
        if config.store is not None:
            folder = Path(config.store)
            self.store = ResultStore(folder, config.store_key, self.policy,
                                     audit=AuditLog(folder.parent / (folder.name + "-audit.jsonl")))
            self.store.purge_expired()
        self.tmp = Path(tempfile.mkdtemp(prefix="cxsense-serve-", dir=config.tmp_dir))  # mode 0700
        self.pool = ThreadPoolExecutor(config.workers, thread_name_prefix="cxsense-compute")
        self._pending = 0
        self._lock = threading.Lock()
        self.live: dict[str, int] = {}
        self.guard = GuardMiddleware(None, config)  # the same checks for WebSocket handshakes
        self.stats = {"assess": 0, "faces": 0, "busy": 0, "live_connections": 0, "frames_dropped": 0}
        from .jobs import JobManager

        self.jobs = JobManager(self)
        self.warm = False
        self.pool.submit(self._warm_up)

    def _warm_up(self) -> None:
        """Load the face and voice models before the first request needs them (errors surface on that request);
        ``warm`` in ``/v1/status`` says when it is done."""
        import cxsense

        try:
            cxsense.warm_up("face", "voice")
        except Exception:  # noqa: BLE001 - a failure here is reported by the request that meets it
            pass
        self.warm = True

    # -- compute --------------------------------------------------------------------------------
    async def run(self, fn, *args, admit: bool = True, **kwargs):
        """Run ``fn`` on a compute thread. With ``admit``, at most ``max_pending`` such calls wait or run:
        one more is refused with 503 (Retry-After 1)."""
        if admit:
            with self._lock:
                if self._pending >= self.config.max_pending:
                    self.stats["busy"] += 1
                    raise ApiError(503, "Busy", f"{self._pending} assessments are queued or running; retry shortly",
                                   headers={"Retry-After": "1"})
                self._pending += 1
        try:
            return await asyncio.wrap_future(self.pool.submit(fn, *args, **kwargs))
        finally:
            if admit:
                with self._lock:
                    self._pending -= 1

    @contextlib.contextmanager
    def workdir(self):
        """A fresh private folder for one request, removed afterwards whatever happens."""
        d = Path(tempfile.mkdtemp(prefix="req-", dir=self.tmp))
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # -- live connections -------------------------------------------------------------------------
    def live_enter(self, client: str) -> ApiError | None:
        with self._lock:
            total = sum(self.live.values())
            if total >= self.config.live_max:
                return ApiError(503, "Busy", f"{total} live connections already (--live-max)")
            if self.live.get(client, 0) >= self.config.live_per_client:
                return ApiError(429, "RateLimited", f"at most {self.config.live_per_client} live connections per client")
            self.live[client] = self.live.get(client, 0) + 1
            self.stats["live_connections"] += 1
        return None

    def live_exit(self, client: str) -> None:
        with self._lock:
            n = self.live.get(client, 0) - 1
            if n > 0:
                self.live[client] = n
            else:
                self.live.pop(client, None)

    def store_put(self, result, session_id: str) -> str | None:
        """Keep a result in the encrypted store when one is configured (on a compute thread)."""
        if self.store is None:
            return None
        return self.store.put(result, session_id=session_id, person_id=0)

    def status(self) -> dict:
        with self._lock:
            pending, live = self._pending, sum(self.live.values())
        return {"warm": self.warm, "pending": pending, "max_pending": self.config.max_pending, "live": live, **self.stats,
                "jobs": self.jobs.counts(), "rss_mb": rss_mb(),
                "webhooks": dict(self.rules.sender.stats) if self.rules is not None and self.rules._sender else None,
                "store": self.store is not None, "rules": self.rules.names if self.rules is not None else []}

    def close(self) -> None:
        self.jobs.close()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.rules is not None:
            self.rules.close(timeout=2.0)
        if self.store is not None:
            self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
