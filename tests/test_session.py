"""Sessions (issue 6): recorded videos to timelines, events, summaries, reports; live updates."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxsense
from cxsense.emotions import EMOTIONS
from cxsense.session import TIMELINE_COLUMNS, LiveSession, analyze_session, detect_events, summarize
from cxsense.session.testing import write_video

SR = 16000


def _frame(face_rgb, positions=((170, 90),), size=300):
    import cv2

    f = np.full((480, 640, 3), 40, np.uint8)
    face = cv2.resize(face_rgb, (size, size))
    for x, y in positions:
        f[y:y + size, x:x + size] = face
    return f


def _voice(seconds):
    t = np.arange(int(seconds * SR)) / SR
    f0 = 150 * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / SR) * (0.55 + 0.45 * np.sin(2 * np.pi * 3.5 * t))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def one_face_mp4(tmp_path_factory, face_rgb):
    p = tmp_path_factory.mktemp("v") / "one.mp4"
    f = _frame(face_rgb)
    write_video(p, lambda i: f, n_frames=100, fps=25, audio=_voice(4.0))
    return p


def _check_timeline(tl):
    from cxsense.assessment import CUE_COLUMNS

    assert list(tl.columns) == TIMELINE_COLUMNS
    num = tl.select_dtypes("number").drop(columns=CUE_COLUMNS)
    assert np.all(np.isfinite(num.to_numpy(float)))
    # the cue columns are NaN exactly where no face gave cues; in range where it did
    cues = tl[CUE_COLUMNS]
    assert (cues.isna().all(axis=1) | cues.notna().all(axis=1)).all()
    assert ((cues.iloc[:, 3:] >= 0) & (cues.iloc[:, 3:] <= 1) | cues.iloc[:, 3:].isna()).all().all()
    ok = tl[tl["emotion"] != "no_signal"]
    assert np.allclose(ok[list(EMOTIONS)].sum(axis=1), 1, atol=1e-6)
    assert ((tl[["valence", "arousal"]] >= -1) & (tl[["valence", "arousal"]] <= 1)).all().all()
    assert ((tl[["stress", "confidence", "incongruence"]] >= 0) & (tl[["stress", "confidence", "incongruence"]] <= 1)).all().all()


def test_one_face_with_audio(one_face_mp4):
    s = analyze_session(one_face_mp4)
    tl = s.timeline
    _check_timeline(tl)
    assert list(tl["time"]) == [0.0, 1.0, 2.0, 3.0]
    assert set(tl["person"]) == {"p0"}
    assert (tl["face_quality"] > 0).all()
    assert s.info["frames_decoded"] == 100 and s.info["frames_analysed"] == 20 and s.info["has_audio"]
    # the same estimate as assess on a frame: the face reads as happiness throughout
    assert (tl["face_emotion"] == "happiness").all()
    # the same input gives the same timeline
    again = analyze_session(one_face_mp4)
    pd.testing.assert_frame_equal(again.timeline, tl)
    assert s.info["face_early_exit"]["threshold"] == 0.65  # base v1.3.0's file turns it on
    quick = analyze_session(one_face_mp4, face_early_exit=0.1)  # the first network always answers alone
    assert quick.info["face_early_exit"]["threshold"] == 0.1
    assert (quick.timeline["face_emotion"] == "happiness").all()


@pytest.mark.parametrize("ext", [".mkv", ".webm", ".avi"])
def test_containers(tmp_path, face_rgb, ext):
    p = tmp_path / f"clip{ext}"
    f = _frame(face_rgb)
    write_video(p, lambda i: f, n_frames=50, fps=25, audio=_voice(2.0))
    s = analyze_session(p, step=0.5)
    _check_timeline(s.timeline)
    assert len(s.timeline) == 4 and (s.timeline["face_quality"] > 0).all()


def test_video_without_audio_and_without_faces(tmp_path, face_rgb):
    p = tmp_path / "silent.mp4"
    frames = [_frame(face_rgb)] * 25 + [np.full((480, 640, 3), 90, np.uint8)] * 25
    write_video(p, frames, fps=25)
    s = analyze_session(p)
    tl = s.timeline
    _check_timeline(tl)
    assert not s.info["has_audio"] and (tl["voice_quality"] == 0).all()
    assert tl.iloc[0]["person"] == "p0" and tl.iloc[1]["emotion"] == "no_signal" and tl.iloc[1]["person"] == "-"
    assert tl.iloc[0]["emotion"] == "happiness" and len(tl) == 2
    assert "the video has no audio track: no voice was read" in s.info["notes"]


def test_single_frame_video_gives_one_row(tmp_path):
    p = tmp_path / "one.mp4"
    write_video(p, [np.full((240, 320, 3), 90, np.uint8)], fps=25)
    s = analyze_session(p)
    assert len(s.timeline) == 1 and s.timeline.iloc[0]["emotion"] == "no_signal"
    assert len(s.events) == 0


def test_two_people_get_two_stable_ids(tmp_path, face_rgb):
    p = tmp_path / "two.mp4"
    f = _frame(face_rgb, positions=((20, 140), (380, 140)), size=220)
    write_video(p, lambda i: f, n_frames=75, fps=25, audio=_voice(3.0))
    s = analyze_session(p)
    tl = s.timeline
    assert set(tl["person"]) == {"p0", "p1"}
    assert len(tl) == 6 and tl.groupby("person").size().tolist() == [3, 3]
    assert not tl["voice_fused"].any()  # two faces: the voice is reported, not fused
    only = analyze_session(p, persons="largest").timeline
    assert set(only["person"]) == {"p0"}


def test_physio_alignment_and_no_overlap(tmp_path, one_face_mp4):
    import neurokit2 as nk

    fs = 32
    ppg = nk.ppg_simulate(duration=70, sampling_rate=fs, heart_rate=72, random_state=3)
    eda = nk.eda_simulate(duration=70, sampling_rate=fs, scr_number=4, noise=0.0, random_state=3) + 2.0
    csv = tmp_path / "wrist.csv"
    pd.DataFrame({"time": np.arange(len(ppg)) / fs, "ppg": ppg, "eda": eda}).to_csv(csv, index=False)
    s = analyze_session(one_face_mp4, physio=csv, physio_offset=-60.0)  # the CSV started 60 s before the video
    assert (s.timeline["physio_quality"] > 0).all() and s.info["physio_steps_with_data"] == 4
    far = analyze_session(one_face_mp4, physio=csv, physio_offset=500.0)
    assert (far.timeline["physio_quality"] == 0).all()
    assert any("does not cover" in n for n in far.info["notes"])
    with pytest.raises(cxsense.InputError, match="physio"):
        analyze_session(one_face_mp4, physio=tmp_path / "missing.csv")


def test_bad_videos(tmp_path, one_face_mp4):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(5000))
    with pytest.raises(cxsense.InputError, match="video"):
        analyze_session(junk)
    with pytest.raises(cxsense.InputError, match="video"):
        analyze_session(tmp_path / "nope.mp4")
    with pytest.raises(cxsense.InputError, match="video"):
        analyze_session(b"\x00\x01")
    audio_only = tmp_path / "audio.wav"
    import soundfile as sf

    sf.write(audio_only, _voice(1.0), SR)
    with pytest.raises(cxsense.InputError, match="video stream"):
        analyze_session(audio_only)
    # a truncated file: what could be decoded is kept, no crash
    data = Path(one_face_mp4).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        s = analyze_session(cut)
        _check_timeline(s.timeline)
    except cxsense.InputError as e:
        assert "video" in str(e)
    for kw in ({"step": 0}, {"fps": -1}, {"step": float("nan")}, {"persons": "everyone"}, {"physio_window": 5},
               {"face_early_exit": 1.5}, {"face_early_exit": "fast"}):
        with pytest.raises(cxsense.InputError):
            analyze_session(one_face_mp4, **kw)


def _synthetic_timeline():
    t = np.arange(30.0)
    rows = []
    for ti in t:
        p = np.full(7, 0.02)
        p[EMOTIONS.index("neutral")] = 0.88
        if 10 <= ti <= 12:  # a surprise spike
            p[:] = 0.02
            p[EMOTIONS.index("surprise")] = 0.88
        stress = 0.2 + (0.6 if 20 <= ti <= 24 else 0.0)
        rows.append({"time": ti, "person": "p0", "emotion": EMOTIONS[int(p.argmax())], **dict(zip(EMOTIONS, p)),
                     "valence": 0.0, "arousal": 0.0, "stress": stress, "confidence": p.max(), "incongruence": 0.0,
                     "face_quality": 1.0, "voice_quality": 0.0, "physio_quality": 1.0})
    return pd.DataFrame(rows)


def test_events_and_summary_known_answers():
    tl = _synthetic_timeline()
    ev = detect_events(tl)
    peaks = ev[(ev["kind"] == "peak") & (ev["signal"] == "surprise")]
    assert len(peaks) == 1 and 10 <= peaks.iloc[0]["time"] <= 12 and peaks.iloc[0]["strength"] > 0.5
    onset = ev[(ev["kind"] == "onset") & (ev["signal"] == "surprise")].iloc[0]
    assert 8 <= onset["time"] <= 10
    rise = ev[ev["kind"] == "stress_rise"]
    assert len(rise) == 1 and 18 <= rise.iloc[0]["time"] <= 21 and 20 <= rise.iloc[0]["peak_time"] <= 24
    assert not (ev["signal"] == "neutral").any()
    sm = summarize(tl, [("before", 0, 10), ("spike", 10, 13), ("after", 13, 30)])
    assert list(sm["segment"]) == ["before", "spike", "after"]
    spike = sm.set_index("segment").loc["spike"]
    assert spike["surprise_share"] == 1.0 and spike["surprise_peak"] == pytest.approx(0.88)
    assert sm.set_index("segment").loc["before", "neutral_share"] == 1.0
    with pytest.raises(cxsense.InputError, match="segments"):
        summarize(tl, [("bad", 5, 1)])


def test_report_is_self_contained(tmp_path, one_face_mp4):
    s = analyze_session(one_face_mp4)
    out = tmp_path / "r.html"
    s.report(out, segments=[("first", 0, 2), ("second", 2, 4)])
    text = out.read_text()
    assert "<svg" in text and "<script" not in text.lower()
    for bad in ("http://", "https://", "//cdn", "<link", "@import", "src="):
        assert bad not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Overview: person p0" in text and "second" in text and "Limits" in text
    assert "accuracy 0.705" in text  # the models table quotes the measured figures of the model cards


def test_report_orders_persons_and_keeps_brief_ones_out():
    """Persons present long enough get a section, in order of first appearance (p2 before p10); brief ones are
    named once; the emotion chart marks peaks and the stress chart only stress rises."""
    from cxsense.assessment import ROW_COLUMNS
    from cxsense.session import Session
    from cxsense.session.report import render_report

    rows = []
    for t in range(40):
        for pid in ("p2", "p10") + (("p7",) if t == 5 else ()):
            p = np.full(7, 0.02)
            p[3 if pid == "p2" else 5] = 0.88 if 10 <= t < 14 else 0.02
            p[6] = 1 - p[:6].sum()
            r = {c: 0.0 for c in ROW_COLUMNS}
            r.update(dict(zip(EMOTIONS, p)), time=float(t), person=pid, emotion=EMOTIONS[int(p.argmax())],
                     categorical_evidence=True, face_quality=0.9, stress=0.8 if 20 <= t < 24 else 0.2)
            rows.append(r)
    tl = pd.DataFrame(rows, columns=TIMELINE_COLUMNS).sort_values(["time", "person"])
    s = Session(tl, detect_events(tl), {"duration_s": 40.0, "step_s": 1.0, "has_audio": False, "notes": []})
    text = render_report(s, segments=[("intro", 0, 10), ("reveal", 10, 20), ("after", 20, 40)])
    assert text.index("Person p2") < text.index("Person p10") and "Person p7" not in text
    assert "too briefly for a section of their own: p7" in text
    assert "happiness peak" in text and "surprise peak" in text and "stress rise" in text
    assert text.count("<svg") == 3 * 3  # the overview and two persons, three charts each


def test_report_lists_facial_cue_events_among_the_key_moments():
    """A jaw drop and a look away are key moments too: listed at their onsets, in one time format, and marked."""
    from cxsense.session.report import _moments

    ev = pd.DataFrame([
        {"time": 3.0, "person": "p0", "kind": "peak", "signal": "surprise", "strength": 0.6, "peak_time": 5.0,
         "peak_value": 0.8},
        {"time": 4.1, "person": "p0", "kind": "jaw_drop", "signal": "mouth_open", "strength": 0.9, "peak_time": 4.6,
         "peak_value": 0.95},
        {"time": 20.0, "person": "p0", "kind": "looked_away", "signal": "gaze_on_camera", "strength": 2.5,
         "peak_time": 22.5, "peak_value": 0.1}])
    table, peaks, rises = _moments(ev)
    assert list(table["moment"]) == ["jaw drop", "surprise peak", "looked away"]
    assert list(table["time"]) == ["0:04.1", "0:05.0", "0:20.0"] and len(peaks) == 3 and rises == []


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path, one_face_mp4):
    s = analyze_session(one_face_mp4)
    html = tmp_path / "r.html"
    s.report(html)
    png = tmp_path / "r.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
                    "--window-size=1000,1400", html.as_uri()], capture_output=True, timeout=120)
    assert png.is_file() and png.stat().st_size > 10_000
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.std() > 10  # not a blank page


def test_cli_session(tmp_path, one_face_mp4, cli):
    seg = tmp_path / "segments.csv"
    seg.write_text("name,start,end\nintro,0,2\nend,2,4\n")
    code, d, err = cli("session", one_face_mp4, "--out", tmp_path / "t.csv", "--report", tmp_path / "r.html",
                       "--events", tmp_path / "e.csv", "--summary", tmp_path / "s.csv", "--segments", seg,
                       "--progress", "on", "--title", "Trailer test")
    assert code == 0, err
    assert d["rows"] == 4 and "100%" in err
    assert "Trailer test" in (tmp_path / "r.html").read_text()
    tl = pd.read_csv(tmp_path / "t.csv")
    assert list(tl.columns) == TIMELINE_COLUMNS and len(tl) == 4
    assert list(pd.read_csv(tmp_path / "s.csv")["segment"]) == ["intro", "end"]
    code, _, err = cli("session", tmp_path / "none.mp4", "--out", tmp_path / "x.csv")
    assert code == 2 and "video" in err


def test_live_session(face_rgb):
    import neurokit2 as nk

    live = LiveSession()
    assert live.assessment() is None
    f = _frame(face_rgb)
    v = _voice(4.0)
    for k in range(8):  # 2 s of frames at 4 per second, audio in 0.25-s chunks
        t = k * 0.25
        live.push_frame(f, t)
        live.push_audio(v[int(t * SR):int((t + 0.25) * SR)], SR, t)
    a = live.assessment()
    assert isinstance(a, cxsense.Assessment) and set(a.modalities) == {"face", "voice"}
    assert a.modalities["face"].emotion == "happiness"
    ppg = nk.ppg_simulate(duration=40, sampling_rate=64, heart_rate=70, random_state=0)
    eda = nk.eda_simulate(duration=40, sampling_rate=4, scr_number=2, noise=0.0, random_state=0) + 2.0
    live.push_physio({"ppg": (ppg, 64), "eda": (eda, 4)}, -38.0)
    a = live.assessment()
    assert "physio" in a.modalities and a.modalities["physio"].quality > 0
    # old frames leave the window
    live.push_frame(np.full((480, 640, 3), 90, np.uint8), 10.0)
    assert len(live._faces) == 1
    with pytest.raises(cxsense.InputError):
        live.push_frame(f, float("nan"))
    with pytest.raises(cxsense.InputError):
        live.push_physio({"heart": ([1, 2], 4)}, 0.0)
    with pytest.raises(cxsense.InputError):
        LiveSession(voice_window=0)
    for kw in ({"face_model": "tiny"}, {"face_early_exit": 0}, {"face_early_exit": "fast"}):
        with pytest.raises(cxsense.InputError, match=list(kw)[0]):
            LiveSession(**kw)
    quick = LiveSession(face_early_exit=0.1)  # the first network answers alone
    quick.push_frame(f, 0.0)
    face = quick.assessment().modalities["face"]
    assert face.emotion == "happiness" and face.model["expression"]["early_exit"]["threshold"] == 0.1
    assert LiveSession(face_model="small")._face_options.model == "small"
    # push_audio's errors name its own parameters
    with pytest.raises(cxsense.InputError) as e:
        live.push_audio(np.zeros(1600, np.float32), 0, 11.0)
    assert e.value.parameter == "sampling_rate"
    with pytest.raises(cxsense.InputError) as e:
        live.push_audio(np.full(1600, np.nan, np.float32), SR, 11.0)
    assert e.value.parameter == "samples"


DATA = Path(os.environ.get("CXSENSE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "face" / "fer2013").is_dir() or not (DATA / "voice" / "ravdess").is_dir(),
                    reason="the shared labelled data is not on this machine")
def test_ground_truth_video_from_shared_data(tmp_path):
    """A 12-s video of three 4-s segments (happiness, anger, surprise): FER-2013 dev faces and RAVDESS dev
    voices of the same labels. Items are picked among those the encoders read right on their own, so the
    test checks the session's alignment, pooling, fusion and events, not the models' accuracy."""
    import cv2
    import soundfile as sf

    from cxsense.encoders import get_encoder
    from cxsense.inputs.audio import load_audio

    labels = ["happiness", "anger", "surprise"]
    fer = np.load(DATA / "face" / "fer2013" / "fer2013_val_publictest.npz")
    rows = pd.read_csv(DATA / "voice" / "ravdess" / "labels.csv")
    rows = rows[rows["split"] == "dev"]
    frames, audio = [], []
    for lab in labels:
        frame = None
        for i in np.flatnonzero(fer["labels"] == EMOTIONS.index(lab))[:200]:
            big = cv2.resize(fer["images"][i], (200, 200), interpolation=cv2.INTER_CUBIC)
            f = np.full((480, 640), 60, np.uint8)
            f[140:340, 220:420] = big
            f = np.repeat(f[:, :, None], 3, axis=2)
            try:
                if cxsense.assess(face=f).modalities["face"].emotion == lab:
                    frame = f
                    break
            except cxsense.NoSignalError:
                continue
        assert frame is not None
        frames += [frame] * 100  # 4 s at 25 fps
        clip = None
        name = {"happiness": "happy", "anger": "angry", "surprise": "surprised"}[lab]
        for _, r in rows[rows["emotion"] == name].iterrows():
            x, sr = sf.read(DATA / "voice" / "ravdess" / r["file"], dtype="float32")
            a = load_audio((x, sr))
            if get_encoder("voice").encode(a).emotion == lab:
                clip = np.asarray(a.samples)
                break
        assert clip is not None
        seg = np.zeros(4 * SR, np.float32)
        seg[: min(len(clip), 4 * SR)] = clip[: 4 * SR]
        audio.append(seg)
    path = tmp_path / "truth.mp4"
    write_video(path, frames, fps=25, audio=np.concatenate(audio))
    s = analyze_session(path)
    tl = s.timeline.set_index("time")
    assert len(tl) == 12
    for k, lab in enumerate(labels):
        inner = tl.loc[[4.0 * k + 1, 4.0 * k + 2], "emotion"]  # steps well inside the segment
        assert (inner == lab).all(), (lab, tl["emotion"].tolist())
    peaks = s.events[s.events["kind"] == "peak"]
    for k, lab in enumerate(labels[1:], start=1):
        hit = peaks[(peaks["signal"] == lab) & (peaks["time"] >= 4 * k) & (peaks["time"] < 4 * k + 4)]
        assert len(hit) >= 1, s.events
    sm = s.summary([(lab, 4 * k, 4 * k + 4) for k, lab in enumerate(labels)]).set_index("segment")
    for lab in labels:
        assert sm.loc[lab, f"{lab}_share"] >= 0.5


def test_session_opens_no_network_and_writes_nothing(one_face_mp4, no_network, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(one_face_mp4.parent))
    s = analyze_session(one_face_mp4)
    assert len(s.timeline) == 4
    assert sorted(os.listdir(one_face_mp4.parent)) == before and os.listdir(tmp_path) == []


def _moving(face_rgb, tracks, n_frames, size=110):
    """``i -> frame``: faces of ``size`` px at ``tracks[j](i) -> (x, y) or None`` (absent) on a 640x480 frame."""
    import cv2

    face = cv2.resize(np.ascontiguousarray(face_rgb[40:200, 150:310]), (size, size))  # the portrait's face only

    def make(i):
        f = np.full((480, 640, 3), 40, np.uint8)
        for pos in tracks:
            xy = pos(i)
            if xy is not None:
                x, y = int(xy[0]), int(xy[1])
                f[y:y + size, x:x + size] = face
        return f

    return make


def test_two_people_who_cross_stay_two_persons(tmp_path, face_rgb):
    """Two faces walk past each other (one a little higher): still p0 and p1, never a third id."""
    p = tmp_path / "cross.mp4"
    make = _moving(face_rgb, [lambda i: (20 + 12 * i, 60), lambda i: (510 - 12 * i, 250)], 40)
    write_video(p, make, n_frames=40, fps=10)
    s = analyze_session(p)
    assert s.info["persons_seen"] == ["p0", "p1"]
    assert (s.timeline.groupby("time")["person"].nunique() == 2).all()


def test_a_face_that_leaves_and_returns_keeps_its_id(tmp_path, face_rgb):
    """Away for 0.8 s (a cut, a turned head) and back at the same place: one person, one row per step; a face
    glimpsed in one frame is not a person (it is dropped and counted in the notes)."""
    p = tmp_path / "away.mp4"
    here = lambda i: None if 20 <= i < 28 else (260, 180)  # noqa: E731  absent from 2.0 to 2.8 s at 10 fps
    glimpse = lambda i: (20, 20) if i == 34 else None  # noqa: E731  one sampled frame (3.4 s)
    write_video(p, _moving(face_rgb, [here, glimpse], 50), n_frames=50, fps=10, audio=_voice(5.0))
    s = analyze_session(p)
    tl = s.timeline
    assert s.info["persons_seen"] == ["p0"] and len(tl) == 5
    assert any("1 face track(s) seen for less than" in n for n in s.info["notes"])
    assert (tl["voice_fused"] == (tl["voice_quality"] > 0)).all()  # the glimpse did not take the voice away


def test_a_cut_between_two_people_gives_each_the_voice(tmp_path, face_rgb):
    """One face, then (a cut) another elsewhere: two persons, never on screen together, so both rows of the cut's
    step keep the voice in their estimate."""
    p = tmp_path / "cut.mp4"
    first = lambda i: (60, 150) if i < 25 else None  # noqa: E731
    second = lambda i: (450, 150) if i >= 25 else None  # noqa: E731
    write_video(p, _moving(face_rgb, [first, second], 40), n_frames=40, fps=10, audio=_voice(4.0))
    s = analyze_session(p)
    tl = s.timeline
    assert s.info["persons_seen"] == ["p0", "p1"]
    cut = tl[tl["time"] == 2.0]
    assert set(cut["person"]) == {"p0", "p1"}
    assert (cut["voice_fused"] == (cut["voice_quality"] > 0)).all()


def test_session_baselines_are_off_by_default_and_explained_when_on(tmp_path, face_rgb):
    """baseline="auto": each person's face against their own first seconds (a robust estimate that refuses a start
    that does not look neutral), the voice against the recording's first 10 s; notes say what was used."""
    import soundfile as sf

    speech, sr = sf.read(Path(__file__).parent / "data" / "espeak_en_f.ogg", dtype="float32")
    speech = np.tile(speech, 1 + int(6 * sr / len(speech)))[: 6 * sr]  # espeak-ng speech (tests/data/README.md)
    p = tmp_path / "base.mp4"
    write_video(p, _moving(face_rgb, [lambda i: (260, 180)], 60), n_frames=60, fps=10, audio=speech,
                sampling_rate=sr)
    plain = analyze_session(p)
    assert plain.info["baseline"] is None and not any("baseline" in n for n in plain.info["notes"])
    auto = analyze_session(p, baseline="auto")
    notes = " | ".join(auto.info["notes"])
    # the portrait smiles from the first frame: its start is not neutral, so no face baseline is used
    assert "p0: the baseline stretch did not look neutral" in notes
    assert "voice baseline: 0-10 s of the recording" in notes
    assert auto.timeline["voice_quality"].gt(0).any()
    pd.testing.assert_frame_equal(auto.timeline[list(EMOTIONS)].iloc[:0], plain.timeline[list(EMOTIONS)].iloc[:0])
    with pytest.raises(cxsense.InputError, match="baseline"):
        analyze_session(p, baseline=(5, 2))
    with pytest.raises(cxsense.InputError, match="baseline"):
        analyze_session(p, baseline="first")


def test_face_baselines_keep_the_more_neutral_half():
    from cxsense.session.baselines import FaceBaselines

    fb = FaceBaselines("auto")
    neutral = np.array([0.05, 0.02, 0.03, 0.05, 0.15, 0.05, 0.65])
    laugh = np.array([0.02, 0.01, 0.01, 0.9, 0.02, 0.02, 0.02])
    for k, t in enumerate(np.arange(0, 6, 0.2)):  # a resting face with a laugh in the middle, then later frames
        fb.add("p0", float(t), laugh if 2 <= t < 3 else neutral)
    fb.add("p1", 10.0, laugh)
    bases, notes = fb.build()
    np.testing.assert_allclose(bases["p0"].probabilities, neutral / neutral.sum(), atol=1e-9)
    assert bases["p0"].n_items == 26 and "p1" not in bases and any("p1: fewer than 3" in n for n in notes)


def test_every_frame_reads_every_frame_but_detects_at_most_detect_rate(one_face_mp4, monkeypatch):
    """fps=0: the expression network reads all 100 frames; the detector runs on every other one (25 fps video,
    DETECT_RATE 12.5 Hz), and the frames between reuse its boxes, so the face is found in every frame."""
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.session.stages import DETECT_RATE

    calls = {"detect": 0, "read": 0}
    detect, read = FaceEncoder.detect, FaceEncoder.read_face

    def counted_detect(self, *a, **k):
        calls["detect"] += 1
        return detect(self, *a, **k)

    def counted_read(self, *a, **k):
        calls["read"] += 1
        return read(self, *a, **k)

    monkeypatch.setattr(FaceEncoder, "detect", counted_detect)
    monkeypatch.setattr(FaceEncoder, "read_face", counted_read)
    s = analyze_session(one_face_mp4, fps=0)
    assert s.info["frames_analysed"] == 100
    assert calls["read"] == 100
    assert calls["detect"] == pytest.approx(100 * DETECT_RATE / 25, abs=1)
    assert (s.timeline["face_quality"] > 0).all() and list(s.timeline["person"].unique()) == ["p0"]
    # the default policy (5 frames a second) detects every analysed frame
    calls.update(detect=0, read=0)
    s = analyze_session(one_face_mp4)
    assert calls["detect"] == calls["read"] == s.info["frames_analysed"] == 20


def test_report_charts_leave_time_without_rows_empty():
    """Rows at 0-2 s and 10-11 s: the stacked areas and the lines are drawn in two pieces, never across 2-10 s."""
    from cxsense.session.charts import Chart

    t = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    P = np.full((5, 7), 1 / 7)
    svg = Chart(0, 12, 0, 1, "t").stacked(t, P, step=1.0).svg()
    assert svg.count("<polygon") == 2 * 7
    svg = Chart(0, 12, 0, 1, "t").line(t + 0.5, np.linspace(0, 1, 5), "#000", "v", gap=1.5).svg()
    assert svg.count("<polyline") == 2
    assert Chart(0, 12, 0, 1, "t").line(t, np.zeros(5), "#000", "v").svg().count("<polyline") == 1
