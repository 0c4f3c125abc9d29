"""Recorded sessions: a video (with its own audio track) and optional physiology become a timeline.

Frame-sampling policy
---------------------
The video is decoded frame by frame and never held: only the frames at the analysis rate ``fps``
(default 5 per second: the first frame at or after each multiple of ``1/fps`` seconds) are turned into
pixels and passed to the face detector and expression model. Facial expressions change over hundreds of
milliseconds, so 5 frames per second sees every expression that lasts a fifth of a second or more, and
keeps a 640x480 recording several times faster than real time on 2 cores. ``fps=0`` analyses every frame.

Each step (default 1 s) gives one row per person:

- face: the faces of the frames sampled in the step, tracked by :class:`~cxsense.session.tracking.IoUTracker`
  into persons ``p0``, ``p1``, ... and pooled per person (:func:`~cxsense.session.tracking.pool_face`);
- voice: the audio track, resampled to 16 kHz mono, in a window of ``voice_window`` seconds (default 3)
  centred on the step, through the voice encoder (its VAD decides whether there is speech). The audio is
  not diarised: the voice joins the fusion only when at most one person's face is seen in the step; with
  several people its own estimate is reported in the ``voice_*`` columns of every row but not fused;
- physiology: the ``physio_window`` seconds (default 60; at least 30 must be covered) ending at the end of
  the step, from a CSV with a ``time`` column (seconds) shifted by ``physio_offset`` (video time = CSV
  time + offset), through the physiology encoder;
- the three are fused by :func:`cxsense.fusion.get_fusion` exactly as in :func:`cxsense.assess`.

A step in which nothing usable was seen gives a row with ``emotion == "no_signal"``, quality columns 0,
probabilities, valence, arousal, stress and confidence 0 (so that the timeline never holds NaN).
"""

from __future__ import annotations

import math
import os
import time as _time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..emotions import EMOTIONS
from ..errors import InputError, NoSignalError

__all__ = ["Session", "analyze_session", "read_physio_csv", "TIMELINE_COLUMNS"]

MODALITY_COLUMNS = ["face_quality", "face_emotion", "face_valence", "face_arousal",
                    "voice_quality", "voice_emotion", "voice_valence", "voice_arousal", "voice_fused",
                    "physio_quality", "physio_arousal", "physio_stress"]
#: Columns of a session timeline, in order.
TIMELINE_COLUMNS = (["time", "person", "emotion", *EMOTIONS, "valence", "arousal", "stress", "confidence",
                     "incongruence"] + MODALITY_COLUMNS)


def read_physio_csv(path, *, offset: float = 0.0, parameter: str = "physio"):
    """A physiology CSV with a ``time`` column in seconds and one column per channel.

    Channels as in :func:`cxsense.assess` (``ecg``, ``ppg``/``bvp``, ``eda``/``gsr``, ``rsp``, ``temp``,
    and ``acc_x``, ``acc_y``, ``acc_z`` for motion). All columns share the CSV's rate, taken from the
    median step of ``time``. ``offset`` (seconds) is added to ``time`` to put it on the video's clock.

    Returns
    -------
    (times, frame, rate) : np.ndarray [shape=(n,)] seconds on the video clock, pandas.DataFrame without
    the time column, float Hz.
    """
    import pandas as pd

    if not isinstance(offset, (int, float)) or not math.isfinite(offset):
        raise InputError("physio_offset", "a finite number of seconds", repr(offset))
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise InputError(parameter, "a readable CSV with a 'time' column and one column per channel",
                         f"{os.fspath(path)!r} ({type(e).__name__})") from None
    if "time" not in df.columns:
        raise InputError(parameter, "a CSV with a 'time' column in seconds", f"columns {list(df.columns)}")
    t = pd.to_numeric(df.pop("time"), errors="coerce").to_numpy(dtype=float)
    steps = np.diff(t)
    if len(t) < 2 or not np.all(np.isfinite(t)) or np.median(steps) <= 0 or np.any(steps <= 0):
        raise InputError(parameter, "a 'time' column of increasing finite seconds", f"{os.fspath(path)!r}")
    return t + float(offset), df, float(1.0 / np.median(steps))


class _AudioBuffer:
    """The recent audio (16 kHz mono float32) with its start time; older samples are dropped."""

    def __init__(self, rate: int = 16000):
        self.rate = rate
        self.start = None  # seconds of the first sample held
        self.chunks: deque = deque()
        self.n = 0

    def push(self, samples: np.ndarray, t: float | None) -> None:
        if self.start is None:
            self.start = 0.0 if t is None else float(t)
        self.chunks.append(samples.astype(np.float32, copy=False))
        self.n += len(samples)

    @property
    def end(self) -> float:
        return -math.inf if self.start is None else self.start + self.n / self.rate

    def window(self, t0: float, t1: float) -> np.ndarray:
        if self.start is None:
            return np.zeros(0, np.float32)
        data = np.concatenate(list(self.chunks)) if len(self.chunks) > 1 else (self.chunks[0] if self.chunks else np.zeros(0, np.float32))
        self.chunks = deque([data]) if len(data) else deque()
        i0 = max(0, int(round((t0 - self.start) * self.rate)))
        i1 = max(0, min(len(data), int(round((t1 - self.start) * self.rate))))
        return data[i0:i1]

    def drop_before(self, t: float) -> None:
        if self.start is None or t <= self.start:
            return
        data = np.concatenate(list(self.chunks)) if self.chunks else np.zeros(0, np.float32)
        k = min(len(data), int((t - self.start) * self.rate))
        self.chunks = deque([data[k:]])
        self.start += k / self.rate
        self.n = len(data) - k


@dataclass
class Session:
    """The outcome of :func:`analyze_session`.

    Attributes
    ----------
    timeline : pandas.DataFrame
        One row per step and person, columns :data:`TIMELINE_COLUMNS`.
    events : pandas.DataFrame
        Reaction events (:func:`cxsense.session.events.detect_events`).
    info : dict
        The source, the settings, the policies and timings.
    """

    timeline: object
    events: object
    info: dict = field(default_factory=dict)

    def summary(self, segments=None):
        """Per segment and person: mean, peak and share of time of each emotion (see :func:`~cxsense.session.events.summarize`)."""
        from .events import summarize

        return summarize(self.timeline, segments)

    def to_csv(self, path) -> None:
        """Write the timeline as CSV (only when asked)."""
        self.timeline.to_csv(path, index=False, float_format="%.6g")

    def report(self, path, segments=None, title: str | None = None) -> None:
        """Write the self-contained HTML report (see :mod:`cxsense.session.report`)."""
        from .report import write_report

        write_report(self, path, segments=segments, title=title)


def _open(video):
    import av

    if isinstance(video, (bytes, bytearray)):
        raise InputError("video", "a path to a video file (mp4, mkv, webm, avi, ...)", "bytes")
    if not isinstance(video, (str, os.PathLike)):
        raise InputError("video", "a path to a video file (mp4, mkv, webm, avi, ...)", type(video).__name__)
    path = os.fspath(video)
    if not os.path.isfile(path):
        raise InputError("video", "an existing video file", repr(path))
    try:
        c = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as e:  # FFmpeg's error types for unreadable files
        raise InputError("video", "a readable video file (mp4, mkv, webm, avi, ...)", f"{path!r} ({type(e).__name__})") from None
    if not c.streams.video:
        c.close()
        raise InputError("video", "a file with a video stream", f"{path!r} (no video stream)")
    return c, path


def _row(t, person, fused, results, voice_used) -> dict:
    row = {"time": round(float(t), 6), "person": person}
    if fused is None:
        row.update({"emotion": "no_signal", **{e: 0.0 for e in EMOTIONS}, "valence": 0.0, "arousal": 0.0,
                    "stress": 0.0, "confidence": 0.0, "incongruence": 0.0})
    else:
        p = np.asarray(fused.probabilities, float)
        row.update({"emotion": EMOTIONS[int(p.argmax())], **{e: float(v) for e, v in zip(EMOTIONS, p)},
                    "valence": fused.valence, "arousal": fused.arousal, "stress": fused.stress,
                    "confidence": fused.confidence,
                    "incongruence": float(fused.info.get("incongruence", {}).get("score", 0.0))})
    for m in ("face", "voice"):
        r = results.get(m)
        ok = r is not None and r.quality > 0
        row[f"{m}_quality"] = r.quality if ok else 0.0
        row[f"{m}_emotion"] = (r.emotion or "") if ok else ""
        row[f"{m}_valence"] = float(r.valence) if ok and r.valence is not None else 0.0
        row[f"{m}_arousal"] = float(r.arousal) if ok and r.arousal is not None else 0.0
    row["voice_fused"] = bool(voice_used)
    r = results.get("physio")
    ok = r is not None and r.quality > 0
    row["physio_quality"] = r.quality if ok else 0.0
    row["physio_arousal"] = float(r.arousal) if ok and r.arousal is not None else 0.0
    row["physio_stress"] = float(r.stress) if ok and r.stress is not None else 0.0
    return row


def analyze_session(video, physio=None, *, step: float = 1.0, fps: float = 5.0, voice_window: float = 3.0,
                    physio_window: float = 60.0, physio_offset: float = 0.0, persons: str = "all",
                    face_model: str = "base", face_early_exit: float | str | None = "auto",
                    progress: Callable[[float, float], None] | None = None) -> Session:
    """Turn a recorded video (and optional physiology) into a timeline of reactions.

    Parameters
    ----------
    video : str or os.PathLike
        A video file whose container FFmpeg (through PyAV) reads: mp4, mkv, webm, avi, mov, ...
        Its first audio track, if any, is the voice input.
    physio : str, os.PathLike, or (times, DataFrame, rate), optional
        A CSV with a ``time`` column (see :func:`read_physio_csv`), or what that function returns.
    step : float, default 1.0
        Seconds per timeline row (0.2 to 60).
    fps : float, default 5.0
        Frames analysed per second of video (the sampling policy, see the module docstring); 0: all.
    voice_window, physio_window : float
        Seconds of audio around each step (1 to 10) and of physiology up to its end (30 to 120).
    physio_offset : float
        Seconds added to the CSV's ``time`` to align it with the video.
    persons : {"all", "largest"}
        One timeline per tracked face (``person`` column), or only the largest face in each frame.
    face_model : {"base", "small"}
        The face expression network (see :func:`cxsense.assess`).
    face_early_exit : "auto", float in (0, 1] or None
        Base's early exit (see :func:`cxsense.assess`): with a threshold, a face that the stage-1 network reads
        with at least that probability costs one small pass instead of eight; ``"auto"`` follows the model
        file (0.65 for base v1.4.0), ``None`` turns it off.
    progress : callable (seconds done, seconds total), optional

    Returns
    -------
    Session

    Raises
    ------
    InputError
        A missing, unreadable or video-less file; bad options; an unreadable physiology CSV.
    """
    import av
    import pandas as pd

    from ..encoders import get_encoder
    from ..fusion import get_fusion
    from ..inputs.audio import Audio
    from ..inputs.image import load_image
    from .events import detect_events
    from .tracking import IoUTracker, pool_face

    for name, v, lo, hi in (("step", step, 0.2, 60), ("fps", fps, 0, 120), ("voice_window", voice_window, 1, 10),
                            ("physio_window", physio_window, 30, 120)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise InputError(name, f"a number of seconds in [{lo}, {hi}]" if name != "fps" else "0 (all frames) to 120", repr(v))
    if persons not in ("all", "largest"):
        raise InputError("persons", "'all' or 'largest'", repr(persons))
    from ..encoders.face.encoder import check_face_options

    check_face_options(face_model, face_early_exit)
    ph = None
    if physio is not None:
        ph = physio if isinstance(physio, tuple) else read_physio_csv(physio, offset=physio_offset)
    container, path = _open(video)
    t_start = _time.perf_counter()
    face_enc = get_encoder("face", model=face_model, early_exit=face_early_exit)
    voice_enc = get_encoder("voice")
    physio_enc = get_encoder("physio") if ph is not None else None
    fusion = get_fusion()
    vs = container.streams.video[0]
    vs.thread_type = "AUTO"
    aus = container.streams.audio[0] if container.streams.audio else None
    duration = None
    if vs.duration is not None and vs.time_base is not None:
        duration = float(vs.duration * vs.time_base)
    elif container.duration is not None:
        duration = container.duration / 1e6
    t0 = (container.start_time or 0) / 1e6 if container.start_time is not None else 0.0

    resampler = None
    if aus is not None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    audio = _AudioBuffer()
    tracker = IoUTracker()
    buckets: dict[int, dict] = {}  # step index -> {"n": sampled frames, "faces": {pid: [results]}}
    rows: list[dict] = []
    next_sample = 0.0
    video_t = -math.inf
    audio_done = aus is None
    decode_errors = 0
    n_frames = n_sampled = 0
    done_step = 0
    physio_notes: set = set()
    overlap_steps = 0

    def physio_result(t_end: float):
        nonlocal overlap_steps
        times, df, rate = ph
        lo = t_end - physio_window
        i0, i1 = np.searchsorted(times, lo), np.searchsorted(times, t_end)
        if (i1 - i0) / rate < 30.0:
            return None
        overlap_steps += 1
        try:
            from ..inputs.physio import load_physio

            x = load_physio(df.iloc[i0:i1].reset_index(drop=True), sampling_rate=rate, parameter="physio",
                            nan_policy="interpolate")
            return physio_enc.encode(x)
        except InputError as e:
            physio_notes.add(str(e)[:200])
            return None

    def finish(k: int) -> None:
        b = buckets.pop(k, {"n": 0, "faces": {}})
        ts, te = k * step, (k + 1) * step
        voice = None
        if aus is not None:
            c = 0.5 * (ts + te)
            w = audio.window(c - voice_window / 2, c + voice_window / 2)
            if len(w) >= 1600:
                voice = voice_enc.encode(Audio(np.clip(w, -1, 1).astype(np.float32), 16000))
        phys = physio_result(te) if ph is not None else None
        faces = {pid: pool_face(rs, b["n"]) for pid, rs in b["faces"].items()}
        faces = {pid: f for pid, f in faces.items() if f is not None}
        use_voice = voice is not None and len(faces) <= 1
        people = sorted(faces, key=lambda s: int(s[1:])) or ["-"]
        for pid in people:
            res = {}
            if pid in faces:
                res["face"] = faces[pid]
            if voice is not None:
                res["voice"] = voice
            if phys is not None:
                res["physio"] = phys
            fuse_in = {m: r for m, r in res.items() if m != "voice" or use_voice}
            try:
                fused = fusion.fuse(fuse_in) if fuse_in else None
            except NoSignalError:
                fused = None
            rows.append(_row(ts, pid, fused, res, use_voice and voice.quality > 0))

    def ready_steps(final: bool = False) -> None:
        nonlocal done_step
        while True:
            te = (done_step + 1) * step
            if not final:
                need_audio = te + voice_window / 2
                if video_t < te or (not audio_done and audio.end < need_audio):
                    return
            elif (duration is not None and done_step > 0
                  and done_step * step >= max(duration, video_t if video_t > -math.inf else 0) - 0.05 * step):
                return  # the last step needs at least 5 % of a step of video (a very short video still gets one)
            elif duration is None and done_step * step > video_t:
                return
            finish(done_step)
            done_step += 1
            audio.drop_before(done_step * step - voice_window)
            if progress is not None:
                progress(min(done_step * step, duration or done_step * step), duration or 0.0)

    streams = [s for s in (vs, aus) if s is not None]
    try:
        for packet in container.demux(streams):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # a corrupt packet: skip it, count it, keep going
                decode_errors += 1
                continue
            for frame in frames:
                if packet.stream.type == "video":
                    if frame.time is None:
                        continue
                    t = float(frame.time) - t0
                    n_frames += 1
                    video_t = max(video_t, t)
                    if fps == 0 or t + 1e-6 >= next_sample:
                        next_sample = (math.floor(t * fps + 1e-6) + 1) / fps if fps else 0.0
                        n_sampled += 1
                        img = load_image(frame.to_ndarray(format="rgb24"), parameter="video frame")
                        rs = face_enc.encode_all(img, tiled="auto")
                        rs = [r for r in rs if r.quality > 0]
                        if persons == "largest":
                            rs = rs[:1]
                        ids = tracker.update(t, [r.details["box"] for r in rs])
                        b = buckets.setdefault(int(t // step), {"n": 0, "faces": {}})
                        b["n"] += 1
                        for pid, r in zip(ids, rs):
                            b["faces"].setdefault(pid, []).append(r)
                else:
                    for rf in resampler.resample(frame):
                        ft = None if rf.time is None else float(rf.time) - t0
                        audio.push(rf.to_ndarray().reshape(-1), ft)
            ready_steps()
        if resampler is not None:
            for rf in resampler.resample(None):
                audio.push(rf.to_ndarray().reshape(-1), None)
    except InputError:
        raise
    except (av.error.FFmpegError, OSError) as e:  # a truncated file may end the demuxer: keep what was read
        decode_errors += 1
        trailing = f"{type(e).__name__}"
    else:
        trailing = None
    finally:
        container.close()
    audio_done = True
    if n_frames == 0:
        raise InputError("video", "a video with at least one decodable frame", f"{path!r} (none decoded)")
    if duration is None or duration > video_t + 2 * step:
        duration = video_t + (1.0 / fps if fps else 0.04)
    ready_steps(final=True)
    timeline = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    events = detect_events(timeline)
    elapsed = _time.perf_counter() - t_start
    info = {
        "video": os.path.basename(path), "duration_s": float(duration), "frames_decoded": n_frames,
        "frames_analysed": n_sampled, "has_audio": aus is not None, "physio": ph is not None,
        "physio_steps_with_data": overlap_steps, "step_s": step, "fps_analysed": fps, "voice_window_s": voice_window,
        "physio_window_s": physio_window, "physio_offset_s": physio_offset, "persons": persons,
        "face_model": face_model, "face_early_exit": face_enc.info()["expression"].get("early_exit"),
        "decode_errors": decode_errors, "stopped_early": trailing, "seconds": elapsed,
        "speed_x_realtime": float(duration / elapsed) if elapsed > 0 else None,
        "persons_seen": sorted({r["person"] for r in rows if r["person"] != "-"}, key=lambda s: int(s[1:])),
        "notes": sorted(physio_notes),
    }
    if ph is not None and overlap_steps == 0:
        info["notes"].append("the physiology does not cover any step of the video with 30 s or more: check physio_offset")
    return Session(timeline=timeline, events=events, info=info)
