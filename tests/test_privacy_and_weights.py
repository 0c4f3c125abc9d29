"""Offline, no writes, and weights checked by SHA-256."""

import builtins
import os
import shutil

import pytest

import cxsense
from cxsense import registry


def test_assess_opens_no_network_connection(no_network, face_path):
    a = cxsense.assess(face=face_path)
    assert a.emotion == "happiness"  # the shipped portrait smiles (a known answer, not only a valid label)


def test_assess_writes_no_file(monkeypatch, tmp_path, face_path):
    real_open = builtins.open

    def guarded_open(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+"):
            raise AssertionError(f"cxsense opened {file!r} for writing")
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.chdir(tmp_path)
    cxsense.assess(face=face_path)
    assert os.listdir(tmp_path) == []


def test_weights_are_verified(tmp_path, monkeypatch):
    src = registry.models_dir()
    dst = tmp_path / "models"
    shutil.copytree(src, dst)
    monkeypatch.setenv("CXSENSE_MODELS", str(dst))
    entry = registry.model_entry("face-expression")
    assert registry.model_path("face-expression") == dst / entry["file"]
    # corrupt one byte: a typed error that names the file
    f = dst / entry["file"]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(cxsense.ModelError, match="face_expression.safetensors") as e:
        registry.model_path("face-expression")
    assert isinstance(e.value, cxsense.CxsenseError) and "SHA-256" in str(e.value)
    f.unlink()
    with pytest.raises(cxsense.ModelError, match="missing"):
        registry.model_path("face-expression")


def test_every_registered_model_has_a_card():
    for name, entry in registry.list_models().items():
        assert (registry.models_dir() / entry["card"]).is_file(), name
        assert len(entry["sha256"]) == 64
