"""The errors of the result store and the audit log. All derive from :class:`~cxsense.CxsenseError`."""

from __future__ import annotations

from ..errors import CxsenseError

__all__ = ["StoreError", "IntegrityError", "WrongKeyError", "ExpiredError", "RecordNotFoundError"]


class StoreError(CxsenseError):
    """Root of the result store's and the audit log's errors."""


class IntegrityError(StoreError):
    """The store file or the audit log was altered, rolled back or damaged (authentication, count, digest or
    hash chain do not match although the key is right). The message says what did not match."""


class WrongKeyError(StoreError):
    """The key given is not the key this store was created with."""


class ExpiredError(StoreError):
    """The record is past its retention period; it is refused and will be destroyed by ``purge_expired``."""


class RecordNotFoundError(StoreError, KeyError):
    """No record with that id (never stored, deleted or purged)."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ""
