"""The public contract of ../shared/docs/CONTRACT.md, on the face modality."""

import dataclasses
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import cxsense


def check_assessment(a: cxsense.Assessment):
    assert isinstance(a, cxsense.Assessment)
    assert set(a.probabilities) == set(cxsense.EMOTIONS)
    assert all(0.0 <= v <= 1.0 for v in a.probabilities.values())
    assert abs(sum(a.probabilities.values()) - 1.0) < 1e-6
    assert a.emotion == max(a.probabilities, key=a.probabilities.get)
    for name, lo in (("valence", -1), ("arousal", -1), ("stress", 0), ("confidence", 0)):
        v = getattr(a, name)
        assert isinstance(v, float) and math.isfinite(v) and lo <= v <= 1, (name, v)
    assert a.modalities
    for key, m in a.modalities.items():
        assert key in ("face", "voice", "physio") and m.modality == key
        assert isinstance(m.embedding, np.ndarray) and m.embedding.ndim == 1 and np.all(np.isfinite(m.embedding))
        assert 0.0 <= m.quality <= 1.0
        if m.probabilities is not None:
            assert abs(sum(m.probabilities.values()) - 1.0) < 1e-6
    d = a.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    return d


def test_emotions_exact():
    assert cxsense.EMOTIONS == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")


def test_public_names():
    for name in ("assess", "Assessment", "ModalityResult", "EMOTIONS", "CxsenseError", "InputError", "NoSignalError"):
        assert name in cxsense.__all__ and hasattr(cxsense, name)
    assert issubclass(cxsense.InputError, cxsense.CxsenseError) and issubclass(cxsense.InputError, ValueError)
    assert issubclass(cxsense.NoSignalError, cxsense.CxsenseError)


def test_assess_face_contract(face_path):
    a = cxsense.assess(face=str(face_path))
    d = check_assessment(a)
    assert set(a.modalities) == {"face"}
    face = a.modalities["face"]
    assert face.quality > 0.5
    # base answers with its early exit by default (v1.3.0): the embedding is its first network's pre-logit vector
    # whichever path the crop took; with face_early_exit=None, both networks' vectors side by side (256 each)
    assert face.embedding.shape == (256,)
    assert cxsense.assess(face=str(face_path), face_early_exit=None).modalities["face"].embedding.shape == (512,)
    assert set(d["modalities"]["face"]) >= {"probabilities", "embedding", "quality", "valence", "arousal", "stress"}
    # one modality: the fused estimate is that modality's calibrated estimate
    assert dict(a.probabilities) == pytest.approx(dict(face.probabilities), abs=1e-9)


def test_smiling_face_reads_as_happiness(face_path):
    a = cxsense.assess(face=face_path)
    assert a.emotion == "happiness"
    assert a.valence > 0.2


def test_same_input_same_output(face_path):
    a, b = cxsense.assess(face=face_path), cxsense.assess(face=face_path)
    assert a.to_dict() == b.to_dict()


def test_assessment_is_immutable(face_path):
    a = cxsense.assess(face=face_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.emotion = "anger"
    with pytest.raises(TypeError):
        a.probabilities["anger"] = 1.0
    with pytest.raises(ValueError):
        a.modalities["face"].embedding[0] = 1.0


def test_every_face_input_form_gives_the_same_answer(face_path, face_rgb):
    import io

    from PIL import Image

    ref = cxsense.assess(face=face_path).probabilities
    png = io.BytesIO()
    Image.fromarray(face_rgb).save(png, format="PNG")
    forms = [str(face_path), face_path, face_path.read_bytes(), png.getvalue(), face_rgb,
             np.dstack([face_rgb, np.full(face_rgb.shape[:2], 255, np.uint8)])]
    for f in forms:
        p = cxsense.assess(face=f).probabilities
        assert dict(p) == pytest.approx(dict(ref), abs=1e-6), type(f)


def test_grey_inputs(face_rgb):
    grey = np.asarray(face_rgb.mean(axis=2), dtype=np.uint8)
    a = check_assessment(cxsense.assess(face=grey))
    b = check_assessment(cxsense.assess(face=grey[:, :, None]))
    assert a["probabilities"] == b["probabilities"]


def test_whole_image_as_crop(face_rgb):
    import cv2

    crop = cv2.resize(cv2.cvtColor(face_rgb[60:190, 160:290], cv2.COLOR_RGB2GRAY), (48, 48))
    a = cxsense.assess(face=crop, detect_face=False)
    check_assessment(a)
    assert a.modalities["face"].quality > 0
    assert "box" not in a.modalities["face"].details


def test_no_face_is_no_signal(rng):
    img = np.zeros((240, 320, 3), np.uint8)
    img[:, :, 1] = np.linspace(0, 255, 320, dtype=np.uint8)  # a smooth gradient, nothing face-like
    with pytest.raises(cxsense.NoSignalError):
        cxsense.assess(face=img)
    assert cxsense.assess_faces(img) == []


def test_blank_crop_is_no_signal():
    with pytest.raises(cxsense.NoSignalError):
        cxsense.assess(face=np.full((48, 48), 128, np.uint8), detect_face=False)


def test_cli_assess(face_path):
    out = subprocess.run([sys.executable, "-m", "cxsense", "assess", "--face", str(face_path)],
                         capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    assert d["emotion"] in cxsense.EMOTIONS and "face" in d["modalities"]
    quick = subprocess.run([sys.executable, "-m", "cxsense", "assess", "--face", str(face_path), "--face-early-exit",
                            "0.1"], capture_output=True, text=True, check=True)
    assert json.loads(quick.stdout)["modalities"]["face"]["details"]["passes"] == 1
    bad = subprocess.run([sys.executable, "-m", "cxsense", "assess", "--face", str(face_path), "--face-early-exit",
                          "fast"], capture_output=True, text=True)
    assert bad.returncode == 2 and "face_early_exit" in bad.stderr
    faces = subprocess.run([sys.executable, "-m", "cxsense", "faces", str(face_path), "--face-model", "small"],
                           capture_output=True, text=True, check=True)
    [one] = json.loads(faces.stdout)
    assert one["modalities"]["face"]["model"]["expression"]["name"] == "face-expression-small"


def test_cli_bad_input_exit_code(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cxsense", "assess", "--face", str(tmp_path / "missing.jpg")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "'face'" in out.stderr and "missing.jpg" in out.stderr


def test_threads_give_identical_results(face_path):
    from concurrent.futures import ThreadPoolExecutor

    ref = cxsense.assess(face=face_path).to_dict()
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: cxsense.assess(face=face_path).to_dict(), range(8)))
    assert all(o == ref for o in outs)


def test_modality_without_signal_contributes_nothing(face_path):
    silence = (np.zeros(16000 * 2, np.float32), 16000)
    both = cxsense.assess(face=face_path, voice=silence)
    check_assessment(both)
    assert set(both.modalities) == {"face", "voice"}
    assert both.modalities["voice"].quality == 0 and both.modalities["voice"].probabilities is None
    assert "reason" in both.modalities["voice"].details
    alone = cxsense.assess(face=face_path)
    assert dict(both.probabilities) == pytest.approx(dict(alone.probabilities), abs=1e-12)
    with pytest.raises(cxsense.NoSignalError):
        cxsense.assess(voice=silence)


def test_cli_physio_csv(tmp_path):
    import neurokit2 as nk
    import pandas as pd

    ppg = nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=75, random_state=1)
    eda = nk.eda_simulate(duration=60, sampling_rate=64, scr_number=4, random_state=1)
    csv = tmp_path / "window.csv"
    pd.DataFrame({"time": np.arange(len(ppg)) / 64, "ppg": ppg, "eda": eda}).to_csv(csv, index=False)
    out = subprocess.run([sys.executable, "-m", "cxsense", "assess", "--physio", str(csv)],
                         capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    assert set(d["modalities"]) == {"physio"} and d["modalities"]["physio"]["quality"] > 0
    assert 0 <= d["stress"] <= 1
    # physiology carries no categorical evidence: uniform probabilities, "neutral" by convention
    assert d["emotion"] == "neutral" and d["confidence"] == pytest.approx(1 / 7)
