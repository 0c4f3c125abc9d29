"""Rolling buffers shared by recorded and live sessions: audio at 16 kHz, and physiology windows.

Only what the next assessment needs is kept: :class:`AudioBuffer` drops samples older than the caller asks,
:class:`PhysioRing` drops chunks older than its window. Nothing is written anywhere.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["AudioBuffer", "PhysioRing", "AUDIO_RATE", "MAX_AUDIO_GAP_FILL_S"]

#: Rate of the buffered audio, Hz (the voice encoder's rate).
AUDIO_RATE = 16000
#: A jump forward in audio timestamps up to this many seconds is filled with silence; a longer one restarts the
#: buffer at the new time (the gap then has no audio and no rows of its own).
MAX_AUDIO_GAP_FILL_S = 10.0


class AudioBuffer:
    """Mono float32 audio at 16 kHz with the time of its first sample; older samples are dropped on request.

    Chunks are placed by their timestamps: a small jump forward is filled with silence, a large one restarts
    the buffer, and samples that overlap what is held (timestamps going back) are dropped.
    """

    def __init__(self):
        self.start: float | None = None
        self._chunks: deque = deque()
        self._n = 0

    @property
    def end(self) -> float:
        """Time just after the last sample held, seconds (-inf when empty)."""
        return -math.inf if self.start is None else self.start + self._n / AUDIO_RATE

    def push(self, samples: np.ndarray, t: float | None = None) -> None:
        """Append ``samples`` (16 kHz mono float32) whose first sample is at ``t`` (None: right after the last)."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        if self.start is None:
            self.start = 0.0 if t is None else float(t)
        elif t is not None:
            gap = float(t) - self.end
            if gap > MAX_AUDIO_GAP_FILL_S:
                self._chunks.clear()
                self.start, self._n = float(t), 0
            elif gap > 1.0 / AUDIO_RATE:
                self._append(np.zeros(int(round(gap * AUDIO_RATE)), np.float32))
            elif gap < -1.0 / AUDIO_RATE:
                samples = samples[min(len(samples), int(round(-gap * AUDIO_RATE))):]
        self._append(samples)

    def _append(self, x: np.ndarray) -> None:
        if len(x):
            self._chunks.append(x)
            self._n += len(x)

    def _data(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = deque([np.concatenate(list(self._chunks))])
        return self._chunks[0] if self._chunks else np.zeros(0, np.float32)

    def window(self, t0: float, t1: float) -> np.ndarray:
        """The samples held between ``t0`` and ``t1`` seconds (empty when none)."""
        if self.start is None:
            return np.zeros(0, np.float32)
        data = self._data()
        i0 = max(0, int(round((t0 - self.start) * AUDIO_RATE)))
        i1 = max(0, min(len(data), int(round((t1 - self.start) * AUDIO_RATE))))
        return data[i0:i1]

    def drop_before(self, t: float) -> None:
        """Forget samples before ``t`` seconds."""
        if self.start is None or t <= self.start:
            return
        data = self._data()
        k = min(len(data), int((t - self.start) * AUDIO_RATE))
        self._chunks = deque([data[k:]]) if k < len(data) else deque()
        self.start += k / AUDIO_RATE
        self._n = len(data) - k


def _clean_window(mapping: dict, parameter: str = "physio"):
    """A :class:`~cxsense.inputs.physio.PhysioInput` of the window, or ``(None, reason)`` when it is unusable."""
    from ..errors import InputError
    from ..inputs.physio import load_physio

    try:
        return load_physio(mapping, parameter=parameter, nan_policy="interpolate"), None
    except InputError as e:
        return None, str(e)[:200]


class PhysioRing:
    """Live physiology: chunks ``{channel: (samples, rate)}`` pushed with their start time; keeps ``seconds``."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self._chunks: dict[str, deque] = {}

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def push(self, channels: dict, t: float) -> float:
        """Append checked chunks ``{channel: (samples 1-D or (n, 3), rate)}`` starting at ``t``; returns their end."""
        end = t
        for key, (x, rate) in channels.items():
            dq = self._chunks.setdefault(key, deque())
            if dq and dq[-1][2] != rate:
                dq.clear()  # a new rate starts the channel afresh
            dq.append((t, x, rate))
            end = max(end, t + len(x) / rate)
        return end

    def drop_before(self, t: float) -> None:
        """Forget chunks that end before ``t``."""
        for dq in self._chunks.values():
            while dq and dq[0][0] + len(dq[0][1]) / dq[0][2] < t:
                dq.popleft()

    def window(self, t_end: float, seconds: float, min_seconds: float = 30.0):
        """``(PhysioInput or None, reason or None)`` over the ``seconds`` up to ``t_end`` (at most the ring's),
        every channel cut to the shortest one's length; ``(None, None)`` with less than ``min_seconds``."""
        seconds = min(float(seconds), self.seconds)
        t0 = t_end - seconds
        mapping = {}
        for key, dq in self._chunks.items():
            if not dq:
                continue
            rate = dq[-1][2]
            x = np.concatenate([c[1][max(0, int(round((t0 - c[0]) * c[2]))):] for c in dq])
            x = x[-int(seconds * rate):]
            if len(x) / rate < min_seconds:
                return None, None
            mapping[key] = (x, rate)
        if not mapping:
            return None, None
        n = min(len(x) / r for x, r in mapping.values())
        return _clean_window({k: (x[-int(round(n * r)):], r) for k, (x, r) in mapping.items()})
