"""``WS /v1/live``: one :class:`~cxsense.LiveSession` per connection, JSON text messages both ways.

Client -> server::

    {"type": "frame", "t": 12.3, "image": "<base64 JPEG or PNG>"}           # a data: URL is accepted too
    {"type": "audio", "t": 12.3, "rate": 48000, "pcm16": "<base64 int16 little-endian mono>"}
    {"type": "physio", "t": 12.3, "channels": {"ppg": {"rate": 64, "samples": [...]}, ...}}
    {"type": "assess"}

Server -> client::

    {"type": "assessment", "t": 12.3, ...Assessment.to_dict()}           # answers each assess
    {"type": "action", "rule": "frustrated", "t": 12.3, "measures": {...}, ...then.message}
    {"type": "event", "kind": "jaw_drop", "t": 12.1, "person": "p0", "signal": "mouth_open", "strength": 0.9,
     "peak_time": 12.4, "peak_value": 0.97}                               # with ?events=true, after frames
    {"type": "error", "error": "InputError", "parameter": "image", "message": "...", "status": 400}

An ``assess`` with nothing usable in the windows is answered by an error with status 422 (NoSignalError).
Messages are handled in order, one at a time, on the compute threads; when frames arrive faster than they
are assessed, a frame still waiting is replaced by the newer one (``frames_dropped`` in ``/v1/status``), and
assess messages waiting one behind the other are answered together (each gets its own answer, from one
assessment), so latency stays bounded; audio and physiology are never dropped. Query options:
``face_model``, ``face_early_exit``, ``face_window``, ``voice_window``, ``physio_window``, ``embeddings``, and
``events`` (``true``: after each frame, the facial cue events :meth:`~cxsense.LiveSession.events` finds new, one
``event`` message each, ``t`` the onset on the client's clock; a jaw drop comes about a second after the mouth's top).

Auth: ``Authorization: Bearer TOKEN``, or (browsers cannot set headers) the subprotocols
``["cxsense", "bearer.TOKEN"]``: the server answers with ``cxsense`` and never echoes the token.
Refusals are an ``error`` message followed by a close with code 4000 + the HTTP status (4401, 4403, 4429, 4503);
a connection silent for 10 minutes is closed with 4408.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import secrets
from collections import deque

import numpy as np
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from ..errors import InputError
from .guard import ApiError, RateLimiter, from_exception
from .state import assessment_json

__all__ = ["endpoint", "parse_message"]

log = logging.getLogger("cxsense.serve")

MAX_INBOX = 256  # messages waiting per connection
MAX_PHYSIO_SAMPLES = 1_000_000  # per message, all channels
IDLE_S = 600.0  # a connection that sends nothing for this long is closed (4408)


def _bad(parameter: str, allowed: str, given: str) -> ApiError:
    return from_exception(InputError(parameter, allowed, given))


def _time(msg) -> float:
    t = msg.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise _bad("t", "a finite time in seconds", repr(t)[:50])
    return float(t)


def _b64(value, parameter: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise _bad(parameter, "a base64 string", type(value).__name__)
    if value.startswith("data:") and "," in value[:100]:
        value = value[value.index(",") + 1:]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(parameter, "valid base64", f"{len(value)} characters that are not") from None


def parse_message(text: str) -> dict:
    """One client message checked and decoded: ``image`` and ``pcm16`` become bytes and an int16 array.

    Raises
    ------
    ApiError
        400 naming the field at fault.
    """
    try:
        msg = json.loads(text)
    except ValueError:
        raise _bad("message", "a JSON object", "text that is not JSON") from None
    if not isinstance(msg, dict):
        raise _bad("message", "a JSON object", type(msg).__name__)
    kind = msg.get("type")
    if kind == "assess":
        return {"type": "assess"}
    if kind == "frame":
        return {"type": "frame", "t": _time(msg), "image": _b64(msg.get("image"), "image")}
    if kind == "audio":
        rate = msg.get("rate")
        if isinstance(rate, float) and rate.is_integer():
            rate = int(rate)
        if isinstance(rate, bool) or not isinstance(rate, int):
            raise _bad("rate", "an int in Hz", repr(rate)[:50])
        raw = _b64(msg.get("pcm16"), "pcm16")
        if len(raw) % 2:
            raise _bad("pcm16", "16-bit samples (an even number of bytes)", f"{len(raw)} bytes")
        return {"type": "audio", "t": _time(msg), "rate": rate, "samples": np.frombuffer(raw, dtype="<i2")}
    if kind == "physio":
        ch = msg.get("channels")
        if not isinstance(ch, dict) or not ch:
            raise _bad("channels", "an object {name: {rate, samples}}", type(ch).__name__)
        out, n = {}, 0
        for name, c in ch.items():
            if not isinstance(c, dict) or set(c) != {"rate", "samples"} or not isinstance(c["samples"], list):
                raise _bad(f"channels[{name!r}]", "{\"rate\": Hz, \"samples\": [...]}", repr(c)[:80])
            n += len(c["samples"])
            if n > MAX_PHYSIO_SAMPLES:
                raise _bad("channels", f"at most {MAX_PHYSIO_SAMPLES} samples a message", "more")
            try:
                x = np.asarray(c["samples"], dtype=np.float64)
                rate = float(c["rate"])
            except (TypeError, ValueError):
                raise _bad(f"channels[{name!r}]", "numbers for rate and samples", "other values") from None
            out[str(name)] = (x, rate)
        return {"type": "physio", "t": _time(msg), "channels": out}
    raise _bad("type", "one of 'frame', 'audio', 'physio', 'assess'", repr(kind)[:50])


def _flag(query, name: str) -> bool:
    return query.get(name, "false").lower() in ("true", "1", "yes", "on")


def _live_options(query) -> tuple[dict, bool, bool]:
    from ..options import early_exit_from_text

    opts = {}
    for name in ("face_window", "voice_window", "physio_window"):
        if name in query:
            try:
                opts[name] = float(query[name])
            except ValueError:
                raise _bad(name, "a number of seconds", repr(query[name])[:50]) from None
    if "face_model" in query:
        opts["face_model"] = query["face_model"]
    if "face_early_exit" in query:
        opts["face_early_exit"] = early_exit_from_text(query["face_early_exit"])
    unknown = set(query) - {"face_window", "voice_window", "physio_window", "face_model", "face_early_exit", "embeddings",
                            "events"}
    if unknown:
        raise _bad("query", "face_model, face_early_exit, face_window, voice_window, physio_window, embeddings, events",
                   ", ".join(sorted(unknown))[:100])
    return opts, _flag(query, "embeddings"), _flag(query, "events")


class _Connection:
    def __init__(self, ws, svc, options: dict, embeddings: bool, events: bool = False):
        import cxsense

        self.ws, self.svc, self.embeddings, self.events = ws, svc, embeddings, events
        self.session = cxsense.LiveSession(**options)
        self.rules = svc.rules.fresh() if svc.rules is not None else None
        self.id = secrets.token_hex(6)
        self.inbox: deque = deque()
        self.pending_frame: dict | None = None
        self.wake = asyncio.Event()
        self.closed = False
        self.bucket = RateLimiter(svc.config.live_rate)
        self.send_lock = asyncio.Lock()

    async def send(self, obj: dict) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(obj, allow_nan=False))

    async def send_error(self, err: ApiError, **extra) -> None:
        await self.send({"type": "error", **err.body(), "status": err.status, **extra})

    def put(self, msg: dict) -> None:
        if msg["type"] == "frame" and self.pending_frame is not None:
            self.pending_frame.clear()  # the waiting frame is replaced in place: the order of the rest holds
            self.pending_frame.update(msg)
            self.svc.stats["frames_dropped"] += 1
            return
        if len(self.inbox) >= MAX_INBOX:
            raise ApiError(503, "Busy", f"{MAX_INBOX} messages are waiting on this connection; slow down")
        self.inbox.append(msg)
        if msg["type"] == "frame":
            self.pending_frame = msg
        self.wake.set()

    async def reader(self) -> None:
        limit = self.svc.config.max_body_bytes()
        try:
            while True:
                try:
                    m = await asyncio.wait_for(self.ws.receive(), timeout=IDLE_S)
                except asyncio.TimeoutError:
                    await self.send_error(ApiError(408, "Timeout", f"nothing received for {IDLE_S:g} s"))
                    await self.ws.close(code=4408)
                    break
                if m["type"] == "websocket.disconnect":
                    break
                text = m.get("text")
                try:
                    if text is None:
                        raise _bad("message", "JSON text messages", "a binary message")
                    if len(text) > limit:
                        raise ApiError(413, "BodyTooLarge", f"a message of at most {limit} bytes", "message")
                    wait = self.bucket.take("c")
                    if wait > 0:
                        raise ApiError(429, "RateLimited", f"more than {self.bucket.rate:g} messages a second; "
                                       "this one was dropped")
                    self.put(parse_message(text))
                except ApiError as e:
                    await self.send_error(e)
        finally:
            self.closed = True
            self.inbox.clear()
            self.wake.set()

    def _push_frame(self, data: bytes, t: float) -> None:
        from ..inputs.image import load_image

        self.session.push_frame(np.asarray(load_image(data, parameter="image").rgb), t)

    async def handle(self, msg: dict) -> None:
        run = self.svc.run
        kind = msg["type"]
        if kind == "frame":
            await run(self._push_frame, msg["image"], msg["t"], admit=False)
            if self.events:
                ev = await run(self.session.events, admit=False)
                for r in ev.itertuples(index=False):
                    await self.send({"type": "event", "kind": r.kind, "t": float(r.time), "person": r.person,
                                     "signal": r.signal, "strength": float(r.strength),
                                     "peak_time": float(r.peak_time), "peak_value": float(r.peak_value)})
        elif kind == "audio":
            await run(self.session.push_audio, msg["samples"], msg["rate"], msg["t"], admit=False)
        elif kind == "physio":
            await run(self.session.push_physio, msg["channels"], msg["t"], admit=False)
        else:
            a = await run(self.session.assessment, admit=False)
            t = self.session.time if math.isfinite(self.session.time) else None
            repeat = 1  # assess messages waiting right behind this one see the same evidence: one answer each
            while self.inbox and self.inbox[0]["type"] == "assess":
                self.inbox.popleft()
                repeat += 1
            if a is None:
                err = ApiError(422, "NoSignalError", "no usable signal in the current windows")
                for _ in range(repeat):
                    await self.send_error(err, t=t)
            else:
                text = json.dumps({"type": "assessment", "t": t, **assessment_json(a, self.embeddings)}, allow_nan=False)
                for _ in range(repeat):
                    async with self.send_lock:
                        await self.ws.send_text(text)
                if self.svc.store is not None:
                    await run(self.svc.store_put, a, f"live-{self.id}", admit=False)
            if self.rules is not None and t is not None:
                for f in self.rules.evaluate(a, t):
                    extra = dict(f.then.get("message", {}))
                    await self.send({**extra, "type": "action", "rule": f.rule, "t": f.t, "measures": dict(f.measures)})

    async def worker(self) -> None:
        while True:
            if not self.inbox:
                if self.closed:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            msg = self.inbox.popleft()
            if msg is self.pending_frame:
                self.pending_frame = None
            try:
                await self.handle(msg)
            except ApiError as e:
                await self.send_error(e)
            except Exception as e:  # noqa: BLE001 - bad input from the library, or a closed socket
                if self.closed:
                    return
                await self.send_error(from_exception(e))


async def endpoint(ws: WebSocket) -> None:
    """The ``/v1/live`` WebSocket route (see the module docstring)."""
    svc = ws.app.state.svc
    offered = list(ws.scope.get("subprotocols") or [])
    err = svc.guard.check(ws.scope, offered)
    client = svc.guard.client(ws.scope)
    entered = False
    if err is None:
        err = svc.live_enter(client)
        entered = err is None
    await ws.accept(subprotocol="cxsense" if "cxsense" in offered else None)
    try:
        conn = None
        if err is None:
            try:
                options, embeddings, events = _live_options(dict(ws.query_params))
                conn = _Connection(ws, svc, options, embeddings, events)
            except Exception as e:  # noqa: BLE001 - bad query options
                err = from_exception(e)
        if err is not None:
            await ws.send_text(json.dumps({"type": "error", **err.body(), "status": err.status}))
            await ws.close(code=4000 + err.status)
            return
        worker = asyncio.create_task(conn.worker())
        try:
            await conn.reader()
        finally:
            await asyncio.wait_for(worker, timeout=30)
    except (WebSocketDisconnect, RuntimeError, asyncio.TimeoutError):
        pass
    finally:
        if entered:
            svc.live_exit(client)
