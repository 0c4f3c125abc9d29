import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def face_path() -> Path:
    """A public-domain portrait shipped with the project (NASA, Eileen Collins): one smiling face."""
    return EXAMPLES / "astronaut.jpg"


@pytest.fixture(scope="session")
def face_rgb(face_path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(face_path).convert("RGB"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""
    import socket

    class _Blocked(socket.socket):
        def __init__(self, *a, **k):
            raise AssertionError("cxsense tried to open a network socket")

    def _blocked(*a, **k):
        raise AssertionError("cxsense tried to open a network connection")

    monkeypatch.setattr(socket, "socket", _Blocked)
    monkeypatch.setattr(socket, "create_connection", _blocked)
    monkeypatch.setattr(socket, "getaddrinfo", _blocked)
    yield


@pytest.fixture
def cli(capsys):
    """``cli(*args) -> (exit code, parsed JSON stdout or None, stderr)``: the command line run in-process."""
    import json

    from cxsense.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        try:
            data = json.loads(out) if out.strip() else None
        except ValueError:
            data = None
        return code, data, err

    return run


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds (deselect with -m 'not slow')")


@pytest.fixture(scope="session")
def jaw_drop_clip(face_rgb):
    """The portrait (256x256) at rest for 3 s, then its mouth warped open by 0.35 IOD and brows up by 0.15 IOD over
    0.3 s, held 2 s, at 10 frames a second: (times, frames, the change's midpoint)."""
    import cv2

    fps, rest, after = 10, 3.0, 2.0
    from cxsense.encoders.face.cue_hook import shared_mesh
    from cxsense.encoders.face.detect import FaceDetector
    from cxsense.encoders.face.synthetic import open_mouth, raise_brows
    from cxsense.registry import model_path

    small = cv2.resize(face_rgb, (256, 256), interpolation=cv2.INTER_AREA)
    lm = shared_mesh().run(small, FaceDetector(model_path("face-detector")).detect(small)[0], iris=False).landmarks
    iod = float(np.linalg.norm(lm[[33, 133], :2].mean(0) - lm[[362, 263], :2].mean(0)))
    times, frames = [], []
    for i in range(int((rest + 0.3 + after) * fps)):
        t = i / fps
        k = float(np.clip((t - rest) / 0.3, 0, 1))
        im = small if k == 0 else raise_brows(open_mouth(small, lm, 0.35 * iod * k), lm, 0.15 * iod * k)
        times.append(t)
        frames.append(np.ascontiguousarray(im))
    return times, frames, rest + 0.15
