"""The one path from evidence to estimate: every entry point gives the same estimate for the same evidence
(issue 23), typed options, and the session's bounded cost on gaps and long audio (issue 29)."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

import cxsense
from cxsense.session.testing import write_video


def _lossless_video(path, frames, fps: int = 5):
    """Frames written with FFV1 (lossless), so every decoded frame is the same array."""
    import av

    with av.open(str(path), "w") as c:
        vs = c.add_stream("ffv1", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)


def _first_frame(path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def still_face(face_rgb, tmp_path_factory):
    """A 2-s lossless video of one still face, and its decoded frame."""
    frame = np.full((240, 320, 3), 80, np.uint8)
    frame[20:220, 60:260] = cv2.resize(face_rgb, (200, 200))
    path = tmp_path_factory.mktemp("still") / "still.mkv"
    _lossless_video(path, [frame] * 10)
    return path, _first_frame(path)


def test_one_estimate_everywhere(still_face):
    """assess, assess_faces, LiveSession.assessment() and each session row give the same estimate for the same
    evidence (the contract's "One estimate, everywhere")."""
    path, frame = still_face
    a = cxsense.assess(face=frame)
    assert a.emotion == "happiness" and a.categorical_evidence
    want = np.array([a.probabilities[e] for e in cxsense.EMOTIONS])
    [b] = cxsense.assess_faces(frame)
    np.testing.assert_allclose([b.probabilities[e] for e in cxsense.EMOTIONS], want, atol=1e-9)
    live = cxsense.LiveSession()
    for k in range(3):
        live.push_frame(frame, k * 0.2)
    c = live.assessment()
    np.testing.assert_allclose([c.probabilities[e] for e in cxsense.EMOTIONS], want, atol=1e-9)
    s = cxsense.analyze_session(path)
    assert len(s.timeline) == 2 and set(s.timeline["person"]) == {"p0"}
    np.testing.assert_allclose(s.timeline[list(cxsense.EMOTIONS)].to_numpy(), np.tile(want, (2, 1)), atol=1e-9)
    assert list(s.timeline["emotion"]) == ["happiness"] * 2
    assert s.info["notes"] == ["the video has no audio track: no voice was read"]
    # a timeline row is Assessment.to_row(), not a rebuilt copy
    row, first = a.to_row(), s.timeline.iloc[0]
    assert row["emotion"] == first["emotion"] and row["categorical_evidence"] == first["categorical_evidence"]
    for k in ("valence", "arousal", "stress", "confidence", "face_quality"):
        assert row[k] == pytest.approx(first[k], abs=1e-9)


def _wrist(seconds: float, seed: int = 0) -> dict:
    import neurokit2 as nk

    ppg = nk.ppg_simulate(duration=seconds, sampling_rate=64, heart_rate=72, random_state=seed)
    eda = nk.eda_simulate(duration=seconds, sampling_rate=4, scr_number=3, noise=0.0, random_state=seed) + 2.0
    return {"ppg": (ppg, 64), "eda": (eda, 4)}


def test_physiology_alone_reads_neutral_everywhere(tmp_path):
    """The defect of issue 23: physiology-only steps read "anger" (a bare argmax over a uniform vector) in the
    timeline, events and summaries while assess said "neutral". Now every path says neutral and flags it."""
    import pandas as pd

    w = _wrist(60)
    a = cxsense.assess(physio=w)
    assert a.emotion == "neutral" and a.categorical_evidence is False and a.valence == 0.0
    assert a.confidence == pytest.approx(1 / 7) and a.to_dict()["categorical_evidence"] is False
    live = cxsense.LiveSession()
    live.push_physio(w, 0.0)
    b = live.assessment()
    assert b.emotion == "neutral" and b.categorical_evidence is False and b.stress == pytest.approx(a.stress)
    # a blank, silent video with a wrist CSV that starts 40 s before it
    video = tmp_path / "blank.mkv"
    write_video(video, lambda i: np.full((96, 128, 3), 30, np.uint8), n_frames=24, fps=2)
    ppg, eda = _wrist(60, seed=1)["ppg"][0], _wrist(60, seed=1)["eda"][0]
    csv = tmp_path / "wrist.csv"
    pd.DataFrame({"time": np.arange(len(ppg)) / 64, "ppg": ppg,
                  "eda": np.repeat(eda, 16)[:len(ppg)]}).to_csv(csv, index=False)
    s = cxsense.analyze_session(video, physio=csv, physio_offset=-40.0)
    tl = s.timeline
    assert len(tl) == 12 and (tl["physio_quality"] > 0).all()
    assert set(tl["emotion"]) == {"neutral"} and not tl["categorical_evidence"].any()
    assert not (s.events["kind"] == "peak").any()
    summary = s.summary()
    assert summary.loc[0, "neutral_share"] == 1.0 and summary.loc[0, "anger_share"] == 0.0
    assert summary.loc[0, "categorical_steps"] == 0


def _sparse_video(path, times, audio_seconds: float = 0.0):
    """A Matroska file (FFV1 video, PCM audio) whose frames sit at ``times`` seconds, with optional quiet audio."""
    import av

    with av.open(str(path), "w") as c:  # every stream is added before the first packet is muxed
        vs = c.add_stream("ffv1", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("pcm_s16le", rate=16000) if audio_seconds else None
        if a is not None:
            a.layout = "mono"
        for t in times:
            vf = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 60, np.uint8), format="rgb24")
            vf.pts, vf.time_base = int(round(t * 25)), Fraction(1, 25)
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a is not None:
            pcm = (np.random.default_rng(0).normal(0, 30, int(audio_seconds * 16000))).astype(np.int16)
            for k in range(0, len(pcm), 16000):
                af = av.AudioFrame.from_ndarray(pcm[None, k:k + 16000], format="s16", layout="mono")
                af.sample_rate, af.pts, af.time_base = 16000, k, Fraction(1, 16000)
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)


def test_gap_in_timestamps_gives_no_rows_for_it(tmp_path):
    """Two frames 10^5 s apart: rows only where there are frames (before: one row per second of the gap)."""
    import time

    path = tmp_path / "gap.mkv"
    _sparse_video(path, [0.0, 1e5])
    t0 = time.perf_counter()
    s = cxsense.analyze_session(path)
    assert time.perf_counter() - t0 < 20
    assert list(s.timeline["time"]) == [0.0, 1e5]
    assert any("no frames or audio from 1.0 s to 100000.0 s" in n for n in s.info["notes"])


def test_audio_past_the_video_end_is_not_decoded(tmp_path):
    """One frame and 200 s of audio: the audio is read only up to 10 s past the video's end (documented)."""
    path = tmp_path / "long_audio.mkv"
    _sparse_video(path, [0.0], audio_seconds=200)
    s = cxsense.analyze_session(path)
    assert len(s.timeline) == 1
    assert any("of audio beyond the video's end" in n for n in s.info["notes"])


def test_typed_options_are_checked_once():
    silence = (np.zeros(16000, np.float32), 16000)
    with pytest.raises(cxsense.InputError, match="'colour'"):
        cxsense.assess(voice=silence, colour=True)
    with pytest.raises(cxsense.InputError, match="physio_baseline"):
        cxsense.assess(voice=silence, physio_baseline=_wrist(60))
    with pytest.raises(cxsense.InputError, match="baseline"):
        cxsense.assess(physio=_wrist(60), baseline=_wrist(60), physio_baseline=_wrist(60))
    with pytest.raises(cxsense.InputError, match="nan_policy"):
        cxsense.assess(physio=_wrist(60), nan_policy="drop")
    from cxsense.options import FaceOptions, PhysioOptions

    assert FaceOptions(early_exit=False).early_exit is None
    with pytest.raises(cxsense.InputError, match="sampling_rate"):
        PhysioOptions(sampling_rate=-4)
    # the physio baseline, by its old and its new name, gives the same estimate
    w, base = _wrist(60, seed=3), _wrist(120, seed=4)
    old, new = cxsense.assess(physio=w, baseline=base), cxsense.assess(physio=w, physio_baseline=base)
    assert old.stress == new.stress and new.modalities["physio"].details["model_used"] == "baseline"


def test_get_encoder_is_public_and_keyed_on_options():
    from cxsense.encoders import get_encoder
    from cxsense.options import FaceOptions, VoiceOptions

    a = get_encoder("face", FaceOptions(model="small"))
    assert a is get_encoder("face", FaceOptions(model="small", detect=False))  # detect is per call
    assert a is not get_encoder("face")
    with pytest.raises(cxsense.InputError, match="options"):
        get_encoder("face", VoiceOptions())
    with pytest.raises(cxsense.InputError, match="modality"):
        get_encoder("smell")
    with pytest.raises(cxsense.InputError, match="Image"):
        a.encode(np.zeros((48, 48), np.uint8))  # encoders read only the clean forms of cxsense.inputs


def test_assess_takes_the_largest_face(face_rgb):
    frame = np.full((480, 800, 3), 90, np.uint8)
    frame[10:130, 10:130] = cv2.resize(face_rgb, (120, 120))  # small, top left
    frame[150:470, 400:720] = cv2.resize(face_rgb, (320, 320))  # large, bottom right
    box = cxsense.assess(face=frame).modalities["face"].details["box"]
    assert box == cxsense.assess_faces(frame)[0].modalities["face"].details["box"] and box[0] > 300


def test_live_session_inputs(face_rgb):
    import av

    live = cxsense.LiveSession(warm_up=True)
    frame = np.full((240, 320, 3), 80, np.uint8)
    frame[20:220, 60:260] = cv2.resize(face_rgb, (200, 200))
    live.push_frame(av.VideoFrame.from_ndarray(frame, format="rgb24"), 0.0)
    assert live.assessment().emotion == "happiness"
    with pytest.raises(cxsense.InputError, match="previous push"):
        live.push_frame(frame, -1.0)
    rng = np.random.default_rng(0)
    mono = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    live.push_audio(np.stack([mono, mono]), 16000, 0.0)  # (channels, n) is down-mixed
    live.push_audio(np.stack([mono, mono]).T, 16000, 1.0)  # and so is (n, channels)
    with pytest.raises(cxsense.InputError, match="previous push"):
        live.push_audio(mono, 16000, 0.5)
    with pytest.raises(cxsense.InputError, match="samples"):
        live.push_audio(np.zeros((20, 16000), np.float32), 16000, 3.0)


def test_cli_session_checks_outputs_before_analysis(tmp_path, cli, still_face):
    path, _ = still_face
    code, _, err = cli("session", path, "--out", tmp_path / "missing" / "t.csv")
    assert code == 2 and "--out" in err
    code, _, err = cli("session", path, "--out", tmp_path / "t.csv", "--report", tmp_path)
    assert code == 2 and "--report" in err
    bad = tmp_path / "seg.csv"
    bad.write_text("start,end\n0,1\n")
    code, _, err = cli("session", path, "--out", tmp_path / "t.csv", "--segments", bad)
    assert code == 2 and "segments" in err and not (tmp_path / "t.csv").exists()


def test_baselines_through_assess(face_path, cli):
    """face_baseline / voice_baseline: one input or a list, read once, reported in details; refused without their
    modality or when they hold no face (the contract's "Baselines")."""
    a = cxsense.assess(face=face_path, face_baseline=[face_path, face_path])
    b = a.modalities["face"].details["baseline"]
    assert b["used"] and b["items"] == 2 and b["usable_items"] == 2
    plain = cxsense.assess(face=face_path)
    assert "baseline" not in plain.modalities["face"].details
    assert a.probabilities != plain.probabilities  # the person's offset is removed
    silence = (np.zeros(16000, np.float32), 16000)
    for kw, name in (({"voice": silence, "face_baseline": face_path}, "face_baseline"),
                     ({"face": face_path, "voice_baseline": silence}, "voice_baseline"),
                     ({"face": face_path, "face_baseline": np.full((64, 64), 90, np.uint8)}, "face_baseline"),
                     ({"face": face_path, "face_baseline": []}, "face_baseline")):
        with pytest.raises(cxsense.InputError, match=name):
            cxsense.assess(**kw)
    code, d, _ = cli("assess", "--face", face_path, "--face-baseline", face_path)
    assert code == 0 and d["modalities"]["face"]["details"]["baseline"]["used"]


def test_cli_ends_quietly_when_the_reader_closes_the_pipe(tmp_path, monkeypatch):
    """``cxsense assess ... | head``: a BrokenPipeError on stdout is no internal error (exit 0, no traceback)."""
    from cxsense import cli

    sink = open(tmp_path / "sink", "w")

    class ClosedPipe:
        def write(self, _):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def fileno(self):
            return sink.fileno()

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert cli.main(["assess", "--face", "examples/astronaut.jpg"]) == 0
    sink.close()
