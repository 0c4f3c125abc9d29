"""Reactions that trigger actions: rules over a stream of assessments (``cxsense serve --rules``, or Python).

    from cxsense.rules import Rules
    rules = Rules.load("RULES.json", callbacks={"pause_video": lambda firing: player.pause()})
    live = cxsense.LiveSession()
    ...                                            # push frames, audio, physiology
    for firing in rules.evaluate(live.assessment(), t=live.time):
        print(firing.rule, firing.measures)
    rules.close()                                  # waits (bounded) for webhooks still being sent

A rule (RULES.json holds a list of them, or ``{"rules": [...]}``)::

    {"name": "frustrated",
     "when": {"any": [{"measure": "anger", "above": 0.6}, {"measure": "stress", "above": 0.7}], "for_s": 3},
     "cooldown_s": 60,
     "then": {"webhook": "http://127.0.0.1:9000/hook"}}

``when`` is a condition: ``{"any": [...]}``, ``{"all": [...]}`` (nesting allowed) or a leaf
``{"measure": NAME, "above": x}``, ``{"below": x}`` or both (a band). Measures (:data:`MEASURES`): the seven
emotions' probabilities, ``valence``, ``arousal``, ``stress``, ``confidence``, ``incongruence``; a modality's own
``face.quality``, ``voice.arousal``, ``physio.stress``, ``face.happiness``, ...; and the facial cues
(``smile``, ``head_yaw``, ... or ``cues.NAME``) once the Assessment carries them. A measure that an assessment
lacks (no face, so no cues) makes its leaf false.

Timing, so that one moment fires once:

- hysteresis (per leaf, or for the whole rule; default 0.05): a leaf that became true stays true until its
  measure falls to ``above - hysteresis`` (or rises to ``below + hysteresis``), so noise at the threshold
  does not make it flicker;
- ``for_s`` (in ``when`` or on the rule; default 0): the condition must hold at every assessment for that many
  seconds before the rule fires;
- a rule fires once per episode: it re-arms only after its condition has been false; and ``cooldown_s``
  (default 0) seconds must pass between two firings.

Actions (``then``): ``"callback": NAME`` calls ``callbacks[NAME](firing)`` on the evaluating thread (an exception
there is logged and counted, never raised); ``"webhook": URL`` (or ``{"url", "timeout_s", "retries", "headers"}``)
POSTs ``firing.to_dict()`` as JSON from one background thread (timeouts at most 10 s, at most 5 retries, a
bounded queue; a full queue drops the call and counts it; no redirects, no proxies); ``"message": {...}``: extra
fields for the WebSocket message that ``cxsense serve`` sends for every firing. Nothing here opens a connection
unless a rule names a webhook.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ._version import __version__
from ._webhooks import WebhookSender, check_webhook
from .emotions import EMOTIONS
from .errors import InputError

__all__ = ["Rules", "Rule", "Firing", "WebhookSender", "MEASURES", "CUES", "measures_of"]

log = logging.getLogger("cxsense.rules")

#: Facial cues (contract: ``Assessment.cues``); a rule may name them bare or as ``cues.NAME``.
CUES = ("head_yaw", "head_pitch", "head_roll", "mouth_open", "smile", "brow_raise", "eyes_open", "gaze_on_camera")
_TOP = (*EMOTIONS, "valence", "arousal", "stress", "confidence", "incongruence")
_MODALITY_FIELDS = ("quality", "valence", "arousal", "stress", *EMOTIONS)
#: Every measure name a rule may use (``cues.NAME`` is accepted for any identifier, for cues to come).
MEASURES = (*_TOP, *CUES, *(f"{m}.{f}" for m in ("face", "voice", "physio") for f in _MODALITY_FIELDS))
_RULE_KEYS = {"name", "when", "then", "for_s", "cooldown_s", "hysteresis", "description"}
_MAX_RULES = 256


def _get(x, name):
    if x is None:
        return None
    if isinstance(x, Mapping):
        return x.get(name)
    return getattr(x, name, None)


def _num(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def measures_of(assessment) -> dict[str, float]:
    """Every measure of :data:`MEASURES` that ``assessment`` carries, as floats.

    Parameters
    ----------
    assessment : Assessment, its ``to_dict()``, or None
        None (no usable signal) gives an empty dict.
    """
    out: dict[str, float] = {}
    if assessment is None:
        return out
    probs = _get(assessment, "probabilities") or {}
    for e in EMOTIONS:
        v = _num(probs.get(e)) if isinstance(probs, Mapping) else None
        if v is not None:
            out[e] = v
    for name in ("valence", "arousal", "stress", "confidence", "incongruence"):
        v = _num(_get(assessment, name))
        if v is not None:
            out[name] = v
    for m, r in dict(_get(assessment, "modalities") or {}).items():
        mp = _get(r, "probabilities")
        for f in ("quality", "valence", "arousal", "stress"):
            v = _num(_get(r, f))
            if v is not None:
                out[f"{m}.{f}"] = v
        for e in EMOTIONS:
            v = _num(mp.get(e)) if isinstance(mp, Mapping) else None
            if v is not None:
                out[f"{m}.{e}"] = v
    cues = _get(assessment, "cues")
    if isinstance(cues, Mapping):
        for k, v in cues.items():
            v = _num(v)
            if v is not None:
                out[f"cues.{k}"] = v
                if k in CUES:
                    out[k] = v
    return out


def _seconds(value, parameter: str, hi: float = 86400.0) -> float:
    v = _num(value)
    if v is None or not 0 <= v <= hi:
        raise InputError(parameter, f"a number of seconds in [0, {hi:g}]", repr(value)[:100])
    return v


class _Leaf:
    def __init__(self, spec: Mapping, where: str, hysteresis: float):
        unknown = set(spec) - {"measure", "above", "below", "hysteresis"}
        if unknown:
            raise InputError(where, "a condition with keys measure, above, below, hysteresis", f"keys {sorted(unknown)}")
        m = spec.get("measure")
        ok = isinstance(m, str) and (m in MEASURES or (m.startswith("cues.") and m[5:].isidentifier()))
        if not ok:
            raise InputError(f"{where}.measure", "one of " + ", ".join(MEASURES[:11]) + ", a cue, or MODALITY.FIELD",
                             repr(m)[:100])
        self.measure = m
        self.above = None if spec.get("above") is None else _num(spec["above"])
        self.below = None if spec.get("below") is None else _num(spec["below"])
        if (spec.get("above") is not None and self.above is None) or (spec.get("below") is not None and self.below is None):
            raise InputError(where, "finite numbers for above and below", repr(spec)[:100])
        if self.above is None and self.below is None:
            raise InputError(where, "'above' or 'below' (or both, for a band)", "neither")
        if self.above is not None and self.below is not None and self.above >= self.below:
            raise InputError(where, "above < below (a band)", f"above {self.above}, below {self.below}")
        self.hysteresis = _seconds(spec.get("hysteresis", hysteresis), f"{where}.hysteresis", hi=1e6)
        self.on = False

    def update(self, values: Mapping[str, float]) -> bool:
        v = values.get(self.measure)
        if v is None:
            self.on = False
            return False
        h = self.hysteresis if self.on else 0.0
        ok = (self.above is None or v > self.above - h) and (self.below is None or v < self.below + h)
        self.on = ok
        return ok

    def measures(self):
        return [self.measure]

    def reset(self):
        self.on = False


class _Group:
    def __init__(self, spec, where: str, hysteresis: float, depth: int = 0):
        if not isinstance(spec, Mapping):
            raise InputError(where, "a condition object (any, all or a measure)", type(spec).__name__)
        if depth > 8:
            raise InputError(where, "conditions nested at most 8 deep", "deeper nesting")
        kinds = [k for k in ("any", "all") if k in spec]
        if not kinds:
            self.kind, self.parts = "leaf", [_Leaf(spec, where, hysteresis)]
            return
        if len(kinds) > 1 or set(spec) - {kinds[0]}:
            raise InputError(where, "exactly one of 'any' or 'all' (for_s belongs to 'when' or the rule)",
                             f"keys {sorted(spec)}")
        items = spec[kinds[0]]
        if not isinstance(items, list) or not items or len(items) > 64:
            raise InputError(f"{where}.{kinds[0]}", "a list of 1 to 64 conditions", repr(items)[:100])
        self.kind = kinds[0]
        self.parts = [_Group(s, f"{where}.{kinds[0]}[{i}]", hysteresis, depth + 1) for i, s in enumerate(items)]

    def update(self, values) -> bool:
        results = [p.update(values) for p in self.parts]  # every leaf updates its hysteresis state
        if self.kind == "leaf":
            return results[0]
        return any(results) if self.kind == "any" else all(results)

    def measures(self):
        return [m for p in self.parts for m in p.measures()]

    def reset(self):
        for p in self.parts:
            p.reset()


@dataclass(frozen=True)
class Firing:
    """One firing of a rule: its name, the time (seconds, the caller's clock) and the measures it reads."""

    rule: str
    t: float
    measures: Mapping[str, float | None]
    then: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON a webhook receives: ``{"rule", "t", "measures", "cxsense_version"}``."""
        return {"rule": self.rule, "t": self.t, "measures": dict(self.measures), "cxsense_version": __version__}


class Rule:
    """One rule, parsed and checked (see the module docstring for the format). Holds its own state."""

    def __init__(self, spec: Mapping, index: int = 0):
        where = f"rules[{index}]"
        if not isinstance(spec, Mapping):
            raise InputError(where, "a rule object", type(spec).__name__)
        unknown = set(spec) - _RULE_KEYS
        if unknown:
            raise InputError(where, "keys " + ", ".join(sorted(_RULE_KEYS)), f"keys {sorted(unknown)}")
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise InputError(f"{where}.name", "a non-empty name of at most 128 characters", repr(name)[:100])
        self.name = name
        when = spec.get("when")
        if not isinstance(when, Mapping):
            raise InputError(f"{where}.when", "a condition object", repr(when)[:100])
        when = dict(when)
        for_s = when.pop("for_s", spec.get("for_s", 0.0))
        self.for_s = _seconds(for_s, f"{where}.for_s")
        self.cooldown_s = _seconds(spec.get("cooldown_s", 0.0), f"{where}.cooldown_s", hi=7 * 86400)
        hyst = _seconds(spec.get("hysteresis", 0.05), f"{where}.hysteresis", hi=1e6)
        self.condition = _Group(when, f"{where}.when", hyst)
        self.then = _check_then(spec.get("then", {}), f"{where}.then")
        self._since: float | None = None  # when the condition began to hold
        self._fired = False  # fired in the current episode
        self._last_fire = -math.inf

    def update(self, values: Mapping[str, float], t: float) -> Firing | None:
        """Feed one assessment's measures at time ``t``; a :class:`Firing` when the rule fires now."""
        if not self.condition.update(values):
            self._since, self._fired = None, False
            return None
        if self._since is None:
            self._since = t
        if self._fired or t - self._since < self.for_s or t - self._last_fire < self.cooldown_s:
            return None
        self._fired, self._last_fire = True, t
        return Firing(self.name, t, {m: values.get(m) for m in dict.fromkeys(self.condition.measures())}, self.then)

    def reset(self) -> None:
        self.condition.reset()
        self._since, self._fired, self._last_fire = None, False, -math.inf


def _check_then(then, where: str) -> dict:
    if not isinstance(then, Mapping):
        raise InputError(where, "an object with callback, webhook and/or message", type(then).__name__)
    unknown = set(then) - {"callback", "webhook", "message"}
    if unknown:
        raise InputError(where, "keys callback, webhook, message", f"keys {sorted(unknown)}")
    out = dict(then)
    if "callback" in out and (not isinstance(out["callback"], str) or not out["callback"]):
        raise InputError(f"{where}.callback", "the name of a callback", repr(out["callback"])[:100])
    if "message" in out and not isinstance(out["message"], Mapping):
        raise InputError(f"{where}.message", "an object of extra fields", repr(out["message"])[:100])
    if "webhook" in out:
        out["webhook"] = check_webhook(out["webhook"], f"{where}.webhook")
    return out


class Rules:
    """A set of rules with their state, evaluated on each new assessment.

    Parameters
    ----------
    rules : sequence of mappings, or a mapping with key ``"rules"``
        As in RULES.json (see the module docstring). Names must be unique.
    callbacks : mapping name -> callable(Firing), optional
        What ``"then": {"callback": NAME}`` calls; every name the rules use must be here.
    on_fire : callable(Firing), optional
        Called for every firing (``cxsense serve`` sends a WebSocket message from it).
    sender : WebhookSender, optional
        Shared with other :class:`Rules` (see :meth:`fresh`); made on first need otherwise.

    Raises
    ------
    InputError
        A malformed rule, naming where (e.g. ``rules[2].when.any[0].measure``).
    """

    def __init__(self, rules, *, callbacks: Mapping[str, Callable] | None = None,
                 on_fire: Callable[[Firing], Any] | None = None, sender: WebhookSender | None = None):
        if isinstance(rules, Mapping):
            if set(rules) != {"rules"}:
                raise InputError("rules", "a list of rules or {\"rules\": [...]}", f"keys {sorted(rules)}")
            rules = rules["rules"]
        if not isinstance(rules, (list, tuple)) or len(rules) > _MAX_RULES:
            raise InputError("rules", f"a list of at most {_MAX_RULES} rules", type(rules).__name__)
        self._specs = [dict(r) if isinstance(r, Mapping) else r for r in rules]
        self.rules = [Rule(r, i) for i, r in enumerate(self._specs)]
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise InputError("rules", "unique rule names", f"names {names}")
        self.callbacks = dict(callbacks or {})
        for r in self.rules:
            cb = r.then.get("callback")
            if cb is not None and not callable(self.callbacks.get(cb)):
                raise InputError("callbacks", f"a callable for every callback the rules name ({cb!r})",
                                 f"names {sorted(self.callbacks)}")
        self.on_fire = on_fire
        self._sender = sender
        self._own_sender = sender is None
        self._last_t = -math.inf
        self.errors = 0

    @classmethod
    def load(cls, path, **kwargs) -> Rules:
        """Rules from a JSON file (at most 1 MB); keyword arguments as for :class:`Rules`."""
        p = os.fspath(path)
        try:
            if os.path.getsize(p) > 1_000_000:
                raise InputError("rules", "a JSON file of at most 1 MB", repr(p))
            with open(p, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError("rules", "a readable JSON file of rules", f"{p!r} ({type(e).__name__}: {e})") from None
        return cls(data, **kwargs)

    def fresh(self, *, on_fire: Callable[[Firing], Any] | None = None) -> Rules:
        """The same rules and callbacks with new state (one per live stream), sharing the webhook sender."""
        return Rules(self._specs, callbacks=self.callbacks, on_fire=on_fire, sender=self.sender)

    @property
    def sender(self) -> WebhookSender:
        if self._sender is None:
            self._sender = WebhookSender()
        return self._sender

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def evaluate(self, assessment, t: float | None = None) -> list[Firing]:
        """Update every rule with one assessment; run the actions of those that fire; return their firings.

        Parameters
        ----------
        assessment : Assessment, its ``to_dict()``, or None
            None (no usable signal now) makes every condition false.
        t : float, optional
            Seconds on the caller's clock (e.g. ``LiveSession.time``), non-decreasing; default ``time.monotonic()``.
        """
        t = time.monotonic() if t is None else _num(t)
        if t is None:
            raise InputError("t", "a finite time in seconds", "a non-finite or non-numeric value")
        if t < self._last_t:
            raise InputError("t", f"non-decreasing times (the last was {self._last_t:g} s)", f"{t:g}")
        self._last_t = t
        values = measures_of(assessment)
        firings = [f for f in (r.update(values, t) for r in self.rules) if f is not None]
        for f in firings:
            self._act(f)
        return firings

    def _act(self, f: Firing) -> None:
        if "webhook" in f.then:
            self.sender.submit(f.then["webhook"], f.to_dict())
        for fn in (self.callbacks.get(f.then.get("callback")), self.on_fire):
            if fn is None:
                continue
            try:
                fn(f)
            except Exception:  # an action never breaks the live loop
                self.errors += 1
                log.exception("action of rule %r failed", f.rule)

    def reset(self) -> None:
        """Forget every rule's state (episodes, timers, cooldowns)."""
        for r in self.rules:
            r.reset()
        self._last_t = -math.inf

    def close(self, timeout: float = 5.0) -> None:
        """Stop the webhook thread (if this object made it), sending what is queued within ``timeout`` s."""
        if self._own_sender and self._sender is not None:
            self._sender.close(timeout)
