"""Make small recordings for tests and benchmarks: :func:`write_video` (PyAV encoders, no system ffmpeg)."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Callable, Iterable

import numpy as np

__all__ = ["write_video", "CONTAINER_CODECS"]

#: Video and audio codecs used per container by :func:`write_video`.
CONTAINER_CODECS = {
    ".mp4": ("libx264", "aac"),
    ".mkv": ("libx264", "libopus"),
    ".webm": ("libvpx", "libopus"),
    ".avi": ("mpeg4", "pcm_s16le"),
    ".mov": ("libx264", "aac"),
}


def write_video(path, frames: Iterable[np.ndarray] | Callable[[int], np.ndarray], n_frames: int | None = None,
                fps: int = 25, audio: np.ndarray | None = None, sampling_rate: int = 16000) -> None:
    """Write RGB frames (and optional mono audio) to ``path``; the container is chosen by the extension.

    Parameters
    ----------
    path : str or os.PathLike, ending in .mp4, .mkv, .webm, .avi or .mov
    frames : iterable of uint8 ``(H, W, 3)`` RGB arrays, or a function ``i -> frame`` with ``n_frames``
    fps : int
    audio : np.ndarray [shape=(n,)] float in [-1, 1], optional
    sampling_rate : int, Hz
    """
    import av

    ext = os.path.splitext(os.fspath(path))[1].lower()
    vcodec, acodec = CONTAINER_CODECS[ext]
    if callable(frames):
        make = frames
        frames = (make(i) for i in range(int(n_frames)))
    with av.open(os.fspath(path), "w") as c:
        vs = None
        as_ = None
        if audio is not None:
            arate = 48000 if acodec == "libopus" else sampling_rate
            as_ = c.add_stream(acodec, rate=arate)
            as_.layout = "mono"
        for i, f in enumerate(frames):
            f = np.ascontiguousarray(f, dtype=np.uint8)
            if vs is None:
                vs = c.add_stream(vcodec, rate=fps)
                vs.width, vs.height = f.shape[1], f.shape[0]
                vs.pix_fmt = "yuv420p"
                if vcodec == "libx264":
                    vs.options = {"preset": "veryfast", "crf": "23"}
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if as_ is not None:
            x = np.clip(np.asarray(audio, np.float64), -1, 1)
            if as_.rate != sampling_rate:
                from scipy.signal import resample_poly

                g = np.gcd(int(as_.rate), int(sampling_rate))
                x = resample_poly(x, as_.rate // g, sampling_rate // g)
            pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
            chunk = 960 if acodec == "libopus" else 1024
            resampler = av.AudioResampler(format=as_.format.name, layout="mono", rate=as_.rate)
            for k in range(0, len(pcm), chunk):
                af = av.AudioFrame.from_ndarray(pcm[None, k:k + chunk], format="s16", layout="mono")
                af.sample_rate = as_.rate
                af.pts = k
                af.time_base = Fraction(1, as_.rate)
                for rf in resampler.resample(af):
                    for p in as_.encode(rf):
                        c.mux(p)
            for p in as_.encode(None):
                c.mux(p)
