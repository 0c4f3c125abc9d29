"""A corpus of hostile inputs: every one gives a CxsenseError; none crashes, hangs or writes a file."""

import io
import os
import struct
import wave
import zlib

import numpy as np
import pytest

import cxsense


def _png_bomb(w=30000, h=30000) -> bytes:
    """A valid PNG header claiming 900 megapixels, with a tiny compressed body."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")


def _wav_bytes(n=16000, rate=16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(n, np.int16).tobytes())
    return buf.getvalue()


def _files(tmp_path, face_path):
    jpeg = face_path.read_bytes()
    wav = _wav_bytes()
    out = {}
    for name, data in {
        "truncated.jpg": jpeg[: len(jpeg) // 4],
        "header_only.jpg": jpeg[:20],
        "random.png": os.urandom(4096),
        "empty.jpg": b"",
        "bomb.png": _png_bomb(),
        "text.jpg": b"hello, I am not an image",
    }.items():
        (tmp_path / name).write_bytes(data)
        out[name] = ("face", tmp_path / name)
    for name, data in {
        "truncated.wav": wav[:30],
        "random.wav": os.urandom(4096),
        "empty.wav": b"",
        "image.wav": jpeg,
    }.items():
        (tmp_path / name).write_bytes(data)
        out[name] = ("voice", tmp_path / name)
    weird = tmp_path / "ünïcødé 表情 😀.jpg"
    weird.write_bytes(jpeg[:100])
    out["unicode name"] = ("face", weird)
    out["path traversal"] = ("face", str(tmp_path / ".." / ".." / ".." / "etc" / "shadow"))
    out["directory"] = ("voice", tmp_path)
    out["nul in path"] = ("face", "a\x00b.jpg")
    return out


HOSTILE_VALUES = {
    "face empty array": dict(face=np.zeros((0, 0), np.uint8)),
    "face zero-width": dict(face=np.zeros((100, 0, 3), np.uint8)),
    "face enormous (broadcast)": dict(face=np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20000, 20000, 3))),
    "face float nan": dict(face=np.full((48, 48), np.nan)),
    "face int64": dict(face=np.zeros((48, 48), np.int64)),
    "face object": dict(face=np.array([[object()]])),
    "face 4-D": dict(face=np.zeros((2, 48, 48, 3), np.uint8)),
    "face None-like str": dict(face=""),
    "voice nan": dict(voice=(np.full(16000, np.nan), 16000)),
    "voice inf": dict(voice=(np.full(16000, np.inf, np.float32), 16000)),
    "voice rate 0": dict(voice=(np.zeros(16000, np.float32), 0)),
    "voice rate negative": dict(voice=(np.zeros(16000, np.float32), -16000)),
    "voice rate absurd": dict(voice=(np.zeros(16000, np.float32), 10**12)),
    "voice rate nan": dict(voice=(np.zeros(16000, np.float32), float("nan"))),
    "voice complex": dict(voice=(np.zeros(16000, np.complex64), 16000)),
    "voice uint8": dict(voice=(np.zeros(16000, np.uint8), 16000)),
    "voice enormous": dict(voice=(np.broadcast_to(np.zeros(1, np.float32), (16000 * 3700,)), 16000)),
    "voice empty": dict(voice=(np.zeros(0, np.float32), 16000)),
    "voice out of range floats": dict(voice=(np.full(16000, 1000.0, np.float32), 16000)),
    "physio nan": dict(physio={"eda": (np.full(400, np.nan), 4)}),
    "physio inf": dict(physio={"ppg": (np.full(64 * 60, np.inf), 64)}),
    "physio rate 0": dict(physio={"eda": (np.zeros(400), 0)}),
    "physio rate absurd": dict(physio={"eda": (np.zeros(400), 1e12)}),
    "physio unknown channel": dict(physio={"../../etc": (np.zeros(400), 4)}),
    "physio empty": dict(physio={}),
    "physio zero-length": dict(physio={"eda": (np.zeros(0), 4)}),
    "physio wrong acc shape": dict(physio={"acc": (np.zeros((32 * 60, 5)), 32)}),
    "physio string samples": dict(physio={"eda": (np.array(["x"] * 400), 4)}),
    "physio flat line": dict(physio={"eda": (np.zeros(4 * 60), 4), "ppg": (np.zeros(64 * 60), 64)}),
    "nothing at all": dict(),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_hostile_values(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cxsense.CxsenseError):
        cxsense.assess(**HOSTILE_VALUES[case])
    assert os.listdir(tmp_path) == []


def test_hostile_files(tmp_path, face_path):
    files = _files(tmp_path, face_path)
    before = sorted(os.listdir(tmp_path))
    for name, (modality, path) in files.items():
        with pytest.raises(cxsense.CxsenseError):
            cxsense.assess(**{modality: path})
    assert sorted(os.listdir(tmp_path)) == before


def test_hostile_bytes_for_face(face_path):
    for data in (_png_bomb(), face_path.read_bytes()[:200], os.urandom(1000), b"GIF89a" + b"\xff" * 100):
        with pytest.raises(cxsense.InputError):
            cxsense.assess(face=data)


def test_all_modalities_from_several_threads(face_rgb):
    from concurrent.futures import ThreadPoolExecutor

    import neurokit2 as nk

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2) / 16000
    voice = (0.2 * np.sin(2 * np.pi * (150 + 40 * np.sin(2 * np.pi * 2 * t)) * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
             + 0.001 * rng.standard_normal(len(t))).astype(np.float32)
    physio = {"ppg": (nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=70, random_state=2), 64),
              "eda": (nk.eda_simulate(duration=60, sampling_rate=4, scr_number=2, random_state=2), 4)}

    def run(_):
        return cxsense.assess(face=face_rgb, voice=(voice, 16000), physio=physio).to_dict()

    ref = run(0)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(run, range(8)))
    assert all(o == ref for o in outs)
