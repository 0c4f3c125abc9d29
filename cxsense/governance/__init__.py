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
from .clock import NOW_TOLERANCE as NOW_TOLERANCE
from .clock import ManualClock as ManualClock
from .policy import BANNED_CONTEXTS as BANNED_CONTEXTS
from .policy import EDUCATION_WORDS as EDUCATION_WORDS
from .policy import WORK_WORDS as WORK_WORDS
from .policy import BannedUseError as BannedUseError
from .policy import CONTEXTS as CONTEXTS
from .policy import EXEMPTIONS as EXEMPTIONS
from .policy import ConsentRecord as ConsentRecord
from .policy import UsagePolicy as UsagePolicy
from .policy import notice_text as notice_text
from .errors import ExpiredError as ExpiredError
from .errors import IntegrityError as IntegrityError
from .errors import RecordNotFoundError as RecordNotFoundError
from .errors import StoreError as StoreError
from .errors import WrongKeyError as WrongKeyError
from .store import RecordInfo as RecordInfo
from .store import ResultStore as ResultStore

__all__ = [
    "UsagePolicy", "ConsentRecord", "notice_text", "CONTEXTS", "BANNED_CONTEXTS", "EXEMPTIONS",
    "ResultStore", "RecordInfo", "StoreError", "IntegrityError", "WrongKeyError", "ExpiredError",
    "RecordNotFoundError", "AuditLog", "BrokenEntry", "ACTIONS", "ManualClock", "NOW_TOLERANCE", "BannedUseError",
    "WORK_WORDS", "EDUCATION_WORDS",
]
