"""Stages 3-5 of a recorded session over one decoded recording: sample, bucket, assess each step (see
:mod:`cxsense.session.recorded`, which runs them), and the final pass that drops flickers and applies person
baselines."""

from __future__ import annotations

import heapq
import math

from .baselines import FaceBaselines, correct_face, voice_baseline, voice_stretch
from .tracking import MIN_PERSON_SECONDS

__all__ = ["Recording", "GAP_NOTE_S", "MESH_RATE", "DETECT_RATE"]

#: A stretch without frames or audio at least this long (seconds) is named in the notes.
GAP_NOTE_S = 2.0
#: The face mesh (confirmation and cues) runs at most this often per face (Hz): a face that overlaps one confirmed
#: less than 1/MESH_RATE s before reuses its confirmation and cues. 10 Hz still counts blinks.
MESH_RATE = 10.0
#: The face detector runs at most this often (Hz). A frame less than 1/DETECT_RATE s after the last detected one
#: reuses its boxes and is read by the expression network (and the mesh, at :data:`MESH_RATE`) as usual: at 25
#: fps with ``fps=0`` every other frame is detected (a face moves a pixel or two in 40 ms). The default policy's
#: 5 analysed frames a second are all detected. As the face mesh pipeline of MediaPipe, which runs its detector
#: only to find faces and tracks them in between.
DETECT_RATE = 12.5


class Recording:
    """Stages 3-5 over one decoded recording (see the module docstring)."""

    def __init__(self, s: SessionSettings, physio, decode_info, progress):
        from ..encoders import get_encoder
        from .buffers import AudioBuffer
        from .steps import StepAssessor
        from .tracking import IoUTracker

        self.s, self.info, self.progress = s, decode_info, progress
        self.face = get_encoder("face", s.face)
        voice = get_encoder("voice") if decode_info.has_audio else None
        self.steps = StepAssessor(voice, get_encoder("physio") if physio is not None else None, physio,
                                  voice_window=s.voice_window, physio_window=s.physio_window)
        self.audio, self.tracker = AudioBuffer(), IoUTracker()
        self.buckets: dict[int, dict] = {}  # step -> {"n": sampled, "faces": {person: [results]}, "frames": [ids]}
        self.pending: dict[int, tuple] = {}  # steps with a track not yet long enough to be a person: their evidence
        self.content: list[int] = []  # heap of steps that have frames or audio
        self._marked: set[int] = set()
        self._frame_steps: set[int] = set()  # steps not yet assessed that hold a decoded frame
        self.rows: list[dict] = []
        self.next_sample, self.video_t, self.done, self.sampled = 0.0, -math.inf, 0, 0
        self.gaps: list[tuple[float, float]] = []
        self.cue_samples: list[dict] = []
        self._meshed: list[tuple] = []  # (box, cues, time of its mesh) of the last frame's confirmed faces
        self._detected: tuple[float, list] = (-math.inf, [])  # time of the last detector run and its detections
        self.detector_runs = 0
        self.face_bases = FaceBaselines(s.baseline) if s.baseline is not None else None
        self.voice_stretch = voice_stretch(s.baseline) if voice is not None else None
        self.base_notes: list[str] = []

    @property
    def frame_interval(self) -> float:
        """Seconds between analysed frames (the analysis rate, or the video's own rate with ``fps=0``)."""
        if self.s.fps:
            return 1.0 / self.s.fps
        return max(self.video_t, 0.0) / max(self.info.frames - 1, 1) if self.info.frames > 1 else 0.04

    def drop_flickers(self, duration: float) -> set[str]:
        """Rows of tracks too brief to be a person are removed (their steps' rows are made again without them);
        persons are renumbered ``p0``, ``p1``, ... in order of first appearance. Returns the dropped ids."""
        flickers = self.tracker.flickers(self.frame_interval, duration)
        bases, correction = {}, None
        if self.face_bases is not None:
            from ..encoders.face.baseline import NeutralCorrection

            bases, notes = self.face_bases.build()
            self.base_notes += notes
            bases = {p: b for p, b in bases.items() if p not in flickers}
            correction = NeutralCorrection.load() if bases else None
        redo = {k: ctx for k, ctx in self.pending.items() if flickers & set(ctx[1]) or bases.keys() & set(ctx[1])}
        times = {round(ctx[0], 6) for ctx in redo.values()}
        rows = [r for r in self.rows if r["time"] not in times]
        for ts, faces, voice, physio, frames in redo.values():
            kept = {p: correct_face(f, bases[p], correction) if p in bases else f
                    for p, f in faces.items() if p not in flickers}
            together = any(len(set(f) - flickers) > 1 for f in frames)
            rows += self.steps.rows(ts, kept, voice, physio, together=together)
        rows.sort(key=lambda r: (r["time"], r["person"] == "-", r["person"]))
        first = {}
        for r in rows:
            if r["person"] != "-":
                first.setdefault(r["person"], len(first))
        for r in rows:
            if r["person"] != "-":
                r["person"] = f"p{first[r['person']]}"
        self.cue_samples = [dict(c, person=f"p{first[c['person']]}") for c in self.cue_samples
                            if c["person"] in first]
        self.rows = sorted(rows, key=lambda r: (r["time"], r["person"] == "-", int(r["person"][1:] or 0)
                                                if r["person"] != "-" else 0))
        return flickers

    def _mark(self, k: int) -> None:
        if k >= self.done and k not in self._marked:
            self._marked.add(k)
            heapq.heappush(self.content, k)

    # stage 3 + 4: sample and bucket -------------------------------------------------------------
    def on_frame(self, t: float, frame) -> None:
        from ..inputs.image import load_image

        self.video_t = max(self.video_t, t)
        k = int(t // self.s.step)
        self._mark(k)
        if k >= self.done:
            self._frame_steps.add(k)
        fps = self.s.fps
        if fps and t + 1e-6 < self.next_sample:
            return
        self.next_sample = (math.floor(t * fps + 1e-6) + 1) / fps if fps else 0.0
        self.sampled += 1
        img = load_image(frame.to_ndarray(format="rgb24"), parameter="video frame")
        faces = [r for r in self._read_faces(img, t) if r.quality > 0]
        faces = faces[:1] if self.s.persons == "largest" else faces
        ids = self.tracker.update(t, [r.details["box"] for r in faces])
        b = self.buckets.setdefault(k, {"n": 0, "faces": {}, "frames": []})
        b["n"] += 1
        b["frames"].append(tuple(ids))
        for pid, r in zip(ids, faces):
            b["faces"].setdefault(pid, []).append(r)
            if self.face_bases is not None:
                self.face_bases.add(pid, t, r.probability_vector())
            if r.cues is not None:  # per-frame cues, for the cue events and blinks (finer than a step)
                self.cue_samples.append({"time": round(t, 6), "person": pid, **r.cues,
                                         "surprise": float(r.probabilities["surprise"])})

    def _read_faces(self, img, t: float) -> list:
        """Every detected face read; the detector runs at most :data:`DETECT_RATE` times a second, the mesh at most
        :data:`MESH_RATE` times a second per face."""
        import dataclasses

        from .tracking import iou

        opts, out, meshed = self.s.face, [], []
        last, dets = self._detected
        if not (0.0 <= t - last < 1.0 / DETECT_RATE - 1e-6):  # else: the boxes of a frame under 80 ms ago
            dets = self.face.detect(img, tiled="auto")
            self._detected = (t, dets)
            self.detector_runs += 1
        for det in dets:
            prev = next((m for m in self._meshed if iou(m[0], det.box) >= 0.5), None)
            if opts.cues != "off" and prev is not None and t - prev[2] < 1.0 / MESH_RATE - 1e-6:
                r = self.face.read_face(img, det, opts.replace(cues="off"))
                r = dataclasses.replace(r, cues=prev[1]) if r.has_signal else r
                when = prev[2]
            else:
                r, when = self.face.read_face(img, det, opts), t
            if r.has_signal:
                meshed.append((det.box, r.cues, when))
            out.append(r)
        self._meshed = meshed
        return out

    def on_audio(self, t: float | None, samples) -> None:
        t0 = self.audio.end if t is None and self.audio.start is not None else t
        self.audio.push(samples, t)
        if t0 is not None:
            step = self.s.step
            for k in range(int(max(t0, 0) // step), int((t0 + len(samples) / 16000) // step) + 1):
                self._mark(k)

    # stage 5: assess the steps the recording has passed ------------------------------------------
    def _ready(self, k: int, final: bool, duration: float) -> bool:
        te = (k + 1) * self.s.step
        if final:  # after the end: a step with a frame, or with at least 5 % of a step of the video's duration
            return k == 0 or k in self._frame_steps or k * self.s.step < duration - 0.05 * self.s.step
        need = te + self.s.voice_window / 2
        audio_ok = (not self.info.has_audio or self.audio.end >= need
                    or self.video_t > self.audio.end + 120.0)  # audio ended or lags far behind: do not wait
        return self.video_t >= te and audio_ok

    def _voice_baseline_ready(self, final: bool) -> bool:
        """Read the voice baseline once its stretch is in the buffer; steps wait for it (at most 300 s in)."""
        if self.voice_stretch is None:
            return True
        a, b = self.voice_stretch
        if not final and self.audio.end < b and self.video_t <= self.audio.end + 120.0:
            return False
        base, note = voice_baseline(self.steps.voice_encoder, self.audio.window(a, b))
        self.steps.voice_baseline, self.voice_stretch = base, None
        self.base_notes += [note] if note else [f"voice baseline: {a:g}-{b:g} s of the recording"]
        return True

    def finish_ready(self, final: bool = False, duration: float = math.inf) -> None:
        if not self._voice_baseline_ready(final):
            return
        while self.content:
            k = self.content[0]
            if not self._ready(k, final, duration):
                if final:  # past the end of the video
                    self._marked.discard(heapq.heappop(self.content))
                    self._frame_steps.discard(k)
                    continue
                return
            heapq.heappop(self.content)
            self._marked.discard(k)
            self._frame_steps.discard(k)
            self._assess(k)

    def _assess(self, k: int) -> None:
        from .tracking import pool_face

        step, s = self.s.step, self.s
        if (k - self.done) * step >= GAP_NOTE_S:
            self.gaps.append((self.done * step, k * step))
        b = self.buckets.pop(k, {"n": 0, "faces": {}, "frames": []})
        for old in [j for j in self.buckets if j < k]:  # frames of steps already passed (timestamps back)
            self.buckets.pop(old)
        ts, te = k * step, (k + 1) * step
        faces = {pid: f for pid, f in ((p, pool_face(rs, b["n"])) for p, rs in b["faces"].items()) if f is not None}
        voice = self.steps.voice(self.audio, (ts + te) / 2 - s.voice_window / 2, (ts + te) / 2 + s.voice_window / 2)
        physio = self.steps.physio_at(te)
        self.rows += self.steps.rows(ts, faces, voice, physio, together=any(len(f) > 1 for f in b["frames"]))
        if self.face_bases is not None or any(self.tracker.seen_seconds(p, self.frame_interval) < MIN_PERSON_SECONDS
                                              for p in faces):
            self.pending[k] = (ts, faces, voice, physio, b["frames"])  # kept until we know whether it is a person
        self.done = k + 1
        self.audio.drop_before(self.done * step - s.voice_window)
        if self.progress is not None:
            self.progress(min(te, self.info.duration_hint or te), self.info.duration_hint or 0.0)
