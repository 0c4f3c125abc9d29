"""cxsense.metrics: one definition of each figure, with known answers."""

import numpy as np
import pytest

from cxsense import metrics as M


def test_known_answers_on_a_small_case():
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    y = np.array([0, 1, 2, 2])
    assert M.accuracy(p, y) == 0.75
    np.testing.assert_allclose(M.per_class_recall(p, y), [1.0, 1.0, 0.5])
    # F1: class 0 precision 1/2 recall 1 -> 2/3; class 1 -> 1; class 2 precision 1 recall 1/2 -> 2/3
    assert M.macro_f1(p, y) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert M.nll(p, y) == pytest.approx(-np.mean(np.log([0.9, 0.7, 0.4, 0.8])))
    assert M.brier(p, y) == pytest.approx(np.mean([0.01 + 0.01, 0.04 + 0.09 + 0.01, 0.25 + 0.01 + 0.36,
                                                   0.01 + 0.01 + 0.04]))
    # ECE, 15 equal-width bins (lo, hi]: confidences 0.9, 0.7, 0.5, 0.8 fall in four bins, one row each
    assert M.expected_calibration_error(p, y) == pytest.approx(np.mean([0.1, 0.3, 0.5, 0.2]))
    r = M.classification_report(p, y, ["a", "b", "c"])
    assert r["n"] == 4 and r["accuracy"] == 0.75 and r["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert set(r) == {"n", "accuracy", "macro_f1", "ece", "nll", "brier", "per_class_recall", "per_class_precision",
                      "confusion"}


def test_ece_bins_are_equal_width():
    y = np.array([0, 0])
    on_edge = np.array([[0.6, 0.4], [0.6, 0.4]])  # 0.6 = 9/15 exactly: the bin (8/15, 9/15]
    assert M.expected_calibration_error(on_edge, y) == pytest.approx(0.4)
    assert M.expected_calibration_error(on_edge, y, n_bins=1) == pytest.approx(0.4)
    perfect = np.array([[1.0, 0.0]] * 3)
    assert M.expected_calibration_error(perfect, np.zeros(3, int)) == 0.0


def test_binary_calibration_error():
    p = np.array([0.0, 0.05, 0.95, 1.0])
    y = np.array([0, 0, 1, 1])
    assert M.binary_ece(p, y) == pytest.approx(0.5 * 0.025 + 0.5 * 0.025)  # bins [0, .1) and [.9, 1]
    assert M.binary_ece(np.full(10, 0.3), np.array([1, 1, 1] + [0] * 7)) == pytest.approx(0.0)


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(20000, 7))
    p = M.softmax(z / 2.0)  # labels drawn at temperature 2
    y = (rng.random((len(z), 1)) > np.cumsum(p, 1)).sum(1).clip(0, 6)
    t = M.fit_temperature(z, y)
    assert t in M.TEMPERATURE_GRID and t == pytest.approx(2.0, rel=0.05)
    coarse = np.array([0.5, 1.0, 2.0, 4.0])
    assert M.fit_temperature(z, y, coarse) == 2.0
    assert M.fit_temperature(z * 2, y) == pytest.approx(2 * t, rel=0.02)


def test_the_fusion_uses_the_same_temperature_fit():
    from cxsense.fusion.estimator import FUSION_TEMPERATURE_GRID, LateFusionClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    clf = LateFusionClassifier(blocks=None, calibration_cv=3).fit(X, y)
    assert clf.temperature_ in FUSION_TEMPERATURE_GRID
