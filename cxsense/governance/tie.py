"""The check that ties a result store to its audit log: the log holds the store's last entry, and nothing later.

A store that writes to an audit log keeps, in its authenticated state, the hash, seq and byte offset of the
entry that recorded its last change. :func:`tie_problem` finds that entry in the log and reads on to the end:

- the entry missing (log truncated before it, its line edited, another log given) is a problem;
- a later entry naming the store (an older copy of the store restored, e.g. after ``delete_person``, or a line
  forged in its name) is a problem;
- the entry's generation and live count must agree with the state's when the store was not changed since.

Only the tail after the store's entry is read, so the cost grows with what was appended since (reads, other
stores, "processed" entries), not with the whole log; ``AuditLog.verify`` checks the whole chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from ..errors import InputError
from .audit import AuditLog
from .errors import IntegrityError, StoreError
from .sealing import Keys, State, rows_problem

__all__ = ["tie_problem", "store_report", "read_key_file"]


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _find(log: AuditLog, head: str, offset):
    """An iterator over (offset, line) positioned just after the line whose hash is ``head``, and that line."""
    if isinstance(offset, int) and offset >= 0:
        it = log._lines_from(offset)
        for _, line in it:
            if _sha(line) == head:
                return it, line
            break
    it = log._lines_from(0)  # the offset is off (should not happen): search the whole log
    for _, line in it:
        if _sha(line) == head:
            return it, line
    return None, None


def tie_problem(log: AuditLog, state: State) -> str | None:
    """Why ``log`` does not agree with the store ``state``, or None (also None for a store never tied to a log)."""
    try:
        return _tie_problem(log, state)
    except IntegrityError as e:  # an incomplete last line
        return str(e)


def _tie_problem(log: AuditLog, state: State) -> str | None:
    a = state.audit
    if a is None:
        return None
    if log.log_id != a.get("log"):
        return (f"the audit log {log.path} is not the one this store writes to (its genesis id is "
                f"{log.log_id!r}, the store's log is {a.get('log')!r}), or its genesis entry was removed")
    it, line = _find(log, str(a.get("head")), a.get("offset"))
    if it is None:
        return (f"the audit log {log.path} lacks the entry of this store's last change (seq {a.get('seq')}): the "
                "log was truncated or that line edited")
    anchor = json.loads(line)
    if anchor.get("store") != state.store or not isinstance(anchor.get("generation"), int) \
            or anchor["generation"] > state.generation:
        return f"the audit entry the store points to (seq {anchor.get('seq')}) is not one of its own"
    if anchor["generation"] == state.generation and anchor.get("live") != state.count:
        return (f"the audit log says {anchor.get('live')} records after generation {state.generation}, the store's "
                f"state says {state.count}")
    prev = _sha(line)
    for _, line in it:
        try:
            e = json.loads(line)
        except ValueError:
            return f"a line after the store's last entry in {log.path} is not JSON"
        if not isinstance(e, dict) or e.get("prev") != prev:
            return f"the chain of {log.path} breaks after the store's last entry (seq {e.get('seq') if isinstance(e, dict) else '?'})"
        prev = _sha(line)
        if e.get("store") == state.store:
            return (f"the audit log records a later change to this store (seq {e.get('seq')}, {e.get('action')!r}, "
                    f"generation {e.get('generation')}) than the store file holds (generation {state.generation}): "
                    "an older copy of the store was restored, or that line was forged")
    return None


def store_report(folder, log: AuditLog, key: bytes | None = None) -> dict:
    """Check a store folder against ``log`` without opening it for writing (for ``cxsense audit verify --store``).

    Without ``key`` the store's state is read but not authenticated, and its rows are counted, not hashed;
    with the key the state's HMAC, the digest of the rows and the sealed policy's hash are checked too.

    Returns
    -------
    dict
        ``store``, ``generation``, ``count`` (from the state), ``rows`` (in the file), ``authenticated`` (bool),
        ``audit_seq`` (the seq of the store's last entry, or None), and ``problem`` (a sentence, or None).

    Raises
    ------
    StoreError
        No store in ``folder``, or not a readable one; IntegrityError: its state fails authentication.
    """
    db = Path(folder) / "results.sqlite3"
    if not db.is_file():
        raise StoreError(f"no result store in {folder} (no {db.name})")
    # a store open elsewhere has its write-ahead log: read through it; else read the file as it is, so that
    # no -wal or -shm file is left behind
    mode = "mode=ro" if db.with_name(db.name + "-wal").exists() else "immutable=1"
    conn = sqlite3.connect(f"file:{db.as_posix()}?{mode}", uri=True)
    try:
        with log._shared():  # no append half done while the state is compared with the log
            conn.execute("BEGIN")
            meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
            keys = None if key is None else Keys(key)
            rows = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            try:
                state = State.from_bytes(meta.get("state", b"")) if keys is None else \
                    State.load(keys, meta.get("state"), meta.get("state_mac"))
            except IntegrityError as e:
                return {"store": None, "generation": None, "count": None, "rows": rows, "authenticated": False,
                        "audit_seq": None, "problem": str(e)}
            problem = rows_problem(conn, keys, state, meta.get("policy")) or tie_problem(log, state)
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{db} is not a readable result store ({e})") from None
    finally:
        conn.close()
    if state.audit is None and problem is None:
        problem = "the store has never written to an audit log"
    return {"store": state.store, "generation": state.generation, "count": state.count, "rows": rows,
            "authenticated": keys is not None, "audit_seq": None if state.audit is None else state.audit.get("seq"),
            "problem": problem}


def read_key_file(path: str) -> bytes:
    """A 32-byte key from a file (``--key-file``): the raw bytes, or 64 hex digits (white space around ignored)."""
    with open(path, "rb") as f:
        data = f.read(200)
    if len(data) == 32:
        return data
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise InputError("--key-file", "a file of 32 bytes or 64 hex digits", f"{len(data)} bytes")
    return key
