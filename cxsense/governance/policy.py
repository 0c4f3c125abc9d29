"""The usage policy of a deployment (purpose, context, consent, retention) and the notice it implies.

A :class:`UsagePolicy` is checked once, when it is made: a context in which the EU AI Act bans emotion
recognition (the workplace and education, Art. 5(1)(f)) raises :class:`~cxsense.PolicyError` unless a
medical or safety exemption is declared. Consent does not lift that ban; only the exemption does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import InputError, PolicyError

__all__ = ["CONTEXTS", "BANNED_CONTEXTS", "EXEMPTIONS", "ConsentRecord", "UsagePolicy", "notice_text"]

#: Declared contexts of use. An unknown context is refused, so that a banned use cannot pass under another name.
CONTEXTS = (
    "market_research",
    "media_testing",
    "user_research",
    "customer_service",
    "entertainment",
    "personal_use",
    "scientific_research",
    "healthcare",
    "vehicle_safety",
    "workplace",
    "education",
)
#: Contexts in which EU AI Act Art. 5(1)(f) bans emotion recognition (since 2 February 2025).
BANNED_CONTEXTS = ("workplace", "education")
#: The exemptions Art. 5(1)(f) itself names: systems intended for medical or safety reasons.
EXEMPTIONS = ("medical", "safety")

_SUBJECT = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def _aware(value, parameter: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(parameter, "a timezone-aware datetime (e.g. datetime.now(timezone.utc))", repr(value))
    return value.astimezone(timezone.utc)


def _text(value, parameter: str, allowed: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(parameter, allowed, repr(value))
    return value.strip()


@dataclass(frozen=True)
class ConsentRecord:
    """One person's consent: who (a pseudonymous id, never a name), when, and to what.

    Attributes
    ----------
    subject : str
        A pseudonymous id (letters, digits, ``_ . : -``; at most 128 characters). Never a name or an e-mail.
    given_at : datetime
        When consent was given; timezone-aware (stored in UTC).
    scope : str
        What the person agreed to, in the words shown to them.
    withdrawn_at : datetime or None
        When consent was withdrawn, if it was.
    """

    subject: str
    given_at: datetime
    scope: str
    withdrawn_at: datetime | None = None

    def __post_init__(self):
        if not isinstance(self.subject, str) or not _SUBJECT.match(self.subject):
            raise InputError("subject", "a pseudonymous id of 1-128 letters, digits or _ . : -", repr(self.subject))
        object.__setattr__(self, "given_at", _aware(self.given_at, "given_at"))
        object.__setattr__(self, "scope", _text(self.scope, "scope"))
        if self.withdrawn_at is not None:
            w = _aware(self.withdrawn_at, "withdrawn_at")
            if w < self.given_at:
                raise InputError("withdrawn_at", "a time at or after given_at", w.isoformat())
            object.__setattr__(self, "withdrawn_at", w)

    def active(self, now: datetime | None = None) -> bool:
        """Whether this consent holds at ``now`` (default: the current time)."""
        now = datetime.now(timezone.utc) if now is None else _aware(now, "now")
        return self.given_at <= now and (self.withdrawn_at is None or now < self.withdrawn_at)


@dataclass(frozen=True)
class UsagePolicy:
    """What a deployment of cxsense is for, where it runs, who agreed, and how long results are kept.

    All checks happen once, at construction (:meth:`check` repeats them).

    Parameters
    ----------
    purpose : str
        Why expressions are estimated, in plain words shown to people (e.g. "test reactions to a trailer").
    context : str
        One of :data:`CONTEXTS`. ``"workplace"`` and ``"education"`` are refused (EU AI Act Art. 5(1)(f))
        unless ``exemption`` is ``"medical"`` or ``"safety"``.
    contact : str
        Who people contact about their data (the controller's name and address or e-mail).
    retention : datetime.timedelta or number of days
        How long stored results are kept; positive, at most 10 years. Expired results are destroyed.
    consents : sequence of ConsentRecord, optional
        The consent records of the people whose results are processed.
    exemption : {"medical", "safety"} or None
        A medical or safety purpose, which Art. 5(1)(f) exempts from its ban.
    modalities : sequence of str, default ("face", "voice", "physio")
        What is analysed; shown in the notice.

    Raises
    ------
    PolicyError
        A banned context without an exemption; the message names Art. 5(1)(f).
    InputError
        A missing or malformed field, naming it.
    """

    purpose: str
    context: str
    contact: str
    retention: timedelta
    consents: tuple[ConsentRecord, ...] = ()
    exemption: str | None = None
    modalities: tuple[str, ...] = ("face", "voice", "physio")

    def __post_init__(self):
        object.__setattr__(self, "purpose", _text(self.purpose, "purpose", "a non-empty description of the purpose"))
        object.__setattr__(self, "contact", _text(self.contact, "contact", "a non-empty contact (name and address)"))
        r = self.retention
        if isinstance(r, (int, float)) and not isinstance(r, bool):
            if not (r == r) or r in (float("inf"), float("-inf")):
                raise InputError("retention", "a positive timedelta or number of days, at most 3650", repr(r))
            r = timedelta(days=r)
        if not isinstance(r, timedelta) or r <= timedelta(0) or r > timedelta(days=3650):
            raise InputError("retention", "a positive timedelta or number of days, at most 3650", repr(self.retention))
        object.__setattr__(self, "retention", r)
        consents = tuple(self.consents)
        if not all(isinstance(c, ConsentRecord) for c in consents):
            raise InputError("consents", "a sequence of ConsentRecord", repr(self.consents))
        object.__setattr__(self, "consents", consents)
        mods = tuple(self.modalities)
        if not mods or not set(mods) <= {"face", "voice", "physio"}:
            raise InputError("modalities", "a non-empty subset of 'face', 'voice', 'physio'", repr(self.modalities))
        object.__setattr__(self, "modalities", mods)
        self.check()

    def check(self) -> UsagePolicy:
        """Validate the policy as a whole; return it. Raises PolicyError or InputError."""
        if self.context not in CONTEXTS:
            raise InputError("context", "one of " + ", ".join(map(repr, CONTEXTS)), repr(self.context))
        if self.exemption is not None and self.exemption not in EXEMPTIONS:
            raise InputError("exemption", "None, 'medical' or 'safety'", repr(self.exemption))
        if self.context in BANNED_CONTEXTS and self.exemption is None:
            raise PolicyError(
                f"Emotion recognition in the context {self.context!r} is prohibited by the EU AI Act, "
                "Art. 5(1)(f) (in force since 2 February 2025), unless the system is intended for medical or "
                "safety reasons. Consent does not lift this ban. Declare exemption='medical' or 'safety' only "
                "if that is the actual purpose.")
        return self

    @property
    def exempted(self) -> bool:
        """Whether the policy relies on the Art. 5(1)(f) medical or safety exemption."""
        return self.context in BANNED_CONTEXTS and self.exemption is not None

    def consent_for(self, subject: str, now: datetime | None = None) -> ConsentRecord | None:
        """The consent record of ``subject`` active at ``now``, or None."""
        for c in self.consents:
            if c.subject == subject and c.active(now):
                return c
        return None

    def summary(self) -> dict:
        """JSON-able summary without consent subjects (for store metadata and audit entries)."""
        return {"purpose": self.purpose, "context": self.context, "exemption": self.exemption,
                "retention_seconds": self.retention.total_seconds(), "modalities": list(self.modalities),
                "consents": len(self.consents)}


def _duration(td: timedelta) -> str:
    days = td.total_seconds() / 86400
    if days >= 1 and abs(days - round(days)) < 1e-9:
        n = int(round(days))
        return f"{n} day" + ("s" if n != 1 else "")
    hours = td.total_seconds() / 3600
    if hours >= 1 and abs(hours - round(hours)) < 1e-9:
        n = int(round(hours))
        return f"{n} hour" + ("s" if n != 1 else "")
    return f"{int(td.total_seconds())} seconds"


_WHAT = {"face": "your facial expression (from camera images)",
         "voice": "the tone of your voice (from audio, not the words)",
         "physio": "body signals such as heart rate and skin conductance (from sensors you wear)"}


def notice_text(policy: UsagePolicy, language: str = "en") -> str:
    """The notice to show people before they are first exposed to emotion recognition (EU AI Act Art. 50(3)).

    Generated from ``policy``: what is analysed and inferred, that the results are estimates of expression
    and not of feelings, that no one is identified, the purpose, the retention period, the contact and the
    person's rights. The deployer remains responsible for showing it in time and in a form people notice.

    Parameters
    ----------
    policy : UsagePolicy
    language : str, default "en"
        Only English is available in this version.

    Returns
    -------
    str
        Plain text, paragraphs separated by blank lines.
    """
    if not isinstance(policy, UsagePolicy):
        raise InputError("policy", "a UsagePolicy", type(policy).__name__)
    if language != "en":
        raise InputError("language", "'en' (the only language available in this version)", repr(language))
    policy.check()
    what = "; ".join(_WHAT[m] for m in policy.modalities)
    parts = [
        "Notice: emotion recognition is in use (EU AI Act, Art. 50(3)).",
        f"Purpose: {policy.purpose}.",
        f"What is analysed: {what}. From these, software estimates which emotion your expression shows "
        "(anger, disgust, fear, happiness, sadness, surprise or neutral), how pleasant and how activated it "
        "appears (valence and arousal) and a stress level.",
        "These are estimates of outward expression made by a statistical model. They are not a reading of your "
        "inner feelings, they can be wrong, and they are less reliable for some people than for others.",
        "No one is identified: the software computes no face or voice identity, people are told apart only by a "
        "number within one session, and camera images, audio and sensor signals are not stored. The analysis "
        "runs on this device.",
        f"Retention: the results are kept for at most {_duration(policy.retention)} and then destroyed.",
        f"Your rights: you may refuse or withdraw consent at any time without giving a reason, ask what is stored "
        f"about you, and have it deleted. Contact: {policy.contact}.",
    ]
    if policy.exempted:
        parts.insert(2, f"This use in the context '{policy.context}' relies on the {policy.exemption} exemption "
                        "of EU AI Act Art. 5(1)(f).")
    return "\n\n".join(p for p in parts if p) + "\n"
