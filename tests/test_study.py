"""Studies (issue 26): manifests, engines, reuse, aggregate curves, moments, comparisons, privacy, report.

Videos are made here (a few seconds, 320x240): the shipped portrait with its smile hidden (reads neutral) and
then shown (reads happiness), so every recording has a known happiness onset. Analysis at 1 frame per second
keeps each recording to a handful of face passes.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxsense
from cxsense.errors import InputError, PolicyError
from cxsense.session import TIMELINE_COLUMNS, analyze_session
from cxsense.session.testing import write_video
from cxsense.study import analyze_study, read_manifest
from cxsense.study.aggregate import BASE_MEASURES, Aggregator, viewer_steps
from cxsense.study.compare import compare_variants
from cxsense.study.testing import synthetic_analyzer, synthetic_timeline, write_synthetic

FPS = 1.0  # frames analysed per second in these tests
NUM = [c for c in TIMELINE_COLUMNS if c not in ("person", "emotion", "face_emotion", "voice_emotion", "voice_fused")]


def _clip(path, face_rgb, onset_s: float, seconds: float) -> None:
    import cv2

    face = face_rgb[30:190, 135:295]
    h, w = face.shape[:2]
    hidden = face.copy()
    hidden[int(h * 0.60):int(h * 0.78), int(w * 0.30):int(w * 0.70)] = hidden[h // 2, w // 2]

    def frame(img):
        f = np.full((240, 320, 3), 40, np.uint8)
        f[40:200, 80:240] = cv2.resize(img, (160, 160))
        return f

    a, b = frame(hidden), frame(face)
    write_video(path, lambda i: a if i < onset_s * 5 else b, n_frames=int(seconds * 5), fps=5)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, face_rgb):
    d = tmp_path_factory.mktemp("clips")
    _clip(d / "x.mp4", face_rgb, 4, 8)     # happiness from 4 s
    _clip(d / "y.mp4", face_rgb, 6, 10)    # the same with 2 s more before it: from 6 s
    (d / "bad.mp4").write_bytes(b"this is not a video")
    import neurokit2 as nk

    fs = 32  # a wrist CSV that starts 60 s before y.mp4
    ppg = nk.ppg_simulate(duration=72, sampling_rate=fs, heart_rate=72, random_state=3)
    eda = nk.eda_simulate(duration=72, sampling_rate=fs, scr_number=4, noise=0.0, random_state=3) + 2.0
    pd.DataFrame({"time": np.arange(len(ppg)) / fs, "ppg": ppg, "eda": eda}).to_csv(d / "wrist.csv", index=False)
    (d / "manifest.csv").write_text("recording,viewer,variant,stimulus_offset\n"
                                    "x.mp4,v1,A,0\nx.mp4,v2,A,0\nx.mp4,v3,A,\nbad.mp4,v4,A,0\n"
                                    "y.mp4,v1,B,2\ny.mp4,v2,B,2\n")
    return d


@pytest.fixture(scope="module")
def ref(clips):
    """The single session timeline of x.mp4, as `cxsense session` makes it."""
    return analyze_session(clips / "x.mp4", fps=FPS).timeline


@pytest.fixture(scope="module")
def main_study(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "out"
    seen = []
    s = analyze_study(clips / "manifest.csv", out, workers=0, fps=FPS, progress=seen.append)
    return s, out, seen


def _same_timeline(a: pd.DataFrame, b: pd.DataFrame, atol=1e-6):
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert len(a) == len(b)
    np.testing.assert_allclose(a[NUM].to_numpy(float), b[NUM].to_numpy(float), atol=atol, rtol=0)
    for c in ("person", "emotion", "face_emotion", "voice_emotion", "voice_fused"):
        assert list(a[c]) == list(b[c]), c


# ------------------------------------------------------------------------------------------ manifests
@pytest.mark.parametrize("text, column, row", [
    ("recording\nx.mp4\n", "viewer", 0),                                        # missing column
    ("recording,viewer,variant\nx.mp4,v1,A\ny.mp4,v1,A\n", "viewer", 2),        # duplicate viewer in a variant
    ("recording,viewer\nx.mp4,v1\nnope.mp4,v2\n", "recording", 2),              # unreadable path
    ("recording,viewer,physio\nx.mp4,v1,nope.csv\n", "physio", 1),              # unreadable physiology
    ("recording,viewer,stimulus_offset\nx.mp4,v1,soon\n", "stimulus_offset", 1),  # not a number
    ("recording,viewer,stimulus_ofset\nx.mp4,v1,2\n", "stimulus_ofset", 0),      # a typo is refused
    ("recording,viewer\nx.mp4,\n", "viewer", 1),                                # empty cell
])
def test_bad_manifests_fail_fast_naming_row_and_column(clips, text, column, row):
    p = clips / f"m_{column}_{row}.csv"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        read_manifest(p)
    assert f"row {row}" in str(e.value) and repr(column) in str(e.value)
    with pytest.raises(InputError):  # analyze_study refuses it before analysing anything
        analyze_study(p, clips / "never", workers=0)


def test_manifest_paths_relative_to_its_folder_and_same_viewer_across_variants(clips):
    recs = read_manifest(clips / "manifest.csv")
    assert [r.path for r in recs][:1] == [str(clips / "x.mp4")]
    assert [(r.viewer, r.variant, r.stimulus_offset) for r in recs][4] == ("v1", "B", 2.0)
    assert recs[2].stimulus_offset == 0.0  # an empty cell is the default


# --------------------------------------------------------------------------------- known answers
def test_identical_recordings_give_the_single_timeline_with_zero_width_interval(main_study, ref):
    s, out, _ = main_study
    a = s.aggregate[s.aggregate["variant"] == "A"].reset_index(drop=True)
    assert list(a["stimulus_time"]) == list(ref["time"]) and (a["n"] == 3).all()  # the failed v4 is not counted
    for m in ("happiness", "neutral", "valence", "arousal", "stress"):
        np.testing.assert_allclose(a[f"{m}_mean"], ref[m], atol=1e-12, rtol=0)
        assert (a[f"{m}_lo"] == a[f"{m}_mean"]).all() and (a[f"{m}_hi"] == a[f"{m}_mean"]).all()
    csv = pd.read_csv(out / "aggregate.csv")
    assert list(csv.columns[:3]) == ["variant", "stimulus_time", "n"]
    np.testing.assert_allclose(csv[csv["variant"] == "A"]["happiness_mean"], ref["happiness"], atol=1e-6)


def test_timelines_dataset_equals_the_session_timeline(main_study, ref):
    _, out, _ = main_study
    tl = pd.read_parquet(out / "timelines")
    assert set(TIMELINE_COLUMNS + ["recording", "viewer", "variant", "stimulus_time"]) == set(tl.columns)
    v1 = tl[(tl["viewer"] == "v1") & (tl["variant"] == "A")].sort_values("time")
    _same_timeline(v1, ref)
    assert (v1["recording"] == "x.mp4").all()
    b = tl[(tl["viewer"] == "v1") & (tl["variant"] == "B")].sort_values("time")
    np.testing.assert_allclose(b["stimulus_time"], b["time"] - 2.0)


def test_stimulus_offset_shifts_a_known_onset(main_study):
    s, out, _ = main_study
    tl = pd.read_parquet(out / "timelines")
    y = tl[(tl["variant"] == "B") & (tl["viewer"] == "v1")].sort_values("time")
    assert y[y["happiness"] > 0.5]["time"].min() == 6.0  # in the recording's own time
    mom = pd.read_csv(out / "moments.csv")
    onsets = mom[(mom["kind"] == "onset") & (mom["measure"] == "happiness")]
    assert list(onsets["variant"]) == ["A", "B"] and list(onsets["stimulus_time"]) == [4.0, 4.0]
    assert (onsets["share_of_viewers"] == 1.0).all()
    assert set(mom.columns) >= {"variant", "stimulus_time", "kind", "measure", "value", "share_of_viewers"}


def test_failed_recording_is_listed_and_excluded(main_study):
    s, out, seen = main_study
    rec = pd.read_csv(out / "recordings.csv", keep_default_na=False)
    assert list(rec.columns[:6]) == ["recording", "viewer", "variant", "status", "reason", "seconds"]
    assert list(rec["status"]) == ["ok", "ok", "ok", "failed", "ok", "ok"]
    bad = rec.iloc[3]
    assert bad["viewer"] == "v4" and "video" in bad["reason"] and bad["seconds"] == 0
    assert rec.iloc[0]["seconds"] == pytest.approx(8.0, abs=0.3)
    assert seen[-1]["done"] == 5 and seen[-1]["failed"] == 1 and seen[-1]["eta_s"] == 0
    assert s.info["analysed_jobs"] == 3  # x.mp4 listed three times is analysed once


def test_compare_two_variants(main_study):
    s, out, _ = main_study
    cmp = pd.read_csv(out / "compare.csv")
    assert {"segment", "measure", "difference", "lo", "hi", "test", "p_value", "p_holm"} <= set(cmp.columns)
    h = cmp[cmp["measure"] == "happiness"].iloc[0]
    assert h["test"] == "welch_t" and h["n_a"] == 3 and h["n_b"] == 2  # v3 watched A only: not paired
    assert abs(h["difference"]) < 0.02 and h["lo"] <= h["difference"] <= h["hi"]  # the same clip, aligned


def test_aggregate_t_interval_known_answer():
    from scipy.stats import t

    agg = Aggregator(["happiness"], 1.0)
    for x in (0.2, 0.4, 0.6):
        agg.add("A", {"steps": np.array([0]), "values": np.array([[x]])})
    row = agg.table().iloc[0]
    half = t.ppf(0.975, 2) * 0.2 / np.sqrt(3)
    assert row["n"] == 3 and row["happiness_mean"] == pytest.approx(0.4)
    assert row["happiness_lo"] == pytest.approx(max(0, 0.4 - half)) and row["happiness_hi"] == pytest.approx(min(1, 0.4 + half))
    one = Aggregator(["valence"], 1.0)
    one.add("A", {"steps": np.array([0]), "values": np.array([[0.3]])})
    assert tuple(one.table().iloc[0][["valence_lo", "valence_hi"]]) == (-1.0, 1.0)  # n = 1: no interval


def test_compare_paired_and_welch_known_answers():
    from scipy.stats import ttest_ind

    a = np.array([0.125, 0.5, 0.25, 0.375])  # exact in binary: every paired difference is exactly 0.25
    means = pd.DataFrame({"variant": ["A"] * 4 + ["B"] * 4, "viewer": list("wxyz") * 2, "segment": 0,
                          "happiness": np.r_[a, a + 0.25]})
    r = compare_variants(means, [("all", 0, 10)]).iloc[0]
    assert r["test"] == "paired_t" and r["difference"] == 0.25
    assert r["lo"] == r["hi"] == 0.25 and r["p_value"] == 0.0
    means["viewer"] = list("wxyz") + list("klmn")  # other viewers: independent samples
    r = compare_variants(means, [("all", 0, 10)]).iloc[0]
    assert r["test"] == "welch_t" and r["p_value"] == pytest.approx(ttest_ind(a + 0.25, a, equal_var=False).pvalue)


def test_moments_need_many_viewers_not_one(tmp_path):
    rows = []
    for k in range(10):  # 6 viewers react within 1 s of 10 s; viewer 9 alone at 20 s
        reactions = [(10 + (k % 3) - 1, "surprise", 0.85, 2)] if k < 6 else []
        reactions += [(20, "surprise", 0.85, 2)] if k == 9 else []
        write_synthetic(tmp_path / f"r{k}.json", 30, reactions, seed=k)
        rows.append({"recording": f"r{k}.json", "viewer": f"v{k}"})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    s = analyze_study(tmp_path / "m.csv", tmp_path / "out", workers=0, analyzer=synthetic_analyzer)
    m = s.moments[(s.moments["measure"] == "surprise")]
    assert set(m["stimulus_time"]) <= {9.0, 10.0, 11.0, 12.0} and len(m)
    on = m[m["kind"] == "onset"].iloc[0]
    assert on["stimulus_time"] == 10.0 and on["share_of_viewers"] == pytest.approx(0.6)
    assert on["expected_share"] < 0.3 and on["viewers"] == 6
    assert 20.0 not in set(s.moments["stimulus_time"])  # one viewer's reaction is no moment


def test_facial_cue_columns_are_aggregated_where_a_face_was_seen():
    from cxsense.study.aggregate import measures_of
    from cxsense.study.moments import MomentCounter

    viewers = []
    for k in range(4):
        tl = synthetic_timeline(6, seed=k)
        tl["smile"] = 0.25 * (k + 1)           # a cue the core may add (issue 10)
        tl["gaze_on_camera"] = np.where(tl["time"] >= 3, 0.1, 0.9)  # every viewer looks away at 3 s
        tl.loc[0, "face_quality"] = 0.0 if k == 0 else 0.9          # viewer 0: no face in step 0
        viewers.append(tl)
    measures = measures_of(viewers[0].columns)
    assert {"smile", "gaze_on_camera"} <= set(measures) and measures[:10] == list(BASE_MEASURES)
    agg, mom = Aggregator(measures, 1.0), MomentCounter(1.0)
    for tl in viewers:
        vs = viewer_steps(tl, 0.0, 1.0, measures)
        agg.add("A", vs)
        mom.add("A", vs, pd.DataFrame(columns=["time", "kind", "signal"]), 0.0,
                gaze=vs["values"][:, measures.index("gaze_on_camera")])
    t = agg.table()
    assert list(t["smile_n"][:2]) == [3, 4] and (t["n"] == 4).all()  # a cue counts only with a face
    assert t["smile_mean"].iloc[0] == pytest.approx(0.75) and t["smile_mean"].iloc[1] == pytest.approx(0.625)
    m = mom.table(t)
    lost = m[m["kind"] == "attention_loss"]
    assert list(lost["stimulus_time"]) == [3.0] and lost["share_of_viewers"].iloc[0] == 1.0


def test_viewer_steps_skip_no_signal_and_pre_stimulus():
    tl = synthetic_timeline(5, seed=1)
    tl.loc[3, "emotion"] = "no_signal"
    vs = viewer_steps(tl, 1.0, 1.0, ["happiness"])
    assert list(vs["covered"]) == [0, 1, 2, 3] and list(vs["steps"]) == [0, 1, 3]


# ------------------------------------------------------------------------------------------- reuse
def test_rerun_reuses_and_a_changed_model_version_reruns(main_study, clips, tmp_path, monkeypatch):
    _, out, _ = main_study
    again = tmp_path / "out"
    shutil.copytree(out, again)
    s = analyze_study(clips / "manifest.csv", again, workers=0, fps=FPS)
    assert list(s.recordings["status"]) == ["reused"] * 3 + ["failed"] + ["reused"] * 2
    pd.testing.assert_frame_equal(s.aggregate, main_study[0].aggregate)
    m = clips / "m_shift.csv"  # a changed stimulus_offset relabels, without analysis
    m.write_text("recording,viewer,variant,stimulus_offset\nx.mp4,v1,A,1\n")
    s = analyze_study(m, again, workers=0, fps=FPS)
    assert list(s.recordings["status"]) == ["reused"] and s.aggregate["stimulus_time"].iloc[0] == 0.0
    assert len(list((again / "timelines").glob("*.parquet"))) == 1  # the others were pruned
    import cxsense.registry as registry

    real = registry.list_models()
    changed = {k: dict(v, version="9.9.9") if k == "face-expression" else v for k, v in real.items()}
    monkeypatch.setattr(registry, "list_models", lambda: changed)
    s = analyze_study(m, again, workers=0, fps=FPS)
    assert list(s.recordings["status"]) == ["ok"]


# ----------------------------------------------------------------------------------------- privacy
def _policy(**kw):
    from cxsense.governance import UsagePolicy

    return UsagePolicy(purpose="test reactions to an advert", context="media_testing",
                       contact="Studio X, privacy@example.org", retention=30, **kw)


def test_encrypted_store_instead_of_parquet(clips, tmp_path, ref):
    from cxsense.governance import ResultStore

    m = tmp_path / "m.csv"
    m.write_text(f"recording,viewer\n{clips / 'x.mp4'},v1\n")
    key = ResultStore.new_key()
    s = analyze_study(m, tmp_path / "out", workers=0, fps=FPS, store=key, policy=_policy())
    assert not (tmp_path / "out" / "timelines").exists() and (tmp_path / "out" / "store" / "results.sqlite3").is_file()
    raw = (tmp_path / "out" / "store" / "results.sqlite3").read_bytes()
    assert b"happiness" not in raw and b'"v1"' not in raw  # no timeline, no viewer id in plain text
    _same_timeline(s.timelines(), ref)
    again = analyze_study(m, tmp_path / "out", workers=0, fps=FPS, store=key, policy=_policy())
    assert list(again.recordings["status"]) == ["reused"]


def test_policy_checked_before_any_recording_is_read(clips, tmp_path, monkeypatch):
    from datetime import datetime, timezone

    from cxsense.governance import ConsentRecord

    import cxsense.study.run as run

    def never(*a, **k):
        raise AssertionError("a recording was read")

    monkeypatch.setattr(run, "file_sha256", never)
    c = ConsentRecord("v1", datetime(2026, 1, 1, tzinfo=timezone.utc), "advert test")
    with pytest.raises(PolicyError, match="row 2.*'viewer'"):
        analyze_study(clips / "manifest.csv", tmp_path / "o", workers=0, policy=_policy(consents=(c,)))


# ------------------------------------------------------------------------------------------ engines
def _small_manifest(clips, d: Path) -> Path:
    m = d / "small.csv"
    m.write_text("recording,viewer,variant,stimulus_offset,physio,physio_offset\n"
                 f"{clips / 'x.mp4'},v1,A,0,,\n{clips / 'y.mp4'},v1,B,2,{clips / 'wrist.csv'},-60\n"
                 f"{clips / 'bad.mp4'},v2,B,0,,\n")
    return m


@pytest.fixture(scope="module")
def local_pool(clips, tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    return analyze_study(_small_manifest(clips, d), d / "out", workers=2, fps=FPS)


def test_local_process_pool_equals_the_session(local_pool, clips, ref):
    assert list(local_pool.recordings["status"]) == ["ok", "ok", "failed"]
    assert len(local_pool.info["worker_peak_rss_mb"]) >= 1 and local_pool.info["engine"]["workers"] == 2
    tl = local_pool.timelines()
    _same_timeline(tl[tl["variant"] == "A"].sort_values("time"), ref)
    b = tl[tl["variant"] == "B"].sort_values("time")
    assert (b["physio_quality"] > 0).all()
    _same_timeline(b, analyze_session(clips / "y.mp4", physio=clips / "wrist.csv", physio_offset=-60, fps=FPS).timeline)


def test_a_crashing_or_failing_recording_never_stops_a_study(tmp_path):
    rows = []
    for k, fault in enumerate([None, "crash", "error", None]):
        write_synthetic(tmp_path / f"r{k}.json", 5, seed=k, fault=fault)
        rows.append({"recording": f"r{k}.json", "viewer": f"v{k}"})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    s = analyze_study(tmp_path / "m.csv", tmp_path / "out", workers=1, analyzer=synthetic_analyzer)
    assert list(s.recordings["status"]) == ["ok", "failed", "failed", "ok"]
    assert "died" in s.recordings["reason"][1] and "synthetic analysis error" in s.recordings["reason"][2]
    assert s.info["engine"]["pool_restarts"] >= 2 and (s.aggregate["n"] == 2).all()


def test_a_pool_that_breaks_between_two_submissions_loses_no_recording(tmp_path, monkeypatch):
    """A worker that dies after the last wait makes the next ``submit`` raise: the job goes back, the pool restarts."""
    import concurrent.futures
    from concurrent.futures.process import BrokenProcessPool

    made = []

    class FlakyPool(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)
            self.calls = 0

        def submit(self, *a, **kw):
            self.calls += 1
            if len(made) == 1 and self.calls == 2:
                raise BrokenProcessPool("a worker died (simulated)")
            return super().submit(*a, **kw)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", FlakyPool)
    rows = []
    for k in range(3):
        write_synthetic(tmp_path / f"r{k}.json", 5, seed=k)
        rows.append({"recording": f"r{k}.json", "viewer": f"v{k}"})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    s = analyze_study(tmp_path / "m.csv", tmp_path / "out", workers=1, analyzer=synthetic_analyzer)
    assert list(s.recordings["status"]) == ["ok", "ok", "ok"]
    assert s.info["engine"]["pool_restarts"] == 1 and len(made) == 2


def test_a_worker_with_other_models_refuses_the_job(tmp_path):
    from cxsense.study.engines import analyze_job, models_fingerprint

    write_synthetic(tmp_path / "r.json", 3)
    job = {"index": 0, "path": str(tmp_path / "r.json"), "options": {"step": 1.0}, "models": models_fingerprint()}
    assert analyze_job(job, synthetic_analyzer)["status"] == "ok"
    bad = analyze_job(dict(job, models="0" * 64), synthetic_analyzer)
    assert bad["status"] == "failed" and "models" in bad["reason"] and bad["timeline"] is None


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from cxsense.study.engines import start_local_ray

    start_local_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_engine_gives_the_local_results(local_ray, local_pool, clips, tmp_path):
    s = analyze_study(_small_manifest(clips, tmp_path), tmp_path / "out", engine="ray", workers=2, fps=FPS)
    assert s.info["engine"]["engine"] == "ray" and not s.info["engine"]["ray_started_here"]
    pd.testing.assert_frame_equal(s.recordings.drop(columns="analysis_seconds"),
                                  local_pool.recordings.drop(columns="analysis_seconds"))
    key = ["variant", "viewer", "time"]
    _same_timeline(s.timelines().sort_values(key), local_pool.timelines().sort_values(key))
    for name in ("aggregate", "moments", "compare"):
        a, b = getattr(s, name), getattr(local_pool, name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------------- cli and report
def test_cli_study(main_study, clips, tmp_path, capsys):
    from cxsense.cli import main

    out = tmp_path / "out"
    shutil.copytree(main_study[1], out)
    rc = main(["study", str(clips / "manifest.csv"), "--out", str(out), "--workers", "0", "--fps", str(FPS),
               "--progress", "on"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    d = json.loads(cap.out)
    assert d["reused"] == 5 and d["failed"] == 1 and "compare.csv" in d["files"]
    assert "6/6" in cap.err and "failed 1" in cap.err and "left" in cap.err
    assert main(["study", str(clips / "manifest.csv"), "--out", str(out), "--store", "00" * 32]) == 2
    assert "--policy" in capsys.readouterr().err
    bad = clips / "m_cli.csv"
    bad.write_text("recording,viewer\nnope.mp4,v1\n")
    assert main(["study", str(bad), "--out", str(out)]) == 2
    assert "row 1" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(main_study, tmp_path):
    s, out, _ = main_study
    text = (out / "report.html").read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "<script" not in text
    assert "bad.mp4" in text and "Key moments" in text and "welch_t" in text
    png = tmp_path / "r.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
                    "--window-size=1000,2400", (out / "report.html").as_uri()], capture_output=True, timeout=120)
    assert png.is_file() and png.stat().st_size > 10_000
    from PIL import Image

    assert np.asarray(Image.open(png).convert("RGB")).std() > 10  # not a blank page


def test_public_api():
    assert cxsense.analyze_study is analyze_study and "analyze_study" in cxsense.__all__ and "Study" in cxsense.__all__
