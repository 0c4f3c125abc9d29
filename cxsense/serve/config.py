"""The settings of ``cxsense serve`` and the checks made once at start (host and token, policy, store)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta

from ..errors import InputError
from .guard import is_loopback

__all__ = ["ServeConfig", "load_policy", "default_policy", "TOKEN_CHARS"]

#: Characters a token may hold: RFC 7230 ``tchar``, so that it travels in a header and a WebSocket subprotocol.
TOKEN_CHARS = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,512}$")
_POLICY_KEYS = {"purpose", "context", "contact", "retention_days", "exemption", "modalities"}


@dataclass
class ServeConfig:
    """Everything ``cxsense serve`` is started with (the CLI's options; see docs/serve.md).

    Attributes
    ----------
    host, port : str, int
        Where to listen; 127.0.0.1 by default. Any other address needs a token.
    token : str or None
        Required as ``Authorization: Bearer TOKEN`` (or the WebSocket subprotocol ``bearer.TOKEN``).
    max_body_mb : float
        The largest request body (and WebSocket message) accepted, in MiB.
    rules : str, path, list or Rules, optional
        Reactions (RULES.json) evaluated on every live assessment.
    policy : str, path or UsagePolicy, optional
        The deployment's usage policy (POLICY.json); its notice is what the demo shows.
    workers : int
        Threads that run assessments (HTTP and live); session jobs run on their own thread.
    store, store_key : str and bytes, optional
        An encrypted :class:`~cxsense.governance.ResultStore` folder and its 32-byte key; without a store,
        nothing is kept beyond a session job's time to live.
    rate_limit : float
        Requests a second per client on ``/v1/`` (burst twice that); 0 turns it off.
    max_jobs, max_kept, job_ttl_s, job_timeout_s : int, int, float, float
        Session jobs waiting or running at most (more: 503); finished jobs kept at most; how long a finished
        job's results are kept (s); the longest a job may run (s).
    max_pending : int or None
        HTTP assessments queued or running at most (more: 503); default ``8 * workers``.
    live_max, live_per_client, live_rate : int, int, float
        WebSocket connections in all and per client; messages a second per connection (burst twice that).
    allow_origins, allowed_hosts : tuple of str
        Web origins allowed to call (CORS, WebSocket ``Origin``); extra ``Host`` names (behind a proxy).
    forwarded_allow_ips : str or None
        Proxies whose ``X-Forwarded-For`` is trusted (uvicorn's option); none by default.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_body_mb: float = 50.0
    rules: object = None
    policy: object = None
    workers: int = 2
    store: str | None = None
    store_key: bytes | None = None
    rate_limit: float = 20.0
    max_jobs: int = 8
    max_kept: int = 32
    job_ttl_s: float = 3600.0
    job_timeout_s: float = 3600.0
    max_pending: int | None = None
    live_max: int = 16
    live_per_client: int = 4
    live_rate: float = 60.0
    allow_origins: tuple = ()
    allowed_hosts: tuple = ()
    forwarded_allow_ips: str | None = None
    tmp_dir: str | None = None
    warnings: list = field(default_factory=list)

    def check(self) -> ServeConfig:
        """Refuse what must not start (with the reason); collect warnings in ``self.warnings``."""
        if not isinstance(self.host, str) or not self.host:
            raise InputError("--host", "an address to listen on, e.g. 127.0.0.1", repr(self.host))
        if self.token is not None and not TOKEN_CHARS.match(self.token):
            raise InputError("--token", "1 to 512 characters from A-Z a-z 0-9 ! # $ % & ' * + . ^ _ ` | ~ - "
                             "(so that it fits a header and a WebSocket subprotocol)", "other characters")
        if not self.token and not is_loopback(self.host):
            raise InputError("--host", "a loopback address (127.0.0.1, ::1, localhost) unless a token is set "
                             "(--token or $CXSENSE_TOKEN): anyone who can reach this address could otherwise "
                             "use the camera-facing API", repr(self.host))
        if self.token and len(self.token) < 16:
            self.warnings.append("the token is shorter than 16 characters; use e.g. "
                                 "python -c 'import secrets; print(secrets.token_urlsafe(24))'")
        for name, lo, hi in (("port", 0, 65535), ("workers", 1, 64), ("max_jobs", 1, 10000), ("max_kept", 1, 100000),
                             ("live_max", 1, 10000), ("live_per_client", 1, 10000)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise InputError(f"--{name.replace('_', '-')}", f"an int in [{lo}, {hi}]", repr(v))
        for name, lo, hi in (("max_body_mb", 0.001, 4096), ("rate_limit", 0, 1e6), ("job_ttl_s", 1, 86400 * 30),
                             ("job_timeout_s", 1, 86400), ("live_rate", 0, 1e6)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise InputError(f"--{name.replace('_', '-')}", f"a number in [{lo:g}, {hi:g}]", repr(v))
        if self.max_pending is None:
            self.max_pending = 8 * self.workers
        if self.store is not None and (not isinstance(self.store_key, bytes) or len(self.store_key) != 32):
            raise InputError("--store-key-file", "a key of 32 bytes (64 hex digits) for the encrypted store, from "
                             "--store-key-file or $CXSENSE_STORE_KEY", "none" if self.store_key is None else "another length")
        if self.store is not None and self.policy is None:
            raise InputError("--policy", "a usage policy when results are stored (--store)", "none")
        self.allow_origins = tuple(o.rstrip("/") for o in self.allow_origins)
        return self

    def resolve(self) -> ServeConfig:
        """Read POLICY.json and RULES.json into their objects (raising PolicyError or InputError now)."""
        from ..rules import Rules

        if self.policy is not None and not hasattr(self.policy, "check"):
            self.policy = load_policy(self.policy)
        if self.rules is not None and not isinstance(self.rules, Rules):
            self.rules = Rules(self.rules) if isinstance(self.rules, (list, dict)) else Rules.load(self.rules)
        return self

    def host_names(self) -> set[str] | None:
        """Host header names accepted, or None (any) when listening on a non-loopback address."""
        if not is_loopback(self.host) and not self.allowed_hosts:
            return None
        names = {"localhost", "127.0.0.1", "[::1]", self.host.lower()}
        if ":" in self.host and not self.host.startswith("["):
            names.add(f"[{self.host.lower()}]")
        return names | {h.lower() for h in self.allowed_hosts}

    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


def read_store_key(path: str | None) -> bytes | None:
    """The store key from a file (32 raw bytes or 64 hex digits) or ``$CXSENSE_STORE_KEY`` (64 hex digits)."""
    text = None
    if path:
        try:
            with open(path, "rb") as f:
                raw = f.read(200)
        except OSError as e:
            raise InputError("--store-key-file", "a readable file", f"{path!r} ({e.strerror})") from None
        if len(raw) == 32:
            return raw
        text = raw.decode("ascii", "replace").strip()
    else:
        text = os.environ.get("CXSENSE_STORE_KEY")
    if text is None:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InputError("--store-key-file", "64 hex digits (or a file of 32 raw bytes)", "other text") from None
    return key


def load_policy(path) -> "UsagePolicy":  # noqa: F821
    """A :class:`~cxsense.governance.UsagePolicy` from POLICY.json: ``purpose``, ``context``, ``contact``,
    ``retention_days`` and optionally ``exemption`` and ``modalities``. Banned contexts raise PolicyError."""
    from ..governance import UsagePolicy

    p = os.fspath(path)
    try:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError("--policy", "a readable JSON file", f"{p!r} ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or set(data) - _POLICY_KEYS or not {"purpose", "context", "contact"} <= set(data):
        raise InputError("--policy", "a JSON object with purpose, context, contact, retention_days and optionally "
                         "exemption and modalities", f"keys {sorted(data) if isinstance(data, dict) else type(data).__name__}")
    days = data.get("retention_days", 30)
    if isinstance(days, bool) or not isinstance(days, (int, float)):
        raise InputError("retention_days", "a number of days", repr(days))
    return UsagePolicy(purpose=data["purpose"], context=data["context"], contact=data["contact"],
                       retention=timedelta(days=float(days)), exemption=data.get("exemption"),
                       modalities=tuple(data.get("modalities", ("face", "voice", "physio"))))


def default_policy(ttl_s: float) -> "UsagePolicy":  # noqa: F821
    """The policy behind the demo's notice when no ``--policy`` is given: a personal demonstration on this
    computer, results kept at most a session job's time to live."""
    from ..governance import UsagePolicy

    return UsagePolicy(purpose="a demonstration of cxsense: estimates of your expression shown live on this "
                               "computer, computed by a server that runs on it",
                       context="personal_use", contact="the person who runs this cxsense server",
                       retention=timedelta(seconds=ttl_s), modalities=("face", "voice"))
