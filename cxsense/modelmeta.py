"""One metadata schema for every model file, checked when the file is loaded (like timm's pretrained configs).

Every shipped model carries one block, the same sections for every modality:

=================  ===========================================================================================
``format_version`` the schema's version (:data:`FORMAT_VERSION`); a file of another version is refused, naming both
``name``           the registry name (``"face-expression"``, ``"voice-tone"``, ...)
``version``        the model's version (semantic; the registry's ``version`` must be the same)
``architecture``   ``family`` (the code that reads the file) and the model's own fields (widths, members, ...)
``labels``         the output classes, in the order of the model's outputs
``input``          what the model reads (crop size, sampling rate, channels, features ...)
``normalisation``  how the input is scaled before the model (per-band means, channel scales, ...)
``calibration``    what turns scores into probabilities (temperature, logit bias, Platt, early exit ...)
``provenance``     ``training_data``, ``licence``, ``command`` (the exact commands), ``runs``, ``date``
=================  ===========================================================================================

Optional sections: ``quantization`` (the face model's int8 activation scales), ``figures`` (measured figures
stored with the file), ``notes``. Every listed field is required; a loader reads its own model-specific fields
from these sections and raises :class:`~cxsense.ModelError` naming the file when one is missing.

Where the block lives:

- safetensors: in the header's metadata, as JSON under the key ``"cxsense"``, with ``"format_version"`` beside it
  (so that an older reader names the version it found);
- JSON model files: a top-level ``"cxsense"`` object beside the model's arrays;
- files that cannot carry metadata (the third-party ``.tflite`` detector): under ``"cxsense"`` in the file's
  entry of ``models/registry.json``.

:func:`cxsense.registry.model_file` checks the SHA-256 first, then this block (format version, required
fields, name and version against the registry). Files are written with :meth:`ModelMeta.safetensors_metadata`
or :meth:`ModelMeta.json_document` (the training scripts use ``training/common/model_metadata.py``).

>>> meta = ModelMeta.from_dict(example_block())
>>> meta.name, meta.labels[:2], meta.provenance["date"]
('example', ('anger', 'disgust'), '2026-12-04')
>>> ModelMeta.from_dict(dict(example_block(), format_version="1"))  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
cxsense.errors.ModelError: example block: metadata format version '1'; this cxsense reads '2' ...
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ModelError

__all__ = ["FORMAT_VERSION", "KEY", "SECTIONS", "PROVENANCE_FIELDS", "ModelMeta", "read_meta", "format_error",
           "example_block"]

#: The schema version this cxsense reads and writes.
FORMAT_VERSION = "2"
#: The key of the block (safetensors metadata, JSON top level, registry entry).
KEY = "cxsense"
#: Required sections (dicts, except ``labels``), after ``format_version``, ``name`` and ``version``.
SECTIONS = ("architecture", "labels", "input", "normalisation", "calibration", "provenance")
#: Required fields of ``provenance``.
PROVENANCE_FIELDS = ("training_data", "licence", "command", "runs", "date")
#: Optional sections.
OPTIONAL = ("quantization", "figures", "notes")


@dataclass(frozen=True)
class ModelMeta:
    """The metadata block of one model file (see the module docstring).

    Attributes
    ----------
    name, version : str
    architecture, input, normalisation, calibration, provenance : dict
    labels : tuple of str
    extra : dict, the optional sections present (``quantization``, ``figures``, ``notes``)
    format_version : str
    """

    name: str
    version: str
    architecture: dict
    labels: tuple
    input: dict
    normalisation: dict
    calibration: dict
    provenance: dict
    extra: dict = field(default_factory=dict)
    format_version: str = FORMAT_VERSION

    @property
    def family(self) -> str:
        """``architecture["family"]``: the code that reads the file."""
        return self.architecture["family"]

    # -- reading ---------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, block: Any, where: str = "example block") -> "ModelMeta":
        """Check a block (format version first, then every required field) and return it.

        Parameters
        ----------
        block : dict, the decoded block
        where : str, the file (or registry entry) it came from, for error messages

        Raises
        ------
        ModelError
            Another format version (naming both), or a missing or mistyped field.
        """
        if not isinstance(block, Mapping):
            raise ModelError(f"{where}: the {KEY!r} metadata block is {type(block).__name__}, not an object")
        found = block.get("format_version")
        if found != FORMAT_VERSION:
            raise format_error(where, found)
        missing = [k for k in ("name", "version", *SECTIONS) if k not in block]
        if missing:
            raise ModelError(f"{where}: the metadata block lacks {', '.join(missing)} (format {FORMAT_VERSION})")
        for k in ("name", "version"):
            if not isinstance(block[k], str) or not block[k]:
                raise ModelError(f"{where}: metadata {k!r} must be a non-empty string, got {block[k]!r}")
        labels = block["labels"]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ModelError(f"{where}: metadata 'labels' must be a non-empty list of names, got {labels!r}")
        for k in SECTIONS:
            if k != "labels" and not isinstance(block[k], Mapping):
                raise ModelError(f"{where}: metadata {k!r} must be an object, got {type(block[k]).__name__}")
        if not isinstance(block["architecture"].get("family"), str):
            raise ModelError(f"{where}: metadata 'architecture' lacks its 'family'")
        prov = block["provenance"]
        missing = [k for k in PROVENANCE_FIELDS if k not in prov]
        if missing:
            raise ModelError(f"{where}: metadata 'provenance' lacks {', '.join(missing)}")
        if not isinstance(prov["runs"], list) or not all(isinstance(prov[k], str) for k in PROVENANCE_FIELDS
                                                          if k != "runs"):
            raise ModelError(f"{where}: metadata 'provenance' fields must be text (and 'runs' a list)")
        unknown = set(block) - {"format_version", "name", "version", *SECTIONS, *OPTIONAL}
        if unknown:
            raise ModelError(f"{where}: unknown metadata sections {sorted(unknown)} (format {FORMAT_VERSION})")
        return cls(name=block["name"], version=block["version"], labels=tuple(labels),
                   **{k: dict(block[k]) for k in SECTIONS if k != "labels"},
                   extra={k: block[k] for k in OPTIONAL if k in block})

    @classmethod
    def from_safetensors_metadata(cls, metadata: Mapping[str, str] | None, where: str) -> "ModelMeta":
        """The block of a safetensors header's metadata (``{"format_version": ..., "cxsense": "<json>"}``)."""
        metadata = dict(metadata or {})
        if KEY not in metadata:
            raise format_error(where, metadata.get("format_version"))
        try:
            block = json.loads(metadata[KEY])
        except ValueError as e:
            raise ModelError(f"{where}: unreadable {KEY!r} metadata ({e})") from e
        if metadata.get("format_version") != (block.get("format_version") if isinstance(block, dict) else None):
            raise ModelError(f"{where}: the header's format_version {metadata.get('format_version')!r} and the "
                             f"block's differ")
        return cls.from_dict(block, where)

    @classmethod
    def from_json_document(cls, document: Any, where: str) -> "ModelMeta":
        """The block of a JSON model file (its top-level ``"cxsense"`` object)."""
        if not isinstance(document, Mapping):
            raise ModelError(f"{where}: a JSON model file must be an object")
        if KEY not in document:
            found = document.get("format_version") or (document.get("meta") or {}).get("format_version")
            raise format_error(where, found)
        return cls.from_dict(document[KEY], where)

    # -- writing ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The block as JSON-able data (sections in the documented order)."""
        out = {"format_version": self.format_version, "name": self.name, "version": self.version}
        for k in SECTIONS:
            out[k] = list(self.labels) if k == "labels" else dict(getattr(self, k))
        out.update(self.extra)
        return out

    def safetensors_metadata(self) -> dict[str, str]:
        """Metadata for :func:`safetensors.torch.save_file` (str -> str)."""
        return {"format_version": self.format_version, KEY: json.dumps(self.to_dict())}

    def json_document(self, body: Mapping[str, Any]) -> dict:
        """A JSON model file: this block first, then the model's arrays ``body``."""
        if KEY in body:
            raise ValueError(f"the body of a JSON model file cannot have a {KEY!r} key")
        return {KEY: self.to_dict(), **body}

    def replace(self, **changes) -> "ModelMeta":
        """A copy with ``changes`` (whole sections) applied, checked again."""
        d = self.to_dict()
        d.update({k: (list(v) if k == "labels" else v) for k, v in changes.items()})
        return ModelMeta.from_dict(d, f"{self.name} (changed)")

    # -- model-specific fields -------------------------------------------------------------------------------
    def expect(self, family: str, labels=None, where: str | None = None) -> "ModelMeta":
        """This block, after checking that it is of ``family`` (and has ``labels``, when given).

        Raises
        ------
        ModelError
            Another family or other labels (a file for other code).
        """
        if self.family != family or (labels is not None and list(self.labels) != list(labels)):
            raise ModelError(f"{where or self.name}: a {self.family!r} model with labels {list(self.labels)}; this "
                             f"code reads {family!r}" + (f" with labels {list(labels)}" if labels is not None else ""))
        return self

    def require(self, section: str, *keys: str, where: str | None = None):
        """``self.<section>[key]`` for each key (one value for one key, else a tuple).

        Raises
        ------
        ModelError
            A key is missing (every field of a loader's own is required in this format).
        """
        d = getattr(self, section) if section in (*SECTIONS, "extra") else self.extra.get(section)
        if not isinstance(d, Mapping):
            raise ModelError(f"{where or self.name}: the metadata has no {section!r} section")
        missing = [k for k in keys if k not in d]
        if missing:
            raise ModelError(f"{where or self.name} {self.version}: metadata {section!r} lacks "
                             f"{', '.join(map(repr, missing))} (required in format {self.format_version})")
        values = tuple(d[k] for k in keys)
        return values[0] if len(values) == 1 else values


def format_error(where: str, found: Any) -> ModelError:
    """The error for a file of another metadata format (``found``: its version, None before the schema)."""
    said = "'0' (no format_version: written before cxsense's metadata schema)" if found is None else repr(str(found))
    return ModelError(f"{where}: metadata format version {said}; this cxsense reads {FORMAT_VERSION!r} (use the "
                      "cxsense release that wrote the file, or convert it with training/common/model_metadata.py "
                      "in cxsense's repository)")


def read_meta(path: os.PathLike | str) -> ModelMeta:
    """The checked block of a model file on disk: a ``.safetensors`` header or a ``.json`` top level.

    Raises
    ------
    ModelError
        Unreadable file, another format version, or a missing field.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                metadata = f.metadata()
        except Exception as e:  # safetensors raises its own error types for a damaged header
            raise ModelError(f"cannot read the model file {path}: {e}") from e
        return ModelMeta.from_safetensors_metadata(metadata, str(path))
    if path.suffix == ".json":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the model file {path}: {e}") from e
        return ModelMeta.from_json_document(document, str(path))
    raise ModelError(f"{path}: a {path.suffix} file carries no metadata; its block belongs in the registry entry")


def example_block() -> dict:
    """A complete, minimal block (for the documentation and tests)."""
    return {"format_version": FORMAT_VERSION, "name": "example", "version": "1.0.0",
            "architecture": {"family": "example-net"},
            "labels": ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"],
            "input": {"crop": [48, 48]}, "normalisation": {"per_image": "mean 0, SD 1"},
            "calibration": {"temperature": 1.0},
            "provenance": {"training_data": "none", "licence": "MIT", "command": "none", "runs": [],
                           "date": "2026-12-04"}}
