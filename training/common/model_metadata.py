"""Write model files with cxsense's metadata block, register them, and migrate older files to it.

Every export script builds its block with one of the builders here (:func:`face_meta`, :func:`voice_meta`,
:func:`physio_stress_meta`, :func:`physio_shape_meta`; the fusion's is :meth:`LearnedFusion.to_json`) and
writes it with :func:`write_safetensors` or :func:`write_json`, then :func:`register` records the file's
SHA-256 in ``models/registry.json``. The schema itself is :mod:`cxsense.modelmeta`.

**Migration** of a file in an older metadata style (face files of format 1, voice files with flat keys,
physio and fusion files with their own ``format``), one call, tensors and numbers unchanged::

    python -m training.common.model_metadata migrate models/voice/voice_tone_v1.safetensors --name voice-tone \\
        --date 2026-12-05 --command "python -m training.voice.train ...; python -m training.voice.calibrate ..."

or from Python ``migrate(path, "voice-tone", date=..., command=...)``. It converts the old fields into the
block (their family is recognised from the old metadata), rewrites the file in place with the same tensors
(checked byte for byte), and, when the file is registered, updates its ``sha256`` and ``version``.
``python -m training.common.model_metadata show FILE`` prints a file's block.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from cxsense.emotions import EMOTIONS
from cxsense.modelmeta import KEY, ModelMeta, read_meta
from cxsense.registry import sha256_file
from training.common.data import REPO

REGISTRY = REPO / "models" / "registry.json"
FER_TRAIN = "FER-2013 Training, de-duplicated (exact duplicates, conflicting labels and near-blank images removed)"
FER_TERMS = "weights: cxsense's own, trained on FER-2013 (research use only, see card)"
STRESS_LICENCE = "MIT (model and training data: Stress-Predict, (c) 2022 Talha Iqbal)"
STRESS = ["nonstress", "stress"]


# ------------------------------------------------------------------------------------------------ builders
def provenance(training_data: str, licence: str, command: str, runs: list | None = None, date: str | None = None,
               **more: Any) -> dict:
    """The ``provenance`` section: the five required fields (``date`` None: today, UTC) and any others."""
    date = datetime.datetime.now(datetime.timezone.utc).date().isoformat() if date is None else date
    return {"training_data": training_data, "licence": licence, "command": command, "runs": list(runs or []),
            "date": date, **more}


def face_meta(name: str, version: str, *, architecture: dict, temperature: float, temperature_fitted: str,
              mirror: bool, zooms: list, early_exit: dict | None, int8: dict | None, provenance: dict) -> ModelMeta:
    """The block of a face expression file (family ``cxsense-facenet``).

    Parameters
    ----------
    architecture : ``{"members": [{"widths", "embed_dim"}, ...]}`` or ``{"widths", "embed_dim"}``, plus
        ``"embed_dim"`` (the whole model's) and ``"stage1"`` (``{"widths", "embed_dim"}`` or None)
    temperature, temperature_fitted : the whole model's temperature and how it was fitted
    mirror, zooms : the whole model's views besides the crop (its mirror image, zoom factors)
    early_exit : ``{"network": "stage1", "temperature", "threshold", "fitted"}`` or None
    int8 : ``{"scheme", "calibration", "command", "qparams"}`` or None (no int8 scales)
    """
    extra = {"quantization": {"int8": int8}} if int8 is not None else {}
    return ModelMeta(
        name=name, version=version, labels=tuple(EMOTIONS),
        architecture={"family": "cxsense-facenet", **architecture,
                      "tensors": "float16 weights (batch norms unfolded), int64 batch-norm counters"},
        input={"crop": [48, 48], "colour": "grey", "scale": "uint8 / 255", "views": {"mirror": bool(mirror),
                                                                                    "zooms": list(zooms)}},
        normalisation={"per_image": "each crop standardised to mean 0, SD 1 (cxsense.encoders.face.net.standardize)"},
        calibration={"method": "temperature on the view-averaged logits", "temperature": temperature,
                     "fitted": temperature_fitted, "early_exit": early_exit},
        provenance=provenance, extra=extra)


def voice_meta(name: str, version: str, *, members: int, normalisation: dict, temperature: float,
               logit_bias: list, class_prior: str, fitted: str, cmn: bool, provenance: dict) -> ModelMeta:
    """The block of a voice-tone file (family ``voicetdnn-v1``; tensors ``m{i}.<parameter>`` per member).

    Parameters
    ----------
    normalisation : ``{"mel_mean", "mel_std", "stats_mean", "stats_std"}`` (lists of 64, 64, 22, 22 floats)
    temperature, logit_bias, class_prior, fitted : the calibration (``logit_bias``: 7 floats added after the
        temperature; ``class_prior``: "uniform" or "training")
    cmn : bool, the recording's mean log-mel is subtracted per band before the normalisation
    """
    from cxsense.encoders.voice.features import N_MELS, STAT_NAMES
    from cxsense.encoders.voice.net import ARCH

    return ModelMeta(
        name=name, version=version, labels=tuple(EMOTIONS),
        architecture={"family": ARCH, "members": int(members), "embed_dim": 128,
                      "embedding": "the first member's pre-logit layer, averaged over segments"},
        input={"sampling_rate": 16000, "n_mels": N_MELS, "stat_names": list(STAT_NAMES), "cmn": bool(cmn),
               "features": "64-band log-mel 50-8000 Hz of the kept 10-ms frames + 22 prosodic/spectral statistics"},
        normalisation=dict(normalisation),
        calibration={"method": "softmax(mean member logits / temperature + logit_bias)", "temperature": temperature,
                     "logit_bias": list(logit_bias), "class_prior": class_prior, "fitted": fitted},
        provenance=provenance)


def physio_stress_meta(version: str, *, architecture: dict, groups: dict, group_weights: dict, window_s: float,
                       baseline_max_windows: int, feature_mean: list, feature_sd: list, calibration: dict,
                       provenance: dict, figures: dict | None = None) -> ModelMeta:
    """The block of the physio tree file (family ``cxsense-physio-gbt``).

    ``calibration``: ``{"window": {"a", "b"}, "baseline": {"a", "b"}, "decision_threshold"}`` (Platt per tree
    model, and the threshold of ``above_decision_threshold``).
    """
    return ModelMeta(
        name="physio-stress", version=version, labels=tuple(STRESS),
        architecture={"family": "cxsense-physio-gbt", **architecture, "groups": groups,
                      "group_weights": group_weights},
        input={"window_s": window_s, "baseline_max_windows": baseline_max_windows,
               "features": "cxsense.encoders.physio.pipeline features of one window (names in models.*.features)"},
        normalisation={"feature_mean": list(feature_mean), "feature_sd": list(feature_sd),
                       "use": "the embedding's standardised features (the trees read raw features)"},
        calibration={"method": "Platt on out-of-fold scores, per tree model", **calibration},
        provenance=provenance, extra={"figures": figures} if figures else {})


def physio_shape_meta(version: str, *, layers: str, channels: list, fs: float, channel_scale: list,
                      ensemble: dict, ensemble_baseline: dict, provenance: dict,
                      figures: dict | None = None) -> ModelMeta:
    """The block of the physio shape network (family ``cxsense-physio-shape``).

    ``ensemble`` / ``ensemble_baseline``: ``{"tree_scale", "shape_scale", "a", "b", ...}`` of the combination with
    the window / baseline tree model.
    """
    return ModelMeta(
        name="physio-shape", version=version, labels=tuple(STRESS),
        architecture={"family": "cxsense-physio-shape", "layers": layers},
        input={"channels": list(channels), "fs": fs,
               "series": "each channel centred on its window mean (cxsense.encoders.physio.sequences)"},
        normalisation={"channel_scale": list(channel_scale)},
        calibration={"method": "p = sigmoid(a * (tree / tree_scale + shape / shape_scale) + b)", "ensemble": ensemble,
                     "ensemble_baseline": ensemble_baseline},
        provenance=provenance, extra={"figures": figures} if figures else {})


def sound_meta(version: str, *, mean: list, std: list, threshold: float, hidden: list, provenance: dict,
               threshold_rule: str) -> ModelMeta:
    """The block of the speech/music/noise classifier (family ``cxsense-sound-mlp``; ``layers`` beside it).

    ``mean``, ``std``: the standardiser of the features; ``threshold``: the speech threshold on p(speech).
    """
    from cxsense.encoders.voice.speech import FAMILY, FEATURE_NAMES, SOUND_CLASSES

    return ModelMeta(
        name="speech-music", version=version, labels=tuple(SOUND_CLASSES),
        architecture={"family": FAMILY, "hidden": list(hidden),
                      "layers": "ReLU multilayer perceptron, softmax output (scikit-learn MLPClassifier, exported)"},
        input={"features": list(FEATURE_NAMES), "segments": "the voice encoder's segments of the kept frames, "
                                                            "probabilities averaged"},
        normalisation={"mean": list(mean), "std": list(std)},
        calibration={"threshold": threshold, "rule": threshold_rule},
        provenance=provenance)


def face_baseline_meta(version: str, *, ref: list, eps: float, alpha: float, provenance: dict) -> ModelMeta:
    """The block of the face neutral-baseline correction (family ``cxsense-face-baseline``; no body): ``ref``,
    ``eps``, ``alpha`` in ``calibration`` (see :mod:`cxsense.encoders.face.baseline`)."""
    from cxsense.encoders.face.baseline import FAMILY

    return ModelMeta(
        name="face-baseline", version=version, labels=tuple(EMOTIONS),
        architecture={"family": FAMILY, "rule": "log p' = log p - alpha * (log(mean p(baseline) + eps) - log(ref + eps))"},
        input={"probabilities": "7 calibrated face-expression probabilities of the image and of the person's "
                                "neutral images"},
        normalisation={"none": "probabilities as the face model gives them"},
        calibration={"ref": list(ref), "eps": eps, "alpha": alpha}, provenance=provenance)


def voice_baseline_meta(version: str, *, features: dict, mean: list, sd: list, temperature: float,
                        voice_model: str, provenance: dict) -> ModelMeta:
    """The block of the speaker-baseline head (family ``cxsense-voice-baseline-head``; ``coef`` and ``intercept``
    beside it): ``features`` (groups, ``stats_sd``, ``mel_basis``) in ``input``, the standardisation in
    ``normalisation``, the temperature in ``calibration``."""
    from cxsense.encoders.voice.baseline import FAMILY

    return ModelMeta(
        name="voice-baseline", version=version, labels=tuple(EMOTIONS),
        architecture={"family": FAMILY, "head": "multinomial logistic regression over head_features",
                      "voice_model": voice_model},
        input={"features": dict(features)}, normalisation={"mean": list(mean), "sd": list(sd)},
        calibration={"temperature": temperature}, provenance=provenance)


# ------------------------------------------------------------------------------------------------- writers
def write_safetensors(path: Path | str, tensors: dict, meta: ModelMeta) -> Path:
    """Write ``tensors`` (torch tensors or NumPy arrays, dtypes kept) with ``meta`` in the header; the block is
    checked first."""
    import numpy as np

    if tensors and all(isinstance(v, np.ndarray) for v in tensors.values()):
        from safetensors.numpy import save_file
    else:
        from safetensors.torch import save_file

    ModelMeta.from_dict(meta.to_dict(), str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta.safetensors_metadata())
    return path


def write_json(path: Path | str, body: dict, meta: ModelMeta, compact: bool = False) -> Path:
    """Write a JSON model file: ``{"cxsense": block, **body}`` (floats written as Python's shortest repr, so
    they read back bit for bit); ``compact``: no indentation (large tree arrays)."""
    ModelMeta.from_dict(meta.to_dict(), str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = meta.json_document(body)
    path.write_text(json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc, indent=1) + "\n")
    return path


def register(name: str, file: Path | str, meta: ModelMeta | None = None, *, licence: str | None = None,
             card: str | None = None, **extra) -> dict:
    """Write ``name``'s entry in models/registry.json (file relative to models/, SHA-256, version, licence, card),
    keeping the other entries, the aliases, and this entry's other fields unless given.

    ``meta`` (default: read from the file) gives the version; ``licence`` and ``card`` default to the entry's.
    """
    reg = json.loads(REGISTRY.read_text()) if REGISTRY.exists() else {"models": {}}
    old = reg.setdefault("models", {}).get(name, {})
    meta = meta or read_meta(file)
    entry = {**old, "file": str(Path(file).resolve().relative_to(REGISTRY.parent.resolve())),
             "sha256": sha256_file(file), "version": meta.version, "licence": licence or old["licence"],
             "card": card or old["card"], **extra}
    reg["models"][name] = entry
    reg["models"] = dict(sorted(reg["models"].items()))
    REGISTRY.write_text(json.dumps(reg, indent=2) + "\n")
    return entry


def read_tensors(path: Path | str) -> tuple[dict, dict]:
    """(tensors as stored, raw header metadata) of a safetensors file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def with_command(meta: ModelMeta, command: str) -> ModelMeta:
    """``meta`` with ``command`` appended to ``provenance.command`` (a step that changed a registered file)."""
    old = meta.provenance["command"]
    chain = old if command in old.split("; ") else (f"{old}; {command}" if old else command)
    return meta.replace(provenance=dict(meta.provenance, command=chain))


def rewrite(name: str, tensors: dict, meta: ModelMeta) -> Path:
    """Write a registered safetensors model again (``tensors`` and ``meta``) and update its registry entry."""
    from cxsense.registry import model_entry

    path = REGISTRY.parent / model_entry(name)["file"]
    write_safetensors(path, tensors, meta)
    register(name, path, meta)
    print(f"wrote {path} ({path.stat().st_size} bytes), {name} {meta.version}")
    return path


# -------------------------------------------------------------------------------- migration of older files
def _json(v):
    return json.loads(v) if isinstance(v, str) else v


def _from_face_v1(old: dict, name: str) -> ModelMeta:
    """Face files of metadata format 1: ``config``, ``training``, ``int8`` (JSON strings), ``name``, ``version``."""
    cfg, training = _json(old["config"]), _json(old.get("training", "{}"))
    arch = {k: cfg[k] for k in ("members", "widths") if k in cfg}
    arch["embed_dim"] = cfg["embed_dim"]
    stage1 = cfg.get("stage1")
    arch["stage1"] = None if stage1 is None else {"widths": stage1["widths"], "embed_dim": stage1["embed_dim"]}
    runs = [dict(m, role=f"network {i}") for i, m in enumerate(training.get("members", []))]
    if "run" in training:
        runs.append({k: training[k] for k in ("run", "checkpoint", "epoch")} | {"role": "the network"})
    if stage1 is not None:
        runs.append({"run": stage1["run"], "checkpoint": stage1["checkpoint"], "epoch": stage1["epoch"],
                     "role": "stage 1", "made": stage1.get("made", "")})
    int8 = _json(old["int8"]) if "int8" in old else None
    ee = cfg.get("early_exit")
    commands = [training.get("command"), (ee or {}).get("command"), (int8 or {}).get("command")]
    prov = provenance(f"{FER_TRAIN}; temperature fitted on {training.get('dev_split', 'the dev split')}",
                      FER_TERMS, "; ".join(c for c in commands if c), runs, "")
    return face_meta(name, old.get("version") or "0.0.0", architecture=arch, temperature=cfg["temperature"],
                     temperature_fitted=cfg.get("temperature_fitted", "NLL (L-BFGS, training.export_face) on the "
                                                "float16-rounded network's dev logits"),
                     mirror=cfg.get("flip_tta", True), zooms=cfg.get("tta_scales", []), early_exit=ee, int8=int8,
                     provenance=prov)


def _from_voice_flat(old: dict, name: str) -> ModelMeta:
    """Voice files before the schema: flat keys (``arch``, ``temperature``, ``normalisation`` ...)."""
    recipe = {k: _json(old[k]) for k in ("seed", "epochs", "variants", "noise_p", "telephone") if k in old}
    recipe.update(cmn=old["cmn"] == "1", **({"pitch_tempo": True} if old.get("pitch_tempo") == "1" else {}))
    runs = [{"run": r, "role": f"member {i}"} for i, r in enumerate(_json(old.get("ensemble_runs", "[]")))]
    prov = provenance(old.get("trained_on", "RAVDESS speech actors 01-18"), old.get("licence", ""), "", runs, "",
                      recipe=recipe, dev_accuracy=_json(old.get("dev_accuracy", "null")),
                      run_seconds=_json(old.get("run_seconds", "null")))
    return voice_meta(name, old["version"], members=int(old["members"]), normalisation=_json(old["normalisation"]),
                      temperature=float(old["temperature"]), logit_bias=_json(old["logit_bias"]),
                      class_prior=old["class_prior"], fitted=old.get("calibration", ""), cmn=old["cmn"] == "1",
                      provenance=prov)


def _from_physio_shape(old: dict, name: str) -> ModelMeta:
    cfg = _json(old["config"])
    tr = dict(cfg.get("training", {}))
    prov = provenance(tr.pop("data", ""), STRESS_LICENCE, tr.pop("command", ""), [], "", recipe=tr)
    return physio_shape_meta(cfg["version"], layers=cfg["architecture"], channels=cfg["channels"], fs=cfg["fs"],
                             channel_scale=cfg["channel_scale"], ensemble=cfg["ensemble"],
                             ensemble_baseline=cfg["ensemble_baseline"], provenance=prov, figures=cfg.get("figures"))


def _from_physio_gbt(doc: dict, name: str) -> tuple[ModelMeta, dict]:
    m = doc["meta"]
    models = {k: {kk: vv for kk, vv in v.items() if kk != "calibration"} for k, v in doc["models"].items()}
    cal = {k: dict(v["calibration"]) for k, v in doc["models"].items()}
    prov = provenance(m.get("trained_on", ""), STRESS_LICENCE, "", [], "", seed=m.get("seed"),
                      train_seconds=m.get("train_seconds"))
    meta = physio_stress_meta(m["version"], architecture=m["architecture"], groups=m["groups"],
                              group_weights=m["group_weights"], window_s=m["window_s"],
                              baseline_max_windows=m["baseline_max_windows"], feature_mean=m["feature_mean"],
                              feature_sd=m["feature_sd"], calibration={**cal, "decision_threshold":
                                                                       m["decision_threshold"]},
                              provenance=prov, figures=m.get("figures"))
    return meta, {"models": models}


def _from_fusion(doc: dict, name: str) -> tuple[ModelMeta, dict]:
    from cxsense.fusion.learned import LearnedFusion

    tr = dict(doc.get("training", {}))
    fus = LearnedFusion(doc["coef"], doc["intercept"], doc["classes"], doc["temperature"], doc["physio_weight"],
                        subset_temperatures=doc.get("subset_temperatures"),
                        single_passthrough=doc["single_passthrough"])
    encoders = {"face-expression": {"sha256_at_fit": tr.pop("face_model_sha256", None)},
                "voice-tone": {"sha256_at_fit": tr.pop("voice_model_sha256", None)}}
    tr.pop("classes", None)
    out = fus.to_json(name=name, version=doc["version"], provenance=provenance(
        tr.pop("pairs", ""), "", tr.pop("command", ""), [], "", encoders=encoders, **tr))
    return ModelMeta.from_json_document(out, name), {k: v for k, v in out.items() if k != KEY}


def _from_sound_mlp(doc: dict, name: str) -> tuple[ModelMeta, dict]:
    """The speech/music classifier's JSON before the schema (``version``, ``classes``, ``features``, ``mean``,
    ``std``, ``threshold``, ``layers``, ``trained_on``)."""
    from cxsense.encoders.voice.speech import FEATURE_NAMES, SOUND_CLASSES

    if tuple(doc["features"]) != FEATURE_NAMES or tuple(doc["classes"]) != SOUND_CLASSES:
        raise SystemExit(f"{name}: features or classes differ from this code's")
    meta = sound_meta(doc["version"], mean=doc["mean"], std=doc["std"], threshold=doc["threshold"],
                      hidden=[len(b) for _, b in doc["layers"][:-1]],
                      threshold_rule="share of the lowest p(speech) of a clean RAVDESS dev take (actors 19-20), "
                                     "capped at 0.5",
                      provenance=provenance(doc.get("trained_on", ""), "", "", [], ""))
    return meta, {"layers": doc["layers"]}


def _from_face_baseline(doc: dict, name: str) -> tuple[ModelMeta, dict]:
    """The face neutral baseline's JSON before the schema (``format`` ``cxsense-face-baseline-1``: ``ref``, ``eps``,
    ``alpha``, ``labels``, ``fitted_on``, ``licence``)."""
    meta = face_baseline_meta(doc["version"], ref=doc["ref"], eps=doc["eps"], alpha=doc["alpha"],
                              provenance=provenance(doc.get("fitted_on", ""), doc.get("licence", ""), "", [], ""))
    return meta, {}


def _from_voice_baseline(doc: dict, name: str) -> tuple[ModelMeta, dict]:
    """The speaker-baseline head's JSON before the schema (``format`` ``cxsense-voice-baseline-head-1``)."""
    meta = voice_baseline_meta(doc["version"], features=doc["features"], mean=doc["mean"], sd=doc["sd"],
                               temperature=doc["temperature"], voice_model=doc.get("voice_model", ""),
                               provenance=provenance(doc.get("trained_on", ""), doc.get("licence", ""), "", [], ""))
    return meta, {"coef": doc["coef"], "intercept": doc["intercept"]}


def _from_canonical_geometry(doc: dict, name: str) -> tuple[ModelMeta, dict]:
    """MediaPipe's canonical face written as JSON (``description``, ``origin``, ``licence``, ``units``, ``axes``,
    ``vertices``): the vertices stay the body; the rest goes to the block."""
    meta = ModelMeta(
        name=name, version="mediapipe canonical_face_model.obj (vertex positions)", labels=("x", "y", "z"),
        architecture={"family": "mediapipe-canonical-face-geometry", "vertices": len(doc["vertices"]),
                      "description": doc["description"]},
        input={"landmarks": "the face mesh's 468 points, in landmark order", "units": doc["units"],
               "axes": "x to the image's right, y up, z towards the viewer"},
        normalisation={"none": "vertex positions as in the OBJ file, unchanged"},
        calibration={"none": "a fixed geometry (cv2.solvePnP fits it to a face's mesh)"},
        provenance=provenance("none: a third-party geometry, not trained by cxsense", doc["licence"],
                              f"none: the 'v' lines of {doc['origin']}, values unchanged, written as JSON", [], ""))
    return meta, {"vertices": doc["vertices"]}


def convert(path: Path | str, name: str) -> tuple[ModelMeta, dict | None]:
    """An older file's metadata as a block: (meta, body) where ``body`` is the new JSON body (None for
    safetensors, whose tensors stay as they are). Already in this format: returns its block unchanged."""
    path = Path(path)
    try:
        return read_meta(path), None
    except Exception:  # noqa: BLE001 - not (yet) in this format: convert below
        pass
    if path.suffix == ".safetensors":
        _, old = read_tensors(path)
        if old.get("format_version") == "1" and "config" in old:
            return _from_face_v1(old, name), None
        if "arch" in old and "normalisation" in old:
            return _from_voice_flat(old, name), None
        if _json(old.get("config", "{}")).get("format") == "cxsense-physio-shape":
            return _from_physio_shape(old, name), None
    elif path.suffix == ".json":
        doc = json.loads(path.read_text())
        if (doc.get("meta") or {}).get("format") == "cxsense-physio-gbt":
            return _from_physio_gbt(doc, name)
        if doc.get("format") == "cxsense-late-fusion":
            return _from_fusion(doc, name)
        if {"layers", "classes", "features", "threshold"} <= set(doc):
            return _from_sound_mlp(doc, name)
        if doc.get("format") == "cxsense-face-baseline-1":
            return _from_face_baseline(doc, name)
        if doc.get("format") == "cxsense-voice-baseline-head-1":
            return _from_voice_baseline(doc, name)
        if {"vertices", "units", "axes", "origin"} <= set(doc):
            return _from_canonical_geometry(doc, name)
    raise SystemExit(f"{path}: metadata of an unknown style; nothing to migrate from")


def migrate(path: Path | str, name: str, *, version: str | None = None, registry: bool = True,
            **provenance_fields: Any) -> ModelMeta:
    """Rewrite an older model file with the metadata block of format ``FORMAT_VERSION``, tensors unchanged.

    Parameters
    ----------
    path : the file (safetensors or JSON)
    name : its registry name (``"voice-tone"``, ``"face-expression"`` ...)
    version : the model's version, if the old file does not say it (or to correct it)
    registry : update the file's entry in models/registry.json (``sha256``, ``version``) when it has one
    **provenance_fields : fields of ``provenance`` to set (``date``, ``command``, ``runs``, ``training_data``,
        ``licence``, ``notes`` ...); the rest comes from the old metadata. ``date`` is required when the old
        metadata has none (the day the weights were made, ISO); a ``/tmp`` path anywhere in the provenance is
        refused (say what the run was instead).

    Returns
    -------
    ModelMeta, the block written
    """
    path = Path(path)
    meta, body = convert(path, name)
    found = meta
    prov = dict(meta.provenance, **{k: v for k, v in provenance_fields.items() if v is not None})
    if not prov["date"]:
        raise SystemExit(f"{path}: the old metadata gives no date: pass date= (the day the weights were made, ISO)")
    if "/tmp" in json.dumps(prov):
        raise SystemExit(f"{path}: provenance names a /tmp path; say what the run was (pass runs=... / notes=...)")
    meta = meta.replace(provenance=prov, **({"version": version} if version else {}))
    if body is None and meta == found and meta == _current(path):
        return meta  # already this block: nothing to write (a rewrite would change the SHA-256 for nothing)
    if path.suffix == ".safetensors":
        tensors, _ = read_tensors(path)
        before = {k: (str(v.dtype), tuple(v.shape), v.numpy().tobytes()) for k, v in tensors.items()}
        write_safetensors(path, tensors, meta)
        again, _ = read_tensors(path)
        if {k: (str(v.dtype), tuple(v.shape), v.numpy().tobytes()) for k, v in again.items()} != before:
            raise SystemExit(f"{path}: tensors changed in the rewrite")  # pragma: no cover - safetensors is exact
    else:
        text = path.read_text()
        write_json(path, body if body is not None else _json_body(path), meta, compact="\n" not in text.strip())
    reg = json.loads(REGISTRY.read_text()) if REGISTRY.exists() else {"models": {}}
    if registry and name in reg.get("models", {}):
        register(name, path, meta)
    return meta


def _current(path: Path) -> ModelMeta | None:
    try:
        return read_meta(path)
    except Exception:  # noqa: BLE001 - an older style: not current
        return None


def _json_body(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k != KEY}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("migrate", help="rewrite an older file with the metadata block (tensors unchanged)")
    m.add_argument("file")
    m.add_argument("--name", required=True, help="registry name")
    m.add_argument("--version", default=None)
    m.add_argument("--date", default=None, help="the day the weights were made (ISO); required for older files")
    m.add_argument("--command", default=None, help="the exact commands that made the file")
    m.add_argument("--run", action="append", default=None, metavar="FOLDER",
                   help="a run the weights came from (repeat; replaces the old list)")
    m.add_argument("--note", default=None, help="anything a reader of the provenance should know")
    m.add_argument("--no-registry", action="store_true")
    s = sub.add_parser("show", help="print a file's metadata block")
    s.add_argument("file")
    a = ap.parse_args(argv)
    if a.cmd == "show":
        print(json.dumps(read_meta(a.file).to_dict(), indent=1)[:20000])
        return 0
    runs = None if a.run is None else [{"run": r} for r in a.run]
    meta = migrate(a.file, a.name, version=a.version, registry=not a.no_registry, date=a.date, command=a.command,
                   runs=runs, notes=a.note)
    print(f"{a.file}: {meta.name} {meta.version}, metadata format {meta.format_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
