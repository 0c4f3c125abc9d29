"""The file under a result store: creating and opening it, its authenticated state, and changes to it.

:class:`StoreFile` is the base of :class:`~cxsense.governance.ResultStore`. It owns the SQLite connection and
everything that keeps the file honest: the key check (a store without one is refused, never initialised
again), the check of rows, digest, policy and audit log on opening (:meth:`StoreFile.verify`), the one write
path (:meth:`StoreFile._mutate`: every change raises the generation, updates count and digest, and commits in
step with its audit entry), policy changes, and the write-ahead log with its truncating checkpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from pathlib import Path

from ..errors import PolicyError
from .errors import IntegrityError, StoreError, WrongKeyError
from .sealing import FORMAT, State, row_problem, rows_problem
from .tie import tie_problem

__all__ = ["StoreFile", "FILENAME"]

FILENAME = "results.sqlite3"
COLUMNS = "id, session, person, expires, info, blob"
_COMPARED = ("purpose", "context", "exemption", "retention_seconds", "modalities")  # a change is recorded


class StoreFile:
    """The SQLite file of a result store (a base class: :class:`~cxsense.governance.ResultStore` is the API).

    Subclasses set ``path``, ``policy``, ``_audit``, ``_keys``, ``_aead``, ``_invalid_tag`` and ``_lock``,
    then call :meth:`_connect`.
    """

    def _connect(self, db: Path, reseal: bool) -> None:
        """Create or open the SQLite file, check key, rows and audit log, and switch to the write-ahead log."""
        try:
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        fresh = db.stat().st_size == 0
        self._db = sqlite3.connect(str(db), timeout=60, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA temp_store = MEMORY")  # no temporary files outside the folder
            self._open_or_create(fresh)
            self._use_wal()
            self._check_at_open(reseal)
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise IntegrityError(f"{db} is not a cxsense result store or is damaged ({e})") from None
        except BaseException:
            self._db.close()
            raise

    def _use_wal(self) -> None:
        """Switch to the write-ahead log (once per file; it persists). The switch needs the file to itself and
        SQLite answers "locked" at once rather than wait, so it is retried for up to 30 s."""
        deadline = time.monotonic() + 30
        while True:
            try:
                mode = self._db.execute("PRAGMA journal_mode").fetchone()[0].lower()
                if mode != "wal":
                    mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005 + secrets.randbelow(20) / 1000)
        if mode != "wal":
            raise StoreError(f"{self.path / FILENAME}: SQLite cannot use a write-ahead log here (a network file "
                             "system?)")

    def _open_or_create(self, fresh: bool) -> None:
        db = self.path / FILENAME
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not tables and fresh:
                    self._create()
                elif tables != {"meta", "records"}:
                    raise IntegrityError(f"{db} is not a cxsense result store (tables {sorted(tables)}); it is "
                                         "never initialised over")
                else:
                    self._check_key(dict(self._db.execute("SELECT name, value FROM meta").fetchall()))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _create(self) -> None:
        self._db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        self._db.execute("CREATE TABLE records (id TEXT PRIMARY KEY, session TEXT NOT NULL, person TEXT NOT NULL, "
                         "expires REAL NOT NULL, info BLOB NOT NULL, blob BLOB NOT NULL)")
        self._db.execute("CREATE INDEX records_session ON records (session, person)")
        self._db.execute("CREATE INDEX records_expires ON records (expires)")
        policy = self._seal("meta|policy", json.dumps(self.policy.summary()).encode())
        state = State(store=secrets.token_hex(16), policy=hashlib.sha256(policy).hexdigest())
        self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("format", FORMAT.encode()), ("key_check", self._keys.check), ("policy", policy),
            ("state", state.to_bytes()), ("state_mac", self._keys.mac(state.to_bytes()))])

    def _check_key(self, meta: dict) -> None:
        fmt = meta.get("format")
        if fmt == b"cxsense-store-1":
            raise StoreError(f"{self.path} holds a store of an earlier cxsense (format cxsense-store-1, ids readable "
                             "without the key); read it with that version and store the results again")
        if fmt != FORMAT.encode():
            raise IntegrityError(f"{self.path / FILENAME}: unknown or altered store format {fmt!r}")
        missing = [n for n in ("key_check", "policy", "state", "state_mac") if n not in meta]
        if missing:
            raise IntegrityError(f"{self.path / FILENAME}: the store's {', '.join(missing)} was removed from its meta "
                                 "table; the store is refused, never initialised again")
        if not isinstance(meta["key_check"], bytes) or not hmac.compare_digest(meta["key_check"], self._keys.check):
            raise WrongKeyError(f"the key does not open the result store in {self.path} "
                                "(or its key check was altered)")

    def _check_at_open(self, reseal: bool) -> None:
        problem = self._problem()
        if problem is not None:
            if not reseal:
                raise IntegrityError(f"the result store in {self.path} does not match its authenticated state: "
                                     f"{problem}. Nothing was changed; ResultStore(..., reseal=True) accepts the "
                                     "rows as they are and records that in the audit log")
            self._mutate("resealed", self._recount)
        old = json.loads(self._open("meta|policy", self._meta("policy")))
        new = self.policy.summary()
        if any(old.get(k) != new.get(k) for k in _COMPARED):
            self._change_policy(old, new)
        elif self._audit is not None and self._state().audit is None:
            self._mutate("opened", lambda state: (None, {}))  # tie the store to the log

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
            what = {"info": "a record's ids and times", "blob": "a record's payload", "policy": "the sealed policy"}
            part = next((what[p] for p in aad.split("|") if p in what), "a part")
            raise IntegrityError(f"{part} in the result store failed authentication: its ciphertext, its ids or its "
                                 "times were altered") from None

    @staticmethod
    def _info_aad(rid: str, session: str, person: str, expires: float, blob: bytes) -> str:
        return f"{FORMAT}|info|{rid}|{session}|{person}|{expires!r}|{hashlib.sha256(blob).hexdigest()}"

    def _info(self, row) -> dict:
        """The decrypted ids, kind and creation time of a row (IntegrityError if the row was altered)."""
        problem = row_problem(row)
        if problem is not None:
            raise IntegrityError(f"a record of the result store was altered: {problem}")
        rid, session, person, expires, info, blob = row
        return json.loads(self._open(self._info_aad(rid, session, person, expires, blob), info))

    # ------------------------------------------------------------ state
    def _meta(self, name: str):
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise IntegrityError(f"the store's {name} was removed from its meta table")
        return row[0]

    def _state(self) -> State:
        return State.load(self._keys, self._meta("state"), self._meta("state_mac"))

    def _problem(self) -> str | None:
        """Why the rows, the policy or the audit log do not match the authenticated state, or None."""
        with self._lock, (self._audit._shared() if self._audit is not None else contextlib.nullcontext()):
            self._db.execute("BEGIN")  # one consistent snapshot
            try:
                state = self._state()
                problem = rows_problem(self._db, self._keys, state, self._meta("policy"))
            finally:
                self._db.execute("COMMIT")
            if problem is None and self._audit is not None:
                problem = tie_problem(self._audit, state)
        return problem

    def _mutate(self, action: str, change, checkpoint: bool = False):
        """Run ``change(state) -> (result, audit fields)`` in one write transaction that also raises the
        generation, saves the state and ties it to the audit entry written for it."""
        with self._lock:
            if checkpoint:
                self._checkpoint()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                state = self._state()
                result, fields = change(state)
                state.generation += 1

                def commit(head=None, seq=None, offset=None):
                    if head is not None:
                        state.audit = {"log": self._audit.log_id, "head": head, "seq": seq, "offset": offset}
                    data = state.to_bytes()
                    self._db.executemany("UPDATE meta SET value = ? WHERE name = ?",
                                         [(data, "state"), (self._keys.mac(data), "state_mac")])
                    self._db.execute("COMMIT")

                if self._audit is None:
                    commit()
                else:
                    fields.update(store=state.store, generation=state.generation, live=state.count)
                    self._audit._append(action, None, fields, commit)
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            if checkpoint:
                self._checkpoint()
        return result

    def _checkpoint(self) -> None:
        """Copy the write-ahead log into the file and truncate it to 0 bytes (no copies of deleted rows)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def _recount(self, state: State):
        state.count, state.digest = 0, "0" * 64
        for row in self._db.execute(f"SELECT {COLUMNS} FROM records").fetchall():
            state.count += 1
            state.xor(self._keys.row_hash(*row[:5]))
        state.policy = hashlib.sha256(self._meta("policy")).hexdigest()
        return None, {"count": state.count}

    def _change_policy(self, old: dict, new: dict) -> None:
        if self._audit is None:
            changed = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in _COMPARED if old.get(k) != new.get(k))
            raise PolicyError(f"the result store in {self.path} was made under another policy ({changed}); attach "
                              "an AuditLog to record the change, or open it with its policy")
        shorter = new["retention_seconds"] < old["retention_seconds"]

        def change(state: State):
            if shorter:  # every record keeps the shorter of its period and the new one
                for row in self._db.execute(f"SELECT {COLUMNS} FROM records").fetchall():
                    d = self._info(row)
                    expires = min(row[3], d["c"] + new["retention_seconds"])
                    if expires != row[3]:
                        info = self._seal(self._info_aad(*row[:3], expires, row[5]), json.dumps(d).encode())
                        self._db.execute("UPDATE records SET expires = ?, info = ? WHERE id = ?", (expires, info, row[0]))
                        state.xor(self._keys.row_hash(*row[:5]) ^ self._keys.row_hash(*row[:3], expires, info))
            policy = self._seal("meta|policy", json.dumps(new).encode())
            self._db.execute("UPDATE meta SET value = ? WHERE name = 'policy'", (policy,))
            state.policy = hashlib.sha256(policy).hexdigest()
            return None, {"policy": {k: new[k] for k in _COMPARED}, "previous": {k: old.get(k) for k in _COMPARED}}

        self._mutate("policy_changed", change, checkpoint=shorter)

    def verify(self) -> dict:
        """Check every row, the record count, the digest and the audit log against the authenticated state.

        Returns
        -------
        dict
            ``store`` (its random id), ``generation`` (changes so far), ``records`` and ``audit_head`` (the hash of
            the audit entry of the last change, or None): keep it elsewhere to notice an older copy without a log.

        Raises
        ------
        IntegrityError
            As on opening.
        """
        problem = self._problem()
        if problem is not None:
            raise IntegrityError(f"the result store in {self.path} does not match its authenticated state: {problem}")
        s = self._state()
        return {"store": s.store, "generation": s.generation, "records": s.count,
                "audit_head": None if s.audit is None else s.audit["head"]}

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Close the database file. The key stays in memory only as long as the object lives."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> StoreFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
