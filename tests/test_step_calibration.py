"""The session step calibration (issue 24, item 3): pooled face + voice steps only; everything else unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cxsense
from cxsense.emotions import EMOTIONS, circumplex_va, stress_from_va
from cxsense.encoders.base import ModalityResult
from cxsense.fusion import fuse
from cxsense.fusion.learned import LearnedFusion
from cxsense.fusion.session import StepCalibration, is_pooled_step


def _r(modality, p, q, **details):
    p = np.asarray(p, float) / np.sum(p)
    v, a = circumplex_va(p)
    return ModalityResult(modality, dict(zip(EMOTIONS, map(float, p))), np.zeros(4, np.float32), q, v, a,
                          stress_from_va(v, a), details=details)


def _peaked(top, p_top, second=None, p_second=0.0):
    out = np.zeros(7)
    out[EMOTIONS.index(top)] = p_top
    if second:
        out[EMOTIONS.index(second)] = p_second
    out[out == 0] = (1 - out.sum()) / np.sum(out == 0)
    return out


@pytest.fixture(scope="module")
def shipped():
    return LearnedFusion.load()


def _random_pairs(n, seed, **face_details):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield {"face": _r("face", rng.dirichlet(np.ones(7) * 0.7), rng.uniform(0.05, 1), **face_details),
               "voice": _r("voice", rng.dirichlet(np.ones(7) * 0.7), rng.uniform(0.05, 1))}


def test_shipped_fusion_has_the_registered_step_calibration(shipped):
    cal = shipped.step_calibration
    assert isinstance(cal, StepCalibration)
    assert cal.meta["name"] == "step-calibration" and cal.meta["version"]
    assert np.all(np.isfinite(cal.class_bias)) and cal.face_weight > 0 and cal.voice_weight > 0


def test_single_images_and_pairs_are_fused_as_before(shipped):
    """Without a pooled face (``details["frames"]``) the calibration changes nothing, bit for bit."""
    plain = shipped.with_step_calibration(None)
    for res in _random_pairs(50, 0, box=[0, 0, 10, 10]):
        assert not is_pooled_step(res)
        for sub in (res, {"face": res["face"]}, {"voice": res["voice"]}):
            a, b = fuse(sub, fusion=shipped), fuse(sub, fusion=plain)
            assert a.probabilities == b.probabilities and a.emotion == b.emotion
            assert "step_calibration" not in a.fusion


def test_pooled_face_alone_or_voice_alone_passes_through(shipped):
    face = _r("face", _peaked("sadness", 0.6), 0.7, frames=5, sampled_frames=5)
    a = fuse({"face": face}, fusion=shipped)
    assert np.allclose([a.probabilities[e] for e in EMOTIONS], face.probability_vector())
    assert "step_calibration" not in a.fusion


def test_pooled_step_uses_the_calibration(shipped):
    changed = 0
    for res in _random_pairs(50, 1, frames=5, sampled_frames=5):
        assert is_pooled_step(res)
        a = fuse(res, fusion=shipped)
        b = fuse(res, fusion=shipped.with_step_calibration(None))
        assert a.fusion["step_calibration"]["name"] == "step-calibration"
        assert abs(sum(a.probabilities.values()) - 1) < 1e-9 and all(np.isfinite(list(a.probabilities.values())))
        changed += a.probabilities != b.probabilities
    assert changed == 50


def test_identity_calibration_reproduces_the_pair_fusion(shipped):
    b = np.zeros(7)
    b[[EMOTIONS.index(c) for c in shipped.classes]] = shipped.intercept
    same = shipped.with_step_calibration(StepCalibration(1.0, 1.0, b, shipped.subset_temperatures["face+voice"]))
    plain = shipped.with_step_calibration(None)
    for res in _random_pairs(50, 2, frames=3, sampled_frames=5):
        p, q = same.categorical(res), plain.categorical(res)
        assert np.abs(p - q).max() < 1e-12


def test_masked_voice_or_quality_zero_is_not_a_step(shipped):
    face = _r("face", _peaked("anger", 0.5), 0.8, frames=4, sampled_frames=5)
    voice = _r("voice", _peaked("disgust", 0.7), 1.0)
    a = fuse({"face": face, "voice": voice}, exclude={"voice": "two faces"}, fusion=shipped)
    assert "step_calibration" not in a.fusion and a.emotion == "anger"
    silent = ModalityResult("voice", None, np.zeros(4, np.float32), 0.0, details={"reason": "no speech"})
    assert not is_pooled_step({"face": face, "voice": silent})


def test_confident_voice_is_not_drowned_by_a_weaker_wrong_face(shipped):
    """The outside film's disgust segments: the voice says disgust (quality 1.0), a pooled face wrongly says
    sadness. As a pair the fusion says sadness (its pseudo-pairs' class mix counts against disgust); a session
    step follows the voice."""
    face = _r("face", _peaked("sadness", 0.45, "disgust", 0.05), 0.65, frames=5, sampled_frames=5)
    voice = _r("voice", _peaked("disgust", 0.7, "sadness", 0.1), 1.0)
    assert fuse({"face": face, "voice": voice}, fusion=shipped.with_step_calibration(None)).emotion == "sadness"
    step = fuse({"face": face, "voice": voice}, fusion=shipped)
    assert step.emotion == "disgust"
    # a clearly right face still wins against a voice that hesitates
    face = _r("face", _peaked("happiness", 0.85), 0.8, frames=5, sampled_frames=5)
    voice = _r("voice", _peaked("neutral", 0.4, "happiness", 0.25), 1.0)
    assert fuse({"face": face, "voice": voice}, fusion=shipped).emotion == "happiness"


@pytest.mark.parametrize("kw, parameter", [({"face_weight": 0.0}, "face_weight"),
                                           ({"voice_weight": float("nan")}, "voice_weight"),
                                           ({"temperature": -1.0}, "temperature"),
                                           ({"class_bias": np.zeros(6)}, "class_bias"),
                                           ({"class_bias": [np.inf] + [0.0] * 6}, "class_bias")])
def test_bad_parameters_name_themselves(kw, parameter):
    args = dict(face_weight=1.0, voice_weight=1.0, class_bias=np.zeros(7), temperature=1.0) | kw
    with pytest.raises(cxsense.InputError) as e:
        StepCalibration(**args)
    assert e.value.parameter == parameter
    with pytest.raises(cxsense.InputError) as e:
        LearnedFusion.load().with_step_calibration("not one")
    assert e.value.parameter == "step_calibration"


def test_file_round_trip_and_wrong_file(tmp_path):
    cal = StepCalibration(1.3, 0.8, np.linspace(-0.3, 0.3, 7), 0.9)
    p = tmp_path / "cal.json"
    p.write_text(json.dumps(cal.to_json()))
    back = StepCalibration.load(p)
    assert back.face_weight == 1.3 and back.voice_weight == 0.8 and np.allclose(back.class_bias, cal.class_bias)
    doc = cal.to_json()
    doc["cxsense"]["labels"] = list(reversed(EMOTIONS))
    p.write_text(json.dumps(doc))
    with pytest.raises(cxsense.ModelError):
        StepCalibration.load(p)
    doc = cal.to_json()
    doc["cxsense"]["architecture"]["family"] = "cxsense-late-fusion"
    p.write_text(json.dumps(doc))
    with pytest.raises(cxsense.ModelError):
        StepCalibration.load(p)
    doc = cal.to_json()
    del doc["cxsense"]["architecture"]["voice_weight"]
    p.write_text(json.dumps(doc))
    with pytest.raises(cxsense.ModelError):
        StepCalibration.load(p)
    p.write_text(json.dumps({k: v for k, v in cal.to_json().items() if k != "cxsense"}))  # no metadata block
    with pytest.raises(cxsense.ModelError):
        StepCalibration.load(p)
    with pytest.raises(cxsense.ModelError):
        StepCalibration.load(tmp_path / "missing.json")
