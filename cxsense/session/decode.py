"""Decoding a recording: PyAV (FFmpeg's libraries inside the wheel; no system ffmpeg) turns a video file into a
stream of timed video frames and 16-kHz mono audio chunks, never holding more than one frame.

Limits, so that a small file cannot cost gigabytes (docs/limits.md):

- Audio is decoded no further than :data:`AUDIO_AHEAD_MAX_S` seconds ahead of the latest video frame, nor more
  than :data:`AUDIO_PAST_END_S` seconds past the video's end (its header's duration, or the latest frame if the
  header says less). Audio packets beyond are read from the file but not decoded, and counted in
  :attr:`DecodeInfo.audio_skipped_s`.
- A corrupt packet is skipped and counted; a file that ends early keeps what was read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator

from ..errors import InputError

__all__ = ["DecodeInfo", "open_video", "decode", "AUDIO_AHEAD_MAX_S", "AUDIO_PAST_END_S"]

#: Audio further ahead of the latest decoded video frame than this is not decoded (seconds).
AUDIO_AHEAD_MAX_S = 120.0
#: Audio further past the video's end than this is not decoded (seconds; the widest voice window is 10 s).
AUDIO_PAST_END_S = 10.0


@dataclass
class DecodeInfo:
    """What decoding saw: the file's name, its header's video duration, and counts for the notes."""

    name: str
    duration_hint: float | None
    has_audio: bool
    frames: int = 0
    last_frame_t: float = float("-inf")
    decode_errors: int = 0
    stopped_early: str | None = None
    audio_skipped_s: float = 0.0
    errors: list = field(default_factory=list)


def open_video(video):
    """``(container, DecodeInfo)`` for a video file; an :class:`~cxsense.InputError` for anything else."""
    import av

    allowed = "a path to a video file (mp4, mkv, webm, avi, ...)"
    if isinstance(video, (bytes, bytearray)):
        raise InputError("video", allowed, f"{len(video)} bytes")
    if not isinstance(video, (str, os.PathLike)):
        raise InputError("video", allowed, f"a {type(video).__name__}")
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
    vs = c.streams.video[0]
    hint = None
    if vs.duration is not None and vs.time_base is not None:
        hint = float(vs.duration * vs.time_base)
    elif c.duration is not None:
        hint = c.duration / 1e6
    return c, DecodeInfo(name=os.path.basename(path), duration_hint=hint, has_audio=bool(c.streams.audio))


def _audio_limit(info: DecodeInfo) -> float:
    last = max(info.last_frame_t, 0.0)  # before the first frame, audio up to AUDIO_AHEAD_MAX_S is decoded
    return min(last + AUDIO_AHEAD_MAX_S, max(info.duration_hint or 0.0, last) + AUDIO_PAST_END_S)


def decode(container, info: DecodeInfo) -> Iterator[tuple[str, float | None, object]]:
    """Yield ``("video", t, av.VideoFrame)`` and ``("audio", t, float32 16-kHz mono samples)`` in file order.

    Times are seconds from the container's start (``t`` of an audio chunk is its first sample's, or None when
    FFmpeg gives none). Closes the container at the end.
    """
    import av

    vs = container.streams.video[0]
    vs.thread_type = "AUTO"
    aus = container.streams.audio[0] if container.streams.audio else None
    t0 = (container.start_time or 0) / 1e6
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000) if aus is not None else None
    try:
        for packet in container.demux([s for s in (vs, aus) if s is not None]):
            if packet.stream.type == "audio" and packet.pts is not None and packet.time_base is not None:
                pt = float(packet.pts * packet.time_base) - t0
                if pt > _audio_limit(info):
                    info.audio_skipped_s += float((packet.duration or 0) * packet.time_base)
                    continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # a corrupt packet: skip it, count it, keep going
                info.decode_errors += 1
                continue
            for frame in frames:
                if packet.stream.type == "video":
                    if frame.time is None:
                        continue
                    t = float(frame.time) - t0
                    info.frames += 1
                    info.last_frame_t = max(info.last_frame_t, t)
                    yield "video", t, frame
                else:
                    for rf in resampler.resample(frame):
                        yield "audio", (None if rf.time is None else float(rf.time) - t0), rf.to_ndarray().reshape(-1)
        if resampler is not None:
            for rf in resampler.resample(None):
                yield "audio", None, rf.to_ndarray().reshape(-1)
    except (av.error.FFmpegError, OSError) as e:  # a truncated file may end the demuxer: keep what was read
        info.decode_errors += 1
        info.stopped_early = type(e).__name__
    finally:
        container.close()
