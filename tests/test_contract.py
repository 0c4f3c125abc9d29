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
import cxsense.registry


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
    # one embedding space per model: base's stage-1 network's 256-d pre-logit vector, whatever path the crop took
    assert face.embedding.shape == (256,)
    assert cxsense.assess(face=str(face_path), face_early_exit=None).modalities["face"].embedding.shape == (256,)
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


def test_cli_assess(face_path, cli):
    code, d, _ = cli("assess", "--face", face_path)
    assert code == 0 and d["emotion"] == "happiness" and "face" in d["modalities"]
    assert "embedding" not in d["modalities"]["face"]  # embeddings only when asked
    code, d, _ = cli("assess", "--face", face_path, "--embeddings")
    assert code == 0 and len(d["modalities"]["face"]["embedding"]) == 256
    code, d, _ = cli("assess", "--face", face_path, "--face-early-exit", "0.1")
    assert d["modalities"]["face"]["details"]["passes"] == 1
    code, _, err = cli("assess", "--face", face_path, "--face-early-exit", "fast")
    assert code == 2 and "face_early_exit" in err
    code, faces, _ = cli("faces", face_path, "--face-model", "small")
    [one] = faces
    assert one["modalities"]["face"]["model"]["expression"]["name"] == "face-expression-small"


def test_cli_entry_point_runs_as_a_module(face_path):
    """One real subprocess: ``python -m cxsense`` is wired to the same main()."""
    out = subprocess.run([sys.executable, "-m", "cxsense", "assess", "--face", str(face_path)],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["emotion"] == "happiness"


def test_cli_bad_input_exit_code(tmp_path, cli):
    code, _, err = cli("assess", "--face", tmp_path / "missing.jpg")
    assert code == 2
    assert "'face'" in err and "missing.jpg" in err


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


def test_cli_physio_csv(tmp_path, cli):
    import neurokit2 as nk
    import pandas as pd

    ppg = nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=75, random_state=1)
    eda = nk.eda_simulate(duration=60, sampling_rate=64, scr_number=4, random_state=1)
    csv = tmp_path / "window.csv"
    pd.DataFrame({"time": np.arange(len(ppg)) / 64, "ppg": ppg, "eda": eda}).to_csv(csv, index=False)
    code, d, _ = cli("assess", "--physio", csv)
    assert code == 0 and set(d["modalities"]) == {"physio"} and d["modalities"]["physio"]["quality"] > 0
    assert 0 <= d["stress"] <= 1
    # physiology carries no categorical evidence: uniform probabilities, "neutral" by convention
    assert d["emotion"] == "neutral" and d["confidence"] == pytest.approx(1 / 7)
    assert d["categorical_evidence"] is False and "notes" not in d


def test_cli_physio_csv_with_extra_columns_and_a_long_recording(tmp_path, cli):
    """NeuroKit2's example files carry a Photosensor column: it is skipped and named; a CSV longer than the
    window says which part was assessed."""
    import neurokit2 as nk
    import pandas as pd

    ppg = nk.ppg_simulate(duration=150, sampling_rate=64, heart_rate=75, random_state=2)
    csv = tmp_path / "long.csv"
    pd.DataFrame({"time": np.arange(len(ppg)) / 64, "ppg": ppg, "Photosensor": np.ones(len(ppg))}).to_csv(csv, index=False)
    code, d, _ = cli("assess", "--physio", csv)
    assert code == 0 and d["modalities"]["physio"]["quality"] > 0
    assert any("Photosensor" in n for n in d["notes"])
    assert any("last 60 s (90.0-150.0 s" in n for n in d["notes"])
    assert d["modalities"]["physio"]["details"]["duration_s"] == pytest.approx(60, abs=0.1)


def test_cli_exit_codes_each_have_one_meaning(tmp_path, cli, monkeypatch):
    silent = tmp_path / "silence.wav"
    import soundfile as sf

    sf.write(silent, np.zeros(16000, np.float32), 16000)
    assert cli("assess", "--voice", silent)[0] == 3  # no usable signal
    # a registered model file that is missing: `models --verify` exits 4
    import shutil

    models = tmp_path / "models"
    shutil.copytree(cxsense.registry.models_dir(), models)
    (models / "fusion" / "late_fusion_v1.json").unlink()
    monkeypatch.setenv("CXSENSE_MODELS", str(models))
    code, d, err = cli("models", "--verify")
    assert code == 4 and d["models"]["late-fusion"]["verified"] is False and "late-fusion" in err
    monkeypatch.delenv("CXSENSE_MODELS")
    assert cli("models", "--verify")[0] == 0
    # the audit command under the same handling: a missing log is bad input (2), not a traceback
    code, _, err = cli("audit", "verify", tmp_path / "nope.log")
    assert code == 2 and "PATH" in err
