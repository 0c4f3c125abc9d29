"""A study's manifest: one row per recording, checked as a whole before anything is analysed.

Columns (a CSV, a pandas DataFrame or a list of dicts):

============== ========== ===============================================================================
column         required   meaning
============== ========== ===============================================================================
recording      yes        a video file: absolute, or relative to the manifest's folder (the current folder
                          for a DataFrame or a list)
viewer         yes        a pseudonymous id, unique within a variant (the same viewer may watch several
                          variants: the comparison then pairs them)
variant        no         the stimulus variant this viewer saw (default ``"all"``)
physio         no         a physiology CSV as ``cxsense session --physio`` reads it (empty: none)
physio_offset  no         seconds added to the CSV's ``time`` to put it on the video clock (default 0)
stimulus_offset no        seconds into the recording at which the stimulus starts (default 0)
============== ========== ===============================================================================

Any other column is refused (a typo such as ``stimulus_ofset`` would otherwise be ignored silently).
Every error is an :class:`~cxsense.InputError` that names the row (counting data rows from 1, with the file's
line number) and the column.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["Recording", "read_manifest", "COLUMNS", "REQUIRED", "DEFAULT_VARIANT"]

REQUIRED = ("recording", "viewer")
COLUMNS = ("recording", "viewer", "variant", "physio", "physio_offset", "stimulus_offset")
DEFAULT_VARIANT = "all"


@dataclass(frozen=True)
class Recording:
    """One checked row of a manifest.

    Attributes
    ----------
    row : int
        Data row number, from 1 (the CSV's line is ``row + 1``).
    recording : str
        The path as the manifest wrote it (kept in the outputs).
    path : str
        The absolute path of the video.
    viewer, variant : str
    physio : str or None
        Absolute path of the physiology CSV.
    physio_offset, stimulus_offset : float
        Seconds.
    """

    row: int
    recording: str
    path: str
    viewer: str
    variant: str
    physio: str | None = None
    physio_offset: float = 0.0
    stimulus_offset: float = 0.0


def _where(row: int, column: str, from_csv: bool) -> str:
    line = f" (line {row + 1} of the file)" if from_csv else ""
    return f"manifest row {row}{line}, column {column!r}"


def _number(value: str, row: int, column: str, from_csv: bool) -> float:
    if value == "":
        return 0.0
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise InputError(_where(row, column, from_csv), "a finite number of seconds (or empty for 0)", repr(value))
    return x


def _readable(value: str, base: Path, row: int, column: str, from_csv: bool, what: str) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    path = Path(os.path.abspath(path))
    if not path.is_file() or not os.access(path, os.R_OK):
        reason = "missing" if not path.exists() else ("not a file" if not path.is_file() else "not readable")
        raise InputError(_where(row, column, from_csv), f"a readable {what} (absolute, or relative to {base})",
                         f"{value!r} ({reason}: {path})")
    return str(path)


def _frame(manifest):
    """(DataFrame of strings, base folder, from_csv) of any accepted manifest form."""
    import pandas as pd

    if isinstance(manifest, (str, os.PathLike)):
        path = Path(manifest)
        if not path.is_file():
            raise InputError("manifest", "a readable CSV file", f"{os.fspath(manifest)!r} (missing or not a file)")
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise InputError("manifest", "a readable CSV file with a header row",
                             f"{os.fspath(manifest)!r} ({type(e).__name__})") from None
        return df, path.resolve().parent, True
    if isinstance(manifest, pd.DataFrame):
        return manifest.astype(object).where(manifest.notna(), "").astype(str), Path.cwd(), False
    if isinstance(manifest, (list, tuple)) and all(isinstance(r, dict) for r in manifest):
        df = pd.DataFrame(list(manifest))
        return df.astype(object).where(df.notna(), "").astype(str), Path.cwd(), False
    raise InputError("manifest", "a CSV path, a pandas DataFrame or a list of dicts", type(manifest).__name__)


def read_manifest(manifest) -> list[Recording]:
    """Read and check a manifest (see the module docstring); fail on the first bad row.

    Parameters
    ----------
    manifest : str, os.PathLike, pandas.DataFrame or list of dict

    Returns
    -------
    list of Recording, in the manifest's order.

    Raises
    ------
    InputError
        An unreadable manifest, a missing or unknown column, an empty value, a duplicate viewer within a
        variant, a path that is missing or unreadable, an offset that is not a finite number. The
        parameter named is ``"manifest row R (line L of the file), column 'C'"``.
    """
    df, base, from_csv = _frame(manifest)
    df.columns = [str(c).strip() for c in df.columns]
    for c in REQUIRED:
        if c not in df.columns:
            raise InputError(f"manifest header (row 0), column {c!r}", "present (required columns: "
                             + ", ".join(REQUIRED) + ")", f"columns {list(df.columns)}")
    unknown = [c for c in df.columns if c not in COLUMNS]
    if unknown:
        raise InputError(f"manifest header (row 0), column {unknown[0]!r}", "one of " + ", ".join(COLUMNS),
                         repr(unknown[0]))
    if len(df) == 0:
        raise InputError("manifest", "at least one recording row", "a header without rows")
    seen: dict[tuple[str, str], int] = {}
    out = []
    for i, r in enumerate(df.to_dict("records"), start=1):
        r = {k: str(v).strip() for k, v in r.items()}
        for c in REQUIRED:
            if r[c] == "":
                raise InputError(_where(i, c, from_csv), "a non-empty value", "an empty cell")
        if "variant" in r and r["variant"] == "":
            raise InputError(_where(i, "variant", from_csv), "a variant name (the column is present)", "an empty cell")
        variant = r.get("variant", DEFAULT_VARIANT)
        k = (variant, r["viewer"])
        if k in seen:
            raise InputError(_where(i, "viewer", from_csv), f"a viewer id unique within variant {variant!r}",
                             f"{r['viewer']!r}, already in row {seen[k]}")
        seen[k] = i
        path = _readable(r["recording"], base, i, "recording", from_csv, "video file")
        physio = r.get("physio", "")
        physio = _readable(physio, base, i, "physio", from_csv, "physiology CSV") if physio else None
        out.append(Recording(row=i, recording=r["recording"], path=path, viewer=r["viewer"], variant=variant,
                             physio=physio,
                             physio_offset=_number(r.get("physio_offset", ""), i, "physio_offset", from_csv),
                             stimulus_offset=_number(r.get("stimulus_offset", ""), i, "stimulus_offset", from_csv)))
    return out
