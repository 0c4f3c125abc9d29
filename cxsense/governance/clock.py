"""Time for the result store: the system clock, a manual clock for tests, and the check on ``now=``.

Retention is enforced against the store's clock (the system clock unless a test passes another). The ``now=``
keywords of :class:`~cxsense.governance.ResultStore` remain for compatibility but are no way around the clock:
a time more than :data:`NOW_TOLERANCE` away from it is refused, a record is created at the earlier of ``now``
and the clock, and expiry is judged at the later of the two, so a past ``now`` never revives an expired record
and a future one never lengthens a record's life.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..errors import InputError

__all__ = ["NOW_TOLERANCE", "ManualClock", "system_clock"]

#: How far a ``now=`` argument may lie from the store's clock.
NOW_TOLERANCE = timedelta(minutes=5)


def system_clock() -> datetime:
    """The current time in UTC (the default clock of a store)."""
    return datetime.now(timezone.utc)


def _aware(value, parameter: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(parameter, "a timezone-aware datetime", repr(value)[:200])
    return value


class ManualClock:
    """A clock for tests: it shows ``start`` until it is moved with :meth:`advance` or :meth:`set`.

    Pass it to ``ResultStore(..., clock=ManualClock(t0))`` to test retention without waiting. It is the only
    way to move a store's time; do not use it in production (expiry follows whatever it shows).

    Parameters
    ----------
    start : datetime
        Timezone-aware.
    """

    def __init__(self, start: datetime):
        self._t = _aware(start, "start")

    def __call__(self) -> datetime:
        return self._t

    def set(self, t: datetime) -> None:
        """Show ``t`` (timezone-aware) from now on."""
        self._t = _aware(t, "t")

    def advance(self, delta: timedelta | None = None, **kw) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kw)`` (e.g. ``days=2``); return the new time."""
        step = delta if delta is not None else timedelta(**kw)
        if not isinstance(step, timedelta):
            raise InputError("delta", "a timedelta", repr(step))
        self._t = self._t + step
        return self._t

    def __repr__(self) -> str:
        return f"ManualClock({self._t.isoformat()})"


def read_clock(clock) -> float:
    """The clock's time as a POSIX timestamp (s); a clock that returns no aware datetime is an InputError."""
    return _aware(clock(), "clock").timestamp()


def checked_now(now, clock_time: float) -> float:
    """``now`` as a timestamp, refused if it lies more than NOW_TOLERANCE from ``clock_time`` (None: the clock)."""
    if now is None:
        return clock_time
    t = _aware(now, "now").timestamp()
    tol = NOW_TOLERANCE.total_seconds()
    if abs(t - clock_time) > tol:
        clock_iso = datetime.fromtimestamp(clock_time, timezone.utc).isoformat()
        raise InputError("now", f"None or within {int(tol)} s of the store's clock ({clock_iso}); to test retention "
                                "pass clock=ManualClock(...) to ResultStore", now.isoformat())
    return t
