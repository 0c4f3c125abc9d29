"""The face neutral-baseline's proxies, shared by its fit (``training/face/fit_baseline.py``) and its benchmark
(``benchmarks/face_baseline.py``): dev probabilities (plain or augmented), proxy rows (a stranger's neutral face,
the same crop augmented, an expressive image by mistake) and cross-fitted constants. FER-2013 has no person ids,
so these are proxies, not the gain on real people (docs/face.md, "Neutral baseline")."""

from __future__ import annotations

import numpy as np

__all__ = ["dev_probabilities", "proxy_rows", "cross_fitted"]


def dev_probabilities(enc, x: np.ndarray, seed: int | None = None) -> np.ndarray:
    """Calibrated probabilities ``(n, 7)`` of the encoder for crops ``x`` ``(n, 48, 48)`` uint8, optionally
    through the training augmentation (``seed``)."""
    import torch

    from training.face.nets import augment

    if seed is not None:
        g = torch.Generator().manual_seed(seed)
        xa = augment(torch.from_numpy(x).float().div(255).unsqueeze(1), g)
        x = xa.squeeze(1).mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    return np.concatenate([enc.crops_embed(x[i: i + 256])[1] for i in range(0, len(x), 256)])


def proxy_rows(P: np.ndarray, P_aug: np.ndarray, y: np.ndarray, corr_for, neutral: int, seed: int = 0) -> dict:
    """Probabilities of every proxy condition: name -> (probabilities (m, 7), labels (m,)).

    ``corr_for(i)`` gives the :class:`NeutralCorrection` to use for crop ``i`` (shipped or cross-fitted).
    """
    from cxsense.encoders.face.baseline import FaceBaseline

    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(y == neutral)
    n = len(y)

    def corrected(idx, base_probs):
        return np.stack([corr_for(i).apply(P[i], FaceBaseline(b, 1, 1)) for i, b in zip(idx, base_probs)])

    rows = {"no baseline": (P, y)}
    for k in (1, 3):
        bases = []
        for i in range(n):
            cand = pool[pool != i]
            bases.append(P[rng.choice(cand, size=k, replace=False)].mean(0))
        rows[f"stranger's neutral, k={k}"] = (corrected(np.arange(n), bases), y)
    rows["own neutral crop, augmented (neutral crops only)"] = (corrected(pool, P_aug[pool]), y[pool])
    rows["no baseline (neutral crops only)"] = (P[pool], y[pool])
    rows["expressive baseline by mistake"] = (corrected(np.arange(n), P_aug), y)
    return rows


def cross_fitted(P: np.ndarray, y: np.ndarray, neutral: int, constants: dict):
    """``corr_for(i)``: the correction with ``ref`` from the neutral crops of the other half (i % 2)."""
    from cxsense.encoders.face.baseline import NeutralCorrection

    half = np.arange(len(y)) % 2
    corr = [NeutralCorrection(dict(constants, ref=P[(half != h) & (y == neutral)].mean(0).tolist())) for h in (0, 1)]
    return lambda i: corr[half[i]]
