"""One metadata schema for every model file: what ships, what the registry checks, and the migration of older files."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cxsense
from cxsense import registry
from cxsense.modelmeta import FORMAT_VERSION, PROVENANCE_FIELDS, SECTIONS, ModelMeta, example_block, read_meta

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # training/ is repository code, not part of the package
    sys.path.insert(0, str(REPO))


def test_every_shipped_file_carries_a_checked_block():
    for name, entry in registry.list_models().items():
        f = registry.model_file(name)
        meta = f.meta
        assert meta.format_version == FORMAT_VERSION and meta.name == name and meta.version == entry["version"]
        block = meta.to_dict()
        assert all(k in block for k in SECTIONS) and all(meta.provenance[k] is not None for k in PROVENANCE_FIELDS)
        assert meta.provenance["date"][:4] in ("2022", "2026") and meta.provenance["command"]
        assert "/tmp" not in json.dumps(block), name  # provenance says what a run was, never a scratch path
        if f.path.suffix == ".tflite":
            assert "cxsense" in entry  # the detector cannot carry metadata: its block is in the registry
        else:
            assert "cxsense" not in entry and read_meta(f.path) == meta


def test_aliases_name_the_user_facing_choices():
    from cxsense.options import FACE_MODELS

    aliases = registry.aliases()
    assert aliases["face:base"] == "face-expression" and aliases["face:small"] == "face-expression-small"
    assert all(v in registry.list_models() for v in aliases.values())
    assert dict(FACE_MODELS) == {"base": "face-expression", "small": "face-expression-small"}


def test_importing_cxsense_reads_no_registry(tmp_path):
    """FACE_MODELS reads the registry's aliases on first use, not at import."""
    code = "import cxsense, cxsense.options; print('ok')"
    env = {"CXSENSE_MODELS": str(tmp_path / "nowhere"), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_block_round_trip_and_required_fields():
    meta = ModelMeta.from_dict(example_block())
    assert ModelMeta.from_dict(meta.to_dict()) == meta
    assert ModelMeta.from_safetensors_metadata(meta.safetensors_metadata(), "x") == meta
    assert ModelMeta.from_json_document(meta.json_document({"coef": [1.0]}), "x") == meta
    for key in ("name", "labels", "calibration", "provenance"):
        block = example_block()
        block.pop(key)
        with pytest.raises(cxsense.ModelError, match=key):
            ModelMeta.from_dict(block, "a file")
    block = example_block()
    block["provenance"].pop("date")
    with pytest.raises(cxsense.ModelError, match="date"):
        ModelMeta.from_dict(block, "a file")
    with pytest.raises(cxsense.ModelError, match="'calibration' lacks 'temperature'"):
        meta.replace(calibration={}).require("calibration", "temperature")
    with pytest.raises(cxsense.ModelError, match="unknown metadata sections"):
        ModelMeta.from_dict(dict(example_block(), extras={}), "a file")


def _copy_models(tmp_path, monkeypatch) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(registry.models_dir(), dst)
    monkeypatch.setenv("CXSENSE_MODELS", str(dst))
    return dst


def _reregister(models: Path, name: str) -> None:
    reg = json.loads((models / "registry.json").read_text())
    reg["models"][name]["sha256"] = registry.sha256_file(models / reg["models"][name]["file"])
    (models / "registry.json").write_text(json.dumps(reg))


def test_registry_refuses_another_format_version_naming_both(tmp_path, monkeypatch):
    """After the SHA-256 (here updated, as for a deliberately replaced file), the registry checks the block: a face
    file in format 1 and a fusion file from before the schema are refused, each naming both versions."""
    from safetensors.torch import save_file

    from training.common.model_metadata import read_tensors

    models = _copy_models(tmp_path, monkeypatch)
    face = models / "face" / "face_expression_small.safetensors"
    tensors, header = read_tensors(face)
    old = read_meta(face)
    save_file(tensors, str(face), metadata={"format_version": "1", "name": old.name, "version": old.version,
                                             "config": json.dumps({"temperature": 1.0})})
    _reregister(models, "face-expression-small")
    with pytest.raises(cxsense.ModelError, match="format version '1'; this cxsense reads '2'"):
        registry.model_file("face-expression-small")
    from cxsense.encoders.face.encoder import FaceEncoder

    with pytest.raises(cxsense.ModelError, match="format version '1'"):
        FaceEncoder("small")
    fusion = models / "fusion" / "late_fusion_v1.json"
    doc = json.loads(fusion.read_text())
    fusion.write_text(json.dumps({"format": "cxsense-late-fusion", "version": "1.0.0", "coef": doc["coef"]}))
    _reregister(models, "late-fusion")
    with pytest.raises(cxsense.ModelError, match="format version '0'.*this cxsense reads '2'"):
        registry.model_file("late-fusion")
    # a block that names another model than the registry entry
    save_file(tensors, str(face), metadata=old.replace(name="face-expression").safetensors_metadata())
    _reregister(models, "face-expression-small")
    with pytest.raises(cxsense.ModelError, match="names 'face-expression'"):
        registry.model_file("face-expression-small")


def test_cli_verify_checks_the_metadata_too(tmp_path, monkeypatch, cli):
    models = _copy_models(tmp_path, monkeypatch)
    reg = json.loads((models / "registry.json").read_text())
    reg["models"]["face-detector"]["cxsense"]["format_version"] = "1"
    (models / "registry.json").write_text(json.dumps(reg))
    code, out, _ = cli("models", "--verify")
    assert code == 4 and not out["models"]["face-detector"]["verified"]
    assert "format version '1'" in out["models"]["face-detector"]["error"]
    assert all(e["verified"] for n, e in out["models"].items() if n != "face-detector")


def test_migration_of_an_old_style_voice_file_keeps_every_tensor(tmp_path, monkeypatch):
    """An export in the old flat style (what branches trained before format 2 write) becomes a format-2 file with
    one call; tensors are byte-identical, the block equals the shipped one's model fields, and the registry entry
    gets the new SHA-256."""
    from safetensors.torch import save_file

    from training.common import model_metadata as mm

    shipped = registry.model_file("voice-tone")
    tensors, _ = mm.read_tensors(shipped.path)
    m = shipped.meta
    flat = {"arch": m.family, "version": "1.3.0", "labels": json.dumps(list(m.labels)),
            "temperature": repr(m.calibration["temperature"]), "normalisation": json.dumps(m.normalisation),
            "stat_names": json.dumps(m.input["stat_names"]), "n_mels": "64", "n_stats": "22",
            "sampling_rate": "16000", "members": "5", "cmn": "1", "logit_bias": json.dumps(m.calibration["logit_bias"]),
            "class_prior": "uniform", "calibration": "out of fold", "trained_on": "RAVDESS actors 01-18",
            "licence": "CC BY-NC-SA 4.0", "seed": "0", "epochs": "320", "pitch_tempo": "1",
            "ensemble_runs": json.dumps(["/tmp/x/run0", "training/runs/v_1"])}
    models = tmp_path / "models"
    (models / "voice").mkdir(parents=True)
    path = models / "voice" / "new.safetensors"
    save_file(tensors, str(path), metadata=flat)
    reg = {"aliases": {}, "models": {"voice-tone": {"file": "voice/new.safetensors", "sha256": "0" * 64,
                                                    "version": "1.2.0", "licence": "CC", "card": "voice/MODEL_CARD.md"}}}
    (models / "registry.json").write_text(json.dumps(reg))
    monkeypatch.setattr(mm, "REGISTRY", models / "registry.json")
    with pytest.raises(SystemExit, match="/tmp"):  # the scratch path must be explained first
        mm.migrate(path, "voice-tone", date="2026-12-05")
    runs = [{"run": "training/runs/v_0", "role": "member 0"}, {"run": "training/runs/v_1", "role": "member 1"}]
    meta = mm.migrate(path, "voice-tone", date="2026-12-05", command="python -m training.voice.train ...", runs=runs)
    again, _ = mm.read_tensors(path)
    assert set(again) == set(tensors) and all(np.array_equal(again[k].numpy(), tensors[k].numpy()) for k in tensors)
    assert meta == read_meta(path) and meta.version == "1.3.0" and meta.provenance["runs"] == runs
    assert meta.calibration["temperature"] == m.calibration["temperature"] and meta.normalisation == m.normalisation
    assert meta.provenance["recipe"] == {"seed": 0, "epochs": 320, "cmn": True, "pitch_tempo": True}
    entry = json.loads((models / "registry.json").read_text())["models"]["voice-tone"]
    assert entry["sha256"] == registry.sha256_file(path) and entry["version"] == "1.3.0"
    from cxsense.encoders.voice.model import VoiceModel

    assert VoiceModel.from_file(path).temperature == m.calibration["temperature"]


def test_output_comparison_sees_one_changed_bit():
    from training.common.model_outputs import compare

    a = {"x": np.linspace(0, 1, 5), "y": np.array([np.nan, 1.0])}
    assert compare(a, {k: v.copy() for k, v in a.items()}) == []
    b = {k: v.copy() for k, v in a.items()}
    b["x"][2] = np.nextafter(b["x"][2], 2)
    assert [s.split(":")[0] for s in compare(a, b)] == ["x"]
    assert compare(a, {"x": a["x"].astype(np.float32), "y": a["y"]})[0].startswith("x")
    assert compare(a, {"x": a["x"]}) == ["y: only before"]


def _training_imports() -> dict[str, set[str]]:
    graph = {}
    for path in (REPO / "training").rglob("*.py"):
        mod = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[mod] = deps
    return graph


def test_training_tree_has_no_import_circles_and_no_benchmarks():
    graph = _training_imports()
    assert {"training.face.train", "training.voice.train", "training.physio.train", "training.fusion.fit",
            "training.common.model_metadata", "training.experiments.screen_physio_shape"} <= set(graph)
    assert not any(d == "benchmarks" or d.startswith("benchmarks.") for deps in graph.values() for d in deps)
    inner = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    assert not any(d.startswith("training.experiments") for m, deps in inner.items()
                   if not m.startswith("training.experiments") for d in deps)  # recipes never import a screen

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for d in inner[node]:
                if d == start:
                    return path + [d]
                if d not in seen:
                    seen.add(d)
                    stack.append((d, path + [d]))
        return None

    cycles = [c for c in map(cycle_from, inner) if c]
    assert not cycles, cycles


def test_migration_of_old_style_json_files(tmp_path, monkeypatch):
    """The fusion's JSON before the schema and branch baseline's face-baseline JSON: one call each, the same
    numbers (the migrated fusion predicts bit for bit what the shipped one does)."""
    from cxsense.fusion.learned import LearnedFusion
    from training.common import model_metadata as mm

    monkeypatch.setattr(mm, "REGISTRY", tmp_path / "registry.json")  # no registry entry: nothing registered
    shipped = registry.model_file("late-fusion")
    doc = json.loads(shipped.path.read_text())
    m = shipped.meta
    old = {"format": "cxsense-late-fusion", "version": "1.0.0", "classes": list(m.labels),
           "blocks": m.architecture["blocks"], "coef": doc["coef"], "intercept": doc["intercept"],
           "temperature": m.calibration["temperature"], "physio_weight": m.architecture["physio_weight"],
           "subset_temperatures": m.calibration["subset_temperatures"],
           "single_passthrough": m.architecture["single_passthrough"],
           "training": {"command": "python -m training.fit_fusion", "pairs": "pseudo-pairs", "C": 0.0003}}
    path = tmp_path / "fusion.json"
    path.write_text(json.dumps(old))
    meta = mm.migrate(path, "late-fusion", date="2026-12-01", licence="research")
    assert meta.provenance["C"] == 0.0003 and meta.calibration == m.calibration
    X = np.random.default_rng(0).random((20, 16))
    np.testing.assert_array_equal(LearnedFusion.load(path).predict_rows(X), LearnedFusion.load().predict_rows(X))
    base = {"format": "cxsense-face-baseline-1", "version": "1.0.0", "ref": [0.1] * 6 + [0.4], "eps": 0.02,
            "alpha": 0.5, "labels": list(cxsense.EMOTIONS), "fitted_on": "dev neutral crops", "licence": "FER terms"}
    path = tmp_path / "face_baseline_v1.json"
    path.write_text(json.dumps(base))
    meta = mm.migrate(path, "face-baseline", date="2026-12-04")
    assert read_meta(path) == meta and meta.calibration == {"ref": base["ref"], "eps": 0.02, "alpha": 0.5}
