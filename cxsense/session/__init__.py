"""Sessions: recordings and live streams become timelines of reactions, events and reports.

- :func:`analyze_session` (``cxsense session VIDEO ...``): a video with its audio track, and optional
  physiology from a CSV, become a :class:`Session` with a ``timeline`` DataFrame (one row per step and
  person), ``events``, ``summary(segments)`` and ``report(path)``.
- :class:`LiveSession`: push frames, audio and physiology with timestamps; read rolling assessments.

Both sit beside :func:`cxsense.assess`, on the same public stages: the encoders
(:func:`cxsense.encoders.get_encoder`), the shared buffers (:mod:`~cxsense.session.buffers`) and the one step
from results to an Assessment (:func:`cxsense.fusion.fuse`); a timeline row is ``Assessment.to_row()``.
Decoding uses PyAV (FFmpeg's libraries inside the wheel; no system ffmpeg). See docs/sessions.md.
"""

from .events import EVENT_COLUMNS, detect_events, summarize
from .live import LiveSession
from .recorded import TIMELINE_COLUMNS, Session, SessionSettings, analyze_session, read_physio_csv
from .tracking import IoUTracker

__all__ = ["EVENT_COLUMNS", "IoUTracker", "LiveSession", "Session", "SessionSettings", "TIMELINE_COLUMNS",
           "analyze_session", "detect_events", "read_physio_csv", "summarize"]
