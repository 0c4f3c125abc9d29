"""The weights registry: every shipped model file, its SHA-256, its metadata, and where it is found.

``models/registry.json`` (shipped inside the wheel as ``cxsense/models``) lists each model by
name with its file, SHA-256, version, licence and model card, and the user-facing ``aliases``
(``"face:base"`` -> ``"face-expression"``). :func:`model_file` finds a file, refuses it unless its SHA-256
matches, then checks its metadata block (:mod:`cxsense.modelmeta`: format version, required fields, name
and version as registered); nothing is ever downloaded. A file that cannot carry metadata (the ``.tflite``
detector) has its block in its registry entry instead.

The models folder is, in order: ``$CXSENSE_MODELS`` if set, the ``models`` folder inside the
installed package, or the repository's ``models/`` beside the package (a source checkout).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ModelError
from .modelmeta import KEY, ModelMeta, read_meta

__all__ = ["models_dir", "model_entry", "model_path", "model_file", "model_meta", "ModelFile", "sha256_file",
           "list_models", "aliases", "load_json_model"]

_lock = threading.Lock()
_verified: dict[tuple[str, float, int], tuple[str, ModelMeta]] = {}


def sha256_file(path: os.PathLike | str) -> str:
    """Hex SHA-256 of a file (64 characters)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=None)
def _models_dir(env: str | None) -> Path:
    here = Path(__file__).resolve().parent
    candidates = [Path(env)] if env else []
    candidates += [here / "models", here.parent / "models"]
    for c in candidates:
        if (c / "registry.json").is_file():
            return c
    raise ModelError(
        "cxsense's models folder was not found (looked for registry.json in "
        + ", ".join(str(c) for c in candidates)
        + "); reinstall cxsense or set CXSENSE_MODELS to the repository's models/ folder"
    )


def models_dir() -> Path:
    """The folder that holds ``registry.json`` and the weights (see the module docstring for the order)."""
    return _models_dir(os.environ.get("CXSENSE_MODELS"))


def _registry() -> dict:
    path = models_dir() / "registry.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read the model registry {path}: {e}") from e


def list_models() -> dict:
    """All registered models: name -> entry (file, sha256, version, licence, card)."""
    return _registry()["models"]


def aliases() -> dict[str, str]:
    """The user-facing names: ``"modality:choice"`` -> registry name (``{"face:base": "face-expression", ...}``).

    Raises
    ------
    ModelError
        The registry names no aliases, or an alias names an unregistered model.
    """
    reg = _registry()
    if not isinstance(reg.get("aliases"), dict):
        raise ModelError(f"the model registry {models_dir() / 'registry.json'} names no 'aliases'")
    unknown = sorted(v for v in reg["aliases"].values() if v not in reg["models"])
    if unknown:
        raise ModelError(f"the model registry's aliases name unregistered models: {unknown}")
    return dict(reg["aliases"])


def model_entry(name: str) -> dict:
    """The registry entry of one model, with ``name`` added.

    Raises
    ------
    ModelError
        ``name`` is not registered.
    """
    models = list_models()
    if name not in models:
        raise ModelError(f"model {name!r} is not in the registry {models_dir() / 'registry.json'}; known: {sorted(models)}")
    return dict(models[name], name=name)


@dataclass(frozen=True)
class ModelFile:
    """A registered model file after its checks.

    Attributes
    ----------
    name : str, the registry name
    path : Path, the file
    entry : dict, its registry entry (``file``, ``sha256``, ``version``, ``licence``, ``card`` ...)
    meta : ModelMeta, its metadata block (read from the file, or from the entry for a ``.tflite``)
    """

    name: str
    path: Path
    entry: dict
    meta: ModelMeta


def _check_meta(name: str, entry: dict, path: Path) -> ModelMeta:
    if path.suffix in (".safetensors", ".json"):
        meta = read_meta(path)
    else:
        if KEY not in entry:
            raise ModelError(f"registry entry {name!r} ({path.name}: no metadata in the file) lacks its {KEY!r} block")
        meta = ModelMeta.from_dict(entry[KEY], f"registry entry {name!r}")
    if meta.name != name or meta.version != entry["version"]:
        raise ModelError(f"{path}: its metadata names {meta.name!r} {meta.version}; the registry lists it as "
                         f"{name!r} {entry['version']}")
    return meta


def model_file(name: str) -> ModelFile:
    """A registered model file, after checking its SHA-256 and then its metadata block.

    Parameters
    ----------
    name : str, a registry name (:func:`list_models`)

    Returns
    -------
    ModelFile

    Raises
    ------
    ModelError
        The file is missing, unreadable, or its SHA-256 differs from the registry's (corrupt or replaced); or its
        metadata is of another format version (the message names both), lacks a field, or names another model
        or version than the registry.
    """
    entry = model_entry(name)
    path = models_dir() / entry["file"]
    try:
        st = path.stat()
    except OSError:
        raise ModelError(f"weights file of model {name!r} is missing: {path}") from None
    key = (str(path), st.st_mtime, st.st_size)
    with _lock:
        done = _verified.get(key)
    if done is not None and done[0] == entry["sha256"]:
        return ModelFile(name, path, entry, done[1])
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ModelError(
            f"weights file of model {name!r} is corrupt or was replaced: {path} has SHA-256 {digest}, "
            f"the registry expects {entry['sha256']}"
        )
    meta = _check_meta(name, entry, path)
    with _lock:
        _verified[key] = (digest, meta)
    return ModelFile(name, path, entry, meta)


def model_path(name: str) -> Path:
    """Path of a model's file after the checks of :func:`model_file` (SHA-256, then metadata).

    Raises
    ------
    ModelError
        See :func:`model_file`.
    """
    return model_file(name).path


def model_meta(name: str) -> ModelMeta:
    """The checked metadata block of a registered model (see :func:`model_file`)."""
    return model_file(name).meta


def load_json_model(name: str, build):
    """``build(document)`` of a registered JSON model file, after the checks of :func:`model_file` (SHA-256, then
    its metadata block); any failure to read or build it is a :class:`ModelError` naming the file.

    Parameters
    ----------
    name : str, a registry name
    build : callable taking the file's JSON document (its ``"cxsense"`` block and the model's arrays)

    Returns
    -------
    What ``build`` returns.
    """
    import json

    path = model_path(name)
    try:
        return build(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"cannot read model {name!r} from {path}: {e}") from e
