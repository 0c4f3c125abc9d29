"""Add or update an entry of models/registry.json (used by the export scripts)."""

from __future__ import annotations

import json
from pathlib import Path

from cxsense.registry import sha256_file
from training.datasets import REPO

REGISTRY = REPO / "models" / "registry.json"


def register(name: str, file: Path, *, version: str, licence: str, card: str, **extra) -> dict:
    """Write ``name``'s entry (file relative to models/, SHA-256, version, licence, card); keep the others."""
    reg = json.loads(REGISTRY.read_text()) if REGISTRY.exists() else {"models": {}}
    entry = {"file": str(Path(file).resolve().relative_to(REGISTRY.parent.resolve())), "sha256": sha256_file(file),
             "version": version, "licence": licence, "card": card, **extra}
    reg.setdefault("models", {})[name] = entry
    reg["models"] = dict(sorted(reg["models"].items()))
    REGISTRY.write_text(json.dumps(reg, indent=2) + "\n")
    return entry


def rewrite_registered(name: str, path: Path, tensors: dict, meta: dict, version: str) -> None:
    """Write a registered model file again (same tensors, new metadata and ``version``) and update its entry,
    keeping its licence, card and any extra fields; prints what it wrote."""
    from safetensors.torch import save_file

    from cxsense.registry import model_entry

    entry = model_entry(name)
    meta = dict(meta, version=version)
    save_file(tensors, str(path), metadata=meta)
    extra = {k: v for k, v in entry.items() if k not in ("name", "file", "sha256", "version", "licence", "card", "path")}
    register(name, path, version=version, licence=entry["licence"], card=entry["card"], **extra)
    print(f"wrote {path} ({path.stat().st_size} bytes), version {version}")
