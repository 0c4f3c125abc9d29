"""The weights registry: every shipped model file, its SHA-256, and where it is found.

``models/registry.json`` (shipped inside the wheel as ``cxsense/models``) lists each model by
name with its file, SHA-256, version, licence and model card. :func:`model_path` finds the file
and refuses it unless its SHA-256 matches; nothing is ever downloaded.

The models folder is, in order: ``$CXSENSE_MODELS`` if set, the ``models`` folder inside the
installed package, or the repository's ``models/`` beside the package (a source checkout).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache
from pathlib import Path

from .errors import ModelError

__all__ = ["models_dir", "model_entry", "model_path", "sha256_file", "list_models", "load_json_model"]

_lock = threading.Lock()
_verified: dict[tuple[str, float, int], str] = {}


def sha256_file(path: os.PathLike | str) -> str:
    """Hex SHA-256 of a file."""
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
    """The folder that holds ``registry.json`` and the weights."""
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


def model_entry(name: str) -> dict:
    """The registry entry of one model."""
    models = list_models()
    if name not in models:
        raise ModelError(f"model {name!r} is not in the registry {models_dir() / 'registry.json'}; known: {sorted(models)}")
    return dict(models[name], name=name)


def model_path(name: str) -> Path:
    """Path of a model's weights after checking that the file exists and its SHA-256 matches.

    Raises
    ------
    ModelError
        The file is missing, unreadable or its SHA-256 differs from the registry's (corrupt or replaced).
    """
    entry = model_entry(name)
    path = models_dir() / entry["file"]
    try:
        st = path.stat()
    except OSError:
        raise ModelError(f"weights file of model {name!r} is missing: {path}") from None
    key = (str(path), st.st_mtime, st.st_size)
    with _lock:
        if _verified.get(key) == entry["sha256"]:
            return path
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ModelError(
            f"weights file of model {name!r} is corrupt or was replaced: {path} has SHA-256 {digest}, "
            f"the registry expects {entry['sha256']}"
        )
    with _lock:
        _verified[key] = digest
    return path


def load_json_model(name: str, build):
    """``build(dict)`` of a registered JSON model file (SHA-256 checked); any failure to read or build it is a
    :class:`ModelError` naming the file."""
    import json

    path = model_path(name)
    try:
        return build(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"cannot read model {name!r} from {path}: {e}") from e
