"""Recorded sessions: a video (with its own audio track) and optional physiology become a timeline.

Stages, each small (:func:`analyze_session` runs them in order):

1. **settings**: every option checked before the file is opened (:class:`SessionSettings`);
2. **decode**: :func:`cxsense.session.decode.decode` yields timed frames and 16-kHz audio, within the limits of
   docs/limits.md (audio is decoded no further than 120 s ahead of the video or 10 s past its end);
3. **sample**: only frames at the analysis rate ``fps`` (default 5 per second: the first frame at or after each
   multiple of ``1/fps`` seconds) are turned into pixels; expressions change over hundreds of milliseconds, so
   5 per second sees every expression that lasts a fifth of a second; ``fps=0`` analyses every frame;
4. **bucket**: each sampled frame's faces are tracked into persons ``p0``, ``p1``, ...
   (:class:`~cxsense.session.tracking.IoUTracker`) and filed under their step;
5. **assess step**: when the video and the audio have passed a step, its faces are pooled per person
   (:func:`~cxsense.session.tracking.pool_face`), the voice of ``voice_window`` seconds centred on the step and
   the physiology of ``physio_window`` seconds ending with it are read, and
   :class:`~cxsense.session.steps.StepAssessor` makes the step's rows through :func:`cxsense.fusion.fuse`.

A step gets rows only when the recording has frames or audio in it; a gap in the timestamps gets none, and a
note says where it was. A step in which nothing usable was seen gives a row with ``emotion == "no_signal"``.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field
from typing import Callable

from ..assessment import CUE_COLUMNS, ROW_COLUMNS
from ..errors import InputError
from ..options import EarlyExit, FaceOptions
from .baselines import check_spec
from .stages import Recording
from .tracking import MIN_PERSON_SECONDS

__all__ = ["Session", "SessionSettings", "analyze_session", "read_physio_csv", "TIMELINE_COLUMNS"]

#: Columns of a session timeline, in order.
TIMELINE_COLUMNS = ["time", "person", *ROW_COLUMNS]


def read_physio_csv(path, *, offset: float = 0.0, parameter: str = "physio", sampling_rate: float | None = None):
    """A physiology CSV on the video's clock (``time`` + ``offset``); see
    :func:`cxsense.inputs.physio_csv.read_physio_csv`. Returns a :class:`~cxsense.inputs.physio_csv.PhysioTable`."""
    from ..inputs.physio_csv import read_physio_csv as _read

    return _read(path, offset=offset, parameter=parameter, sampling_rate=sampling_rate)


@dataclass
class Session:
    """The outcome of :func:`analyze_session`.

    Attributes
    ----------
    timeline : pandas.DataFrame
        One row per step and person, columns :data:`TIMELINE_COLUMNS`.
    events : pandas.DataFrame
        Reaction events (:func:`cxsense.session.events.detect_events`), with the cue events (``jaw_drop``,
        ``smile_onset``, ``looked_away``; :mod:`cxsense.session.cue_events`) read from the analysed frames.
    info : dict
        The source, the settings, what happened (``notes``) and timings.
    cue_samples : pandas.DataFrame or None
        The cues of every analysed frame with a face (``time``, ``person``, the eight cues, the face's
        ``surprise``): what the cue events and blink counts read. Estimates only; no landmark is kept.
    """

    timeline: object
    events: object
    info: dict = field(default_factory=dict)
    cue_samples: object = None

    def summary(self, segments=None):
        """Per segment and person: mean, peak and share of time of each emotion, attention and blinks per minute
        (:func:`~cxsense.session.events.summarize`)."""
        from .events import summarize

        return summarize(self.timeline, segments, cue_samples=self.cue_samples,
                         fps=self.info.get("fps_analysed_effective"))

    def to_csv(self, path) -> None:
        """Write the timeline as CSV (only when asked)."""
        self.timeline.to_csv(path, index=False, float_format="%.6g")

    def report(self, path, segments=None, title: str | None = None) -> None:
        """Write the self-contained HTML report (see :mod:`cxsense.session.report`)."""
        from .report import write_report

        write_report(self, path, segments=segments, title=title)


def _seconds(name: str, v, lo: float, hi: float, allowed: str | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise InputError(name, allowed or f"a number of seconds in [{lo}, {hi}]", repr(v))
    return float(v)


@dataclass(frozen=True)
class SessionSettings:
    """The options of :func:`analyze_session`, checked once (stage 1)."""

    step: float = 1.0
    fps: float = 5.0
    voice_window: float = 3.0
    physio_window: float = 60.0
    physio_offset: float = 0.0
    persons: str = "all"
    face: FaceOptions = field(default_factory=FaceOptions)
    baseline: object = None

    def __post_init__(self):
        _seconds("step", self.step, 0.2, 60)
        _seconds("fps", self.fps, 0, 120, "0 (all frames) to 120")
        _seconds("voice_window", self.voice_window, 1, 10)
        _seconds("physio_window", self.physio_window, 30, 120)
        _seconds("physio_offset", self.physio_offset, -1e7, 1e7, "a finite number of seconds")
        if self.persons not in ("all", "largest"):
            raise InputError("persons", "'all' or 'largest'", repr(self.persons))
        object.__setattr__(self, "baseline", check_spec(self.baseline))


def _duration(rec: Recording) -> float:
    """The recording's duration: the header's, unless it claims more than two steps past the last frame."""
    hint, last = rec.info.duration_hint, rec.video_t
    if hint is None or hint > last + 2 * rec.s.step:
        return last + (1.0 / rec.s.fps if rec.s.fps else 0.04)
    return hint


def _notes(rec: Recording, physio, flickers: set) -> list[str]:
    info, notes = rec.info, sorted(rec.steps.notes)
    steps = {r["time"] for r in rec.rows}
    with_face = {r["time"] for r in rec.rows if r["person"] != "-"}
    if steps and len(with_face) < len(steps):
        notes.append(f"no face found in {len(steps) - len(with_face)} of {len(steps)} steps "
                     f"({100 * (1 - len(with_face) / len(steps)):.0f} %)")
    if flickers:
        notes.append(f"{len(flickers)} face track(s) seen for less than {MIN_PERSON_SECONDS:g} s were not counted as "
                     "persons (a detector firing for a moment, a face glimpsed at a cut)")
    if not info.has_audio:
        notes.append("the video has no audio track: no voice was read")
    notes += rec.base_notes
    for reason, n in sorted(rec.steps.sound.items()):
        notes.append(f"{reason} in {n} step(s): the voice was left out there")
    if rec.steps.unheard:  # silence, no voiced speech, ...: the reasons by count
        why = ", ".join(f"{k}: {n}" for k, n in sorted(rec.steps.unheard.items(), key=lambda kv: (-kv[1], kv[0])))
        notes.append(f"no usable speech in {sum(rec.steps.unheard.values())} step(s) ({why}): the voice was left out "
                     "there")
    if info.audio_skipped_s > 0:
        notes.append(f"{info.audio_skipped_s:.1f} s of audio beyond the video's end (or more than 120 s ahead of "
                     "its frames) were not decoded")
    for a, b in rec.gaps[:5]:
        notes.append(f"no frames or audio from {a:.1f} s to {b:.1f} s: no rows for that time")
    if len(rec.gaps) > 5:
        notes.append(f"{len(rec.gaps) - 5} more gaps without frames or audio")
    if info.decode_errors:
        notes.append(f"{info.decode_errors} corrupt packet(s) skipped" + (f"; decoding stopped early "
                     f"({info.stopped_early})" if info.stopped_early else ""))
    if physio is not None and physio.skipped:
        notes.append("physiology CSV columns skipped (not a known channel): " + ", ".join(physio.skipped))
    if physio is not None and rec.steps.physio_steps == 0:
        notes.append("the physiology does not cover any step of the video with 30 s or more: check physio_offset")
    return notes


def analyze_session(video, physio=None, *, step: float = 1.0, fps: float = 5.0, voice_window: float = 3.0,
                    physio_window: float = 60.0, physio_offset: float = 0.0, persons: str = "all",
                    face_model: str = "base", face_early_exit: EarlyExit = "auto", face_cues: str = "full",
                    baseline=None, progress: Callable[[float, float], None] | None = None) -> Session:
    """Turn a recorded video (and optional physiology) into a timeline of reactions.

    Parameters
    ----------
    video : str or os.PathLike
        A video file FFmpeg (through PyAV) reads: mp4, mkv, webm, avi, mov, ... Its first audio track is the voice.
    physio : str, os.PathLike or PhysioTable, optional
        A CSV with a ``time`` column in seconds and one column per channel (see
        :func:`cxsense.inputs.physio_csv.read_physio_csv`), or what that function returns.
    step : float, default 1.0
        Seconds per timeline row (0.2 to 60).
    fps : float, default 5.0
        Frames analysed per second of video (0: all).
    voice_window, physio_window : float
        Seconds of audio around each step (1 to 10) and of physiology up to its end (30 to 120).
    physio_offset : float
        Seconds added to the CSV's ``time`` to align it with the video.
    persons : {"all", "largest"}
        One timeline per tracked face, or only the largest face in each frame.
    face_model, face_early_exit, face_cues
        As for :func:`cxsense.assess`. With cues (the default) the face mesh also confirms each detection, so text,
        logos and patterns do not become persons; the timeline gets the cue columns.
    baseline : None, "auto" or (start, end), default None
        Person baselines (:mod:`cxsense.session.baselines`): ``"auto"`` reads each person's face against their own
        first 5 s on screen and the voice against the recording's first 10 s; ``(start, end)`` uses that stretch.
        Off by default: no gain has been shown on dev data yet (docs/sessions.md).
    progress : callable (seconds done, seconds total), optional

    Returns
    -------
    Session

    Raises
    ------
    InputError
        A missing, unreadable or video-less file, bad options, an unreadable physiology CSV.
    """
    import pandas as pd

    from ..inputs.physio_csv import PhysioTable
    from .decode import decode, open_video
    from .events import detect_events

    s = SessionSettings(step, fps, voice_window, physio_window, physio_offset, persons,
                        FaceOptions(model=face_model, early_exit=face_early_exit, cues=face_cues), baseline)
    if physio is not None and not isinstance(physio, PhysioTable):
        physio = read_physio_csv(physio, offset=physio_offset)
    container, info = open_video(video)
    started = _time.perf_counter()
    rec = Recording(s, physio, info, progress)
    for kind, t, payload in decode(container, info):
        rec.on_frame(t, payload) if kind == "video" else rec.on_audio(t, payload)
        rec.finish_ready()
    if info.frames == 0:
        raise InputError("video", "a video with at least one decodable frame", f"{info.name!r} (none decoded)")
    duration = _duration(rec)
    rec.finish_ready(final=True, duration=duration)
    flickers = rec.drop_flickers(duration)
    timeline = pd.DataFrame(rec.rows, columns=TIMELINE_COLUMNS)
    samples = pd.DataFrame(rec.cue_samples, columns=["time", "person", *CUE_COLUMNS, "surprise"])
    elapsed = _time.perf_counter() - started
    out = {"video": info.name, "duration_s": float(duration), "frames_decoded": info.frames,
           "frames_analysed": rec.sampled, "has_audio": info.has_audio, "physio": physio is not None,
           "physio_steps_with_data": rec.steps.physio_steps, "step_s": step, "fps_analysed": fps,
           "voice_window_s": voice_window, "physio_window_s": physio_window, "physio_offset_s": physio_offset,
           "persons": persons, "face_model": face_model, "baseline": baseline,
           "face_early_exit": rec.face.info()["expression"].get("early_exit"), "face_cues": face_cues,
           "fps_analysed_effective": 1.0 / rec.frame_interval, "decode_errors": info.decode_errors,
           "stopped_early": info.stopped_early, "seconds": elapsed,
           "speed_x_realtime": float(duration / elapsed) if elapsed > 0 else None,
           "persons_seen": sorted({r["person"] for r in rec.rows if r["person"] != "-"}, key=lambda p: int(p[1:])),
           "notes": _notes(rec, physio, flickers)}
    return Session(timeline=timeline, events=detect_events(timeline, cue_samples=samples), info=out, cue_samples=samples)
