"""An encrypted store of results (assessments and timelines) with retention, deletion and an audit trail.

On disk: one SQLite file, ``<folder>/results.sqlite3`` (and SQLite's transient ``-journal`` beside it), with

- ``meta(name, value)``: the format version, a key check (an AES-GCM encryption of a constant, so a wrong key
  is told apart from tampering), and the policy summary at creation;
- ``records(id, session, person, kind, created, expires, blob)``: one row per result. ``blob`` is
  ``nonce (12 bytes) || AES-256-GCM(JSON payload)``; the other columns are bound to it as associated data, so
  editing any of them (for instance to extend ``expires``) is detected as tampering.

Ids are pseudonymous: a session id and a per-session person id (``"0"``, ``"1"``, ... as the caller numbers
faces), never a name. Deleted and expired rows are overwritten with zeros (``PRAGMA secure_delete``).
The store holds JSON only: there is no way to put frames, audio or signals in, and embeddings are removed
unless ``keep_embeddings=True``.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import CxsenseError, InputError
from .audit import AuditLog
from .policy import UsagePolicy

__all__ = ["ResultStore", "RecordInfo", "StoreError", "IntegrityError", "WrongKeyError", "ExpiredError",
           "RecordNotFoundError"]

FORMAT = "cxsense-store-1"
FILENAME = "results.sqlite3"
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_MAX_PAYLOAD = 16 * 1024 * 1024  # bytes of JSON
_MAX_NUMBERS = 4096  # a longer run of numbers (outside "embedding") looks like a raw signal
_KEY_CHECK = b"cxsense result store key check"


class StoreError(CxsenseError):
    """Root of the result store's errors."""


class IntegrityError(StoreError):
    """A record or the store file was altered: authentication failed although the key is right."""


class WrongKeyError(StoreError):
    """The key given is not the key this store was created with."""


class ExpiredError(StoreError):
    """The record is past its retention period; it is refused and will be destroyed by ``purge_expired``."""


class RecordNotFoundError(StoreError, KeyError):
    """No record with that id (never stored, deleted or purged)."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RecordInfo:
    """A record's metadata (readable without decrypting): ids, kind, and times (UTC)."""

    record_id: str
    session_id: str
    person_id: str
    kind: str
    created: datetime
    expires: datetime


def _ts(now, parameter: str = "now") -> float:
    if now is None:
        return datetime.now(timezone.utc).timestamp()
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InputError(parameter, "a timezone-aware datetime or None", repr(now))
    return now.timestamp()


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _check_id(value, parameter: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _ID.match(value):
        raise InputError(parameter, "a pseudonymous id of 1-128 letters, digits or _ . : - (or an int >= 0)",
                         repr(value)[:200])
    return value


def _clean(x, keep_embeddings: bool, path: str = "payload"):
    """JSON types only (no NaN), embeddings removed unless kept, no long runs of numbers (raw signals)."""
    if isinstance(x, Mapping):
        out = {}
        for k, v in x.items():
            if not isinstance(k, str):
                raise InputError(path, "a mapping with string keys", f"key {k!r}")
            if k == "embedding" and not keep_embeddings:
                continue
            out[k] = _clean(v, keep_embeddings, f"{path}.{k}") if k != "embedding" else _numbers(v, f"{path}.{k}")
        return out
    if isinstance(x, (list, tuple)):
        if len(x) > _MAX_NUMBERS and all(isinstance(v, (int, float)) for v in x[:_MAX_NUMBERS + 1]):
            raise InputError(path, f"results, not raw signals: at most {_MAX_NUMBERS} numbers in a list",
                             f"a list of {len(x)} numbers")
        return [_clean(v, keep_embeddings, f"{path}[{i}]") for i, v in enumerate(x)]
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise InputError(path, "finite numbers", repr(x))
        return x
    if hasattr(x, "item") and getattr(x, "shape", None) == ():  # numpy scalar
        return _clean(x.item(), keep_embeddings, path)
    raise InputError(path, "JSON values only (dict, list, str, number, bool, None): no arrays, bytes or media",
                     type(x).__name__)


def _numbers(v, path: str) -> list:
    if hasattr(v, "tolist"):
        v = v.tolist()
    if not isinstance(v, (list, tuple)) or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
        raise InputError(path, "a list of finite numbers", type(v).__name__)
    return [float(a) for a in v]


def _payload(result) -> tuple[str, Any]:
    """(kind, JSON-able value) of an Assessment, a dict, or a timeline (a sequence of those)."""
    if hasattr(result, "to_dict") and callable(result.to_dict):
        return "assessment", result.to_dict()
    if isinstance(result, Mapping):
        return "result", dict(result)
    if isinstance(result, (list, tuple)) and all(isinstance(r, Mapping) or hasattr(r, "to_dict") for r in result):
        return "timeline", [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in result]
    raise InputError("result", "an Assessment, a dict, or a timeline (a list of Assessments or dicts)",
                     type(result).__name__)


class ResultStore:
    """Encrypted results under one folder, kept for the policy's retention period, deletable per person and session.

    Parameters
    ----------
    path : str or os.PathLike
        A folder; created if missing (its parent must exist). Every file the store writes lies in it.
    key : bytes
        32 bytes (AES-256-GCM), supplied and kept by the caller, e.g. from :meth:`new_key` stored in a key vault.
        Losing the key makes the results unreadable, which is also a way to destroy them all.
    policy : UsagePolicy
        Checked again here; its ``retention`` sets each record's expiry.
    audit : AuditLog, optional
        Receives an entry for every store, read, deletion and purge (ids, counts and times only).
    keep_embeddings : bool, default False
        Keep ``embedding`` fields (model-internal vectors) instead of removing them.

    Raises
    ------
    WrongKeyError
        The folder holds a store made with another key.
    IntegrityError
        The store's metadata was altered.
    PolicyError, InputError
        As for :class:`UsagePolicy`; a bad path or key.

    Examples
    --------
    >>> key = ResultStore.new_key()                                           # doctest: +SKIP
    >>> with ResultStore("results", key, policy) as store:                    # doctest: +SKIP
    ...     rid = store.put(cxsense.assess(face="a.jpg"), session_id="s1", person_id=0)
    ...     store.get(rid)["emotion"]
    """

    def __init__(self, path, key: bytes, policy: UsagePolicy, *, audit: AuditLog | None = None,
                 keep_embeddings: bool = False):
        if not isinstance(policy, UsagePolicy):
            raise InputError("policy", "a UsagePolicy", type(policy).__name__)
        policy.check()
        if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
            got = type(key).__name__
            if isinstance(key, (bytes, bytearray, str)):
                got += f" of length {len(key)}"
            raise InputError("key", "32 bytes (see ResultStore.new_key())", got)
        if audit is not None and not isinstance(audit, AuditLog):
            raise InputError("audit", "an AuditLog or None", type(audit).__name__)
        if not isinstance(keep_embeddings, bool):
            raise InputError("keep_embeddings", "True or False", repr(keep_embeddings))
        if not isinstance(path, (str, os.PathLike)):
            raise InputError("path", "a folder path (str or os.PathLike)", type(path).__name__)
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise InputError("path", "a folder (not a file)", repr(str(folder)))
        if not folder.exists():
            if not folder.parent.is_dir():
                raise InputError("path", "a folder whose parent exists", repr(str(folder)))
            folder.mkdir(mode=0o700)
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._invalid_tag = InvalidTag

        self.path = folder
        self.policy = policy
        self.keep_embeddings = keep_embeddings
        self._audit = audit
        self._aead = AESGCM(bytes(key))
        self._lock = threading.RLock()
        db = folder / FILENAME
        if not db.exists():
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(str(db), check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA journal_mode = DELETE")
            self._db.execute("PRAGMA temp_store = MEMORY")  # no temporary files outside the folder
            self._init_schema()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise IntegrityError(f"{db} is not a cxsense result store or is damaged ({e})") from None
        except StoreError:
            self._db.close()
            raise

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def new_key() -> bytes:
        """A fresh random 32-byte key (from the operating system's CSPRNG). Store it safely; it is not kept here."""
        return secrets.token_bytes(32)

    def _init_schema(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, session TEXT NOT NULL, "
                             "person TEXT NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL, "
                             "expires REAL NOT NULL, blob BLOB NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS records_session ON records (session, person)")
            self._db.execute("CREATE INDEX IF NOT EXISTS records_person ON records (person)")
            self._db.execute("CREATE INDEX IF NOT EXISTS records_expires ON records (expires)")
            meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
            if not meta:
                nonce = secrets.token_bytes(12)
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT.encode()),
                    ("key_check", nonce + self._aead.encrypt(nonce, _KEY_CHECK, FORMAT.encode())),
                    ("policy", self._seal("meta|policy", json.dumps(self.policy.summary()).encode())),
                ])
                self._db.execute("COMMIT")
                return
            if meta.get("format") != FORMAT.encode():
                raise IntegrityError(f"{self.path / FILENAME}: unknown or altered store format {meta.get('format')!r}")
            from cryptography.exceptions import InvalidTag

            kc = meta.get("key_check", b"")
            try:
                ok = self._aead.decrypt(kc[:12], kc[12:], FORMAT.encode()) == _KEY_CHECK
            except (InvalidTag, ValueError):
                ok = False
            if not ok:
                raise WrongKeyError(f"the key does not open the result store in {self.path} "
                                    "(or its key check was altered)")

    # --------------------------------------------------------------- crypto
    def _seal(self, aad: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad.encode())

    def _open(self, aad: str, blob: bytes) -> bytes:
        InvalidTag = self._invalid_tag
        try:
            if not isinstance(blob, bytes) or len(blob) < 12 + 16:
                raise InvalidTag()
            return self._aead.decrypt(blob[:12], blob[12:], aad.encode())
        except InvalidTag:
            raise IntegrityError("a record of the result store failed authentication: its ciphertext or its "
                                 "ids/times were altered") from None

    @staticmethod
    def _aad(rid, session, person, kind, created, expires) -> str:
        return f"{FORMAT}|{rid}|{session}|{person}|{kind}|{created!r}|{expires!r}"

    # ------------------------------------------------------------------ API
    def put(self, result, *, session_id, person_id=0, now: datetime | None = None) -> str:
        """Encrypt and store one result; return its record id.

        Parameters
        ----------
        result : Assessment, dict, or list of Assessments/dicts (a timeline)
            Stored as JSON. ``embedding`` fields are removed unless the store keeps embeddings; arrays,
            bytes, NaN and lists of more than 4096 numbers (raw signals) are refused.
        session_id : str
            A pseudonymous session id.
        person_id : str or int, default 0
            The person's number within the session (e.g. the face index), never an identity.
        now : datetime, optional
            Timezone-aware creation time (default: now); the record expires at ``now + policy.retention``.
        """
        session = _check_id(session_id, "session_id")
        person = _check_id(person_id, "person_id")
        kind, value = _payload(result)
        value = _clean(value, self.keep_embeddings)
        data = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        if len(data) > _MAX_PAYLOAD:
            raise InputError("result", f"at most {_MAX_PAYLOAD} bytes of JSON", f"{len(data)} bytes")
        created = _ts(now)
        expires = created + self.policy.retention.total_seconds()
        rid = secrets.token_hex(16)
        blob = self._seal(self._aad(rid, session, person, kind, created, expires), data)
        with self._lock:
            self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (rid, session, person, kind, created, expires, blob))
        self._log("stored", session=session, person=person, record=rid, time=now)
        return rid

    def get(self, record_id: str, *, now: datetime | None = None):
        """Decrypt one record: the dict (or list, for a timeline) that was stored.

        Raises
        ------
        RecordNotFoundError, ExpiredError, IntegrityError
        """
        t = _ts(now)
        with self._lock:
            row = self._db.execute("SELECT id, session, person, kind, created, expires, blob FROM records WHERE id = ?",
                                   (str(record_id),)).fetchone()
        if row is None:
            raise RecordNotFoundError(f"no record {record_id!r} in {self.path}")
        rid, session, person, kind, created, expires, blob = row
        if t >= expires:
            raise ExpiredError(f"record {rid!r} expired at {_dt(expires).isoformat()} (retention "
                               f"{self.policy.retention}); run purge_expired() to destroy it")
        value = json.loads(self._open(self._aad(rid, session, person, kind, created, expires), blob))
        self._log("read", session=session, person=person, record=rid, time=now)
        return value

    def records(self, *, session_id=None, person_id=None, include_expired: bool = False,
                now: datetime | None = None) -> list[RecordInfo]:
        """Metadata of the records (optionally of one session and/or person), oldest first; nothing is decrypted."""
        where, args = [], []
        if session_id is not None:
            where.append("session = ?")
            args.append(_check_id(session_id, "session_id"))
        if person_id is not None:
            where.append("person = ?")
            args.append(_check_id(person_id, "person_id"))
        if not include_expired:
            where.append("expires > ?")
            args.append(_ts(now))
        sql = "SELECT id, session, person, kind, created, expires FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created, id", args).fetchall()
        return [RecordInfo(r[0], r[1], r[2], r[3], _dt(r[4]), _dt(r[5])) for r in rows]

    def delete_session(self, session_id) -> int:
        """Destroy every record of a session; return how many."""
        session = _check_id(session_id, "session_id")
        n = self._delete("session = ?", (session,))
        self._log("deleted", session=session, count=n)
        return n

    def delete_person(self, person_id, *, session_id=None) -> int:
        """Destroy the records of one person (in one session, or in every session); return how many."""
        person = _check_id(person_id, "person_id")
        if session_id is None:
            n = self._delete("person = ?", (person,))
            self._log("deleted", person=person, count=n)
        else:
            session = _check_id(session_id, "session_id")
            n = self._delete("session = ? AND person = ?", (session, person))
            self._log("deleted", session=session, person=person, count=n)
        return n

    def delete(self, record_id: str) -> int:
        """Destroy one record; return 1, or 0 if there was none."""
        n = self._delete("id = ?", (str(record_id),))
        self._log("deleted", record=str(record_id)[:128], count=n)
        return n

    def purge_expired(self, now: datetime | None = None) -> int:
        """Destroy every record past its retention period; return how many. Call it on a schedule."""
        t = _ts(now)
        n = self._delete("expires <= ?", (t,))
        self._log("purged", count=n, time=now)
        return n

    def _delete(self, where: str, args: Iterable) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = self._db.execute(f"DELETE FROM records WHERE {where}", tuple(args)).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n  # PRAGMA secure_delete has overwritten the freed content with zeros

    def compact(self) -> None:
        """Rewrite the file without free pages (SQLite ``VACUUM``), shrinking it after many deletions."""
        with self._lock:
            self._db.execute("VACUUM")

    def _log(self, action: str, time: datetime | None = None, **fields) -> None:
        if self._audit is not None:
            self._audit.append(action, time=time, **fields)

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Close the database file. The key stays in memory only as long as the object lives."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, retention={self.policy.retention}, records={len(self)})"

