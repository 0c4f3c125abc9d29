"""Face tracks across video frames: stable person ids without identity.

A greedy tracker on boxes. Each track predicts where its face is now from its last box and its velocity (a
constant-velocity model, smoothed over sightings). Each detected face box is matched to an open track (largest
score first): by overlap with the prediction (intersection over union >= ``min_iou``), or, when the track was not
seen in the frames just before (a cut, a turned head, a missed detection), by place and size: the centre within
``reentry_distance`` box sides of the predicted centre and the size within a factor ``reentry_size``. A track seen
in the frame just before may also continue by place and size, within ``motion_distance`` box sides: a face that
starts to move fast (a person who hurries out of the frame) jumps more than the overlap allows between two analysed
frames before the track's velocity follows. A face that matches no track opens a new one; a track not seen for
``max_gap_s`` seconds is closed, and a face that returns later gets a new id.

Ids (``"p0"``, ``"p1"``, ...) are positions in time, numbered in order of first appearance: nothing about how a
face looks is stored or compared, so the tracker cannot recognise a person and ids are not identities (privacy by
design). :meth:`IoUTracker.flickers` names the tracks too brief to be a person (a detector firing for a moment on a
pattern, a face glimpsed at a cut); sessions drop their rows and say so in their notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["IoUTracker", "iou", "pool_face", "MIN_PERSON_SECONDS"]

#: A track must be seen for at least this long (sampled frames times the frame interval) to be a person, unless
#: the recording itself is shorter than twice that.
MIN_PERSON_SECONDS = 0.6


def iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def _reentry(track_box, box, max_distance: float, max_size_ratio: float) -> float:
    """How well ``box`` continues a track last seen at ``track_box`` by place and size (0: not at all)."""
    tx, ty, tw, th = track_box
    bx, by, bw, bh = box
    side = max(tw, th, 1e-6)
    d = math.hypot((bx + bw / 2) - (tx + tw / 2), (by + bh / 2) - (ty + th / 2)) / side
    ratio = max(bw * bh, 1e-9) / max(tw * th, 1e-9)
    if d > max_distance or not 1 / max_size_ratio ** 2 <= ratio <= max_size_ratio ** 2:
        return 0.0
    return 0.29 * (1.0 - d / max_distance) + 1e-3  # always below an IoU match's min_iou


@dataclass
class _Track:
    id: str
    box: tuple
    last_t: float
    first_t: float
    hits: int = 1
    vx: float = 0.0  # pixels per second, smoothed
    vy: float = 0.0

    def predicted(self, t: float) -> tuple:
        """The box moved by the track's velocity to time ``t`` (at most 2 s ahead)."""
        dt = min(max(t - self.last_t, 0.0), 2.0)
        x, y, w, h = self.box
        return (x + self.vx * dt, y + self.vy * dt, w, h)

    def move(self, box: tuple, t: float) -> None:
        dt = t - self.last_t
        if dt > 1e-6:
            vx = ((box[0] + box[2] / 2) - (self.box[0] + self.box[2] / 2)) / dt
            vy = ((box[1] + box[3] / 2) - (self.box[1] + self.box[3] / 2)) / dt
            a = 1.0 if self.hits == 1 else 0.5
            self.vx, self.vy = a * vx + (1 - a) * self.vx, a * vy + (1 - a) * self.vy
        self.box, self.last_t, self.hits = box, t, self.hits + 1


class IoUTracker:
    """Assign stable ids to face boxes over time (see the module docstring).

    Parameters
    ----------
    min_iou : float, default 0.3
    max_gap_s : float, default 2.0
        Seconds a track stays open without being seen.
    reentry_distance : float, default 0.5
        After an absence, the largest distance between centres, in units of the track's box side.
    reentry_size : float, default 1.5
        After an absence (and for ``motion_distance``), the largest change of box side (either way).
    motion_distance : float, default 1.0
        A track seen in the frame before, whose face overlaps neither its prediction nor its last box enough: the
        largest distance between centres, in box sides (a face that jumped by up to one face width between
        analysed frames; at 5 analysed frames per second a face moving up to 5 widths a second).
    """

    def __init__(self, min_iou: float = 0.3, max_gap_s: float = 2.0, reentry_distance: float = 0.5,
                 reentry_size: float = 1.5, motion_distance: float = 1.0):
        self.min_iou, self.max_gap_s = float(min_iou), float(max_gap_s)
        self.reentry_distance, self.reentry_size = float(reentry_distance), float(reentry_size)
        self.motion_distance = float(motion_distance)
        self._open: list[_Track] = []
        self._all: dict[str, _Track] = {}
        self._last_t = -math.inf

    def update(self, t: float, boxes: list) -> list[str]:
        """Ids for the boxes ``(x, y, w, h)`` seen at time ``t`` (seconds), in the order given."""
        self._open = [tr for tr in self._open if t - tr.last_t <= self.max_gap_s]
        pairs = []
        for ti, tr in enumerate(self._open):
            absent = tr.last_t < self._last_t  # not seen in the previous frame analysed
            guess = tr.predicted(t)
            for bi, b in enumerate(boxes):
                score = max(iou(guess, b), iou(tr.box, b))
                if score < self.min_iou:  # by place and size (after an absence, or a fast move), below any overlap
                    score = _reentry(guess, b, self.reentry_distance if absent else self.motion_distance,
                                     self.reentry_size)
                if score > 0:
                    pairs.append((score, ti, bi))
        ids: list[str | None] = [None] * len(boxes)
        used_t, used_b = set(), set()
        for _, ti, bi in sorted(pairs, reverse=True):
            if ti in used_t or bi in used_b:
                continue
            used_t.add(ti)
            used_b.add(bi)
            tr = self._open[ti]
            tr.move(tuple(map(float, boxes[bi])), float(t))
            ids[bi] = tr.id
        for bi, b in enumerate(boxes):
            if ids[bi] is None:
                tr = _Track(f"p{len(self._all)}", tuple(map(float, b)), float(t), float(t))
                self._open.append(tr)
                self._all[tr.id] = tr
                ids[bi] = tr.id
        self._last_t = max(self._last_t, float(t))
        return ids  # type: ignore[return-value]

    @property
    def open_tracks(self) -> int:
        """Tracks seen within the last ``max_gap_s`` seconds."""
        return len(self._open)

    def seen_seconds(self, person: str, frame_interval: float) -> float:
        """How long a track was seen: its sightings times the interval between analysed frames."""
        tr = self._all.get(person)
        return 0.0 if tr is None else tr.hits * frame_interval

    def flickers(self, frame_interval: float, duration: float) -> set[str]:
        """Tracks seen for less than :data:`MIN_PERSON_SECONDS` (or less than half of a shorter recording)."""
        need = min(MIN_PERSON_SECONDS, 0.5 * duration)
        return {p for p in self._all if self.seen_seconds(p, frame_interval) + 1e-9 < need}


def pool_face(results: list, n_sampled: int):
    """One face ModalityResult for a step from the results of the frames sampled in it.

    Probabilities, embedding, valence and arousal are quality-weighted means over the frames where the
    face was found; quality is their mean quality times the square root of the share of sampled frames in
    which it was found (a face seen in one frame of five counts for less). The cues are the quality-weighted
    means over the frames that have them (None when none has).
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
    with_cues = [(r.quality, r.cues) for r in good if r.cues is not None]
    cues = None
    if with_cues:
        cw = np.array([c[0] for c in with_cues])
        cues = {k: float(sum(wi * c[k] for wi, (_, c) in zip(cw, with_cues)) / cw.sum()) for k in with_cues[0][1]}
    return ModalityResult("face", dict(zip(EMOTIONS, map(float, p))), emb.astype(np.float32), q, v, a,
                          stress_from_va(v, a), details=details, model=dict(last.model), cues=cues)
