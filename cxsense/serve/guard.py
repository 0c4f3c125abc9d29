"""What every request passes first: errors as JSON, rate limits, the token, the Host and Origin checks, body limits.

:class:`GuardMiddleware` is a plain ASGI middleware, so it runs before FastAPI reads anything of a request:

1. the ``Host`` header must name this server (a defence against DNS rebinding of a loopback server);
2. a browser's ``Origin``, when sent, must be this server's own or one given with ``--allow-origin``;
3. per client (its address): a token bucket of ``rate_limit`` requests a second (burst twice that) -> 429;
4. with a token set, ``Authorization: Bearer TOKEN`` on every ``/v1/`` route but ``/v1/health`` -> 401;
5. a ``Content-Length`` over the body limit -> 413 before one byte of the body is read; a body without a
   length (chunked) is counted as it arrives and cut off at the limit.

Every error is ``{"error": class name, "parameter": name or null, "message": text}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import threading
import time
import urllib.parse
from collections import OrderedDict

from ..errors import CxsenseError, InputError, ModelError, NoSignalError, PolicyError

__all__ = ["ApiError", "error_response", "from_exception", "RateLimiter", "GuardMiddleware", "is_loopback"]

log = logging.getLogger("cxsense.serve")

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]


class ApiError(Exception):
    """An error answered as JSON with an HTTP status (or sent as a WebSocket ``error`` message)."""

    def __init__(self, status: int, error: str, message: str, parameter: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.parameter = status, error, message, parameter
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.error, "parameter": self.parameter, "message": self.message}


def from_exception(e: BaseException, scrub: str | None = None) -> ApiError:
    """The :class:`ApiError` for an exception: InputError 400, NoSignalError 422, PolicyError 403,
    ModelError 500, other CxsenseError 400, anything else 500 (its text is logged, not sent).
    ``scrub`` (a private folder's path) is removed from messages."""
    if isinstance(e, ApiError):
        return e
    msg = str(e)
    if scrub:
        msg = msg.replace(scrub.rstrip("/") + "/", "").replace(scrub, "")
    name = type(e).__name__
    if isinstance(e, InputError):
        param = {"--physio": "physio", "--sampling-rate": "sampling_rate"}.get(e.parameter, e.parameter)
        return ApiError(400, name, msg.replace(repr(e.parameter), repr(param)), param)
    if isinstance(e, NoSignalError):
        return ApiError(422, name, msg or "no usable signal in the input")
    if isinstance(e, PolicyError):
        return ApiError(403, name, msg)
    if isinstance(e, ModelError):
        return ApiError(500, name, msg)
    if isinstance(e, CxsenseError):
        return ApiError(400, name, msg)
    log.error("internal error", exc_info=e)
    return ApiError(500, "InternalError", "internal error (see the server's log)")


def error_response(err: ApiError):
    from fastapi.responses import JSONResponse

    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is a loopback address."""
    if host.strip("[]").lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RateLimiter:
    """Token buckets per client: ``rate`` per second, ``burst`` at once; at most ``max_clients`` remembered.

    ``rate <= 0`` turns limiting off.
    """

    def __init__(self, rate: float, burst: float | None = None, max_clients: int = 10000):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self.max_clients = max_clients
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait before the next request is allowed."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._b.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._b[key] = (tokens - 1 if tokens >= 1 else tokens, now)
            while len(self._b) > self.max_clients:
                self._b.popitem(last=False)
        return wait


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


class GuardMiddleware:
    """The checks of the module docstring, in that order, for HTTP; Host, Origin and the connection limit for
    WebSockets are checked by the live endpoint with :meth:`check_socket` (it answers with a message)."""

    def __init__(self, app, config):
        self.app = app
        self.config = config
        self.limiter = RateLimiter(config.rate_limit)
        self.limit = int(config.max_body_mb * 1024 * 1024)

    # -- shared checks --------------------------------------------------------------------------
    def host_ok(self, scope) -> bool:
        allowed = self.config.host_names()
        if allowed is None:
            return True
        host = (_header(scope, b"host") or "").strip().lower()
        if host.startswith("["):
            host = host[: host.find("]") + 1] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":")[0]
        return host in allowed

    def origin_ok(self, scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None or origin in self.config.allow_origins:
            return True
        parts = urllib.parse.urlsplit(origin)
        return bool(parts.netloc) and parts.netloc.lower() == (_header(scope, b"host") or "").lower()

    def token_ok(self, scope, subprotocols=()) -> bool:
        token = self.config.token
        if not token:
            return True
        given = None
        auth = _header(scope, b"authorization") or ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        for p in subprotocols:
            if given is None and p.startswith("bearer."):
                given = p[len("bearer."):]
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    def client(self, scope) -> str:
        c = scope.get("client")
        return c[0] if c else "unknown"

    def check(self, scope, subprotocols=()) -> ApiError | None:
        """The first check that fails (Host, Origin, rate, token), or None."""
        if not self.host_ok(scope):
            return ApiError(400, "HostNotAllowed", "the Host header does not name this server (see --allowed-host)",
                            "Host")
        if not self.origin_ok(scope):
            return ApiError(403, "OriginNotAllowed", "requests from this web origin are refused (see --allow-origin)",
                            "Origin")
        wait = self.limiter.take(self.client(scope))
        if wait > 0:
            return ApiError(429, "RateLimited", f"more than {self.limiter.rate:g} requests a second from this client; "
                            f"retry in {wait:.2f} s", headers={"Retry-After": str(max(1, math.ceil(wait)))})
        if not self.token_ok(scope, subprotocols):
            return ApiError(401, "Unauthorized", "a missing or wrong token: send 'Authorization: Bearer TOKEN'",
                            "Authorization", headers={"WWW-Authenticate": "Bearer"})
        return None

    # -- ASGI -------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")

        async def send_secure(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message, headers=list(message.get("headers", []))
                               + [h for h in SECURITY_HEADERS if h[0] not in names])
            await send(message)

        err = None
        if path.startswith("/v1/") and path != "/v1/health":
            err = self.check(scope)
        elif not self.host_ok(scope):
            err = ApiError(400, "HostNotAllowed", "the Host header does not name this server", "Host")
        length = _header(scope, b"content-length")
        if err is None and length is not None:
            try:
                n = int(length)
            except ValueError:
                n = -1
            if n < 0:
                err = ApiError(400, "InputError", "a Content-Length that is a whole number", "Content-Length")
            elif n > self.limit:
                err = ApiError(413, "BodyTooLarge", f"a body of at most {self.config.max_body_mb:g} MB; "
                               f"got a Content-Length of {n} bytes", "Content-Length",
                               headers={"Connection": "close"})
        if err is not None:
            return await error_response(err)(scope, receive, send_secure)

        seen = 0
        limit = self.limit

        async def receive_counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, "BodyTooLarge", f"a body of at most {self.config.max_body_mb:g} MB",
                                   headers={"Connection": "close"})
            return message

        await self.app(scope, receive_counted, send_secure)
