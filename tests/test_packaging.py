"""A wheel built from the repository carries the weights and works outside the checkout."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, capture_output=True, cwd=out)
    (whl,) = out.glob("cxsense-*.whl")
    return whl


def test_wheel_carries_every_registered_model(wheel):
    import hashlib

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        reg = json.loads(z.read("cxsense/models/registry.json"))
        for name, entry in reg["models"].items():
            member = f"cxsense/models/{entry['file']}"
            assert member in names, name
            assert hashlib.sha256(z.read(member)).hexdigest() == entry["sha256"], name
            assert f"cxsense/models/{entry['card']}" in names, name
        assert "cxsense/py.typed" in names
        assert "cxsense/examples/astronaut.jpg" in names
        assert not any(n.startswith(("training/", "benchmarks/", "tests/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_works_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    code = ("import cxsense, json, importlib.resources as r; "
            "p = r.files('cxsense') / 'examples' / 'astronaut.jpg'; "
            "a = cxsense.assess(face=p.read_bytes()); "
            "from cxsense.registry import models_dir; "
            "print(json.dumps([cxsense.__file__, str(models_dir()), a.emotion]))")
    env = {k: v for k, v in os.environ.items() if k not in ("CXSENSE_MODELS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path, env=env)
    file, models, emotion = json.loads(out.stdout)
    assert file.startswith(str(target)) and models.startswith(str(target))
    assert emotion == "happiness"


def test_wheel_carries_every_subpackage(wheel):
    src = {p.relative_to(REPO).as_posix() for p in (REPO / "cxsense").rglob("*.py")}
    with zipfile.ZipFile(wheel) as z:
        missing = src - set(z.namelist())
    assert not missing, f"modules missing from the wheel (add their package to pyproject): {sorted(missing)}"
