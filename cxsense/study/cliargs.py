"""Command-line forms of a study's privacy options: ``--store KEY`` and ``--policy POLICY.json``."""

from __future__ import annotations

import json
import os
from datetime import datetime

from ..errors import InputError

__all__ = ["read_key", "read_policy"]

_KEY_FORMS = "64 hex digits, @FILE (a file holding them, or the 32 raw bytes), or env:NAME (an environment variable)"


def read_key(text: str) -> bytes:
    """The 32-byte store key from ``--store``: hex digits, ``@FILE`` or ``env:NAME``.

    A key typed on the command line is visible to other users of the machine (``ps``); prefer ``@FILE`` or
    ``env:NAME``.
    """
    if text.startswith("env:"):
        value = os.environ.get(text[4:])
        if not value:
            raise InputError("--store", _KEY_FORMS, f"{text!r} (the variable is unset or empty)")
        raw = value.strip().encode()
    elif text.startswith("@"):
        try:
            with open(text[1:], "rb") as f:
                raw = f.read()
        except OSError as e:
            raise InputError("--store", _KEY_FORMS, f"{text!r} ({type(e).__name__})") from None
        if len(raw) == 32:
            return raw
        raw = raw.strip()
    else:
        raw = text.strip().encode()
    try:
        key = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise InputError("--store", _KEY_FORMS, "a value that is not 32 bytes of hex")
    return key


def read_policy(path: str):
    """A :class:`~cxsense.governance.UsagePolicy` from a JSON file.

    Keys: ``purpose``, ``context``, ``contact``, ``retention_days``, optional ``exemption``, ``modalities`` and
    ``consents`` (a list of ``{"subject", "given_at", "scope"[, "withdrawn_at"]}`` with ISO 8601 times that carry
    a time zone).
    """
    from ..governance import ConsentRecord, UsagePolicy

    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError("--policy", "a readable JSON file", f"{path!r} ({type(e).__name__})") from None
    if not isinstance(d, dict):
        raise InputError("--policy", "a JSON object", type(d).__name__)
    allowed = {"purpose", "context", "contact", "retention_days", "exemption", "modalities", "consents"}
    extra = sorted(set(d) - allowed)
    if extra:
        raise InputError("--policy", "keys among " + ", ".join(sorted(allowed)), f"key {extra[0]!r}")

    def when(v, name):
        try:
            return datetime.fromisoformat(v) if isinstance(v, str) else v
        except ValueError:
            raise InputError(f"--policy consents {name}", "an ISO 8601 time with a time zone", repr(v)) from None

    consents = []
    for c in d.get("consents", []) or []:
        if not isinstance(c, dict):
            raise InputError("--policy consents", "a list of objects", repr(c)[:100])
        consents.append(ConsentRecord(subject=c.get("subject"), given_at=when(c.get("given_at"), "given_at"),
                                      scope=c.get("scope"),
                                      withdrawn_at=when(c.get("withdrawn_at"), "withdrawn_at")))
    kw = {k: d[k] for k in ("exemption",) if k in d}
    if "modalities" in d:
        kw["modalities"] = tuple(d["modalities"])
    return UsagePolicy(purpose=d.get("purpose"), context=d.get("context"), contact=d.get("contact"),
                       retention=d.get("retention_days"), consents=tuple(consents), **kw)
