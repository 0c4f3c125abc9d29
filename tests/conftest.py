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
