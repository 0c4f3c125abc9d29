"""Responsible use: a usage policy, the notice people are shown, an encrypted result store, an audit log.

>>> from datetime import timedelta
>>> from cxsense.governance import UsagePolicy, notice_text, ResultStore, AuditLog
>>> policy = UsagePolicy(purpose="test reactions to a film trailer", context="media_testing",
...                      contact="Studio X, privacy@example.org", retention=timedelta(days=30))
>>> print(notice_text(policy))                      # doctest: +SKIP
>>> store = ResultStore("results", ResultStore.new_key(), policy, audit=AuditLog("audit.jsonl"))  # doctest: +SKIP

See docs/responsible_use.md. Nothing here is imported by ``import cxsense``; ``cryptography`` is needed only
for :class:`ResultStore`.
"""

from .audit import ACTIONS as ACTIONS
from .audit import AuditLog as AuditLog
from .audit import BrokenEntry as BrokenEntry
from .policy import BANNED_CONTEXTS as BANNED_CONTEXTS
from .policy import CONTEXTS as CONTEXTS
from .policy import EXEMPTIONS as EXEMPTIONS
from .policy import ConsentRecord as ConsentRecord
from .policy import UsagePolicy as UsagePolicy
from .policy import notice_text as notice_text
from .store import ExpiredError as ExpiredError
from .store import IntegrityError as IntegrityError
from .store import RecordInfo as RecordInfo
from .store import RecordNotFoundError as RecordNotFoundError
from .store import ResultStore as ResultStore
from .store import StoreError as StoreError
from .store import WrongKeyError as WrongKeyError

__all__ = [
    "UsagePolicy", "ConsentRecord", "notice_text", "CONTEXTS", "BANNED_CONTEXTS", "EXEMPTIONS",
    "ResultStore", "RecordInfo", "StoreError", "IntegrityError", "WrongKeyError", "ExpiredError",
    "RecordNotFoundError", "AuditLog", "BrokenEntry", "ACTIONS",
]
