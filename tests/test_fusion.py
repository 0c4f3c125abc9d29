"""Late fusion (issue 5): the estimator, masking, every subset, determinism, incongruence, user fit."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import cxsense
from cxsense.emotions import EMOTIONS, circumplex_va, stress_from_va
from cxsense.encoders.base import ModalityResult
from cxsense.fusion import (N_FEATURES, LearnedFusion, QualityWeightedFusion, feature_row, feature_rows, get_fusion,
                            incongruence, set_fusion)
from cxsense.fusion.estimator import LateFusionClassifier


@parametrize_with_checks([LateFusionClassifier(blocks=None), LateFusionClassifier(blocks=None, C=0.1)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _mr(modality, p=None, q=1.0, stress=None, arousal=None):
    if p is None:
        return ModalityResult(modality, None, np.zeros(4, np.float32), q, None, arousal, stress)
    p = np.asarray(p, float) / np.sum(p)
    v, a = circumplex_va(p)
    return ModalityResult(modality, dict(zip(EMOTIONS, p)), np.zeros(4, np.float32), q, v, a, stress_from_va(v, a))


def _onehot(e, sharp=0.9):
    p = np.full(7, (1 - sharp) / 6)
    p[EMOTIONS.index(e)] = sharp
    return p


def _synthetic_rows(rng, n=700):
    """Pseudo-pairs from two noisy synthetic 'modalities' with independent errors."""
    rows, ys = [], []
    for _ in range(n):
        y = int(rng.integers(7))
        res = {}
        for m, signal in (("face", 2.0), ("voice", 1.6)):
            if rng.random() < 0.15:
                continue  # absent
            z = rng.normal(size=7)
            z[y] += signal  # a soft estimate whose confidence carries information
            res[m] = _mr(m, np.exp(z) / np.exp(z).sum(), q=1.0)
        if not res:
            continue
        rows.append(feature_row(res)); ys.append(EMOTIONS[y])
    return np.array(rows), np.array(ys)


def test_fusion_beats_each_synthetic_modality(rng):
    X, y = _synthetic_rows(rng, 1400)
    clf = LateFusionClassifier(C=1.0).fit(X[:600], y[:600])
    P = clf.predict_proba(X[600:])
    assert P.shape == (len(X) - 600, 7) and np.allclose(P.sum(1), 1)
    both = (X[600:, 0] > 0) & (X[600:, 8] > 0)
    fused = (clf.classes_[P.argmax(1)] == y[600:])[both].mean()
    face = (np.array(EMOTIONS)[X[600:, 1:8].argmax(1)] == y[600:])[both].mean()
    assert fused > face + 0.05


def test_masked_block_equals_absent_block(rng):
    X, y = _synthetic_rows(rng)
    clf = LateFusionClassifier().fit(X, y)
    row = feature_row({"face": _mr("face", _onehot("anger"))})
    masked = row.copy()
    masked[8] = 0.0  # voice quality 0 ...
    masked[9:16] = rng.normal(size=7) * 5  # ... whatever its features say
    assert np.array_equal(clf.predict_proba(row[None]), clf.predict_proba(masked[None]))


def test_wrong_layout_is_refused():
    with pytest.raises(ValueError, match="columns"):
        LateFusionClassifier().fit(np.zeros((10, 5)), ["anger", "fear"] * 5)


def test_feature_rows_of_assessments(face_path):
    a = cxsense.assess(face=face_path)
    X = feature_rows([a, a.modalities])
    assert X.shape == (2, N_FEATURES) and np.array_equal(X[0], X[1])
    assert X[0, 0] == pytest.approx(a.modalities["face"].quality) and np.all(X[0, 8:] == 0)


def test_shipped_fusion_is_learned_and_every_subset_works(face_path):
    import neurokit2 as nk

    fus = get_fusion()
    assert isinstance(fus, LearnedFusion) and fus.meta["version"]
    t = np.arange(3 * 16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 160 * t * (1 + 0.3 * np.sin(2 * np.pi * 2 * t))) *
            (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    ppg = nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=75, random_state=1)
    eda = nk.eda_simulate(duration=60, sampling_rate=4, scr_number=3, noise=0.0, random_state=1) + 2.0
    physio = {"ppg": (ppg, 64), "eda": (eda, 4)}
    inputs = {"face": face_path, "voice": (tone, 16000), "physio": physio}
    from itertools import combinations

    for k in (1, 2, 3):
        for subset in combinations(inputs, k):
            a = cxsense.assess(**{m: inputs[m] for m in subset})
            assert set(a.modalities) == set(subset)
            p = np.array([a.probabilities[e] for e in EMOTIONS])
            assert np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-6
            assert 0 <= a.incongruence <= 1 and a.fusion["method"].startswith("learned")
            assert a.to_dict()["incongruence"] == a.incongruence
            if subset == ("physio",):
                assert a.confidence == pytest.approx(1 / 7)
            if len([m for m in subset if a.modalities[m].quality > 0]) < 2:
                assert a.incongruence == 0.0
    # same input, same output
    one = cxsense.assess(**inputs).to_dict()
    assert cxsense.assess(**inputs).to_dict() == one


def test_physio_moves_fused_stress_and_arousal():
    fus = get_fusion()
    face = _mr("face", _onehot("neutral", 0.7))
    calm = _mr("physio", None, q=1.0, stress=0.1, arousal=-0.8)
    tense = _mr("physio", None, q=1.0, stress=0.9, arousal=0.8)
    a0 = fus.fuse({"face": face})
    a1, a2 = fus.fuse({"face": face, "physio": calm}), fus.fuse({"face": face, "physio": tense})
    assert a1.stress < a0.stress < a2.stress and a1.arousal < a0.arousal < a2.arousal
    assert np.allclose(a1.probabilities, a0.probabilities)  # the categories come from face and voice only


def test_incongruence_rises_with_conflict():
    happy_face = _mr("face", _onehot("happiness"))
    same = incongruence({"face": happy_face, "voice": _mr("voice", _onehot("happiness"))})["score"]
    angry = incongruence({"face": happy_face, "voice": _mr("voice", _onehot("anger"))})
    assert same < 0.1 < 0.5 < angry["score"] <= 1
    assert set(angry["pairs"]) == {"face~voice"} and angry["estimates"]["voice"]["emotion"] == "anger"
    stressed_body = _mr("physio", None, stress=0.95, arousal=0.9)
    calm_body = _mr("physio", None, stress=0.05, arousal=-0.5)
    assert (incongruence({"face": happy_face, "physio": stressed_body})["score"]
            > incongruence({"face": happy_face, "physio": calm_body})["score"] + 0.5)
    # a disagreement with a poor signal counts for less
    weak = incongruence({"face": happy_face, "voice": _mr("voice", _onehot("anger"), q=0.2)})["score"]
    assert weak < angry["score"]
    assert incongruence({"face": happy_face})["score"] == 0.0


def test_assessment_reports_conflict(face_path):
    fus = get_fusion()
    face = cxsense.assess(face=face_path).modalities["face"]
    calm_voice = _mr("voice", _onehot(face.emotion))
    angry_voice = _mr("voice", _onehot("anger" if face.emotion != "anger" else "sadness"))
    assert (fus.fuse({"face": face, "voice": angry_voice}).info["incongruence"]["score"]
            > fus.fuse({"face": face, "voice": calm_voice}).info["incongruence"]["score"] + 0.3)


def test_user_fit_replaces_and_restores_the_fusion(face_path, rng, tmp_path):
    X, y = _synthetic_rows(rng)
    clf = LateFusionClassifier(calibration_cv=3).fit(X, y)
    assert 0.25 <= clf.temperature_ <= 4
    mine = LearnedFusion.from_estimator(clf)
    prev = set_fusion(mine)
    try:
        a = cxsense.assess(face=face_path)
        assert a.fusion["model"]["source"] == "user-fitted LateFusionClassifier"
        both = {"face": a.modalities["face"], "voice": _mr("voice", _onehot("anger", 0.6))}
        expect = clf.predict_proba(feature_row(both)[None])[0]
        got = dict(zip(EMOTIONS, mine.fuse(both).probabilities))
        assert np.allclose([got[c] for c in clf.classes_], expect, atol=1e-9)
        # one categorical modality: its own calibrated estimate passes through
        assert dict(a.probabilities) == pytest.approx(dict(a.modalities["face"].probabilities), abs=1e-12)
        path = tmp_path / "fusion.json"
        mine.save(path)
        again = LearnedFusion.load(path)
        assert np.allclose(again.predict_rows(X[:5]), mine.predict_rows(X[:5]))
    finally:
        set_fusion(prev)
    assert set_fusion(None) is prev  # None restores the shipped fusion and hands back the one it replaces
    assert isinstance(get_fusion(), LearnedFusion) and get_fusion().meta.get("name") == "late-fusion"


def test_bad_fusion_objects_are_refused(tmp_path):
    with pytest.raises(cxsense.InputError, match="fusion"):
        set_fusion("rule")
    with pytest.raises(cxsense.InputError, match="coef"):
        LearnedFusion(np.zeros((7, 3)), np.zeros(7))
    with pytest.raises(cxsense.InputError, match="classes"):
        LearnedFusion(np.zeros((1, 16)), np.zeros(1), classes=["joy"])
    bad = tmp_path / "f.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(cxsense.ModelError):
        LearnedFusion.load(bad)
    with pytest.raises(cxsense.InputError, match="clf"):
        LearnedFusion.from_estimator(LateFusionClassifier(blocks=None).fit(np.eye(4), [0, 1, 0, 1]))


def test_rule_fusion_still_available(face_path):
    prev = set_fusion(QualityWeightedFusion())
    try:
        a = cxsense.assess(face=face_path)
        assert a.fusion["method"].startswith("quality-weighted")
    finally:
        set_fusion(prev)


def test_loading_the_fusion_leaves_no_file_open():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LearnedFusion.load()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
