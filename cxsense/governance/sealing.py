"""Keys, opaque ids and the authenticated state of a result store.

From the caller's 32-byte key, four keys are derived (HMAC-SHA256 of a label): one for AES-256-GCM, one for
the opaque ids (a keyed hash, so the file holds no session, person or record id, yet deletion by id is one
indexed query), one that authenticates the store's state and the row digest, and one for the key check.

The state (``meta`` row ``state``) is JSON in the clear, so that ``cxsense audit verify --store`` can read it
without the key, with an HMAC beside it (``state_mac``). It holds the store's random id, a generation counter
raised by every change, the number of live records, the XOR of the keyed hashes of the live rows (the digest),
the hash of the sealed policy, and the audit log entry that recorded the last change (log id, hash, seq, byte
offset). A deleted or added row, an edited column, or a swapped policy no longer matches it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import asdict, dataclass

from .errors import IntegrityError

__all__ = ["FORMAT", "Keys", "State", "row_problem", "rows_problem"]

FORMAT = "cxsense-store-2"
_TAG_BYTES = 16  # 128-bit opaque ids, shown as 32 hex digits


def _derive(key: bytes, label: str) -> bytes:
    return hmac.new(bytes(key), f"{FORMAT}|{label}".encode(), hashlib.sha256).digest()


class Keys:
    """The keys derived from a store key (kept in memory only)."""

    def __init__(self, key: bytes):
        self.aead = _derive(key, "aead")
        self._tag = _derive(key, "tag")
        self._mac = _derive(key, "state")
        self.check = _derive(key, "check")

    def tag(self, kind: str, *parts: str) -> str:
        """The opaque id of a record (``"record"``), a session, or a person within a session (32 hex digits)."""
        msg = "\x00".join((kind,) + parts).encode()
        return hmac.new(self._tag, msg, hashlib.sha256).digest()[:_TAG_BYTES].hex()

    def row_hash(self, rid: str, session: str, person: str, expires: float, info: bytes) -> int:
        """Keyed hash of one row as an int (XOR-ed into the digest); ``info`` binds the payload's hash."""
        msg = "\x00".join(("row", str(rid), str(session), str(person), repr(expires))).encode()
        msg += b"\x00" + hashlib.sha256(info if isinstance(info, bytes) else repr(info).encode()).digest()
        return int.from_bytes(hmac.new(self._mac, msg, hashlib.sha256).digest(), "big")

    def mac(self, data: bytes) -> bytes:
        return hmac.new(self._mac, b"state\x00" + data, hashlib.sha256).digest()


@dataclass
class State:
    """The authenticated summary of a store: see the module docstring."""

    store: str
    generation: int = 0
    count: int = 0
    digest: str = "0" * 64
    policy: str = ""
    audit: dict | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data) -> State:
        """Parse the state (no authentication: that needs the key, see :meth:`load`)."""
        try:
            d = json.loads(bytes(data))
            s = cls(**d)
        except (TypeError, ValueError) as e:
            raise IntegrityError(f"the store's state is unreadable ({e})") from None
        if not (isinstance(s.store, str) and isinstance(s.generation, int) and isinstance(s.count, int)
                and isinstance(s.digest, str) and (s.audit is None or isinstance(s.audit, dict))):
            raise IntegrityError("the store's state has fields of the wrong type")
        return s

    @classmethod
    def load(cls, keys: Keys, data, mac) -> State:
        """Parse and authenticate; IntegrityError if the state or its MAC was altered."""
        if not isinstance(data, bytes) or not isinstance(mac, bytes) or not hmac.compare_digest(keys.mac(data), mac):
            raise IntegrityError("the store's state (generation, record count, digest) failed authentication: "
                                 "the meta table was altered")
        return cls.from_bytes(data)

    def xor(self, h: int) -> None:
        self.digest = f"{int(self.digest, 16) ^ h:064x}"


def row_problem(row) -> str | None:
    """Why a row ``(id, session, person, expires, info, blob)`` cannot be a record's, or None."""
    rid, session, person, expires, info, blob = row
    for name, v in (("id", rid), ("session", session), ("person", person)):
        if not isinstance(v, str) or len(v) != 2 * _TAG_BYTES:
            return f"column {name} holds {type(v).__name__} {str(v)[:40]!r}, not an opaque id"
    if not isinstance(expires, float) or not math.isfinite(expires):
        return f"column expires holds {type(expires).__name__} {str(expires)[:40]!r}, not a time"
    if not isinstance(info, bytes) or not isinstance(blob, bytes):
        return "columns info and blob must hold bytes"
    return None


def rows_problem(db, keys: Keys | None, state: State, policy_blob) -> str | None:
    """Why the rows of ``db`` (an open sqlite3 connection, inside one read transaction) do not match ``state``:
    a malformed row, the record count, and with ``keys`` the digest and the sealed policy's hash; or None."""
    n, digest = 0, State(store="")
    for row in db.execute("SELECT id, session, person, expires, info, blob FROM records"):
        problem = row_problem(row)
        if problem is not None:
            return f"a row was altered ({problem})"
        n += 1
        if keys is not None:
            digest.xor(keys.row_hash(*row[:5]))
    if n != state.count:
        return f"it holds {n} records, its state says {state.count} (rows deleted or added)"
    if keys is not None and digest.digest != state.digest:
        return "the digest of its rows differs from its state (rows replaced or edited)"
    if keys is not None and hashlib.sha256(policy_blob if isinstance(policy_blob, bytes) else b"").hexdigest() \
            != state.policy:
        return "the sealed policy was replaced"
    return None
