"""Where the repository and the data are.

The data is read where it lies (``../shared/data`` beside the repository, ``$CXSENSE_DATA``, or ``--data``) and
never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO", "data_root"]

#: The repository root (``training/`` lives in it; it is not part of the installed package).
REPO = Path(__file__).resolve().parents[2]


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path``, else ``$CXSENSE_DATA``, else ``../shared/data`` beside the repo.

    Raises
    ------
    SystemExit
        The folder does not exist (a training script's message, not a library error).
    """
    if path is None:
        path = os.environ.get("CXSENSE_DATA") or (REPO.parent / "shared" / "data")
    root = Path(path)
    if not root.is_dir():
        raise SystemExit(f"data folder not found: {root} (set CXSENSE_DATA or pass --data)")
    return root
