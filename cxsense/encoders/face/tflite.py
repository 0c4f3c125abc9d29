"""One TensorFlow Lite network (the MediaPipe face detector, face mesh and iris models), run on the CPU.

Two runtimes read the same ``.tflite`` file:

- ``"litert"``: Google's LiteRT (``ai-edge-litert``, Apache-2.0, the runtime these files were made for) with its
  XNNPACK CPU kernels. About 2-3 times faster than OpenCV here (``benchmarks/face_cues.py --speed-only`` and
  docs/cues.md, "Speed"). Installed with cxsense wherever a wheel exists (Linux x86_64 and aarch64, macOS arm64,
  Windows amd64).
- ``"opencv"``: OpenCV's DNN module, the fallback where LiteRT is not installed (macOS on Intel).

Both give the same outputs to float rounding (tests compare them on the shipped portrait). The choice is made when
a network is loaded (once per process for the shared encoders): ``CXSENSE_TFLITE_RUNTIME=opencv`` (or ``litert``)
forces one, otherwise LiteRT when importable.
Each network runs on one thread: cxsense parallelises over faces, recordings and workers, not inside a 2 ms pass.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ...errors import InputError

__all__ = ["RUNTIMES", "default_runtime", "TFLiteNet"]

RUNTIMES = ("litert", "opencv")
_quiet_lock = threading.Lock()
_quiet_done = False


def _litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except Exception:  # ImportError, or a wheel that does not load on this CPU
        return False
    return True


def default_runtime() -> str:
    """``"litert"`` when LiteRT is importable, else ``"opencv"``; ``CXSENSE_TFLITE_RUNTIME`` overrides it."""
    forced = os.environ.get("CXSENSE_TFLITE_RUNTIME", "").strip().lower()
    if forced:
        if forced not in RUNTIMES:
            raise InputError("CXSENSE_TFLITE_RUNTIME", f"one of {RUNTIMES}", repr(forced))
        return forced
    return "litert" if _litert_available() else "opencv"


def _interpreter(path: str, shape: tuple[int, ...]):
    """A LiteRT interpreter on one thread with its input resized to ``shape`` and its tensors allocated. The
    runtime prints one ``INFO:`` line to the process's stderr the first time it applies its CPU delegate (at
    allocation); that first set-up runs with file descriptor 2 pointed at /dev/null."""
    global _quiet_done
    from ai_edge_litert.interpreter import Interpreter

    def build():
        it = Interpreter(model_path=path, num_threads=1)
        inp = it.get_input_details()[0]
        if tuple(inp["shape"]) != shape:
            it.resize_tensor_input(inp["index"], list(shape))
        it.allocate_tensors()
        return it

    with _quiet_lock:
        if _quiet_done:
            return build()
        try:
            saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
        except OSError:  # no usable stderr descriptor: nothing to silence
            saved = None
        try:
            return build()
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
            _quiet_done = True


class TFLiteNet:
    """One ``.tflite`` network with a fixed input shape (thread-safe: calls are serialised).

    Parameters
    ----------
    path : str or path, the model file (already checked by the registry).
    input_shape : tuple (N, H, W, C), the NHWC float32 input every call gives.
    runtime : {"litert", "opencv"} or None (:func:`default_runtime`).
    """

    def __init__(self, path, input_shape: tuple[int, int, int, int], runtime: str | None = None):
        self.runtime = default_runtime() if runtime is None else runtime
        if self.runtime not in RUNTIMES:
            raise InputError("runtime", f"one of {RUNTIMES}", repr(runtime))
        self.input_shape = tuple(int(v) for v in input_shape)
        self._lock = threading.Lock()  # neither an Interpreter nor an OpenCV Net may be called from two threads
        if self.runtime == "litert":
            it = _interpreter(str(path), self.input_shape)
            self._it, self._in = it, it.get_input_details()[0]["index"]
            self._outs = [o["index"] for o in it.get_output_details()]
        else:
            import cv2

            self._net = cv2.dnn.readNetFromTFLite(str(path))
            self._names = self._net.getUnconnectedOutLayersNames()

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """The network's outputs (float32 arrays the caller owns, in the model's order) for an NHWC float32 input of
        ``input_shape``. Callers tell the outputs apart by their sizes."""
        if x.shape != self.input_shape:  # pragma: no cover - a caller's bug, not user input
            raise ValueError(f"input of shape {x.shape}, expected {self.input_shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            if self.runtime == "litert":
                self._it.set_tensor(self._in, x)
                self._it.invoke()
                # get_tensor returns a copy, and OpenCV's forward new arrays: no second copy here
                return [np.asarray(self._it.get_tensor(i), dtype=np.float32) for i in self._outs]
            self._net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            return [np.asarray(o, dtype=np.float32) for o in self._net.forward(self._names)]
