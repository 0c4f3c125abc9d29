"""Classification and calibration metrics, one definition each (NumPy only).

Used by the fusion (:func:`fit_temperature`), the training recipes and the benchmarks, so that every figure in
the model cards means the same thing.

Definitions
-----------
- ``probs`` are ``(n, k)`` probabilities (rows sum to 1), ``labels`` ``(n,)`` class indices in ``[0, k)``.
- **Accuracy**: share of rows whose arg-max is the label.
- **Per-class recall / precision**, **macro-F1**: from the confusion matrix; macro-F1 averages the per-class F1
  over the classes present in ``labels``.
- **ECE** (:func:`expected_calibration_error`): *top-label* expected calibration error with ``n_bins`` (15)
  *equal-width* confidence bins (Guo et al. 2017). A row falls in bin ``i`` when its top probability lies in
  ``(i / n_bins, (i + 1) / n_bins]``; ECE is the mean over rows of ``|accuracy - mean confidence|`` of their bin.
- **Binary calibration error** (:func:`binary_ece`): the same equal-width binning applied to the probability
  ``p`` of the positive class (10 bins, ``[lo, hi)``, the last bin closed): the reliability of a stress
  probability, not of a top label.
- **NLL**: mean ``-log p[label]`` (probabilities clipped at 1e-12); **Brier**: mean squared distance between the
  probability vector and the one-hot label (sum over classes).
- **Temperature** (:func:`fit_temperature`): the ``T`` on a fixed log-spaced grid that minimises the NLL of
  ``softmax(logits / T)``; deterministic, no optimiser state.

>>> import numpy as np
>>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]); y = np.array([0, 1, 1])
>>> accuracy(p, y), round(expected_calibration_error(p, y), 4)
(0.6666666666666667, 0.3667)
"""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "confusion_matrix", "per_class_recall", "macro_f1", "expected_calibration_error",
           "binary_ece", "nll", "brier", "softmax", "fit_temperature", "TEMPERATURE_GRID", "classification_report"]

#: The default temperature grid: 400 points, log-spaced over [0.3, 5].
TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.3), np.log(5.0), 400))


def _as_probs(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(np.int64)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose most probable class is the label.

    Parameters
    ----------
    probs : np.ndarray [shape=(n, k)]
    labels : np.ndarray [shape=(n,)], int class indices

    Returns
    -------
    float in [0, 1]
    """
    probs, labels = _as_probs(probs, labels)
    return float((probs.argmax(1) == labels).mean())


def confusion_matrix(probs: np.ndarray, labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts ``(k, k)``: row = true class, column = predicted (arg-max) class."""
    probs, labels = _as_probs(probs, labels)
    k = probs.shape[1] if n_classes is None else n_classes
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (labels, probs.argmax(1)), 1)
    return cm


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = len(cm)
    recall = np.divide(np.diag(cm), cm.sum(1), out=np.zeros(k), where=cm.sum(1) > 0)
    precision = np.divide(np.diag(cm), cm.sum(0), out=np.zeros(k), where=cm.sum(0) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    return recall, precision, f1


def per_class_recall(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Recall of each class ``(k,)`` (0 for a class absent from ``labels``)."""
    return _per_class(confusion_matrix(probs, labels))[0]


def macro_f1(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean F1 over the classes present in ``labels``."""
    cm = confusion_matrix(probs, labels)
    return float(_per_class(cm)[2][cm.sum(1) > 0].mean())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with ``n_bins`` equal-width confidence bins ``(lo, hi]`` (Guo et al. 2017).

    Parameters
    ----------
    probs : np.ndarray [shape=(n, k)]
    labels : np.ndarray [shape=(n,)]
    n_bins : int, default 15

    Returns
    -------
    float in [0, 1]
    """
    probs, labels = _as_probs(probs, labels)
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def binary_ece(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Calibration error of a binary probability ``p`` ``(n,)`` of the positive class against ``y`` ``(n,)``
    in {0, 1}: ``n_bins`` equal-width bins ``[lo, hi)`` over ``p`` (the last closed)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        m = (p >= lo) & ((p < hi) if i < n_bins - 1 else (p <= hi))
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (probabilities clipped at 1e-12)."""
    probs, labels = _as_probs(probs, labels)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1))))


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean over rows of the squared distance between ``probs`` and the one-hot label (summed over classes)."""
    probs, labels = _as_probs(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` logits (float64)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The temperature ``T`` that minimises the NLL of ``softmax(logits / T)`` over a grid.

    Parameters
    ----------
    logits : np.ndarray [shape=(n, k)]
    labels : np.ndarray [shape=(n,)], int class indices
    grid : np.ndarray, optional
        Candidate temperatures, tried in order; the first of equal minima wins. Default
        :data:`TEMPERATURE_GRID` (400 points, log-spaced over [0.3, 5]).

    Returns
    -------
    float, one of the grid's values
    """
    z0 = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    grid = TEMPERATURE_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    rows = np.arange(len(labels))
    losses = []
    for t in grid:
        z = z0 / t
        z = z - z.max(1, keepdims=True)
        losses.append(-(z[rows, labels] - np.log(np.exp(z).sum(1))).mean())
    return float(grid[int(np.argmin(losses))])


def classification_report(probs: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """Accuracy, macro-F1, ECE, NLL, Brier, per-class recall and precision and the confusion matrix.

    Parameters
    ----------
    probs : np.ndarray [shape=(n, k)]
    labels : np.ndarray [shape=(n,)]
    class_names : sequence of k str

    Returns
    -------
    dict with ``n``, ``accuracy``, ``macro_f1``, ``ece``, ``nll``, ``brier``, ``per_class_recall`` and
    ``per_class_precision`` (classes present in ``labels``), ``confusion`` (list of lists)
    """
    probs, labels = _as_probs(probs, labels)
    cm = confusion_matrix(probs, labels, len(class_names))
    recall, precision, f1 = _per_class(cm)
    present = cm.sum(1) > 0
    return {
        "n": int(len(labels)),
        "accuracy": accuracy(probs, labels),
        "macro_f1": float(f1[present].mean()),
        "ece": expected_calibration_error(probs, labels),
        "nll": nll(probs, labels),
        "brier": brier(probs, labels),
        "per_class_recall": {c: float(r) for c, r, pr in zip(class_names, recall, present) if pr},
        "per_class_precision": {c: float(p) for c, p, pr in zip(class_names, precision, present) if pr},
        "confusion": cm.tolist(),
    }
