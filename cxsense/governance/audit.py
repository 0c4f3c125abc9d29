"""An append-only, hash-chained audit log: what was processed, stored, read and deleted (never a payload).

Format: one JSON object per line (UTF-8, keys sorted, no spaces), for example::

    {"action":"stored","prev":"<64 hex>","record":"3f..","seq":1,"session":"s1","person":"0","time":"2026-..Z"}

``prev`` is the SHA-256 (hex) of the previous line's bytes (without its newline); the first entry's ``prev``
is 64 zeros. Removing, reordering or editing any line but the last breaks the chain at the next line; an
edited last line is caught against the hash of the head kept elsewhere (:meth:`AuditLog.head`). A hash chain
without a secret detects accidents and naive edits; someone able to rewrite the whole file can recompute it,
so keep :meth:`AuditLog.head` outside the machine to anchor the log.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError

__all__ = ["AuditLog", "BrokenEntry", "ACTIONS"]

#: The actions an entry may record.
ACTIONS = ("processed", "stored", "read", "deleted", "purged", "opened", "notice_shown", "consent_given",
           "consent_withdrawn")
_FIELDS = {"session": str, "person": str, "record": str, "count": int, "modalities": list}
_GENESIS = "0" * 64

try:  # POSIX: serialise appends between processes too
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None


@dataclass(frozen=True)
class BrokenEntry:
    """The first entry where the chain breaks: its 1-based line number, why, and the line's text (or '')."""

    line: int
    reason: str
    text: str


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class AuditLog:
    """Append-only, hash-chained JSON lines at ``path`` (created with mode 0600 if missing).

    Parameters
    ----------
    path : str or os.PathLike
        The log file. Its folder must exist; nothing else is written.

    Examples
    --------
    >>> log = AuditLog(tmp / "audit.jsonl")                       # doctest: +SKIP
    >>> log.append("processed", session="s1", count=1, modalities=["face"])  # doctest: +SKIP
    >>> log.verify() is None                                       # doctest: +SKIP
    True
    """

    def __init__(self, path):
        if not isinstance(path, (str, os.PathLike)):
            raise InputError("path", "a file path (str or os.PathLike)", type(path).__name__)
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError("path", "a file path, not a folder", repr(str(self.path)))
        if not self.path.parent.is_dir():
            raise InputError("path", "a file in an existing folder", repr(str(self.path)))
        self._lock = threading.Lock()
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))

    # ----------------------------------------------------------------- writing
    def append(self, action: str, *, time: datetime | None = None, **fields) -> dict:
        """Append one entry and return it.

        Parameters
        ----------
        action : str
            One of :data:`ACTIONS`.
        time : datetime, optional
            Timezone-aware; default now (UTC).
        **fields
            Only ids, counts and modality names: ``session`` (str), ``person`` (str), ``record`` (str),
            ``count`` (int), ``modalities`` (list of str). Anything else is refused, so no payload can enter.
        """
        if action not in ACTIONS:
            raise InputError("action", "one of " + ", ".join(ACTIONS), repr(action))
        entry: dict = {"action": action}
        for k, v in fields.items():
            if v is None:
                continue
            t = _FIELDS.get(k)
            if t is None:
                raise InputError(k, "one of the audit fields " + ", ".join(_FIELDS) + " (no payload)", repr(k))
            if t is int and (isinstance(v, bool) or not isinstance(v, int)):
                raise InputError(k, "an int", repr(v))
            if t is str:
                if isinstance(v, int) and not isinstance(v, bool):
                    v = str(v)
                if not isinstance(v, str) or len(v) > 128:
                    raise InputError(k, "an id string of at most 128 characters", repr(v))
            if t is list and not (isinstance(v, (list, tuple)) and all(isinstance(m, str) and len(m) <= 32 for m in v)):
                raise InputError(k, "a list of modality names", repr(v))
            entry[k] = list(v) if t is list else v
        if time is None:
            time = datetime.now(timezone.utc)
        elif not isinstance(time, datetime) or time.tzinfo is None:
            raise InputError("time", "a timezone-aware datetime", repr(time))
        entry["time"] = time.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        with self._lock, open(self.path, "a+b") as f:
            if _fcntl is not None:
                _fcntl.flock(f.fileno(), _fcntl.LOCK_EX)
            try:
                last, seq = self._tail(f)
                entry["seq"] = seq
                entry["prev"] = _sha(last) if last is not None else _GENESIS
                line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
                f.seek(0, os.SEEK_END)
                f.write(line + b"\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                if _fcntl is not None:
                    _fcntl.flock(f.fileno(), _fcntl.LOCK_UN)
        return entry

    @staticmethod
    def _tail(f) -> tuple[bytes | None, int]:
        """The last line (without newline) and the next sequence number."""
        f.seek(0, os.SEEK_END)
        end = f.tell()
        if end == 0:
            return None, 0
        pos, buf = end, b""
        while pos > 0:
            step = min(4096, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
            if buf.count(b"\n") >= 2 or pos == 0:
                break
        last = buf.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            seq = int(json.loads(last)["seq"]) + 1
        except (ValueError, KeyError, TypeError):
            seq = -1  # a broken tail: keep appending, verify() reports it
        return last, seq

    # ----------------------------------------------------------------- reading
    def entries(self) -> list[dict]:
        """All entries, parsed (no verification)."""
        with open(self.path, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines() if line]

    def head(self) -> str:
        """SHA-256 of the last line (64 zeros for an empty log): keep it elsewhere to anchor the chain."""
        with open(self.path, "rb") as f:
            last, _ = self._tail(f)
        return _sha(last) if last is not None else _GENESIS

    def verify(self, head: str | None = None) -> BrokenEntry | None:
        """Check the chain; return the first broken entry, or None if the log is intact.

        Parameters
        ----------
        head : str, optional
            The SHA-256 from :meth:`head` kept elsewhere; when given, a changed or removed last line is caught too.
        """
        with open(self.path, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            n = data.count(b"\n") + 1
            torn = data.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
            return BrokenEntry(n, "the last line is incomplete (no newline)", torn)
        prev = _GENESIS
        lines = data.split(b"\n")[:-1] if data else []
        for i, line in enumerate(lines):
            text = line.decode("utf-8", "replace")
            try:
                e = json.loads(line)
            except ValueError:
                return BrokenEntry(i + 1, "not valid JSON", text)
            if not isinstance(e, dict):
                return BrokenEntry(i + 1, "not a JSON object", text)
            if e.get("prev") != prev:
                return BrokenEntry(i + 1, "prev does not match the SHA-256 of the previous line "
                                          "(a line before it was changed, removed or inserted)", text)
            if e.get("seq") != i:
                return BrokenEntry(i + 1, f"seq is {e.get('seq')!r}, expected {i}", text)
            if e.get("action") not in ACTIONS:
                return BrokenEntry(i + 1, f"unknown action {e.get('action')!r}", text)
            canonical = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
            if canonical != line:
                return BrokenEntry(i + 1, "the line is not in canonical form (edited by hand)", text)
            prev = _sha(line)
        if head is not None and head != prev:
            n = len(lines)
            return BrokenEntry(max(n, 1), "the head hash given does not match the last line "
                                          "(the last line was changed, removed or the log truncated)",
                               lines[-1].decode("utf-8", "replace") if lines else "")
        return None

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"
