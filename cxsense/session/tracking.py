"""Face tracks across video frames: stable person ids without identity.

A greedy intersection-over-union tracker. Each detected face box is matched to the open track whose
last box overlaps it most (IoU >= ``min_iou``, largest first); a face that matches no track opens a new
one. A track not seen for ``max_gap_s`` seconds is closed; a face that returns later gets a **new** id.
Ids (``"p0"``, ``"p1"``, ...) are only positions in time: nothing about how a face looks is stored or
compared, so the tracker cannot recognise a person and ids are not identities (privacy by design).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["IoUTracker", "iou"]


def iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class _Track:
    id: str
    box: tuple
    last_t: float
    hits: int = 1
    extra: dict = field(default_factory=dict)


class IoUTracker:
    """Assign stable ids to face boxes over time (see the module docstring).

    Parameters
    ----------
    min_iou : float, default 0.3
    max_gap_s : float, default 2.0
    """

    def __init__(self, min_iou: float = 0.3, max_gap_s: float = 2.0):
        self.min_iou = float(min_iou)
        self.max_gap_s = float(max_gap_s)
        self._tracks: list[_Track] = []
        self._next = 0

    def update(self, t: float, boxes: list) -> list[str]:
        """Ids for the boxes seen at time ``t`` (seconds), in the order given."""
        self._tracks = [tr for tr in self._tracks if t - tr.last_t <= self.max_gap_s]
        ids: list[str | None] = [None] * len(boxes)
        pairs = sorted(((iou(tr.box, b), ti, bi) for ti, tr in enumerate(self._tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_t, used_b = set(), set()
        for score, ti, bi in pairs:
            if score < self.min_iou:
                break
            if ti in used_t or bi in used_b:
                continue
            used_t.add(ti); used_b.add(bi)
            tr = self._tracks[ti]
            tr.box, tr.last_t, tr.hits = tuple(map(float, boxes[bi])), float(t), tr.hits + 1
            ids[bi] = tr.id
        for bi, b in enumerate(boxes):
            if ids[bi] is None:
                tr = _Track(f"p{self._next}", tuple(map(float, b)), float(t))
                self._next += 1
                self._tracks.append(tr)
                ids[bi] = tr.id
        return ids  # type: ignore[return-value]

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)


def pool_face(results: list, n_sampled: int):
    """One face ModalityResult for a step from the results of the frames sampled in it.

    Probabilities, embedding, valence and arousal are quality-weighted means over the frames where the
    face was found; quality is their mean quality times the square root of the share of sampled frames in
    which it was found (a face seen in one frame of five counts for less).
    """
    from ..emotions import EMOTIONS, circumplex_va, stress_from_va
    from ..encoders.base import ModalityResult

    good = [r for r in results if r.quality > 0]
    if not good:
        return None
    w = np.array([r.quality for r in good])
    P = np.array([r.probability_vector() for r in good])
    p = (w[:, None] * P).sum(0) / w.sum()
    p = p / p.sum()
    emb = (w[:, None] * np.array([r.embedding for r in good])).sum(0) / w.sum()
    v, a = circumplex_va(p)
    q = float(w.mean() * np.sqrt(min(1.0, len(good) / max(1, n_sampled))))
    last = good[-1]
    details = {"frames": len(good), "sampled_frames": int(n_sampled)}
    if "box" in last.details:
        details["box"] = list(last.details["box"])
    return ModalityResult("face", dict(zip(EMOTIONS, map(float, p))), emb.astype(np.float32), q, v, a,
                          stress_from_va(v, a), details=details, model=dict(last.model))
