"""Where a study keeps each viewer's timeline, and how a finished recording is recognised on a re-run.

Reuse key
---------
A recording's *analysis key* is the SHA-256 of: the video's content (SHA-256 of its bytes), the physiology
CSV's content and offset, the analysis options (step, fps, persons, face model, early exit), every registered
model's version and SHA-256 (``cxsense.registry.list_models``), the timeline's columns and the analyser. The
timeline of a manifest row is stored under ``<analysis key[:32]>-<sha256(variant, viewer)[:12]>``: a re-run
finds it and marks the row ``reused``; a changed video, option or model version gives another key, so the row is
analysed again and the old timeline is removed. A changed ``stimulus_offset`` alone only rewrites the
``stimulus_time`` column (no analysis).

Sinks
-----
- :class:`ParquetSink`: ``DIR/timelines/<name>.parquet``, one file per manifest row, written to a ``_tmp-``
  file and renamed, so a stop never leaves a half-written file in the dataset (pyarrow skips names starting with
  ``_``). ``pandas.read_parquet("DIR/timelines")`` reads them all as one table.
- :class:`StoreSink`: the encrypted :class:`~cxsense.governance.ResultStore` (session id ``study-<name>``),
  for studies whose per-viewer timelines must not lie in plain files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["file_sha256", "analysis_key", "row_name", "decorate", "ParquetSink", "StoreSink", "STUDY_COLUMNS"]

#: Columns a study adds to every session timeline.
STUDY_COLUMNS = ["recording", "viewer", "variant", "stimulus_time"]


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def analysis_key(rec, options: dict, models: dict, columns, analyzer: str, video_hash: str | None = None) -> str:
    """The analysis key of one manifest row (see the module docstring); hex SHA-256."""
    parts = {
        "video": video_hash or file_sha256(rec.path),
        "physio": file_sha256(rec.physio) if rec.physio else None,
        "physio_offset": float(rec.physio_offset) if rec.physio else None,
        "options": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                    for k, v in sorted(options.items())},
        "models": {k: [v.get("version"), v.get("sha256")] for k, v in sorted(models.items())},
        "columns": list(columns),
        "analyzer": analyzer,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def row_name(key: str, rec) -> str:
    """The stored name of a manifest row's timeline: analysis key and (variant, viewer)."""
    who = hashlib.sha256(json.dumps([rec.variant, rec.viewer]).encode()).hexdigest()
    return f"{key[:32]}-{who[:12]}"


def decorate(timeline, rec):
    """A session timeline with the study's columns: ``recording``, ``viewer``, ``variant`` and
    ``stimulus_time`` (= ``time - stimulus_offset``, seconds, rounded to 1e-6)."""
    tl = timeline.drop(columns=[c for c in STUDY_COLUMNS if c in timeline.columns]).reset_index(drop=True)
    tl["recording"] = rec.recording
    tl["viewer"] = rec.viewer
    tl["variant"] = rec.variant
    tl["stimulus_time"] = (tl["time"].astype(float) - float(rec.stimulus_offset)).round(6)
    return tl


class ParquetSink:
    """Per-row Parquet files under ``folder`` (see the module docstring)."""

    kind = "parquet"

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"

    def names(self) -> set[str]:
        """Names of the stored timelines."""
        return {p.stem for p in self.folder.glob("*.parquet") if not p.name.startswith(("_", "."))}

    def write(self, name: str, timeline, meta: dict) -> None:
        """Store one timeline atomically, with ``meta`` (JSON) in the file's schema metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(timeline, preserve_index=False)
        md = dict(table.schema.metadata or {})
        md[b"cxsense.study"] = json.dumps(meta).encode()
        tmp = self.folder / f"_tmp-{name}-{os.getpid()}.parquet"
        pq.write_table(table.replace_schema_metadata(md), tmp)
        os.replace(tmp, self._path(name))

    def read(self, name: str):
        """(timeline DataFrame, meta dict) of a stored timeline."""
        import pyarrow.parquet as pq

        table = pq.read_table(self._path(name))
        meta = json.loads((table.schema.metadata or {}).get(b"cxsense.study", b"{}"))
        return table.to_pandas(), meta

    def meta(self, name: str) -> dict:
        """The meta dict of a stored timeline (its schema only is read)."""
        import pyarrow.parquet as pq

        md = pq.read_schema(self._path(name)).metadata or {}
        return json.loads(md.get(b"cxsense.study", b"{}"))

    def prune(self, keep: set[str]) -> int:
        """Remove stored timelines (and temporary files) not in ``keep``; return how many."""
        n = 0
        for p in list(self.folder.glob("*.parquet")):
            if p.name.startswith("_tmp-") or (not p.name.startswith(("_", ".")) and p.stem not in keep):
                p.unlink()
                n += 1
        return n

    def describe(self) -> str:
        return f"Parquet dataset {self.folder}"


class StoreSink:
    """Per-row records in an encrypted :class:`~cxsense.governance.ResultStore` (session ``study-<name>``).

    ``own``: the store belongs to this study (made from ``--store KEY`` in ``DIR/store``), so superseded
    timelines are deleted; in a store the caller passed, they are left to its retention period.
    """

    kind = "store"

    def __init__(self, store, own: bool = False):
        self.store = store
        self.own = own

    def names(self) -> set[str]:
        return {r.session_id[len("study-"):] for r in self.store.records() if r.session_id.startswith("study-")}

    def write(self, name: str, timeline, meta: dict) -> None:
        rows = json.loads(timeline.to_json(orient="records", double_precision=15))
        for r in self.store.records(session_id=f"study-{name}"):
            self.store.delete(r.record_id)
        self.store.put({"meta": meta, "columns": list(timeline.columns), "rows": rows},
                       session_id=f"study-{name}", person_id=0)

    def read(self, name: str):
        import pandas as pd

        recs = self.store.records(session_id=f"study-{name}")
        value = self.store.get(recs[-1].record_id)
        tl = pd.DataFrame(value["rows"], columns=value["columns"])
        return tl, value["meta"]

    def meta(self, name: str) -> dict:
        return self.read(name)[1]

    def prune(self, keep: set[str]) -> int:
        if not self.own:
            return 0
        return sum(self.store.delete_session(f"study-{n}") for n in self.names() - keep)

    def describe(self) -> str:
        return f"encrypted result store {self.store.path}"
