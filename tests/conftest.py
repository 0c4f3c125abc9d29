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
