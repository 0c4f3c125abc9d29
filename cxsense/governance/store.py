"""An encrypted store of results (assessments and timelines) with retention, deletion and an audit trail.

On disk: one SQLite file, ``<folder>/results.sqlite3`` (write-ahead log ``-wal`` and ``-shm`` beside it while
open), with

- ``meta(name, value)``: the format, a key check (so a wrong key is told apart from tampering), the sealed
  policy summary, and the store's state with its HMAC (see :mod:`.sealing`);
- ``records(id, session, person, expires, info, blob)``: one row per result. ``id``, ``session`` and ``person``
  are opaque keyed hashes of the record id, the session id and the (session, person) pair; ``info`` is the
  AES-256-GCM encryption of the real ids, the kind and the creation time; ``blob`` of the JSON payload. The
  columns are bound to them as associated data, so editing any (for instance to extend ``expires``) fails.

Deleted and expired rows are overwritten with zeros (``PRAGMA secure_delete``); a deletion runs between two
truncating checkpoints of the write-ahead log, so no other file keeps a copy. What the file still shows without
the key is listed in docs/responsible_use.md. The store holds JSON only: no frames, audio or signals, and no
embeddings unless ``keep_embeddings=True``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError
from .audit import AuditLog
from .clock import checked_now, read_clock, system_clock
from .errors import ExpiredError, IntegrityError, RecordNotFoundError, StoreError, WrongKeyError
from .payload import MAX_PAYLOAD, check_id, clean, payload
from .policy import UsagePolicy
from .sealing import FORMAT, Keys, State
from .storefile import COLUMNS, FILENAME, StoreFile

__all__ = ["ResultStore", "RecordInfo", "StoreError", "IntegrityError", "WrongKeyError", "ExpiredError",
           "RecordNotFoundError", "FILENAME"]


@dataclass(frozen=True)
class RecordInfo:
    """A record's metadata (decrypted from its ``info``): ids, kind, and times (UTC)."""

    record_id: str
    session_id: str
    person_id: str
    kind: str
    created: datetime
    expires: datetime


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


class ResultStore(StoreFile):
    """Encrypted results under one folder, kept for the policy's retention period, deletable per person and session.

    Parameters
    ----------
    path : str or os.PathLike
        A folder; created if missing (its parent must exist). Every file the store writes lies in it.
    key : bytes
        32 bytes, supplied and kept by the caller, e.g. from :meth:`new_key` stored in a key vault. Losing the
        key makes the results unreadable, which is also a way to destroy them all.
    policy : UsagePolicy
        Checked again here; its ``retention`` sets each record's expiry. Reopening a store under a policy with
        another purpose, context, exemption, retention or modalities is recorded in the audit log
        ("policy_changed", old and new) and refused without one; a shorter retention shortens existing records.
    audit : AuditLog, optional
        Receives an entry for every store, read, deletion and purge (ids, counts and times only). The store
        keeps its last entry's hash and checks the log against it on opening (an older copy of the store, or a
        truncated log, is refused).
    keep_embeddings : bool, default False
        Keep ``embedding`` fields (model-internal vectors) instead of removing them.
    clock : callable, optional
        Returns the current time as an aware datetime; default the system clock. For tests only
        (:class:`~cxsense.governance.ManualClock`): retention follows it.
    reseal : bool, default False
        After an IntegrityError about the store as a whole (record count, digest, audit log), accept the rows
        as they are: the state is recomputed and "resealed" is written to the audit log. Each record is still
        checked by its own authentication tag when read.

    Raises
    ------
    WrongKeyError
        The folder holds a store made with another key.
    IntegrityError
        The store's metadata was altered or removed, rows were deleted or added, an older copy was restored
        (with an audit log), or the audit log does not hold the store's last entry.
    PolicyError, InputError
        As for :class:`UsagePolicy`; another policy without an audit log; a bad path, key or clock.

    Examples
    --------
    >>> key = ResultStore.new_key()                                           # doctest: +SKIP
    >>> with ResultStore("results", key, policy) as store:                    # doctest: +SKIP
    ...     rid = store.put(cxsense.assess(face="a.jpg"), session_id="s1", person_id=0)
    ...     store.get(rid)["emotion"]
    """

    def __init__(self, path, key: bytes, policy: UsagePolicy, *, audit: AuditLog | None = None,
                 keep_embeddings: bool = False, clock=None, reseal: bool = False):
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
        for name, flag in (("keep_embeddings", keep_embeddings), ("reseal", reseal)):
            if not isinstance(flag, bool):
                raise InputError(name, "True or False", repr(flag))
        if clock is not None and not callable(clock):
            raise InputError("clock", "None or a callable returning an aware datetime", type(clock).__name__)
        if not isinstance(path, (str, os.PathLike)):
            raise InputError("path", "a folder path (str or os.PathLike)", type(path).__name__)
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise InputError("path", "a folder (not a file)", repr(str(folder)))
        if not folder.parent.is_dir():
            raise InputError("path", "a folder whose parent exists", repr(str(folder)))
        folder.mkdir(mode=0o700, exist_ok=True)  # several processes may create it at once
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._invalid_tag = InvalidTag
        self.path = folder
        self.policy = policy
        self.keep_embeddings = keep_embeddings
        self._audit = audit
        self._clock = clock or system_clock
        self._keys = Keys(bytes(key))
        self._aead = AESGCM(self._keys.aead)
        self._lock = threading.RLock()
        self._connect(folder / FILENAME, reseal)

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def new_key() -> bytes:
        """A fresh random 32-byte key (from the operating system's CSPRNG). Store it safely; it is not kept here."""
        return secrets.token_bytes(32)

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
            Kept for compatibility: at most 5 minutes from the store's clock (else InputError). The record is
            created at the earlier of the two and expires ``policy.retention`` later.
        """
        session = check_id(session_id, "session_id")
        person = check_id(person_id, "person_id")
        kind, value = payload(result)
        data = json.dumps(clean(value, self.keep_embeddings), separators=(",", ":"), allow_nan=False).encode()
        if len(data) > MAX_PAYLOAD:
            raise InputError("result", f"at most {MAX_PAYLOAD} bytes of JSON", f"{len(data)} bytes")
        clock = read_clock(self._clock)
        created = min(checked_now(now, clock), clock)
        expires = created + self.policy.retention.total_seconds()
        rid = secrets.token_hex(16)
        row = (self._keys.tag("record", rid), self._keys.tag("session", session),
               self._keys.tag("person", session, person), expires)
        blob = self._seal(f"{FORMAT}|blob|{row[0]}", data)
        info = self._seal(self._info_aad(*row, blob), json.dumps({"r": rid, "s": session, "p": person, "k": kind,
                                                                   "c": created}).encode())

        def change(state: State):
            self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", row + (info, blob))
            state.count += 1
            state.xor(self._keys.row_hash(*row, info))
            return rid, {"session": session, "person": person, "record": rid}

        return self._mutate("stored", change)

    def _time(self, now) -> float:
        """The time to judge expiry at: the later of ``now`` (checked) and the store's clock."""
        clock = read_clock(self._clock)
        return max(checked_now(now, clock), clock)

    def get(self, record_id: str, *, now: datetime | None = None):
        """Decrypt one record: the dict (or list, for a timeline) that was stored.

        ``now`` (compatibility only) must lie within 5 minutes of the store's clock; expiry is judged at the
        later of the two.

        Raises
        ------
        RecordNotFoundError, ExpiredError, IntegrityError
        """
        t = self._time(now)
        with self._lock:
            row = self._db.execute(f"SELECT {COLUMNS} FROM records WHERE id = ?",
                                   (self._keys.tag("record", str(record_id)),)).fetchone()
        if row is None:
            raise RecordNotFoundError(f"no record {str(record_id)[:128]!r} in {self.path}")
        d = self._info(row)
        if t >= row[3]:
            raise ExpiredError(f"record {d['r']!r} expired at {_dt(row[3]).isoformat()} (retention "
                               f"{self.policy.retention}); run purge_expired() to destroy it")
        value = json.loads(self._open(f"{FORMAT}|blob|{row[0]}", row[5]))
        if self._audit is not None:
            self._audit.append("read", session=d["s"], person=d["p"], record=d["r"])
        return value

    def records(self, *, session_id=None, person_id=None, include_expired: bool = False,
                now: datetime | None = None) -> list[RecordInfo]:
        """Metadata of the records (optionally of one session and/or person), oldest first; payloads stay sealed."""
        where, args = [], []
        session = None if session_id is None else check_id(session_id, "session_id")
        person = None if person_id is None else check_id(person_id, "person_id")
        if session is not None:
            where.append("session = ?")
            args.append(self._keys.tag("session", session))
            if person is not None:
                where.append("person = ?")
                args.append(self._keys.tag("person", session, person))
        if not include_expired:
            where.append("expires > ?")
            args.append(self._time(now))
        with self._lock:
            rows = self._db.execute(f"SELECT {COLUMNS} FROM records" + (" WHERE " + " AND ".join(where) if where
                                                                          else ""), args).fetchall()
        out = []
        for row in rows:
            d = self._info(row)
            if person is None or d["p"] == person:
                out.append(RecordInfo(d["r"], d["s"], d["p"], d["k"], _dt(d["c"]), _dt(row[3])))
        return sorted(out, key=lambda r: (r.created, r.record_id))

    def delete_session(self, session_id) -> int:
        """Destroy every record of a session; return how many."""
        session = check_id(session_id, "session_id")
        return self._delete("session = ?", (self._keys.tag("session", session),), {"session": session})

    def delete_person(self, person_id, *, session_id=None) -> int:
        """Destroy the records of one person (in one session, or in every session); return how many.

        Without ``session_id`` every record's ids are decrypted to find the person's (the file holds no id that
        links a person across sessions).
        """
        person = check_id(person_id, "person_id")
        if session_id is None:
            return self._delete("1", (), {"person": person}, lambda row: self._info(row)["p"] == person)
        session = check_id(session_id, "session_id")
        return self._delete("session = ? AND person = ?", (self._keys.tag("session", session),
                                                           self._keys.tag("person", session, person)),
                            {"session": session, "person": person})

    def delete(self, record_id: str) -> int:
        """Destroy one record; return 1, or 0 if there was none."""
        return self._delete("id = ?", (self._keys.tag("record", str(record_id)),), {"record": str(record_id)[:128]})

    def purge_expired(self, now: datetime | None = None) -> int:
        """Destroy every record past its retention period; return how many. Call it on a schedule.

        ``now`` (compatibility only) must lie within 5 minutes of the store's clock; the later of the two counts.
        """
        t = self._time(now)
        with self._lock:
            bad = self._db.execute("SELECT COUNT(*) FROM records WHERE typeof(expires) != 'real'").fetchone()[0]
        if bad:
            raise IntegrityError(f"{bad} record(s) of the result store have an altered expiry (not a time)")
        return self._delete("expires <= ?", (t,), {}, action="purged")

    def _delete(self, where: str, args, fields: dict, keep=None, action: str = "deleted") -> int:
        def change(state: State):
            rows = self._db.execute(f"SELECT {COLUMNS} FROM records WHERE {where}", tuple(args)).fetchall()
            rows = [r for r in rows if keep is None or keep(r)]
            for row in rows:
                state.xor(self._keys.row_hash(*row[:5]))
            self._db.executemany("DELETE FROM records WHERE id = ?", [(r[0],) for r in rows])
            state.count -= len(rows)
            return len(rows), dict(fields, count=len(rows))

        return self._mutate(action, change, checkpoint=True)  # secure_delete has zeroed the freed content

    def compact(self) -> None:
        """Rewrite the file without free pages (SQLite ``VACUUM``), shrinking it after many deletions."""
        with self._lock:
            self._db.execute("VACUUM")
            self._checkpoint()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, retention={self.policy.retention}, records={len(self)})"
