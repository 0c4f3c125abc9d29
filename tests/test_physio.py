"""Physiology: inputs, per-channel features against NeuroKit2 simulators with known answers, the encoder."""

from __future__ import annotations

import numpy as np
import pytest

nk = pytest.importorskip("neurokit2")

from cxsense.encoders.physio import features as F
from cxsense.encoders.physio.pipeline import extract
from cxsense.errors import InputError
from cxsense.inputs.physio import PhysioInput, load_physio


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def wrist():
    """A 60-s synthetic wrist window: PPG 64 Hz (70 bpm), EDA 4 Hz (3 SCRs), TEMP 4 Hz, ACC 32 Hz."""
    rng = np.random.default_rng(0)
    ppg = nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=70, random_state=0)
    eda = nk.eda_simulate(duration=60, sampling_rate=4, scr_number=3, noise=0.0, random_state=0) + 2.0
    temp = 33.0 + 0.01 * np.arange(240) / 240 + rng.normal(0, 0.01, 240)
    acc = np.column_stack([rng.normal(0, 0.01, 1920), rng.normal(0, 0.01, 1920), 1 + rng.normal(0, 0.01, 1920)])
    return {"bvp": (ppg, 64), "eda": (eda, 4), "temp": (temp, 4), "acc": (acc, 32)}


@pytest.fixture(scope="module")
def encoder():
    from cxsense.encoders.physio.encoder import PhysioEncoder

    return PhysioEncoder()


# ----------------------------------------------------------------------------- inputs

def test_aliases_and_rates(wrist):
    x = load_physio(wrist)
    assert set(x.channels) == {"ppg", "eda", "temp", "acc"}
    assert x["ppg"].sampling_rate == 64.0 and x["acc"].samples.shape == (1920, 3)
    assert x["eda"].samples.dtype == np.float64
    y = load_physio({"GSR": wrist["eda"], "ppg": wrist["bvp"]})
    assert set(y.channels) == {"eda", "ppg"}
    assert load_physio(x) is x


def test_dataframe():
    pd = pytest.importorskip("pandas")
    fs = 32
    n = 60 * fs
    t = np.arange(n) / fs
    df = pd.DataFrame({"time": t, "BVP": np.sin(2 * np.pi * 1.2 * t), "gsr": np.full(n, 2.0) + 0.01 * np.sin(t),
                       "acc_x": np.zeros(n), "acc_y": np.zeros(n), "acc_z": np.ones(n)})
    x = load_physio(df, sampling_rate=fs)
    assert set(x.channels) == {"ppg", "eda", "acc"}
    assert x["acc"].samples.shape == (n, 3)
    with pytest.raises(InputError, match="sampling_rate"):
        load_physio(df)


@pytest.mark.parametrize("bad, match", [
    ({}, "non-empty"),
    ({"heart": (np.zeros(640), 64)}, "unknown channel 'heart'"),
    ({"ppg": (np.zeros(640), 0)}, "positive"),
    ({"ppg": (np.zeros(640), -64)}, "positive"),
    ({"ppg": (np.zeros(640), float("nan"))}, "positive"),
    ({"ppg": (np.zeros(640), "64")}, "sampling rate"),
    ({"ppg": (np.zeros(320), 64)}, "at least 10 s"),
    ({"ppg": (np.array(["a"] * 640), 64)}, "numeric"),
    ({"ppg": (np.zeros((640, 2)), 64)}, "1-D"),
    ({"acc": (np.zeros(640), 32)}, r"\(n, 3\)"),
    ({"ppg": (np.r_[np.zeros(600), np.inf, np.zeros(39)], 64)}, "infinite"),
    ({"ppg": (np.r_[np.zeros(600), np.nan, np.zeros(39)], 64)}, "NaN"),
    ({"ppg": (np.zeros(64 * 60), 64), "eda": (np.zeros(4 * 30), 4)}, "equal in duration"),
    ("not a mapping", "mapping"),
])
def test_bad_inputs_raise_input_error(bad, match):
    with pytest.raises(InputError, match=match) as e:
        load_physio(bad)
    assert isinstance(e.value, ValueError)


def test_error_names_the_channel():
    with pytest.raises(InputError) as e:
        load_physio({"gsr": (np.r_[np.full(100, 1.0), np.nan, np.full(100, 1.0)], 4)})
    assert e.value.parameter == "physio['eda']"


def test_nan_gaps_interpolated_on_request():
    x = np.sin(np.arange(64 * 30) / 64 * 2 * np.pi)
    x[100:130] = np.nan  # 0.47 s gap
    c = load_physio({"ppg": (x, 64)}, nan_policy="interpolate")["ppg"]
    assert c.n_filled == 30 and np.all(np.isfinite(c.samples))
    x[500:800] = np.nan  # 4.7 s gap: too long
    with pytest.raises(InputError, match="gap"):
        load_physio({"ppg": (x, 64)}, nan_policy="interpolate")


# ----------------------------------------------------------------------------- features with known answers

@pytest.mark.parametrize("hr", [55, 70, 110])
def test_ppg_heart_rate_64hz(hr):
    ppg = nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=hr, random_state=1)
    beats, _ = F.heart_beats(ppg, 64, "ppg")
    f, e, r = F.heart_features(beats, 60)
    assert r["quality"] > 0.8
    assert abs(e["hr"] - hr) <= 2


@pytest.mark.parametrize("fs, hr", [(250, 62), (1000, 90)])
def test_ecg_heart_rate(fs, hr):
    ecg = nk.ecg_simulate(duration=60, sampling_rate=fs, heart_rate=hr, random_state=2)
    beats, _ = F.heart_beats(ecg, fs, "ecg")
    f, e, r = F.heart_features(beats, 60)
    assert abs(e["hr"] - hr) <= 2 and abs(f["hr_mean"] - hr) <= 2


@pytest.mark.parametrize("rate", [10, 15, 22])
def test_breathing_rate(rate):
    rsp = nk.rsp_simulate(duration=60, sampling_rate=50, respiratory_rate=rate, random_state=3)
    f, e, r = F.rsp_features(rsp, 50)
    assert r["quality"] == 1 and abs(f["rsp_rate"] - rate) <= 2


@pytest.mark.parametrize("n_scr", [2, 5])
def test_scr_count_at_4hz(n_scr):
    eda = nk.eda_simulate(duration=60, sampling_rate=4, scr_number=n_scr, noise=0.0, random_state=4) + 1.0
    f, e, r = F.eda_features(eda, 4)
    assert e["scr_count"] == n_scr
    assert f["scr_rate"] == pytest.approx(n_scr, abs=1e-9)


def test_no_scr_in_smooth_eda():
    eda = 2.0 + 0.002 * np.arange(240)  # slow tonic drift only
    f, e, r = F.eda_features(eda, 4)
    assert e["scr_count"] == 0 and f["eda_slope"] == pytest.approx(0.48, rel=0.05)


def test_short_30s_and_10s_ppg_do_not_crash():
    for dur in (10, 30):
        ppg = nk.ppg_simulate(duration=dur, sampling_rate=64, heart_rate=75, random_state=5)
        ex = extract(load_physio({"ppg": (ppg, 64)}))
        assert all(np.isfinite(v) for v in ex.features.values())
    # the simulator's own beats run at about 72.5 bpm in its first 30 s (NeuroKit2 at 1000 Hz finds the
    # same), so the known answer here is looser than for 60 s
    assert abs(ex.extra["ppg"]["hr"] - 75) <= 3.5


# ----------------------------------------------------------------------------- quality checks

def test_flat_channels_get_quality_zero():
    ex = extract(load_physio({"ppg": (np.zeros(64 * 60), 64), "eda": (np.full(240, 3.0), 4)}))
    assert ex.channels["ppg"]["quality"] == 0 and "flat" in ex.channels["ppg"]["reasons"][0]
    assert ex.channels["eda"]["quality"] == 0
    assert ex.features == {}


def test_implausible_heart_rate_left_out():
    t = np.arange(64 * 60) / 64
    ppg = np.sin(2 * np.pi * 4.0 * t)  # 240 "bpm"
    ex = extract(load_physio({"ppg": (ppg, 64)}))
    assert ex.channels["ppg"]["quality"] == 0
    assert "heart" not in ex.group_quality


def test_eda_out_of_range_and_temp_off_body():
    ex = extract(load_physio({"eda": (np.abs(np.random.default_rng(0).normal(0, 1e-3, 240)), 4),
                              "temp": (np.full(240, 24.0) - 5, 4)}))
    assert ex.channels["eda"]["quality"] == 0 and "out of range" in ex.channels["eda"]["reasons"][0]
    assert ex.channels["temp"]["quality"] == 0


def test_acc_units_detected():
    rng = np.random.default_rng(1)
    g = np.column_stack([rng.normal(0, 0.05, 1920), rng.normal(0, 0.05, 1920), 1 + rng.normal(0, 0.05, 1920)])
    f1, e1, _ = F.acc_features(g, 32)
    f2, e2, _ = F.acc_features(g * 9.80665, 32)
    f3, e3, _ = F.acc_features(np.round(g * 64), 32)
    assert e1["unit_detected"] == "g" and e2["unit_detected"] == "m/s2" and "1/64" in e3["unit_detected"]
    assert f1["acc_ln_activity"] == pytest.approx(f2["acc_ln_activity"], abs=1e-9)
    assert f1["acc_ln_activity"] == pytest.approx(f3["acc_ln_activity"], abs=0.2)


# ----------------------------------------------------------------------------- encoder

def test_encoder_result(encoder, wrist):
    r = encoder.encode(load_physio(wrist))
    assert r.modality == "physio" and r.probabilities is None and r.valence is None
    assert 0 < r.quality <= 1 and 0 <= r.stress <= 1 and -1 <= r.arousal <= 1
    assert r.embedding.shape == (encoder.embedding_dim,) and np.all(np.isfinite(r.embedding))
    assert r.details["model_used"] == "window"
    assert abs(r.details["measures"]["ppg"]["hr"] - 70) <= 2
    assert set(r.details["groups_used"]) == {"heart", "eda", "temp", "acc"}
    import json

    json.dumps(r.to_dict())


def test_encoder_deterministic(encoder, wrist):
    a = encoder.encode(load_physio(wrist))
    b = encoder.encode(load_physio(wrist))
    assert a.stress == b.stress and a.quality == b.quality and np.array_equal(a.embedding, b.embedding)


def test_encoder_flat_is_no_signal(encoder):
    r = encoder.encode(load_physio({"ppg": (np.zeros(64 * 60), 64), "eda": (np.zeros(240), 4)}))
    assert r.quality == 0 and r.stress is None and "flat" in r.details["reason"]
    assert not np.any(r.embedding)


def test_encoder_ecg_chest_strap_and_rsp(encoder):
    ecg = nk.ecg_simulate(duration=60, sampling_rate=500, heart_rate=80, random_state=6)
    rsp = nk.rsp_simulate(duration=60, sampling_rate=50, respiratory_rate=14, random_state=6)
    r = encoder.encode(load_physio({"ecg": (ecg, 500), "rsp": (rsp, 50)}))
    assert r.quality > 0 and r.details["groups_used"] == ["heart"]
    assert abs(r.details["measures"]["rsp"]["rate_per_min"] - 14) <= 2
    # respiration alone: measured, but the stress model has nothing to read
    r2 = encoder.encode(load_physio({"rsp": (rsp, 50)}))
    assert r2.quality == 0 and "rsp_rate" in r2.details["features"]


def test_encoder_baseline_changes_model(encoder, wrist):
    ppg = nk.ppg_simulate(duration=120, sampling_rate=64, heart_rate=60, random_state=7)
    eda = nk.eda_simulate(duration=120, sampling_rate=4, scr_number=1, noise=0.0, random_state=7) + 1.0
    base = load_physio({"ppg": (ppg, 64), "eda": (eda, 4)})
    r = encoder.encode(load_physio(wrist), baseline=encoder.prepare_baseline(base))
    assert r.details["model_used"] == "baseline" and 0 <= r.stress <= 1
    sc = r.details["scores"]                       # the baseline trees with the same shape network
    assert abs(encoder._shape.combine(sc["trees"], sc["shape"], "baseline")[0] - r.stress) < 1e-4
    assert sc["shape"] == encoder.encode(load_physio(wrist)).details["scores"]["shape"]
    assert r.details["baseline"]["baseline_windows"] == 3


def test_encoder_never_nan_on_noise(encoder):
    rng = np.random.default_rng(8)
    x = {"ppg": (rng.normal(size=64 * 45), 64), "eda": (np.abs(rng.normal(2, 0.5, 180)), 4),
         "temp": (rng.normal(33, 0.5, 180), 4), "acc": (rng.normal(0, 1, (32 * 45, 3)), 32)}
    r = encoder.encode(load_physio(x))
    assert np.all(np.isfinite(r.embedding)) and np.isfinite(r.quality)
    assert r.stress is None or np.isfinite(r.stress)


# ----------------------------------------------------------------------------- tree predictor

def _stump_spec(missing_left=None):
    # one stump on feature "a": a <= 1 -> -1, a > 1 -> +1; calibration identity
    trees = {"feature": [0, 0, 0], "threshold": [1.0, 0.0, 0.0], "left": [1, -1, -1], "right": [2, -1, -1],
             "value": [0.0, -1.0, 1.0], "roots": [0], "learning_rate": 1.0, "init": 0.0}
    if missing_left is not None:
        trees["missing_left"] = missing_left
    return {"features": ["a", "b"], "impute": [5.0, 0.0], "trees": trees, "calibration": {"a": 1.0, "b": 0.0}}


def test_tree_model_missing_routing():
    from cxsense.encoders.physio.model import TreeModel

    imputed = TreeModel(_stump_spec())
    assert imputed.predict({"a": 0.0})[1] == -1.0 and imputed.predict({"a": 2.0})[1] == 1.0
    assert imputed.predict({})[1] == 1.0                       # imputed with 5.0 -> right
    learned = TreeModel(_stump_spec([True, False, False]))
    assert learned.predict({})[1] == -1.0                      # the learned direction: left
    assert learned.predict({"a": 2.0})[1] == 1.0


def test_tree_model_rejects_bad_missing_array():
    from cxsense.encoders.physio.model import TreeModel
    from cxsense.errors import ModelError

    with pytest.raises(ModelError):
        TreeModel(_stump_spec([True]))


@pytest.mark.parametrize("additive", [False, True])
def test_window_ensemble_export_reproduces_sklearn(additive):
    """The exported trees + stumps give the training-time scores (also with missing features)."""
    pytest.importorskip("sklearn")
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[1])  # training/ is repository code, not part of the package
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from cxsense.encoders.physio.model import TreeModel
    from training.physio.train import WindowEnsemble

    r = np.random.RandomState(0)
    X = r.randn(400, 4)
    y = (X[:, 0] + X[:, 1] * X[:, 2] + r.randn(400) > 0).astype(int)
    X[r.rand(400, 4) < 0.05] = np.nan
    m = WindowEnsemble(0, additive=additive).fit(X, y)
    tm = TreeModel({"features": list("abcd"), "impute": m.med.tolist(), "trees": m.export(),
                    "calibration": {"a": 1.0, "b": 0.0}})  # the calibration comes from the metadata block
    z = np.array([tm.predict(dict(zip("abcd", row)))[1] for row in X[:50]])
    assert np.allclose(z, m.decision_function(X[:50]), atol=1e-9)


# ----------------------------------------------------------------------------- shape series and network

def test_shape_sequences_centred_and_offset_free(wrist):
    from cxsense.encoders.physio.pipeline import shape
    from cxsense.encoders.physio.sequences import SHAPE_CHANNELS

    x = load_physio(wrist)
    q = shape(x, extract(x))
    assert q.shape == (len(SHAPE_CHANNELS), 240) and q.dtype == np.float32 and np.all(np.isfinite(q))
    assert np.allclose(q[:-1].mean(1), 0, atol=1e-4)          # centred on the window's own means
    assert set(np.unique(q[-1])) <= {0.0, 1.0} and q[-1].mean() > 0.9
    assert q[0].std() > 0 and q[3].std() > 0                  # EDA and HR move
    # a warmer wrist (a person's offset) gives the same series
    warm = dict(wrist, temp=(wrist["temp"][0] + 1.5, 4))
    xw = load_physio(warm)
    assert np.allclose(shape(xw, extract(xw)), q, atol=1e-5)


def test_shape_sequences_missing_channels_are_zero():
    from cxsense.encoders.physio.pipeline import shape
    from cxsense.encoders.physio.sequences import SHAPE_CHANNELS

    eda = nk.eda_simulate(duration=45, sampling_rate=4, scr_number=2, noise=0.0, random_state=3) + 1.0
    x = load_physio({"eda": (eda, 4), "temp": (np.zeros(180), 4)})   # flat temperature fails its check
    q = shape(x, extract(x))
    assert q.shape == (len(SHAPE_CHANNELS), 180)
    assert q[0].std() > 0 and not np.any(q[1:])


def _shape_training():
    """``(torch, training.physio.train_shape)``; skips without torch (the repository root goes on sys.path)."""
    import importlib
    import sys
    from pathlib import Path

    torch = pytest.importorskip("torch")
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    return torch, importlib.import_module("training.physio.train_shape")


def _tiny_shape_file(tmp_path, over=None):
    """A randomly initialised shape network (batch-norm statistics made non-trivial), folded and saved with a
    metadata block; ``over``: ``{(section, key): value}`` changes to the block."""
    import json

    from safetensors.numpy import save_file

    from cxsense.modelmeta import ModelMeta

    torch, tps = _shape_training()
    _net, folded_tensors = tps._net, tps.folded_tensors

    torch.manual_seed(0)
    net = _net(6, w=4)
    with torch.no_grad():
        for bn in (net.bn1, net.bn2, net.bn3):
            bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-0.2, 0.2)
    net.eval()
    sc = np.array([0.1, 0.05, 0.8, 5.0, 0.5, 1.0])
    block = {"format_version": "2", "name": "physio-shape", "version": "1.0.0",
             "architecture": {"family": "cxsense-physio-shape"}, "labels": ["nonstress", "stress"],
             "input": {"fs": 4.0, "channels": ["eda", "temp", "activity", "hr", "ppg_amp", "hr_valid"]},
             "normalisation": {"channel_scale": sc.tolist()},
             "calibration": {"ensemble": {"tree_scale": 2.0, "shape_scale": 0.5, "a": 1.0, "b": -0.5},
                             "ensemble_baseline": {"tree_scale": 4.0, "shape_scale": 1.0, "a": 2.0, "b": 0.0}},
             "provenance": {"training_data": "none (a test)", "licence": "MIT", "command": "pytest", "runs": [],
                            "date": "2026-12-04"}}
    for (section, key), value in (over or {}).items():
        if key is None:
            block[section] = value
        else:
            block[section] = dict(block[section], **{key: value})
    path = tmp_path / "shape.safetensors"
    metadata = ({"format_version": str(block["format_version"]), "cxsense": json.dumps(block)}
                if block["format_version"] == "2" else {"config": "{}", "format_version": str(block["format_version"])})
    save_file(folded_tensors((net, sc)), str(path), metadata=metadata)
    if block["format_version"] == "2":
        assert ModelMeta.from_safetensors_metadata(metadata, str(path)).name == "physio-shape"
    return path, net, sc


def test_shape_training_aux_head_leaves_the_network_as_it_was():
    """The screens' auxiliary head is created last: with the same seed the exported layers start identical, and
    the scores are the stress logit alone."""
    torch, tps = _shape_training()
    _net, scores = tps._net, tps.scores
    torch.manual_seed(3)
    plain = _net(6, w=4)
    torch.manual_seed(3)
    aux = _net(6, w=4, aux_classes=5)
    for k, v in plain.state_dict().items():
        assert torch.equal(v, aux.state_dict()[k]), k
    assert set(aux.state_dict()) - set(plain.state_dict()) == {"aux.weight", "aux.bias"}
    aux.eval(), plain.eval()
    x = np.random.default_rng(0).normal(size=(3, 6, 40))
    z, a = aux(torch.from_numpy(x.astype(np.float32)))
    assert z.shape == (3,) and a.shape == (3, 5)
    np.testing.assert_allclose(scores((aux, np.ones(6)), x), scores((plain, np.ones(6)), x), atol=1e-6)


def test_shape_model_numpy_matches_torch(tmp_path):
    import torch

    from cxsense.encoders.physio.shape_model import ShapeModel

    path, net, sc = _tiny_shape_file(tmp_path)
    m = ShapeModel(path)
    rng = np.random.default_rng(1)
    for T in (240, 123, 40):
        q = rng.normal(size=(6, T)) * sc[:, None]
        with torch.no_grad():
            want = net(torch.from_numpy((q / sc[:, None])[None].astype(np.float32))).item()
        assert abs(m.raw(q) - want) < 1e-4
    p, z = m.combine(1.0, 0.25)
    assert z == pytest.approx(1.0 / 2.0 + 0.25 / 0.5) and p == pytest.approx(1 / (1 + np.exp(-(z - 0.5))))
    p, z = m.combine(1.0, 0.25, "baseline")
    assert z == pytest.approx(1.0 / 4.0 + 0.25 / 1.0) and p == pytest.approx(1 / (1 + np.exp(-2 * z)))
    assert m.raw(np.zeros((6, 3))) == m.raw(np.zeros((6, 8)))  # very short input is padded, not an error


@pytest.mark.parametrize("over, message", [
    ({("architecture", "family"): "other"}, "family"), ({("version", None): "2.0.0"}, "version 2.0.0"),
    ({("input", "fs"): 8.0}, "8.0 Hz"), ({("input", "channels"): ["eda", "temp"]}, "channels"),
    ({("normalisation", "channel_scale"): [1.0, 1.0]}, "inconsistent"),
    ({("calibration", "ensemble"): {"tree_scale": 0.0, "shape_scale": 1.0, "a": 1.0, "b": 0.0}}, "inconsistent"),
    ({("calibration", "ensemble_baseline"): {"tree_scale": 1.0}}, "incomplete"),
    ({("normalisation", None): {}}, "channel_scale"),
    ({("format_version", None): "1"}, "format version '1'; this cxsense reads '2'")])
def test_shape_model_rejects_bad_files(tmp_path, over, message):
    from cxsense.encoders.physio.shape_model import ShapeModel
    from cxsense.errors import ModelError

    path, _, _ = _tiny_shape_file(tmp_path, over)
    with pytest.raises(ModelError, match=message):
        ShapeModel(path)


def test_encoder_window_combines_trees_and_shape(encoder, wrist):
    x = load_physio(wrist)
    r = encoder.encode(x)
    sc = r.details["scores"]
    p, z = encoder._shape.combine(sc["trees"], sc["shape"])
    assert abs(p - r.stress) < 1e-4 and r.details["score"] == pytest.approx(z, abs=1e-4)
    assert encoder.info()["shape_model"]["name"] == "physio-shape"


@pytest.mark.filterwarnings("ignore:Duplicate x values")  # nk.ppg_simulate's own, at these rates
@pytest.mark.parametrize("fs", [15, 16])
def test_ppg_at_the_lowest_rates(fs):
    """Elgendi's 0.5-8 Hz band does not fit under 16 Hz (NeuroKit2 raises there); the band is narrowed."""
    ppg = nk.ppg_simulate(duration=60, sampling_rate=fs, heart_rate=72, random_state=2)
    ex = extract(load_physio({"ppg": (ppg, fs)}))
    assert ex.channels["ppg"]["quality"] > 0 and abs(ex.extra["ppg"]["hr"] - 72) <= 4
    assert "butterworth" in ex.channels["ppg"]["method"]


@pytest.mark.parametrize("fs", [2, 5])
def test_rsp_at_the_lowest_rates(fs):
    """khodadad2018's 0.05-3 Hz band needs more than 6 Hz; below it the band is narrowed."""
    rsp = nk.rsp_simulate(duration=60, sampling_rate=fs, respiratory_rate=14, random_state=1)
    ex = extract(load_physio({"rsp": (rsp, fs)}))
    assert ex.channels["rsp"]["quality"] > 0 and abs(ex.extra["rsp"]["rate_per_min"] - 14) <= 2
