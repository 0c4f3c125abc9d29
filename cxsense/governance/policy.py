"""The usage policy of a deployment (purpose, context, consent, retention) and the notice it implies.

A :class:`UsagePolicy` is checked once, when it is made: a context in which the EU AI Act bans emotion
recognition (the workplace and education, Art. 5(1)(f)) raises :class:`~cxsense.PolicyError` unless a
medical or safety exemption is declared. Consent does not lift that ban; only the exemption does. The ban
cannot be stepped around by naming: a context that names the workplace or education in other words
("office", "employees", "hiring", "school", ...) raises :class:`BannedUseError`, and a purpose that describes
such a use under an allowed context ("screen job applicants" as market research) raises ``PolicyError``
unless the exemption is declared. The words screened are :data:`WORK_WORDS` and :data:`EDUCATION_WORDS`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import InputError, PolicyError

__all__ = ["CONTEXTS", "BANNED_CONTEXTS", "EXEMPTIONS", "WORK_WORDS", "EDUCATION_WORDS", "BannedUseError",
           "ConsentRecord", "UsagePolicy", "banned_area", "notice_text"]

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

#: Words that place a use in the workplace (screened in contexts and purposes: whole words, any case). A tripwire
#: for plain cases, not a legal classifier: the deployer stays responsible for declaring the context truthfully.
WORK_WORDS = ("workplace", "employee", "employees", "employer", "employers", "employment", "staff", "worker",
              "workers", "workforce", "personnel", "hiring", "recruitment", "recruiter", "recruiters", "applicant",
              "applicants", "job interview", "job interviews", "job candidate", "job candidates",
              "human resources", "at work", "performance review", "performance reviews")
#: Words that place a use in education (screened likewise).
EDUCATION_WORDS = ("education", "school", "schools", "schoolchildren", "classroom", "classrooms", "pupil",
                   "pupils", "student", "students", "lecture", "lectures", "teacher", "teachers", "exam", "exams",
                   "proctoring", "learner", "learners", "kindergarten", "e-learning")
# words that name a banned area as a context but are ambiguous in a sentence ("box office", "work of art")
_CONTEXT_EXTRA = {"workplace": ("office", "offices", "work", "job", "jobs", "interview", "interviews", "hr", "hire",
                                "recruit", "recruiting", "career", "careers"),
                  "education": ("university", "college", "teaching", "class", "classes", "course", "courses")}

# An opaque subject id: a short code or an id word and a number, a number, a UUID, or a random hex token.
_SUBJECT = re.compile(r"""^(?:
      (?:[a-z]{1,3}|participant|subject|respondent|person|user|viewer|panel|panelist|anon|pseudo)[-_.:]?\d{1,32}
    | \d{1,32}
    | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
    | [0-9a-f]{16,128}
)$""", re.IGNORECASE | re.VERBOSE)
_SUBJECT_RULE = ("an opaque id: up to 3 letters or one of participant, subject, respondent, person, user, viewer, "
                 "panel, panelist, anon, pseudo, then an optional - _ . or : and digits (e.g. 'p-0042'); or digits; "
                 "or a UUID; or 16-128 hex digits (ConsentRecord.new_subject()); never a name, e-mail or birth date")


class BannedUseError(PolicyError, InputError):
    """A context that names the workplace or education in other words: refused (EU AI Act Art. 5(1)(f)).

    Both a :class:`~cxsense.PolicyError` and an :class:`~cxsense.InputError` (parameter ``context``).
    """

    def __init__(self, context: str, area: str, word: str):
        InputError.__init__(self, "context", "one of " + ", ".join(map(repr, CONTEXTS)), repr(context))
        self.args = (f"{self.args[0]} The context {context!r} names {area} ({word!r}): emotion recognition there is "
                     "prohibited by the EU AI Act, Art. 5(1)(f), unless the system is intended for medical or safety "
                     f"reasons. Declare context={area!r} with exemption='medical' or 'safety' only if that is the "
                     "actual purpose.",)


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower().replace("e-learning", "elearning")) + " "


def banned_area(text: str, context: bool = False) -> tuple[str, str] | None:
    """``("workplace" or "education", the word found)`` if ``text`` names a use that Art. 5(1)(f) bans, else None.

    ``context=True`` also counts words that are ambiguous in a sentence but not as a context's name ("job",
    "interview", "university", "class", ...).
    """
    w = _words(text)
    for area, words in (("workplace", WORK_WORDS), ("education", EDUCATION_WORDS)):
        extra = _CONTEXT_EXTRA[area] if context else ()
        for word in words + extra:
            if _words(word.replace("e-learning", "elearning")) in w:
                return area, word
    return None


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
        An opaque id: up to 3 letters or an id word (participant, subject, respondent, person, user, viewer,
        panel, panelist, anon, pseudo), an optional ``- _ . :`` and digits (``"p-0042"``, ``"participant_7"``);
        or digits; or a UUID; or 16-128 hex digits (:meth:`new_subject`). Names ("Alice"), e-mails and
        birth dates ("max.mustermann:1980-01-01") are refused.
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
            raise InputError("subject", _SUBJECT_RULE, repr(self.subject)[:200])
        object.__setattr__(self, "given_at", _aware(self.given_at, "given_at"))
        object.__setattr__(self, "scope", _text(self.scope, "scope"))
        if self.withdrawn_at is not None:
            w = _aware(self.withdrawn_at, "withdrawn_at")
            if w < self.given_at:
                raise InputError("withdrawn_at", "a time at or after given_at", w.isoformat())
            object.__setattr__(self, "withdrawn_at", w)

    @staticmethod
    def new_subject() -> str:
        """A fresh random subject id (32 hex digits) to hand out instead of anything that identifies a person."""
        return secrets.token_hex(16)

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
        Why expressions are estimated, in plain words shown to people (e.g. "test reactions to a trailer"); at
        most 2000 characters. A purpose that names a use at work or in education (:data:`WORK_WORDS`,
        :data:`EDUCATION_WORDS`, e.g. "screen job applicants") is refused under any context unless
        ``exemption`` is given.
    context : str
        One of :data:`CONTEXTS`. ``"workplace"`` and ``"education"`` are refused (EU AI Act Art. 5(1)(f))
        unless ``exemption`` is ``"medical"`` or ``"safety"``; other names for them ("office", "school",
        "hiring", ...) raise :class:`BannedUseError`.
    contact : str
        Who people contact about their data (the controller's name and address or e-mail).
    retention : datetime.timedelta or number of days
        How long stored results are kept; positive, at most 10 years. Expired results are destroyed.
    consents : sequence of ConsentRecord, optional
        The consent records of the people whose results are processed.
    exemption : {"medical", "safety"} or None
        A medical or safety purpose, which Art. 5(1)(f) exempts from its ban. Declare it only if that is the
        system's actual purpose; it is shown in the notice.
    modalities : sequence of str, default ("face", "voice", "physio")
        What is analysed; shown in the notice.

    Raises
    ------
    PolicyError
        A banned context, or a purpose in the workplace or education, without an exemption; the message names
        Art. 5(1)(f). :class:`BannedUseError` (also an InputError) for another name of a banned context.
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
        if len(self.purpose) > 2000:
            raise InputError("purpose", "at most 2000 characters", f"{len(self.purpose)} characters")
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
            found = banned_area(self.context, context=True) if isinstance(self.context, str) else None
            if found is not None:
                raise BannedUseError(self.context, *found)
            raise InputError("context", "one of " + ", ".join(map(repr, CONTEXTS)), repr(self.context))
        if self.exemption is not None and self.exemption not in EXEMPTIONS:
            raise InputError("exemption", "None, 'medical' or 'safety'", repr(self.exemption))
        if self.context in BANNED_CONTEXTS and self.exemption is None:
            raise PolicyError(
                f"Emotion recognition in the context {self.context!r} is prohibited by the EU AI Act, "
                "Art. 5(1)(f) (in force since 2 February 2025), unless the system is intended for medical or "
                "safety reasons. Consent does not lift this ban. Declare exemption='medical' or 'safety' only "
                "if that is the actual purpose.")
        found = banned_area(self.purpose)
        if found is not None and self.exemption is None:
            raise PolicyError(
                f"The purpose {self.purpose[:200]!r} describes a use in {found[0]} ({found[1]!r}), whatever context is "
                f"declared: emotion recognition there is prohibited by the EU AI Act, Art. 5(1)(f), unless the system "
                "is intended for medical or safety reasons. Declare exemption='medical' or 'safety' only if that is "
                "the actual purpose; if the word is incidental, say the purpose in other words.")
        return self

    @property
    def exempted(self) -> bool:
        """Whether the policy relies on the Art. 5(1)(f) medical or safety exemption."""
        return self.exemption is not None and (self.context in BANNED_CONTEXTS or banned_area(self.purpose) is not None)

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
