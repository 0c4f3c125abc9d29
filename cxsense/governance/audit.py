"""An append-only, hash-chained audit log: what was processed, stored, read and deleted (never a payload).

Format: one JSON object per line (UTF-8, keys sorted, no spaces). The first line is a genesis entry with a
random log id; every later line names the SHA-256 (hex) of the line before it in ``prev``, for example::

    {"action":"genesis","log":"9c0e..","prev":"<64 zeros>","seq":0,"time":"2026-..Z"}
    {"action":"stored","generation":1,"live":1,"prev":"<64 hex>","record":"3f..","seq":1,"session":"s1",...}

An empty file, a missing genesis entry, or any removed, inserted, reordered or edited line but the last
breaks the chain. What a chain alone cannot show is the end: cutting off the last lines, or editing the last
one, leaves a valid shorter chain, and anyone able to write the file can append well-formed lines. Three
anchors close those gaps (see docs/responsible_use.md):

- a head kept elsewhere (:meth:`AuditLog.head`): ``verify(head=h)`` finds it anywhere in the chain, so later
  appends are accepted while truncation before it, or an edit of its line, is caught;
- a :class:`~cxsense.governance.ResultStore` writing to the log keeps the hash, generation and record count of
  its last entry in its own authenticated state, and checks them against the log when it opens;
- a key (``AuditLog(path, key=...)``): every line then carries an HMAC, so no line can be forged without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError
from .errors import IntegrityError

__all__ = ["AuditLog", "BrokenEntry", "ACTIONS"]

#: The actions an entry may record ("genesis" only as the first line).
ACTIONS = ("processed", "stored", "read", "deleted", "purged", "opened", "notice_shown", "consent_given",
           "consent_withdrawn", "genesis", "policy_changed", "resealed")
_FIELDS = {"session": str, "person": str, "record": str, "count": int, "modalities": list, "store": str,
           "generation": int, "live": int, "log": str, "policy": dict, "previous": dict}
_POLICY_KEYS = {"purpose": str, "context": str, "exemption": (str, type(None)), "retention_seconds": (int, float),
                "modalities": list, "consents": int}
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


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac_key(key) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise InputError("key", "None or 32 bytes", type(key).__name__)
    return hmac.new(bytes(key), b"cxsense-audit-1|mac", hashlib.sha256).digest()


def _check_field(k: str, v):
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
    if t is dict and not (isinstance(v, dict) and all(
            k2 in _POLICY_KEYS and isinstance(v2, _POLICY_KEYS[k2]) and len(str(v2)) <= 2000 for k2, v2 in v.items())):
        raise InputError(k, "a policy summary (UsagePolicy.summary())", repr(v)[:200])
    return list(v) if t is list else v


class AuditLog:
    """Append-only, hash-chained JSON lines at ``path`` (created with mode 0600 and a genesis entry if missing).

    Parameters
    ----------
    path : str or os.PathLike
        The log file. Its folder must exist; nothing else is written there (a new log is first written to a
        hidden temporary file beside it and linked into place, so that no one sees it without its genesis).
    key : bytes, optional
        32 bytes. A new log made with a key has an HMAC-SHA256 in every line (``mac``), so lines cannot be forged
        without it; an existing log must be opened with the key it was made with (or with none, for reading
        and verifying the chain only). The key of a ResultStore may be reused: a separate key is derived.

    Examples
    --------
    >>> log = AuditLog(tmp / "audit.jsonl")                       # doctest: +SKIP
    >>> log.append("processed", session="s1", count=1, modalities=["face"])  # doctest: +SKIP
    >>> log.verify() is None                                       # doctest: +SKIP
    True
    """

    def __init__(self, path, *, key: bytes | None = None):
        if not isinstance(path, (str, os.PathLike)):
            raise InputError("path", "a file path (str or os.PathLike)", type(path).__name__)
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError("path", "a file path, not a folder", repr(str(self.path)))
        if not self.path.parent.is_dir():
            raise InputError("path", "a file in an existing folder", repr(str(self.path)))
        self._mac_key = None if key is None else _mac_key(key)
        self._lock = threading.Lock()
        if not self.path.exists():
            self._create()

    def _create(self) -> None:
        entry = {"action": "genesis", "log": secrets.token_hex(16), "prev": _GENESIS, "seq": 0,
                 "time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
        line = self._seal(entry) + b"\n"
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, self.path)  # atomic: the log appears with its genesis, or another process made it first
        except FileExistsError:
            pass
        except OSError:  # pragma: no cover - a file system without hard links
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, line)
                os.close(fd)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def _seal(self, entry: dict) -> bytes:
        if self._mac_key is not None:
            entry["mac"] = hmac.new(self._mac_key, _canonical(entry), hashlib.sha256).hexdigest()
        return _canonical(entry)

    # ----------------------------------------------------------------- writing
    def append(self, action: str, *, time: datetime | None = None, **fields) -> dict:
        """Append one entry and return it.

        Parameters
        ----------
        action : str
            One of :data:`ACTIONS` (but "genesis").
        time : datetime, optional
            Timezone-aware; default now (UTC).
        **fields
            Only ids, counts and modality names: ``session``, ``person``, ``record``, ``store`` (str), ``count``,
            ``generation``, ``live`` (int), ``modalities`` (list of str), and for "policy_changed" ``policy``
            and ``previous`` (policy summaries). Anything else is refused, so no payload can enter.

        Raises
        ------
        IntegrityError
            The log is empty or lacks its genesis entry (truncated): the chain is not restarted silently; or
            it ends in an incomplete line.
        """
        return self._append(action, time, fields)

    def _append(self, action: str, time, fields: dict, before_write=None) -> dict:
        """Append under the file lock; ``before_write(head, seq, offset)`` runs after the line is made and
        before it is written (the store commits its state there, so both name the same entry)."""
        if action not in ACTIONS or action == "genesis":
            raise InputError("action", "one of " + ", ".join(a for a in ACTIONS if a != "genesis"), repr(action))
        entry: dict = {"action": action}
        entry.update({k: _check_field(k, v) for k, v in fields.items() if v is not None})
        if time is None:
            time = datetime.now(timezone.utc)
        elif not isinstance(time, datetime) or time.tzinfo is None:
            raise InputError("time", "a timezone-aware datetime", repr(time))
        entry["time"] = time.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        with self._lock, open(self.path, "a+b") as f:
            if _fcntl is not None:
                _fcntl.flock(f.fileno(), _fcntl.LOCK_EX)
            try:
                self._check_first(f)
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    raise IntegrityError(f"the audit log {self.path} ends in an incomplete line (a write cut short?); "
                                         "nothing is appended to it until that line is removed")
                last, seq, offset = self._tail(f)
                entry["seq"] = seq
                entry["prev"] = _sha(last)
                line = self._seal(entry)
                if before_write is not None:
                    before_write(_sha(line), seq, offset)
                f.seek(0, os.SEEK_END)
                f.write(line + b"\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                if _fcntl is not None:
                    _fcntl.flock(f.fileno(), _fcntl.LOCK_UN)
        return entry

    def _check_first(self, f) -> dict:
        f.seek(0)
        try:
            first = json.loads(f.readline(1 << 16))
            assert isinstance(first, dict) and first.get("action") == "genesis"
        except (ValueError, AssertionError):
            raise IntegrityError(f"the audit log {self.path} is empty or does not start with its genesis entry "
                                 "(truncated or replaced); it is not restarted silently") from None
        if ("mac" in first) != (self._mac_key is not None):
            raise InputError("key", "the key this log was made with" if "mac" in first else
                             "None: this log was made without a key", "None" if self._mac_key is None else "a key")
        return first

    @staticmethod
    def _tail(f) -> tuple[bytes, int, int]:
        """The last line (without newline), the next sequence number, and the end offset (bytes)."""
        f.seek(0, os.SEEK_END)
        end = f.tell()
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
        return last, seq, end

    # ----------------------------------------------------------------- reading
    def entries(self) -> list[dict]:
        """All entries, the genesis entry first, parsed (no verification)."""
        with open(self.path, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines() if line]

    def head(self) -> str:
        """SHA-256 of the last line: keep it elsewhere to anchor the chain (``verify(head=...)``)."""
        with open(self.path, "rb") as f:
            last, _, end = self._tail(f)
        return _sha(last) if end else _GENESIS

    @property
    def log_id(self) -> str | None:
        """The random id in the genesis entry (None if the log has none)."""
        with open(self.path, "rb") as f:
            try:
                first = json.loads(f.readline(1 << 16))
                return first["log"] if first.get("action") == "genesis" else None
            except (ValueError, KeyError, TypeError, AttributeError):
                return None

    @property
    def keyed(self) -> bool:
        """Whether the log was made with a key (its genesis entry carries an HMAC)."""
        with open(self.path, "rb") as f:
            try:
                first = json.loads(f.readline(1 << 16))
                return isinstance(first, dict) and first.get("action") == "genesis" and "mac" in first
            except ValueError:
                return False

    def verify(self, head: str | None = None, *, key: bytes | None = None) -> BrokenEntry | None:
        """Check the chain; return the first broken entry, or None if the log is intact.

        Parameters
        ----------
        head : str, optional
            An anchor: a SHA-256 from :meth:`head` kept elsewhere. It must be the hash of some line of the
            chain (entries appended after it are fine); if it is not, the log was truncated before it, its line
            was edited, or it is another log, and the last line is reported.
        key : bytes, optional
            The log's key (default: the key this object was made with); every line's HMAC is then checked.
        """
        mac_key = self._mac_key if key is None else _mac_key(key)
        with open(self.path, "rb") as f:
            data = f.read()
        if not data:
            return BrokenEntry(1, "the log is empty: it has no genesis entry (truncated to 0 bytes?)", "")
        if not data.endswith(b"\n"):
            n = data.count(b"\n") + 1
            torn = data.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
            return BrokenEntry(n, "the last line is incomplete (no newline)", torn)
        prev, lines, found, keyed = _GENESIS, data.split(b"\n")[:-1], head is None, False
        for i, line in enumerate(lines):
            text = line.decode("utf-8", "replace")
            why = self._line_problem(i, line, prev, keyed, mac_key)
            if why is not None:
                return BrokenEntry(i + 1, why, text)
            keyed = keyed or (i == 0 and b'"mac":' in line)
            prev = _sha(line)
            found = found or prev == head
        if mac_key is not None and not keyed:
            return BrokenEntry(1, "a key was given but the log was made without one (no mac in its lines)",
                               lines[0].decode("utf-8", "replace"))
        if not found:
            return BrokenEntry(len(lines), "the anchor (head hash) given is not in the chain: the log was truncated "
                               "before it, its line was edited, or it is another log", lines[-1].decode("utf-8", "replace"))
        return None

    @staticmethod
    def _line_problem(i: int, line: bytes, prev: str, keyed: bool, mac_key) -> str | None:
        try:
            e = json.loads(line)
        except ValueError:
            return "not valid JSON"
        if not isinstance(e, dict):
            return "not a JSON object"
        if (i == 0) != (e.get("action") == "genesis") or (i == 0 and not isinstance(e.get("log"), str)):
            return "the first line must be the genesis entry, and only the first" if i else \
                "the log does not start with its genesis entry (lines before it were removed or it was replaced)"
        if e.get("prev") != prev:
            return "prev does not match the SHA-256 of the previous line (a line before it was changed, removed " \
                   "or inserted)"
        if e.get("seq") != i:
            return f"seq is {e.get('seq')!r}, expected {i}"
        if e.get("action") not in ACTIONS:
            return f"unknown action {e.get('action')!r}"
        if _canonical(e) != line:
            return "the line is not in canonical form (edited by hand)"
        if i > 0 and keyed != ("mac" in e):
            return "a line without its HMAC in a keyed log" if keyed else "an HMAC in a log made without a key"
        if mac_key is not None and "mac" in e:
            mac = e.pop("mac")
            if not hmac.compare_digest(str(mac), hmac.new(mac_key, _canonical(e), hashlib.sha256).hexdigest()):
                return "its HMAC does not match (forged or edited without the key)"
        return None

    @contextlib.contextmanager
    def _shared(self):
        """Hold a shared lock on the log: no append is half done (a store commits its state, then writes the
        line, under the exclusive lock) while a store's state is compared with the log."""
        with open(self.path, "rb") as f:
            if _fcntl is not None:
                _fcntl.flock(f.fileno(), _fcntl.LOCK_SH)
            try:
                yield
            finally:
                if _fcntl is not None:
                    _fcntl.flock(f.fileno(), _fcntl.LOCK_UN)

    def _lines_from(self, offset: int):
        """(offset, line) pairs from byte ``offset`` to the end (lines without newline)."""
        with open(self.path, "rb") as f:
            f.seek(offset)
            for line in f:
                if not line.endswith(b"\n"):
                    raise IntegrityError(f"the audit log {self.path} ends in an incomplete line")
                yield offset, line[:-1]
                offset += len(line)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"
