"""Polyphase resampling to 16 kHz, block by block, equal to one :func:`scipy.signal.resample_poly` call.

``resample_poly(x, up, down, window=("kaiser", 5.0))`` filters the whole signal at once: its float64 copy and
output are the peak memory of a long input. :class:`StreamResampler` takes the signal in blocks and computes
the same output samples with :func:`scipy.signal.upfirdn` over overlapping spans of input: every output sample
is the same sum of the same products in the same order as in the one-shot call (each span starts at a multiple
of ``down`` input samples, so the filter's phases line up, and holds every input sample its outputs read), so
the result is identical, not merely close.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["SAMPLING_RATE", "StreamResampler"]

#: The rate every :class:`~cxsense.inputs.audio.Audio` has, in Hz (the voice model's rate).
SAMPLING_RATE = 16_000
#: Output samples computed per upfirdn call.
_CHUNK = 1 << 18


class StreamResampler:
    """Resample float64 blocks from ``rate`` to :data:`SAMPLING_RATE`; the output is float32, clipped to [-1, 1].

    Parameters
    ----------
    rate : int
        Input rate in Hz. The ratio is ``Fraction(16000, rate).limit_denominator(1000)``, as before.
    n_in : int, optional
        The number of input samples, when known: the output is then allocated once.
    """

    def __init__(self, rate: int, n_in: int | None = None):
        fr = Fraction(SAMPLING_RATE, int(rate)).limit_denominator(1000)
        self.up, self.down = fr.numerator, fr.denominator
        if self.up < 1:
            raise ValueError(f"rate {rate} Hz is too high to resample to {SAMPLING_RATE} Hz")
        self.identity = self.up == self.down == 1
        if not self.identity:
            from scipy.signal import firwin

            max_rate = max(self.up, self.down)
            half_len = 10 * max_rate
            h = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float64) * self.up
            n_pre_pad = self.down - half_len % self.down
            self.h = np.concatenate([np.zeros(n_pre_pad), h])
            self.pre_remove = (half_len + n_pre_pad) // self.down
        else:
            self.h, self.pre_remove = np.ones(1), 0
        self._buf = np.zeros(0)  # input samples from absolute index self._b0 on
        self._b0 = 0
        self._n_in = 0
        self._k = self.pre_remove  # next output index of the full upfirdn output
        n_out = None if n_in is None else self.out_len(n_in)
        self._out = np.empty(n_out, np.float32) if n_out is not None else None
        self._parts: list[np.ndarray] = []
        self._pos = 0

    def out_len(self, n_in: int) -> int:
        """Output samples for ``n_in`` input samples (as resample_poly: ceil(n_in * up / down))."""
        n = n_in * self.up
        return n // self.down + bool(n % self.down)

    def _emit(self, y: np.ndarray) -> None:
        y = np.clip(y, -1.0, 1.0).astype(np.float32)
        if self._out is not None and self._pos + len(y) <= len(self._out):
            self._out[self._pos:self._pos + len(y)] = y
        else:
            if self._out is not None:  # more than announced: keep what was written, go on in parts
                self._parts.append(self._out[:self._pos])
                self._out = None
            self._parts.append(y)
        self._pos += len(y)

    def _first_input(self, k: int) -> int:
        """The first input sample that output ``k`` reads, rounded down to a multiple of ``down``."""
        lo = max(0, -(-(k * self.down - len(self.h) + 1) // self.up))
        return (lo // self.down) * self.down

    def _run(self, k_end: int, final: bool) -> None:
        from scipy.signal import upfirdn

        while self._k < k_end:
            k0, k1 = self._k, min(k_end, self._k + _CHUNK)
            i0 = self._first_input(k0)
            i1 = min(self._n_in, (k1 - 1) * self.down // self.up + 1)
            x = self._buf[i0 - self._b0:i1 - self._b0]
            if final:  # the filter's tail past the last sample reads zeros, as in the one-shot call
                x = np.concatenate([x, np.zeros(len(self.h) // self.up + self.down + 1)])
            y = upfirdn(self.h, x, self.up, self.down)
            s = i0 * self.up // self.down
            self._emit(y[k0 - s:k1 - s])
            self._k = k1
        keep = self._first_input(self._k)
        if keep > self._b0:
            self._buf = self._buf[keep - self._b0:]
            self._b0 = keep

    def push(self, x: np.ndarray) -> None:
        """Add the next block of input samples (1-D float64)."""
        if self.identity:
            self._emit(x)
            return
        self._buf = np.concatenate([self._buf, x]) if len(self._buf) else np.array(x, dtype=np.float64)
        self._n_in += len(x)
        if self._n_in:
            self._run((self._n_in - 1) * self.up // self.down + 1, final=False)

    def finish(self) -> np.ndarray:
        """The whole output, float32 ``(ceil(n_in * up / down),)`` clipped to [-1, 1]."""
        if not self.identity:
            self._run(self.pre_remove + self.out_len(self._n_in), final=True)
        if self._out is not None:
            return self._out[:self._pos]
        return np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
