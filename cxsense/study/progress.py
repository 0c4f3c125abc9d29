"""The study's progress bar: recordings done, failed and reused, and the estimated time left."""

from __future__ import annotations

import sys
import time

__all__ = ["StudyProgress"]


def _clock(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class StudyProgress:
    """A one-line bar on ``stream`` (default stderr), or a callback.

    Parameters
    ----------
    total : int
        Recordings in the study.
    reused : int
        Recordings reused from an earlier run (counted as done from the start).
    enabled : bool
        Draw the bar.
    callback : callable ``(state: dict) -> None``, optional
        Called after every recording with ``done, failed, reused, total, elapsed_s, eta_s`` (``eta_s`` None until
        one recording was analysed).
    """

    def __init__(self, total: int, reused: int = 0, enabled: bool = False, callback=None, stream=None):
        self.total, self.reused = int(total), int(reused)
        self.done = self.failed = 0
        self.enabled = enabled
        self.callback = callback
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self._drawn = False
        self.update()

    def state(self) -> dict:
        elapsed = time.perf_counter() - self.t0
        analysed = self.done + self.failed
        left = self.total - self.reused - analysed
        eta = elapsed / analysed * left if analysed else None
        return {"done": self.done + self.reused, "failed": self.failed, "reused": self.reused, "total": self.total,
                "elapsed_s": elapsed, "eta_s": eta}

    def update(self, status: str | None = None) -> None:
        """Count one finished recording (``"ok"`` or ``"failed"``) and redraw."""
        if status == "ok":
            self.done += 1
        elif status == "failed":
            self.failed += 1
        st = self.state()
        if self.callback is not None:
            self.callback(st)
        if not self.enabled:
            return
        finished = st["done"] + st["failed"]
        width = 25
        fill = int(width * finished / max(self.total, 1))
        eta = _clock(st["eta_s"]) if st["eta_s"] is not None else "-:--:--"
        self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {finished}/{self.total}  done {st['done']}"
                          f" (reused {st['reused']})  failed {st['failed']}  elapsed {_clock(st['elapsed_s'])}"
                          f"  left ~{eta} ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
