"""The two runtimes of the MediaPipe face networks (LiteRT and OpenCV DNN) give the same faces, landmarks and cues."""

import os
import subprocess
import sys

import numpy as np
import pytest

import cxsense
from cxsense.encoders.face import tflite
from cxsense.encoders.face.cues import face_cues
from cxsense.encoders.face.detect import FaceDetector
from cxsense.encoders.face.mesh import FaceMesh
from cxsense.registry import model_path

needs_litert = pytest.mark.skipif(not tflite._litert_available(), reason="ai-edge-litert is not installed here")


def _portrait():
    from PIL import Image

    return np.asarray(Image.open("examples/astronaut.jpg").convert("RGB"))


def test_default_runtime_follows_the_environment(monkeypatch):
    monkeypatch.setenv("CXSENSE_TFLITE_RUNTIME", "opencv")
    assert tflite.default_runtime() == "opencv"
    monkeypatch.setenv("CXSENSE_TFLITE_RUNTIME", "tensorrt")
    with pytest.raises(cxsense.InputError, match="CXSENSE_TFLITE_RUNTIME"):
        tflite.default_runtime()
    monkeypatch.delenv("CXSENSE_TFLITE_RUNTIME")
    assert tflite.default_runtime() == ("litert" if tflite._litert_available() else "opencv")


def test_unknown_runtime_is_an_input_error():
    with pytest.raises(cxsense.InputError, match="runtime"):
        tflite.TFLiteNet(model_path("face-iris"), (1, 64, 64, 3), runtime="onnx")


@needs_litert
def test_runtimes_agree_on_the_portrait():
    rgb = _portrait()
    out = {}
    for rt in tflite.RUNTIMES:
        det = FaceDetector(model_path("face-detector"), runtime=rt).detect(rgb)
        mesh = FaceMesh(runtime=rt).run(rgb, det[0])
        out[rt] = det, mesh, face_cues(mesh, rgb.shape)
    (d1, m1, c1), (d2, m2, c2) = out["litert"], out["opencv"]
    assert len(d1) == len(d2) == 1
    np.testing.assert_allclose(d1[0].box, d2[0].box, atol=0.05)
    assert abs(d1[0].score - d2[0].score) < 1e-3
    assert np.abs(m1.landmarks - m2.landmarks).max() < 0.05  # pixels of a 512-pixel image
    assert np.abs(m1.iris - m2.iris).max() < 0.05 and np.abs(m1.eyelids - m2.eyelids).max() < 0.05
    for k in c1:
        assert abs(c1[k] - c2[k]) < (0.05 if k.startswith("head_") else 1e-3), k


@needs_litert
def test_litert_prints_nothing_on_first_use():
    code = ("import numpy as np; from cxsense.encoders.face.mesh import FaceMesh; "
            "m = FaceMesh(); assert m.runtime == 'litert', m.runtime; "
            "m._iris(np.zeros((2, 64, 64, 3), np.float32)); print('ok')")
    env = {k: v for k, v in os.environ.items() if k != "CXSENSE_TFLITE_RUNTIME"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok" and r.stderr == ""


def test_the_face_result_names_its_runtime():
    a = cxsense.assess(face="examples/astronaut.jpg")
    assert a.modalities["face"].model["detector"]["runtime"] == tflite.default_runtime()

