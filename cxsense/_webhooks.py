"""Webhooks for :mod:`cxsense.rules`: checked at load, POSTed from one background thread, bounded in time."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Mapping

from ._version import __version__
from .errors import InputError

__all__ = ["WebhookSender", "check_webhook"]

log = logging.getLogger("cxsense.rules")


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def check_webhook(w, where: str) -> dict:
    """A rule's ``then.webhook`` (a URL or ``{url, timeout_s, retries, headers}``) checked and completed with its
    defaults (timeout 2 s, 2 retries); ``where`` names it in errors."""
    w = {"url": w} if isinstance(w, str) else w
    if not isinstance(w, Mapping) or set(w) - {"url", "timeout_s", "retries", "headers"}:
        raise InputError(where, "a URL or {url, timeout_s, retries, headers}", repr(w)[:100])
    url = w.get("url")
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{where}.url", "an http:// or https:// URL", repr(url)[:100])
    timeout = _number(w.get("timeout_s", 2.0))
    if timeout is None or not 0.1 <= timeout <= 10:
        raise InputError(f"{where}.timeout_s", "seconds in [0.1, 10]", repr(w.get("timeout_s")))
    retries = w.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 5:
        raise InputError(f"{where}.retries", "an int in [0, 5]", repr(retries))
    headers = w.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and not set("\r\n") & set(k + v)
                                                   for k, v in headers.items()):
        raise InputError(f"{where}.headers", "an object of string header values", repr(headers)[:100])
    return {"url": url, "timeout_s": timeout, "retries": retries, "headers": dict(headers)}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class WebhookSender:
    """POSTs firings as JSON from one background thread; never blocks the caller.

    Parameters
    ----------
    max_queue : int, default 256
        Calls waiting at most; when the queue is full a new call is dropped and counted in ``stats["dropped"]``.
    """

    def __init__(self, max_queue: int = 256):
        self._q: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
        self.stats = {"sent": 0, "failed": 0, "dropped": 0, "retried": 0}

    def submit(self, hook: Mapping, payload: Mapping) -> bool:
        """Queue one POST; False (and counted) when the queue is full or the sender is closed."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cxsense-webhooks", daemon=True)
                self._thread.start()
        try:
            self._q.put_nowait((dict(hook), json.dumps(payload, allow_nan=False).encode()))
            return True
        except queue.Full:
            self.stats["dropped"] += 1
            log.warning("webhook queue full: dropped a call to %s", hook.get("url"))
            return False

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            hook, body = item
            self._post(hook, body)

    def _post(self, hook: dict, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": f"cxsense/{__version__}", **hook["headers"]}
        for attempt in range(hook["retries"] + 1):
            if attempt:
                self.stats["retried"] += 1
                time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
            req = urllib.request.Request(hook["url"], data=body, headers=headers, method="POST")
            try:
                with self._opener.open(req, timeout=hook["timeout_s"]) as r:
                    r.read(65536)
                    if 200 <= r.status < 300:
                        self.stats["sent"] += 1
                        return
            except urllib.error.HTTPError as e:
                if 400 <= e.code < 500 and e.code not in (408, 429):
                    break  # the receiver refuses it: retrying will not help
            except (urllib.error.URLError, OSError, ValueError):
                pass
        self.stats["failed"] += 1
        log.warning("webhook to %s failed after %d attempt(s)", hook["url"], hook["retries"] + 1)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop the thread."""
        with self._lock:
            t, self._thread = self._thread, None
        if t is None:
            return
        try:
            self._q.put(None, timeout=timeout)
        except queue.Full:
            return
        t.join(timeout)
